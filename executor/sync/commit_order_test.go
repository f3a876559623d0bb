package syncer

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/dmraft/dmraft/executor/sync/causality"
)

func change(seq uint64, deps ...causality.Dep) job {
	return job{kind: jobChange, seq: seq, deps: deps}
}

func request(worker int, jobs ...job) *commitRequest {
	return &commitRequest{worker: worker, jobs: jobs, lastSeq: jobs[len(jobs)-1].seq, done: make(chan error, 1)}
}

func parts(g []part) string {
	s := ""
	for _, p := range g {
		s += fmt.Sprintf("w%d[%d:%d] ", p.r.worker, p.from, p.to)
	}
	return s
}

// TestPickGroupCausality: a change waits for an earlier change of its key
// on another worker; a group may hold both (written in sequence order),
// and a batch is cut before a change whose dependency is outside.
func TestPickGroupCausality(t *testing.T) {
	a := request(0, change(1), change(2))
	b := request(1, change(3, causality.Dep{Worker: 0, Seq: 2}), change(5))
	c := request(2, change(6), change(7, causality.Dep{Worker: 3, Seq: 4})) // worker 3 has not handed in seq 4
	committed := map[int]uint64{}
	g := pickGroup([]*commitRequest{c, b, a}, committed, 100)
	if got := parts(g); got != "w0[0:2] w1[0:2] w2[0:1] " {
		t.Fatalf("group %s: want a and b whole, c cut before seq 7", got)
	}
	finishGroup(g, nil, committed)
	if len(a.done) != 1 || len(b.done) != 1 || len(c.done) != 0 || c.written != 1 || committed[2] != 6 {
		t.Fatalf("after the group: a, b done, c written up to 1 (got %d), committed %v", c.written, committed)
	}
	if g = pickGroup([]*commitRequest{c}, committed, 100); len(g) != 0 {
		t.Fatalf("c's rest still waits for worker 3: %s", parts(g))
	}
	committed[3] = 4
	if g = pickGroup([]*commitRequest{c}, committed, 100); parts(g) != "w2[1:2] " {
		t.Fatalf("c's rest with its dependency committed: %s", parts(g))
	}
	// Mutual: each needs the other's earlier change. Under a bound of one
	// batch, x's first change goes alone, then y, then x's rest.
	x := request(0, change(1), change(4, causality.Dep{Worker: 1, Seq: 2}))
	y := request(1, change(2, causality.Dep{Worker: 0, Seq: 1}), change(3))
	committed = map[int]uint64{}
	if g = pickGroup([]*commitRequest{x, y}, committed, 100); len(g) != 2 {
		t.Fatalf("unbounded, x and y go together: %s", parts(g))
	}
	var order []string
	for range 4 {
		g = pickGroup([]*commitRequest{x, y}, committed, 1)
		if len(g) == 0 {
			break
		}
		order = append(order, parts(g))
		finishGroup(g, nil, committed)
	}
	if want := []string{"w0[0:1] ", "w1[0:2] ", "w0[1:2] "}; !slices.Equal(order, want) {
		t.Fatalf("bounded order %q, want %q", order, want)
	}
}

// TestCommitOrderFollowsKeys simulates the reader, workers and committer
// on random changes over few keys (many conflicts), with groups completing
// in any order, and checks that every key's changes reach the target in
// binlog order and that every change is written.
func TestCommitOrderFollowsKeys(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { simulateCommitOrder(t, seed) })
	}
}

func simulateCommitOrder(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	const workers, changes, keys = 4, 3000, 12
	tracker := causality.New()
	committed := map[int]uint64{}         // the committer's view
	workerSeen := make([]uint64, workers) // the workers' view (lags)
	keysOf := map[uint64][]string{}
	pending := make([][]job, workers)
	handed := make([]*commitRequest, workers)
	var waiting []*commitRequest
	var groups [][]part // in flight, complete in any order
	lastApplied := map[string]uint64{}
	written := 0

	handIn := func(w int) {
		if handed[w] != nil || len(pending[w]) == 0 {
			return
		}
		handed[w] = request(w, pending[w]...)
		pending[w] = nil
		waiting = append(waiting, handed[w])
	}
	complete := func(i int) {
		g := groups[i]
		groups = slices.Delete(groups, i, i+1)
		var seqs []uint64
		for _, p := range g {
			for _, j := range p.jobs() {
				seqs = append(seqs, j.seq)
			}
		}
		slices.Sort(seqs)
		for _, s := range seqs {
			for _, k := range keysOf[s] {
				if lastApplied[k] > s {
					t.Fatalf("key %s: change %d written after change %d", k, s, lastApplied[k])
				}
				lastApplied[k] = s
			}
			written++
		}
		finishGroup(g, nil, committed)
		for w, r := range handed {
			if r != nil && r.finished {
				workerSeen[w], handed[w] = r.lastSeq, nil
			}
		}
		waiting = slices.DeleteFunc(waiting, func(r *commitRequest) bool { return r.finished })
	}
	step := func() {
		switch rng.Intn(4) {
		case 0:
			handIn(rng.Intn(workers))
		case 1:
			if len(groups) < maxInflightGroups {
				if g := pickGroup(waiting, committed, 1+rng.Intn(20)); len(g) > 0 {
					for _, p := range g {
						p.r.busy = true
					}
					groups = append(groups, g)
				}
			}
		case 2:
			if len(groups) > 0 {
				complete(rng.Intn(len(groups)))
			}
		}
	}
	for seq := uint64(1); seq <= changes; seq++ {
		w := rng.Intn(workers)
		ks := []string{fmt.Sprint("k", rng.Intn(keys))}
		if rng.Intn(3) == 0 {
			ks = append(ks, fmt.Sprint("k", rng.Intn(keys)))
		}
		keysOf[seq] = ks
		deps := tracker.Place(w, seq, ks, func(o int) uint64 { return workerSeen[o] })
		pending[w] = append(pending[w], change(seq, deps...))
		for range rng.Intn(3) {
			step()
		}
	}
	for guard := 0; written < changes; guard++ {
		if guard > 100000 {
			t.Fatalf("stuck: %d of %d changes written, %d waiting, %d groups in flight", written, changes, len(waiting), len(groups))
		}
		for w := range workers {
			handIn(w)
		}
		step()
	}
}
