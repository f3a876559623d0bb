package checkpoint

import (
	"testing"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

func pos(file string, p uint32) binlog.Position { return binlog.Position{Name: file, Pos: p} }

func TestResumeSkip(t *testing.T) {
	r := &Resume{Workers: 3, Points: []Point{
		Boundary(pos("bin.000002", 500)),      // worker 0 finished every txn before 500
		{Pos: pos("bin.000002", 300), Row: 4}, // worker 1 is inside the txn at 300, rows <= 4 done
		Boundary(pos("bin.000001", 900000)),   // worker 2 is behind, in the previous file
	}}
	if got := r.Start(); got.Compare(pos("bin.000001", 900000)) != 0 {
		t.Fatalf("start = %v", got)
	}
	if got := r.Max(); got.Compare(pos("bin.000002", 500)) != 0 {
		t.Fatalf("max = %v", got)
	}
	cases := []struct {
		w    int
		txn  binlog.Position
		row  int
		skip bool
	}{
		{0, pos("bin.000002", 300), 9, true},
		{0, pos("bin.000002", 500), 0, false}, // the txn starting at the boundary is not done
		{1, pos("bin.000002", 300), 4, true},
		{1, pos("bin.000002", 300), 5, false},
		{1, pos("bin.000002", 200), 99, true},
		{1, pos("bin.000002", 400), 0, false},
		{2, pos("bin.000001", 899000), 0, true},
		{2, pos("bin.000001", 900000), 0, false},
		{2, pos("bin.000002", 4), 0, false},
		{7, pos("bin.000001", 4), 0, false}, // unknown worker: never skip
	}
	for _, c := range cases {
		if got := r.Skip(c.w, c.txn, c.row); got != c.skip {
			t.Errorf("Skip(%d, %v, %d) = %v, want %v", c.w, c.txn, c.row, got, c.skip)
		}
	}
	// PassedBy: worker 1 is inside the transaction starting at 300, so
	// the end of the transaction before it (300) passes nothing yet.
	for _, c := range []struct {
		end    binlog.Position
		passed bool
	}{
		{pos("bin.000001", 900000), false},
		{pos("bin.000002", 300), false},
		{pos("bin.000002", 499), false},
		{pos("bin.000002", 500), true},
		{pos("bin.000003", 4), true},
	} {
		if got := r.PassedBy(c.end); got != c.passed {
			t.Errorf("PassedBy(%v) = %v, want %v", c.end, got, c.passed)
		}
	}
	mid := &Resume{Workers: 2, Points: []Point{Boundary(pos("b.1", 100)), {Pos: pos("b.1", 300), Row: 3103}}}
	if mid.PassedBy(pos("b.1", 300)) {
		t.Error("the end of the transaction before a mid-transaction point must not end the skipping")
	}
	if !mid.PassedBy(pos("b.1", 900)) {
		t.Error("the end of the transaction at a mid-transaction point passes it")
	}
	if r.Uniform() {
		t.Fatal("not uniform")
	}
	u := &Resume{Workers: 2, Points: []Point{Boundary(pos("b.1", 5)), Boundary(pos("b.1", 5))}}
	if !u.Uniform() {
		t.Fatal("uniform")
	}
}

func TestPositionOrderAcrossFiles(t *testing.T) {
	if !pos("mysql-bin.000009", 999999).Before(pos("mysql-bin.000010", 4)) {
		t.Fatal("file sequence must order before offset")
	}
	if !pos("mysql-bin.999999", 4).Before(pos("mysql-bin.1000000", 4)) {
		t.Fatal("sequence numbers compare numerically")
	}
}
