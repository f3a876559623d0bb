package jepsen

import (
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// synthHistory is a history of a correct admin API, simulated: clients
// call operations one after another, each takes effect at one instant
// inside its call (or, with an unknown outcome, at some instant after its
// call or never), and outputs come from applying the effects in that
// order to one state. The scheduler also rebinds sources on its own.
type synthHistory struct {
	ops     []porcupine.Operation
	effect  []int64 // when each operation took effect; -1: never
	unknown int     // operations recorded with an unknown outcome
}

const (
	synthTask  = "jepsen"
	quietUntil = int64(2 * time.Second) // no unknown outcome before: the faults start later
)

func simulateAdmin(seed int64, clients, perClient int) synthHistory {
	rng := rand.New(rand.NewSource(seed))
	sources, bound := []string{"adm-0", "adm-1", "adm-2"}, []string{"src1", "src2"}
	nodes := []string{"node1", "node2", "node3"}
	var h synthHistory
	for c := 0; c < clients; c++ {
		t := int64(rng.Intn(1000)) * int64(time.Microsecond)
		for i := 0; i < perClient; i++ {
			t += int64(rng.Intn(3000)) * int64(time.Microsecond)
			var in adminOp
			switch r := rng.Intn(20); {
			case r < 7:
				in = adminOp{Kind: opStatus, Key: synthTask}
			case r < 10:
				in = adminOp{Kind: []string{opPause, opResume}[rng.Intn(2)], Key: synthTask}
			case r < 11:
				in = adminOp{Kind: opUpdate, Key: synthTask}
			case r < 13:
				in = adminOp{Kind: opBound, Key: bound[rng.Intn(len(bound))]}
			case r < 14:
				in = adminOp{Kind: opTransfer, Key: bound[rng.Intn(len(bound))], Node: nodes[rng.Intn(len(nodes))]}
			default:
				in = adminOp{Kind: []string{opCreate, opRemove, opShow, opShow}[rng.Intn(4)], Key: sources[rng.Intn(len(sources))]}
			}
			call := t
			dur := int64(1+rng.Intn(10)) * int64(time.Millisecond)
			unknown := t > quietUntil && rng.Intn(12) == 0
			if unknown {
				dur = int64(300 * time.Millisecond) // the client's timeout
			}
			t += dur
			at := call + rng.Int63n(dur+1)
			if unknown && !isRead(in.Kind) {
				if rng.Intn(2) == 0 {
					at = -1 // never applied
				} else {
					at = call + rng.Int63n(int64(2*time.Second)) // maybe long after the client gave up
				}
			}
			ret := t
			if unknown && !isRead(in.Kind) {
				ret = 1 << 62
			}
			out := adminResult{Unknown: unknown}
			h.ops = append(h.ops, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
			h.effect = append(h.effect, at)
			if unknown {
				h.unknown++
			}
		}
	}
	// Rebinds by the scheduler, as effects without an operation.
	type rebind struct {
		at     int64
		source string
		node   string
	}
	var end int64
	for _, op := range h.ops {
		if op.Return < 1<<62 && op.Return > end {
			end = op.Return
		}
	}
	var rebinds []rebind
	for i := 0; i < 20; i++ {
		rebinds = append(rebinds, rebind{at: rng.Int63n(end), source: bound[rng.Intn(len(bound))], node: nodes[rng.Intn(len(nodes))]})
	}

	// Apply the effects in order.
	order := make([]int, 0, len(h.ops)+len(rebinds))
	for i := range h.ops {
		if h.effect[i] >= 0 {
			order = append(order, i)
		}
	}
	for i := range rebinds {
		order = append(order, len(h.ops)+i)
	}
	when := func(i int) int64 {
		if i >= len(h.ops) {
			return rebinds[i-len(h.ops)].at
		}
		return h.effect[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return when(order[a]) < when(order[b]) })
	exists := map[string]bool{}
	paused, revision := false, uint64(taskStartRevision)
	binding := map[string]bindState{}
	for _, s := range bound {
		binding[s] = bindState{Epoch: 1, Node: nodes[0]}
	}
	for _, i := range order {
		if i >= len(h.ops) {
			rb := rebinds[i-len(h.ops)]
			b := binding[rb.source]
			binding[rb.source] = bindState{Epoch: b.Epoch + 1, Node: rb.node}
			continue
		}
		in := h.ops[i].Input.(adminOp)
		out := adminResult{}
		switch in.Kind {
		case opCreate:
			out.OK = !exists[in.Key]
			exists[in.Key] = true
		case opRemove:
			out.OK = exists[in.Key]
			exists[in.Key] = false
		case opShow:
			out.OK = exists[in.Key]
		case opPause, opResume:
			paused, out.OK = in.Kind == opPause, true
		case opUpdate:
			revision++
			out.OK, out.Revision = true, revision
		case opStatus:
			out = adminResult{OK: true, Paused: paused, Revision: revision}
		case opTransfer:
			b := binding[in.Key]
			if b.Node != in.Node {
				b = bindState{Epoch: b.Epoch + 1, Node: in.Node}
				binding[in.Key] = b
			}
			out = adminResult{OK: true, Node: b.Node, Epoch: b.Epoch}
		case opBound:
			b := binding[in.Key]
			out = adminResult{OK: true, Node: b.Node, Epoch: b.Epoch}
		}
		if !h.ops[i].Output.(adminResult).Unknown {
			h.ops[i].Output = out
		}
	}
	// A status is recorded as a read of the stage and one of the revision.
	var ops []porcupine.Operation
	var effect []int64
	for i, op := range h.ops {
		in := op.Input.(adminOp)
		if in.Kind != opStatus {
			ops, effect = append(ops, op), append(effect, h.effect[i])
			continue
		}
		for _, kind := range []string{opStageRead, opRevisionRead} {
			op.Input = adminOp{Kind: kind, Key: in.Key}
			ops, effect = append(ops, op), append(effect, h.effect[i])
		}
	}
	h.ops, h.effect = ops, effect
	return h
}

// synthCheckBound is how long the check of a large synthetic history may
// take. It takes well under a second; the bound leaves room for a loaded
// machine.
const synthCheckBound = 30 * time.Second

func TestLargeHistoryChecksOk(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		h := simulateAdmin(seed, 4, 1500)
		if h.unknown < 300 || len(h.ops) < 6000 {
			t.Fatalf("seed %d: %d operations, %d unknown: the history is too small to mean anything", seed, len(h.ops), h.unknown)
		}
		start := time.Now()
		res := checkAdminHistory(h.ops, synthCheckBound, "")
		took := time.Since(start)
		if res.Result != porcupine.Ok {
			t.Fatalf("seed %d: %s after %v, want Ok: %v", seed, res.Result, took, res.Records)
		}
		stage := 0
		for _, r := range res.Records {
			if r.Record == "stage/"+synthTask {
				stage = r.Ops
			}
		}
		t.Logf("seed %d: %d operations (%d unknown), stage record %d: %s", seed, len(h.ops), h.unknown, stage, res.Summary())
	}
}

func TestLargeHistoryFindsIllegal(t *testing.T) {
	h := simulateAdmin(7, 4, 1500)
	last := func(kind string, pred func(int) bool) int {
		for i := len(h.ops) - 1; i >= 0; i-- {
			if h.ops[i].Input.(adminOp).Kind == kind && pred(i) {
				return i
			}
		}
		t.Fatalf("no %s to break", kind)
		return -1
	}
	definite := func(i int) bool { return !h.ops[i].Output.(adminResult).Unknown }
	cases := []struct {
		name   string
		record string
		breakH func(ops []porcupine.Operation)
	}{
		{"late stage read of mixed stages", "stage/" + synthTask, func(ops []porcupine.Operation) {
			i := last(opStageRead, definite)
			out := ops[i].Output.(adminResult)
			out.Mixed = true
			ops[i].Output = out
		}},
		{"stage read contradicts the last acknowledged write", "stage/" + synthTask, func(ops []porcupine.Operation) {
			// Before the first unknown outcome, a read that overlaps no
			// stage write sees the last acknowledged one: flip it.
			i := last(opStageRead, func(i int) bool {
				if ops[i].Return >= quietUntil || !definite(i) {
					return false
				}
				for _, w := range ops {
					k := w.Input.(adminOp).Kind
					if (k == opPause || k == opResume) && w.Call <= ops[i].Return && w.Return >= ops[i].Call {
						return false
					}
				}
				return true
			})
			out := ops[i].Output.(adminResult)
			out.Paused = !out.Paused
			ops[i].Output = out
		}},
		{"late revision read goes back", "revision/" + synthTask, func(ops []porcupine.Operation) {
			// The last acknowledged update returned r before this read was
			// called: the read says r-1.
			u := last(opUpdate, definite)
			i := last(opRevisionRead, func(i int) bool { return definite(i) && ops[i].Call > ops[u].Return })
			out := ops[i].Output.(adminResult)
			out.Revision = ops[u].Output.(adminResult).Revision - 1
			ops[i].Output = out
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops := append([]porcupine.Operation(nil), h.ops...)
			tc.breakH(ops)
			start := time.Now()
			res := checkAdminHistory(ops, synthCheckBound, "")
			if res.Result != porcupine.Illegal {
				t.Fatalf("%s after %v, want Illegal", res.Result, time.Since(start))
			}
			illegal := res.failed(porcupine.Illegal)
			if len(illegal) != 1 || illegal[0].Record != tc.record {
				t.Fatalf("illegal records %v, want only %s", illegal, tc.record)
			}
			t.Logf("%s in %v (%d operations, %d unknown)", illegal[0], time.Since(start).Round(time.Millisecond), len(ops), h.unknown)
		})
	}
}
