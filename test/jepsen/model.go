package jepsen

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// sourceModel is the sequential specification of the admin operations on
// one source id: a register holding whether the source exists. Histories
// are partitioned by source id.
var sourceModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			id := op.Input.(adminOp).Source
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
	Init: func() []interface{} { return []interface{}{false} },
	Step: func(state, input, output interface{}) []interface{} {
		exists := state.(bool)
		in, out := input.(adminOp), output.(adminResult)
		switch in.Kind {
		case "create":
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
		case "remove":
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
		case "show":
			if out.OK == exists {
				return []interface{}{exists}
			}
		}
		return nil // this output is impossible in this state
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(adminOp), output.(adminResult)
		res := fmt.Sprint(out.OK)
		if out.Unknown {
			res = "?"
		}
		return fmt.Sprintf("%s(%s) -> %s", in.Kind, in.Source, res)
	},
}

// checkLinearizable checks the admin history against sourceModel.
func checkLinearizable(ops []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(sourceModel.ToModel(), ops, timeout)
}

func sortedTimes(ts []time.Time) []time.Time {
	out := append([]time.Time(nil), ts...)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}
