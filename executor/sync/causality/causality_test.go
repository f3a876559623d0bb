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

func TestTrackerConflicts(t *testing.T) {
	tr := New()
	steps := []struct {
		w    int
		keys []string
		ok   bool
	}{
		{0, []string{"t.pk:1"}, true},
		{0, []string{"t.pk:1", "t.pk:2"}, true},  // same worker: ordered by its queue
		{1, []string{"t.pk:3"}, true},            // unrelated key
		{1, []string{"t.pk:2", "t.pk:4"}, false}, // pk 2 in flight on worker 0
		{1, []string{"t.pk:4"}, true},            // nothing was recorded by the refused add
		{2, []string{"t.uk:x"}, true},
		{0, []string{"t.pk:9", "t.uk:x"}, false}, // unique key in flight elsewhere
	}
	for i, s := range steps {
		if got := tr.Add(s.w, s.keys); got != s.ok {
			t.Fatalf("step %d: Add(%d, %v) = %v, want %v", i, s.w, s.keys, got, s.ok)
		}
	}
	tr.Reset()
	if tr.Len() != 0 || !tr.Add(0, []string{"t.uk:x"}) {
		t.Fatal("after Reset every key is free")
	}
}

func TestTrackerReleasesCommittedKeys(t *testing.T) {
	tr := New()
	committed := map[int]uint64{}
	at := func(w int) uint64 { return committed[w] }
	if b := tr.Place(0, 5, []string{"k1", "k2"}, at); b != nil {
		t.Fatalf("first place blocked by %v", b)
	}
	if b := tr.Place(1, 6, []string{"k9"}, at); b != nil {
		t.Fatalf("unrelated key blocked by %v", b)
	}
	if b := tr.Place(2, 7, []string{"k2", "k9"}, at); len(b) != 2 || b[0] != 0 || b[1] != 1 {
		t.Fatalf("blockers = %v, want [0 1]", b)
	}
	committed[0] = 4 // worker 0 has not reached seq 5 yet
	if b := tr.Place(2, 7, []string{"k2"}, at); len(b) != 1 || b[0] != 0 {
		t.Fatalf("blockers = %v, want [0]", b)
	}
	committed[0], committed[1] = 5, 6
	if b := tr.Place(2, 7, []string{"k2", "k9"}, at); b != nil {
		t.Fatalf("committed keys still block: %v", b)
	}
	if b := tr.Place(0, 8, []string{"k2"}, at); len(b) != 1 || b[0] != 2 {
		t.Fatalf("k2 now belongs to worker 2 until it commits seq 7: %v", b)
	}
}
