package jepsen

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/dmraft/dmraft/test/harness"
)

func op(client int, kind, src string, call, ret int64, ok, unknown bool) porcupine.Operation {
	if unknown {
		ret = 1 << 62
	}
	return porcupine.Operation{ClientId: client, Input: adminOp{Kind: kind, Key: src}, Call: call, Output: adminResult{OK: ok, Unknown: unknown}, Return: ret}
}

func TestSourceModel(t *testing.T) {
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"create then read", []porcupine.Operation{op(0, "create", "a", 0, 10, true, false), op(1, "show", "a", 20, 30, true, false)}, porcupine.Ok},
		{"stale read after create", []porcupine.Operation{op(0, "create", "a", 0, 10, true, false), op(1, "show", "a", 20, 30, false, false)}, porcupine.Illegal},
		{"double create both ok", []porcupine.Operation{op(0, "create", "a", 0, 10, true, false), op(1, "create", "a", 20, 30, true, false)}, porcupine.Illegal},
		{"concurrent create one ok one exists", []porcupine.Operation{op(0, "create", "a", 0, 30, true, false), op(1, "create", "a", 5, 20, false, false)}, porcupine.Ok},
		{"unknown create may apply later", []porcupine.Operation{op(0, "create", "a", 0, 0, false, true), op(1, "show", "a", 20, 30, false, false), op(1, "show", "a", 40, 50, true, false)}, porcupine.Ok},
		{"unknown create cannot unapply", []porcupine.Operation{op(0, "create", "a", 0, 0, false, true), op(1, "show", "a", 20, 30, true, false), op(1, "show", "a", 40, 50, false, false)}, porcupine.Illegal},
		{"remove of a missing source", []porcupine.Operation{op(0, "remove", "a", 0, 10, false, false), op(1, "create", "a", 20, 30, true, false), op(0, "remove", "a", 40, 50, true, false)}, porcupine.Ok},
		{"keys are independent", []porcupine.Operation{op(0, "create", "a", 0, 10, true, false), op(1, "show", "b", 20, 30, false, false)}, porcupine.Ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkLinearizable(tc.ops, 10*time.Second); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// res builds an operation with a full result.
func res(client int, in adminOp, call, ret int64, out adminResult) porcupine.Operation {
	if out.Unknown {
		ret = 1 << 62
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func TestTaskModel(t *testing.T) {
	pause, resume := adminOp{Kind: opPause, Key: "j"}, adminOp{Kind: opResume, Key: "j"}
	update, stage, revision := adminOp{Kind: opUpdate, Key: "j"}, adminOp{Kind: opStageRead, Key: "j"}, adminOp{Kind: opRevisionRead, Key: "j"}
	ok, unknown, refused := adminResult{OK: true}, adminResult{Unknown: true}, adminResult{}
	paused := func(p bool) adminResult { return adminResult{OK: true, Paused: p} }
	rev := func(r uint64) adminResult { return adminResult{OK: true, Revision: r} }
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"start state", []porcupine.Operation{res(0, stage, 0, 10, paused(false)), res(0, revision, 0, 10, rev(1))}, porcupine.Ok},
		{"pause then read", []porcupine.Operation{res(0, pause, 0, 10, ok), res(1, stage, 20, 30, paused(true))}, porcupine.Ok},
		{"paused task reads running", []porcupine.Operation{res(0, pause, 0, 10, ok), res(1, stage, 20, 30, paused(false))}, porcupine.Illegal},
		{"resume after pause", []porcupine.Operation{res(0, pause, 0, 10, ok), res(0, resume, 20, 30, ok), res(1, stage, 40, 50, paused(false))}, porcupine.Ok},
		{"concurrent pause and read", []porcupine.Operation{res(0, pause, 0, 30, ok), res(1, stage, 10, 20, paused(false))}, porcupine.Ok},
		{"unknown pause may apply later", []porcupine.Operation{res(0, pause, 0, 0, unknown), res(1, stage, 20, 30, paused(false)), res(1, stage, 40, 50, paused(true))}, porcupine.Ok},
		{"update raises the revision by one", []porcupine.Operation{res(0, update, 0, 10, adminResult{OK: true, Revision: 2}), res(1, revision, 20, 30, rev(2))}, porcupine.Ok},
		{"update skips a revision", []porcupine.Operation{res(0, update, 0, 10, adminResult{OK: true, Revision: 3})}, porcupine.Illegal},
		{"refused update changes nothing", []porcupine.Operation{res(0, update, 0, 10, refused), res(1, revision, 20, 30, rev(2))}, porcupine.Illegal},
		{"revision goes back", []porcupine.Operation{res(0, update, 0, 10, adminResult{OK: true, Revision: 2}), res(1, revision, 20, 30, rev(1))}, porcupine.Illegal},
		{"mixed stages", []porcupine.Operation{res(1, stage, 20, 30, adminResult{OK: true, Mixed: true})}, porcupine.Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkLinearizable(tc.ops, 10*time.Second); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBindingModel(t *testing.T) {
	transfer := func(node string) adminOp { return adminOp{Kind: opTransfer, Key: "s", Node: node} }
	bound := adminOp{Kind: opBound, Key: "s"}
	at := func(node string, epoch uint64) adminResult { return adminResult{OK: true, Node: node, Epoch: epoch} }
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"transfer then read", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 1)), res(0, transfer("n2"), 10, 20, at("n2", 2)), res(1, bound, 30, 40, at("n2", 2))}, porcupine.Ok},
		{"read misses a finished transfer", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 1)), res(0, transfer("n2"), 10, 20, at("n2", 2)), res(1, bound, 30, 40, at("n1", 1))}, porcupine.Illegal},
		{"transfer that does not raise the epoch", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 3)), res(0, transfer("n2"), 10, 20, at("n2", 3))}, porcupine.Illegal},
		{"already bound there", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 3)), res(0, transfer("n1"), 10, 20, at("n1", 3))}, porcupine.Ok},
		{"scheduler rebinds on its own", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 1)), res(1, bound, 10, 20, at("n3", 2))}, porcupine.Ok},
		{"one epoch, two nodes", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 2)), res(1, bound, 10, 20, at("n3", 2))}, porcupine.Illegal},
		{"unbound keeps the epoch, rebinding raises it", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 2)), res(1, bound, 10, 20, at("", 2)), res(1, bound, 30, 40, at("n1", 2))}, porcupine.Illegal},
		{"refused transfer", []porcupine.Operation{res(0, bound, 0, 5, at("n1", 1)), res(0, transfer("n9"), 10, 20, adminResult{}), res(1, bound, 30, 40, at("n1", 1))}, porcupine.Ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkLinearizable(tc.ops, 10*time.Second); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiffRows(t *testing.T) {
	src := map[string][]string{"1": {"id=1,v=1"}, "2": {"id=2,v=2"}, "3": {"id=3,v=3"}}
	dst := map[string][]string{"1": {"id=1,v=1"}, "3": {"id=3,v=9"}, "4": {"id=4,v=4"}}
	d := diffRows(src, dst)
	if d.lost != 1 || d.extra != 1 || d.divergent != 1 {
		t.Fatalf("got %s, want 1 lost, 1 extra, 1 divergent", d)
	}
	multi := diffRows(map[string][]string{"h": {"k=1", "k=1"}}, map[string][]string{"h": {"k=1", "k=1", "k=1"}})
	if multi.lost != 0 || multi.extra != 1 || multi.divergent != 0 {
		t.Fatalf("multiset: got %s, want one duplicated row", multi)
	}
}

func TestCheckFencing(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	iv := func(node string, epoch uint64, from, to float64) interval {
		return interval{node: node, task: "t", source: "s", epoch: epoch, start: at(from), end: at(to)}
	}
	pause := Window{Kind: FaultPause, Nodes: []string{"n1"}, Start: at(5), End: at(12)}
	cases := []struct {
		name      string
		ivs       []interval
		windows   []Window
		scheduled map[string]map[uint64]bool
		want      int
	}{
		{"hand-over without overlap", []interval{iv("n1", 1, 0, 10), iv("n2", 2, 12, 20)}, nil, nil, 0},
		{"overlap", []interval{iv("n1", 1, 0, 10), iv("n2", 2, 9, 20)}, nil, nil, 1},
		{"same node restarts", []interval{iv("n1", 1, 0, 10), iv("n1", 1, 5, 20)}, nil, nil, 0},
		{"overlap while frozen", []interval{iv("n1", 1, 0, 12.1), iv("n2", 2, 9, 20)}, []Window{pause}, nil, 0},
		{"overlap after waking", []interval{iv("n1", 1, 0, 13), iv("n2", 2, 9, 20)}, []Window{pause}, nil, 1},
		{"epoch went down", []interval{iv("n1", 3, 0, 10), iv("n2", 2, 9, 20)}, []Window{pause}, nil, 1},
		{"transfer hand-over", []interval{iv("n1", 1, 0, 10.3), iv("n2", 2, 10, 20)}, nil, map[string]map[uint64]bool{"s": {1: true}}, 0},
		{"transfer hand-over too long", []interval{iv("n1", 1, 0, 12), iv("n2", 2, 10, 20)}, nil, map[string]map[uint64]bool{"s": {1: true}}, 1},
		{"old owner starts late in a transfer hand-over", []interval{iv("n2", 2, 10, 20), iv("n1", 1, 10.01, 10.02)}, nil, map[string]map[uint64]bool{"s": {1: true}}, 0},
		{"old owner starts late after a rebind", []interval{iv("n2", 2, 10, 20), iv("n1", 1, 10.01, 10.02)}, nil, map[string]map[uint64]bool{"s": {1: true, 2: true}}, 2},
		{"rebind by the scheduler overlaps", []interval{iv("n1", 1, 0, 10.3), iv("n2", 2, 10, 20)}, nil, map[string]map[uint64]bool{"s": {1: true, 2: true}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := checkFencing(tc.ivs, tc.windows, tc.scheduled); len(got) != tc.want {
				t.Fatalf("got %d problems %v, want %d", len(got), got, tc.want)
			}
		})
	}
}

func TestSplitKeepsAMajority(t *testing.T) {
	for _, n := range []int{3, 5} {
		c := &harness.Cluster{}
		for i := 0; i < n; i++ {
			c.Nodes = append(c.Nodes, &harness.Node{Name: fmt.Sprintf("node%d", i+1)})
		}
		sizes := map[int]bool{}
		for seed := int64(0); seed < 50; seed++ {
			nem := &nemesis{c: c, rng: rand.New(rand.NewSource(seed))}
			minority, majority := nem.split(c.Nodes[seed%int64(n)])
			if minority[0] != c.Nodes[seed%int64(n)] || len(minority)+len(majority) != n || len(minority) > (n-1)/2 {
				t.Fatalf("%d nodes: minority %v, majority %v", n, names(minority), names(majority))
			}
			sizes[len(minority)] = true
		}
		if n == 5 && !(sizes[1] && sizes[2]) {
			t.Fatalf("5 nodes: minorities of sizes %v, want 1 and 2", sizes)
		}
	}
}

// TestReportNamesATargetThatNeverCaughtUp: the catch-up row says when the
// suite gave up waiting instead of printing the wait as a catch-up time.
func TestReportNamesATargetThatNeverCaughtUp(t *testing.T) {
	r := &Report{Seed: 1, DataChecked: true, CatchUp: 31 * time.Second}
	if s := r.String(); !strings.Contains(s, "not equal after 31s (gave up") {
		t.Fatalf("report of a target that never caught up:\n%s", s)
	}
	r.CaughtUp = true
	if s := r.String(); strings.Contains(s, "gave up") || !strings.Contains(s, "| 31s") {
		t.Fatalf("report of a target that caught up:\n%s", s)
	}
}
