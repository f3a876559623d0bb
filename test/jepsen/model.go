package jepsen

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Operation kinds of the admin history, grouped by the record they touch.
const (
	// a source record (adm-N): exists or not
	opCreate = "create"
	opRemove = "remove"
	opShow   = "show"
	// the data task: the desired stage of its subtasks, and its revision;
	// query-status reads both and is recorded as one read of each
	opPause        = "pause"
	opResume       = "resume"
	opStageRead    = "stage"
	opUpdate       = "update"
	opRevisionRead = "revision"
	// the binding of a data source: node and epoch
	opTransfer = "transfer"
	opBound    = "bound"
)

// record names which record an operation kind reads or writes. The
// task's stage and revision are checked as two registers: they change
// independently, and two small histories check much faster than one.
func record(kind string) string {
	switch kind {
	case opPause, opResume, opStageRead:
		return "stage"
	case opUpdate, opRevisionRead:
		return "revision"
	case opTransfer, opBound:
		return "binding"
	}
	return "source"
}

// taskState is the part of a task the model follows. Only admin commands
// change it: the desired stage (pause-task, resume-task) and the revision
// (update-task, a compare-and-set on revision+1).
type taskState struct {
	Paused   bool
	Revision uint64
}

// bindState is the binding of a source as last seen. The scheduler may
// rebind on its own (a node died), always at a higher epoch, so any
// higher epoch is allowed at any time; what is checked is that the epoch
// never goes back, that one epoch always names one node, and that a
// transfer raises the epoch.
type bindState struct {
	Epoch uint64
	Node  string // "" when unbound at that epoch
}

// initState is every record before its first operation.
type initState struct{}

// taskStartRevision is the revision start-task gives a task.
const taskStartRevision = 1

func initialOf(kind string) interface{} {
	switch record(kind) {
	case "stage", "revision":
		return taskState{Revision: taskStartRevision}
	case "binding":
		return bindState{}
	}
	return false
}

// partitionKey names the record an operation touches.
func partitionKey(op porcupine.Operation) string {
	in := op.Input.(adminOp)
	return record(in.Kind) + "/" + in.Key
}

// adminModel is the sequential specification of the admin operations: a
// register per source id (exists or not), the task's stage and revision,
// and the binding's epoch. Histories are partitioned by record.
var adminModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			id := partitionKey(op)
			if _, seen := by[id]; !seen {
				keys = append(keys, id)
			}
			by[id] = append(by[id], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{initState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		in, out := input.(adminOp), output.(adminResult)
		if _, fresh := state.(initState); fresh {
			state = initialOf(in.Kind)
		}
		switch s := state.(type) {
		case bool:
			return stepSource(s, in, out)
		case taskState:
			return stepTask(s, in, out)
		case bindState:
			return stepBinding(s, in, out)
		}
		return nil
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(adminOp), output.(adminResult)
		res := fmt.Sprint(out.OK)
		switch {
		case out.Unknown:
			res = "?"
		case in.Kind == opStageRead:
			res = fmt.Sprintf("paused=%v", out.Paused)
		case in.Kind == opRevisionRead:
			res = fmt.Sprintf("rev=%d", out.Revision)
		case in.Kind == opUpdate && out.OK:
			res = fmt.Sprintf("rev=%d", out.Revision)
		case record(in.Kind) == "binding" && (out.OK || in.Kind == opBound):
			res = fmt.Sprintf("%s@%d", out.Node, out.Epoch)
		}
		target := in.Key
		if in.Node != "" {
			target += " to " + in.Node
		}
		return fmt.Sprintf("%s(%s) -> %s", in.Kind, target, res)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%+v", state) },
}

func stepSource(exists bool, in adminOp, out adminResult) []interface{} {
	switch in.Kind {
	case opCreate:
		switch {
		case out.Unknown && exists:
			return []interface{}{true}
		case out.Unknown:
			return []interface{}{true, false}
		case out.OK && !exists:
			return []interface{}{true}
		case !out.OK && exists:
			return []interface{}{true}
		}
	case opRemove:
		switch {
		case out.Unknown && !exists:
			return []interface{}{false}
		case out.Unknown:
			return []interface{}{true, false}
		case out.OK && exists:
			return []interface{}{false}
		case !out.OK && !exists:
			return []interface{}{false}
		}
	case opShow:
		if out.OK == exists {
			return []interface{}{exists}
		}
	}
	return nil // this output is impossible in this state
}

func stepTask(s taskState, in adminOp, out adminResult) []interface{} {
	switch in.Kind {
	case opPause, opResume:
		next := s
		next.Paused = in.Kind == opPause
		switch {
		case out.Unknown:
			return []interface{}{s, next}
		case out.OK:
			return []interface{}{next}
		}
		return []interface{}{s} // refused: nothing changed
	case opUpdate:
		next := s
		next.Revision++
		switch {
		case out.Unknown:
			return []interface{}{s, next}
		case out.OK && out.Revision == next.Revision:
			return []interface{}{next}
		case out.OK:
			return nil // a revision other than the one after the current
		}
		return []interface{}{s} // refused (a concurrent update won): nothing changed
	case opStageRead:
		if !out.Mixed && out.Paused == s.Paused {
			return []interface{}{s}
		}
	case opRevisionRead:
		if out.Revision == s.Revision {
			return []interface{}{s}
		}
	}
	return nil
}

func stepBinding(s bindState, in adminOp, out adminResult) []interface{} {
	seen := bindState{Epoch: out.Epoch, Node: out.Node}
	switch in.Kind {
	case opTransfer:
		switch {
		case out.Unknown || !out.OK:
			// Not applied, or applied at some time: it then looks like a
			// rebind by the scheduler, which the model allows anyway.
			return []interface{}{s}
		case out.Epoch > s.Epoch:
			return []interface{}{seen}
		case seen == s: // already bound there: nothing moved
			return []interface{}{s}
		}
	case opBound:
		switch {
		case out.Epoch > s.Epoch:
			return []interface{}{seen}
		case out.Epoch == s.Epoch && (out.Node == s.Node || out.Node == "" || s.Epoch == 0):
			// The same binding, or the node lost it (unbound keeps the epoch).
			return []interface{}{seen}
		}
	}
	return nil
}

// checkLinearizable checks the admin history against adminModel.
func checkLinearizable(ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(adminModel.ToModel(), ops, timeout)
}

// explainIllegal checks each record's history on its own and names those
// that are not linearizable; with a non-empty prefix it writes porcupine's
// visualization of each to prefix + record + ".html".
func explainIllegal(ops []porcupine.Operation, timeout time.Duration, prefix string) []string {
	model := adminModel
	model.Partition = nil
	m := model.ToModel()
	by := map[string][]porcupine.Operation{}
	for _, op := range ops {
		by[partitionKey(op)] = append(by[partitionKey(op)], op)
	}
	var out []string
	for key, list := range by {
		res, info := porcupine.CheckOperationsVerbose(m, list, timeout)
		if res == porcupine.Ok {
			continue
		}
		line := fmt.Sprintf("%s: %s over %d operations", key, res, len(list))
		if prefix != "" {
			path := prefix + strings.ReplaceAll(key, "/", "-") + ".html"
			if err := porcupine.VisualizePath(m, info, path); err != nil {
				line += " (visualization: " + err.Error() + ")"
			} else {
				line += " (history: " + path + ")"
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Call < list[j].Call })
			var text strings.Builder
			for _, op := range list {
				ret := "never"
				if op.Return < 1<<62 {
					ret = time.Duration(op.Return).String()
				}
				fmt.Fprintf(&text, "client %d %v..%s %s\n", op.ClientId, time.Duration(op.Call), ret, model.DescribeOperation(op.Input, op.Output))
			}
			_ = os.WriteFile(strings.TrimSuffix(path, ".html")+".txt", []byte(text.String()), 0o644)
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func sortedTimes(ts []time.Time) []time.Time {
	out := append([]time.Time(nil), ts...)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}
