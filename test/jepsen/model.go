package jepsen

import (
	"fmt"
	"sort"
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

// Writes whose outcome is unknown (a timeout, a lost connection) may take
// effect at any time after their call, or never. Left in the history with
// an open-ended return, each one multiplies the orders porcupine must try:
// proving a history with a hundred of them illegal did not finish in
// minutes. pendingHistory (history.go) records each such write instead as
// a pending effect registered at its call, and the model keeps the pending
// effects in its state: any of them may apply before any later operation,
// each at most once. That is the same specification (every linearization
// of one history maps to one of the other), with states that say
// everything the open-ended writes could still do.

// registerState is a record holding one boolean: whether a source exists,
// whether the task is paused. Writes set it (create, pause) or clear it
// (remove, resume); PendingSet and PendingClear count the writes of unknown
// outcome that have not taken effect yet.
//
// Of the states reachable by applying some pending writes, only the most
// permissive is kept: the one with the most pending writes left for each
// value (a state with more pending writes can do all that one with fewer
// can). So a read of the other value spends exactly one pending write.
type registerState struct {
	Set                      bool
	PendingSet, PendingClear int
}

// read returns the state after a read that saw value, and whether the
// read is possible: the value held, or a pending write sets it first.
func (s registerState) read(value bool) (registerState, bool) {
	switch {
	case s.Set == value:
		return s, true
	case value && s.PendingSet > 0:
		s.Set, s.PendingSet = true, s.PendingSet-1
		return s, true
	case !value && s.PendingClear > 0:
		s.Set, s.PendingClear = false, s.PendingClear-1
		return s, true
	}
	return s, false
}

// pend registers a write of unknown outcome.
func (s registerState) pend(value bool) registerState {
	if value {
		s.PendingSet++
	} else {
		s.PendingClear++
	}
	return s
}

// revisionState is the task's revision. Each update-task raises it by one
// (a compare-and-set on revision+1); Pending counts updates of unknown
// outcome not applied yet, so the revision may be anything from Revision
// to Revision+Pending, spending one pending update per step up.
type revisionState struct {
	Revision uint64
	Pending  uint64
}

// reach returns the state at revision r, spending pending updates to get
// there, and whether r is reachable.
func (s revisionState) reach(r uint64) (revisionState, bool) {
	if r < s.Revision || r > s.Revision+s.Pending {
		return s, false
	}
	return revisionState{Revision: r, Pending: s.Revision + s.Pending - r}, true
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
	case "stage", "source":
		return registerState{}
	case "revision":
		return revisionState{Revision: taskStartRevision}
	}
	return bindState{}
}

// partitionKey names the record an operation touches.
func partitionKey(op porcupine.Operation) string {
	in := op.Input.(adminOp)
	return record(in.Kind) + "/" + in.Key
}

// partitionByRecord splits a history into one history per record: the
// records are independent, so the whole is linearizable if and only if
// each part is. A record holds one value (a source's existence, the
// task's stage, its revision, a source's binding), which cannot be split
// further.
func partitionByRecord(history []porcupine.Operation) [][]porcupine.Operation {
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
}

// subsumes says whether state a can do everything state b can: the same
// value, or one reachable by spending a pending write, with at least as
// many pending writes left.
//
// adminModel uses it as its Equal. Porcupine's only use of Equal is its
// cache of explored steps: it calls Equal(new state, explored state) for
// the same set of linearized operations, and skips the new state when
// they are "equal". A new state that an explored (and failed) one
// subsumes can only fail too, so skipping it is sound, and it keeps the
// search from trying every way of spending the pending writes (proving a
// history with a few hundred of them illegal did not finish in 30s with
// equality alone, and takes milliseconds with this). TestCacheSubsumption
// fails if porcupine ever passes the two states the other way round.
func subsumes(a, b interface{}) bool {
	switch a := a.(type) {
	case registerState:
		b, ok := b.(registerState)
		if !ok {
			return false
		}
		if a.Set != b.Set {
			var reached bool
			if a, reached = a.read(b.Set); !reached {
				return false
			}
		}
		return a.PendingSet >= b.PendingSet && a.PendingClear >= b.PendingClear
	case revisionState:
		b, ok := b.(revisionState)
		return ok && a.Revision <= b.Revision && a.Revision+a.Pending >= b.Revision+b.Pending
	}
	return a == b
}

// adminModel is the sequential specification of the admin operations: a
// register per source id (exists or not), the task's stage and revision,
// and each source's binding. It checks histories prepared by
// pendingHistory, partitioned by record.
var adminModel = porcupine.Model{
	Partition: partitionByRecord,
	Init:      func() interface{} { return initState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in, out := input.(adminOp), output.(adminResult)
		if _, fresh := state.(initState); fresh {
			state = initialOf(in.Kind)
		}
		var next interface{}
		ok := false
		switch s := state.(type) {
		case registerState:
			next, ok = stepRegister(s, in, out)
		case revisionState:
			next, ok = stepRevision(s, in, out)
		case bindState:
			next, ok = stepBinding(s, in, out)
		}
		return ok, next
	},
	Equal: func(next, explored interface{}) bool { return subsumes(explored, next) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(adminOp), output.(adminResult)
		res := fmt.Sprint(out.OK)
		switch {
		case out.Unknown && isRead(in.Kind):
			res = "? (read failed)"
		case out.Unknown:
			res = "? (pending from its call on)"
		case in.Kind == opStageRead && out.Mixed:
			res = "mixed stages"
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

// setsRegister says which value a write sets: create and pause set the
// register, remove and resume clear it.
func setsRegister(kind string) bool { return kind == opCreate || kind == opPause }

func stepRegister(s registerState, in adminOp, out adminResult) (registerState, bool) {
	switch in.Kind {
	case opCreate, opRemove, opPause, opResume:
		value := setsRegister(in.Kind)
		switch {
		case out.Unknown:
			return s.pend(value), true
		case out.OK && (in.Kind == opPause || in.Kind == opResume):
			s.Set = value // no precondition
			return s, true
		case out.OK:
			// create needs the source absent, remove needs it present
			if s, ok := s.read(!value); ok {
				s.Set = value
				return s, true
			}
			return s, false
		case in.Kind == opPause || in.Kind == opResume:
			return s, true // refused: nothing changed
		}
		// create refused (already exists), remove refused (not found): a read
		return s.read(value)
	case opShow:
		return s.read(out.OK)
	case opStageRead:
		if out.Mixed {
			return s, false // the stages are set together
		}
		return s.read(out.Paused)
	}
	return s, false
}

func stepRevision(s revisionState, in adminOp, out adminResult) (revisionState, bool) {
	switch in.Kind {
	case opUpdate:
		switch {
		case out.Unknown:
			s.Pending++
			return s, true
		case out.OK && out.Revision > 0:
			// the revision before must be reachable; this update made the next
			before, ok := s.reach(out.Revision - 1)
			before.Revision++
			return before, ok
		case out.OK:
			return s, false
		}
		return s, true // refused (a concurrent update won): nothing changed
	case opRevisionRead:
		return s.reach(out.Revision)
	}
	return s, false
}

func stepBinding(s bindState, in adminOp, out adminResult) (bindState, bool) {
	seen := bindState{Epoch: out.Epoch, Node: out.Node}
	switch in.Kind {
	case opTransfer:
		switch {
		case out.Unknown || !out.OK:
			// Not applied, or applied at some time: it then looks like a
			// rebind by the scheduler, which the model allows anyway.
			return s, true
		case out.Epoch > s.Epoch:
			return seen, true
		case seen == s: // already bound there: nothing moved
			return s, true
		}
	case opBound:
		switch {
		case out.Epoch > s.Epoch:
			return seen, true
		case out.Epoch == s.Epoch && (out.Node == s.Node || out.Node == "" || s.Epoch == 0):
			// The same binding, or the node lost it (unbound keeps the epoch).
			return seen, true
		}
	}
	return s, false
}

func sortedTimes(ts []time.Time) []time.Time {
	out := append([]time.Time(nil), ts...)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}
