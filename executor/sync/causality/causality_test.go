package causality

import "testing"

func TestWorkerIsDeterministicAndInRange(t *testing.T) {
	for _, n := range []int{1, 2, 7, 16} {
		seen := map[int]bool{}
		for i := 0; i < 1000; i++ {
			k := string(rune('a'+i%26)) + string(rune(i))
			w := Worker(k, n)
			if w < 0 || w >= n || w != Worker(k, n) {
				t.Fatalf("Worker(%q, %d) = %d, not stable or out of range", k, n, w)
			}
			seen[w] = true
		}
		if len(seen) != n {
			t.Fatalf("n=%d: only %d workers used", n, len(seen))
		}
	}
}

func TestTrackerDependencies(t *testing.T) {
	tr := New()
	committed := map[int]uint64{}
	at := func(w int) uint64 { return committed[w] }
	place := func(w int, seq uint64, keys ...string) []Dep { return tr.Place(w, seq, keys, at) }
	if d := place(0, 1, "t.pk:1"); d != nil {
		t.Fatalf("first key: deps %v", d)
	}
	if d := place(0, 2, "t.pk:1", "t.pk:2"); d != nil {
		t.Fatalf("same worker: its queue orders the changes, deps %v", d)
	}
	if d := place(1, 3, "t.pk:3"); d != nil {
		t.Fatalf("unrelated key: deps %v", d)
	}
	// pk 2 in flight on worker 0 at seq 2, pk 1 at seq 2 too: one dep.
	if d := place(1, 4, "t.pk:2", "t.pk:1", "t.pk:4"); len(d) != 1 || d[0] != (Dep{0, 2}) {
		t.Fatalf("deps = %v, want [{0 2}]", d)
	}
	// pk 2 now belongs to worker 1 at seq 4: the next change waits for
	// worker 1 only (worker 1's seq 4 commits after worker 0's seq 2).
	if d := place(2, 5, "t.pk:2", "t.pk:3"); len(d) != 1 || d[0] != (Dep{1, 4}) {
		t.Fatalf("deps = %v, want [{1 4}]", d)
	}
	if d := place(0, 6, "t.pk:2", "t.pk:9"); len(d) != 1 || d[0] != (Dep{2, 5}) {
		t.Fatalf("deps = %v, want [{2 5}]", d)
	}
	// Several workers, ascending; committed keys are free.
	place(3, 7, "t.uk:x")
	if d := place(1, 8, "t.uk:x", "t.pk:9"); len(d) != 2 || d[0] != (Dep{0, 6}) || d[1] != (Dep{3, 7}) {
		t.Fatalf("deps = %v, want [{0 6} {3 7}]", d)
	}
	committed[1] = 8
	if d := place(2, 9, "t.uk:x", "t.pk:9"); d != nil {
		t.Fatalf("keys committed by worker 1 still make deps: %v", d)
	}
	// Forget drops the keys worker 1 committed (pk:1, pk:4); pk:2 (worker
	// 0), pk:3, pk:9 and uk:x (worker 2) stay in flight.
	tr.Forget(func(o int) uint64 { return committed[o] })
	if tr.Len() != 4 {
		t.Fatalf("after Forget %d keys, want 4", tr.Len())
	}
	if d := place(0, 10, "t.uk:x"); len(d) != 1 || d[0] != (Dep{2, 9}) {
		t.Fatalf("a forgotten tracker lost the key in flight: %v", d)
	}
	tr.Reset()
	if tr.Len() != 0 || place(0, 10, "t.uk:x") != nil {
		t.Fatal("after Reset every key is free")
	}
}
