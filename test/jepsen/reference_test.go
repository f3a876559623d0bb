package jepsen

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestCacheSubsumption pins the way porcupine calls Equal, which
// adminModel relies on (see subsumes). An unknown pause is pending; a
// read of "paused" and an acknowledged pause run concurrently. Read
// first spends the pending pause, pause first keeps it; porcupine tries
// the read first (called first), and later the pause first at the same
// set of linearized operations. Only the state that kept the pending
// pause explains the last read, so if porcupine passed the explored state
// first, the weaker one would hide the stronger and the history would
// wrongly be Illegal.
func TestCacheSubsumption(t *testing.T) {
	pause, resume, stage := adminOp{Kind: opPause, Key: "j"}, adminOp{Kind: opResume, Key: "j"}, adminOp{Kind: opStageRead, Key: "j"}
	ok, unknown := adminResult{OK: true}, adminResult{Unknown: true}
	paused := func(p bool) adminResult { return adminResult{OK: true, Paused: p} }
	ops := []porcupine.Operation{
		res(0, pause, 0, 0, unknown),
		res(1, stage, 1, 10, paused(true)),
		res(2, pause, 2, 10, ok),
		res(2, resume, 20, 30, ok),
		res(1, stage, 40, 50, paused(true)),
	}
	if got := checkLinearizable(ops, 10*time.Second); got != porcupine.Ok {
		t.Fatalf("got %v, want Ok", got)
	}
	// Without the concurrent pause, the pending pause is spent by the
	// first read or the last one, not both.
	if got := checkLinearizable(append(ops[:2:2], ops[3:]...), 10*time.Second); got != porcupine.Illegal {
		t.Fatalf("one pending pause explained two reads: got %v, want Illegal", got)
	}
}

// referenceModel is the direct encoding of the admin API that adminModel
// replaces: a write of unknown outcome stays in the history with an
// open-ended return, and may apply or not wherever porcupine places it.
// It is exponential in the writes pending at once, so it only checks
// small histories, against which adminModel is compared.
var referenceModel = porcupine.NondeterministicModel{
	Partition: partitionByRecord,
	Init:      func() []interface{} { return []interface{}{initState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		in, out := input.(adminOp), output.(adminResult)
		if _, fresh := state.(initState); fresh {
			switch record(in.Kind) {
			case "stage", "source":
				state = false
			case "revision":
				state = uint64(taskStartRevision)
			default:
				state = bindState{}
			}
		}
		switch s := state.(type) {
		case bool: // a source exists, the task is paused
			value := setsRegister(in.Kind)
			switch in.Kind {
			case opCreate, opRemove, opPause, opResume:
				switch {
				case out.Unknown:
					return []interface{}{s, value}
				case out.OK && (in.Kind == opPause || in.Kind == opResume || s != value):
					return []interface{}{value}
				case !out.OK && (in.Kind == opPause || in.Kind == opResume || s == value):
					return []interface{}{s}
				}
			case opShow:
				if out.OK == s {
					return []interface{}{s}
				}
			case opStageRead:
				if !out.Mixed && out.Paused == s {
					return []interface{}{s}
				}
			}
		case uint64: // the revision
			switch in.Kind {
			case opUpdate:
				switch {
				case out.Unknown:
					return []interface{}{s, s + 1}
				case out.OK && out.Revision == s+1:
					return []interface{}{s + 1}
				case !out.OK:
					return []interface{}{s}
				}
			case opRevisionRead:
				if out.Revision == s {
					return []interface{}{s}
				}
			}
		case bindState:
			if next, ok := stepBinding(s, in, out); ok {
				return []interface{}{next}
			}
		}
		return nil
	},
}

// randomHistory is a small history of one record with random outputs:
// some linearizable, some not.
func randomHistory(rng *rand.Rand) []porcupine.Operation {
	kinds := [][]string{
		{opCreate, opRemove, opShow, opShow},
		{opPause, opResume, opStageRead, opStageRead},
		{opUpdate, opRevisionRead, opRevisionRead},
		{opTransfer, opBound, opBound},
	}[rng.Intn(4)]
	var ops []porcupine.Operation
	for c := 0; c < 3; c++ {
		t := int64(rng.Intn(5))
		for i := 0; i < 2+rng.Intn(3); i++ {
			in := adminOp{Kind: kinds[rng.Intn(len(kinds))], Key: "k"}
			call := t
			t += 1 + int64(rng.Intn(10))
			out := adminResult{OK: rng.Intn(3) > 0}
			switch {
			case !isRead(in.Kind) && rng.Intn(4) == 0:
				out = adminResult{Unknown: true}
			case in.Kind == opStageRead:
				out.OK, out.Paused, out.Mixed = true, rng.Intn(2) == 0, rng.Intn(30) == 0
			case in.Kind == opUpdate && out.OK, in.Kind == opRevisionRead:
				out.OK, out.Revision = true, uint64(1+rng.Intn(4))
			case in.Kind == opTransfer && out.OK, in.Kind == opBound:
				in.Node = fmt.Sprintf("n%d", rng.Intn(2))
				out.OK, out.Node, out.Epoch = true, in.Node, uint64(rng.Intn(3))
			}
			ops = append(ops, res(c, in, call, t, out))
			t += int64(rng.Intn(4))
		}
	}
	return ops
}

// TestModelMatchesReference checks random small histories with both
// encodings: the verdicts must agree.
func TestModelMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ref := referenceModel.ToModel()
	verdicts := map[porcupine.CheckResult]int{}
	for i := 0; i < 5000; i++ {
		ops := randomHistory(rng)
		want := porcupine.CheckOperationsTimeout(ref, ops, 10*time.Second)
		got := checkLinearizable(ops, 10*time.Second)
		if got != want || want == porcupine.Unknown {
			for _, op := range ops {
				t.Logf("client %d %d..%d %s", op.ClientId, op.Call, op.Return, adminModel.DescribeOperation(op.Input, op.Output))
			}
			t.Fatalf("history %d: got %v, reference %v", i, got, want)
		}
		verdicts[want]++
	}
	if verdicts[porcupine.Ok] < 500 || verdicts[porcupine.Illegal] < 500 {
		t.Fatalf("verdicts %v: too few of one kind to compare", verdicts)
	}
	t.Logf("verdicts %v", verdicts)
}
