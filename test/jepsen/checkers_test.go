package jepsen

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func op(client int, kind, src string, call, ret int64, ok, unknown bool) porcupine.Operation {
	if unknown {
		ret = 1 << 62
	}
	return porcupine.Operation{ClientId: client, Input: adminOp{kind, src}, Call: call, Output: adminResult{OK: ok, Unknown: unknown}, Return: ret}
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

func TestCheckFencing(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	iv := func(node string, epoch uint64, from, to float64) interval {
		return interval{node: node, task: "t", source: "s", epoch: epoch, start: at(from), end: at(to)}
	}
	pause := Window{Kind: FaultPause, Nodes: []string{"n1"}, Start: at(5), End: at(12)}
	cases := []struct {
		name    string
		ivs     []interval
		windows []Window
		want    int
	}{
		{"hand-over without overlap", []interval{iv("n1", 1, 0, 10), iv("n2", 2, 12, 20)}, nil, 0},
		{"overlap", []interval{iv("n1", 1, 0, 10), iv("n2", 2, 9, 20)}, nil, 1},
		{"same node restarts", []interval{iv("n1", 1, 0, 10), iv("n1", 1, 5, 20)}, nil, 0},
		{"overlap while frozen", []interval{iv("n1", 1, 0, 12.1), iv("n2", 2, 9, 20)}, []Window{pause}, 0},
		{"overlap after waking", []interval{iv("n1", 1, 0, 13), iv("n2", 2, 9, 20)}, []Window{pause}, 1},
		{"epoch went down", []interval{iv("n1", 3, 0, 10), iv("n2", 2, 9, 20)}, []Window{pause}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkFencing(tc.ivs, tc.windows); len(got) != tc.want {
				t.Fatalf("got %d problems %v, want %d", len(got), got, tc.want)
			}
		})
	}
}
