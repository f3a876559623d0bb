package causality

import (
	"hash/fnv"
	"sort"
)

// Worker returns the worker of a route key among n workers.
func Worker(routeKey string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(routeKey))
	return int(h.Sum64() % uint64(n))
}

// Dep is a dependency of a change on another worker: that worker must
// have committed its changes up to sequence number Seq first.
type Dep struct {
	Worker int
	Seq    uint64
}

// Tracker remembers which worker each in-flight key value was sent to, and
// with which sequence number, so that a key is free again as soon as its
// worker has committed it.
type Tracker struct {
	inflight map[string]entry
}

type entry struct {
	worker int
	seq    uint64
}

// New returns an empty tracker.
func New() *Tracker { return &Tracker{inflight: map[string]entry{}} }

// Place records keys for worker w at sequence number seq and returns what
// the changes must wait for: for each other worker o that holds one of the
// keys in flight (sent at sequence s with committed(o) < s), the highest
// such s, ascending by worker. A key on w itself needs nothing: w's queue
// keeps its order.
//
// Writing a change only after its dependencies (or in the same target
// transaction, in sequence order) keeps every order that matters: a key's
// changes reach the target in binlog order. Dependencies point to
// strictly smaller sequence numbers, so they never form a cycle.
func (t *Tracker) Place(w int, seq uint64, keys []string, committed func(worker int) uint64) []Dep {
	var deps []Dep
	for _, k := range keys {
		e, ok := t.inflight[k]
		t.inflight[k] = entry{worker: w, seq: seq}
		if !ok || e.worker == w || committed(e.worker) >= e.seq {
			continue
		}
		deps = merge(deps, Dep{Worker: e.worker, Seq: e.seq})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Worker < deps[j].Worker })
	return deps
}

// merge adds d to deps, keeping the higher sequence number per worker.
func merge(deps []Dep, d Dep) []Dep {
	for i := range deps {
		if deps[i].Worker == d.Worker {
			deps[i].Seq = max(deps[i].Seq, d.Seq)
			return deps
		}
	}
	return append(deps, d)
}

// Forget drops the keys their workers have committed (they constrain
// nothing any more), to bound the tracker's memory.
func (t *Tracker) Forget(committed func(worker int) uint64) {
	for k, e := range t.inflight {
		if committed(e.worker) >= e.seq {
			delete(t.inflight, k)
		}
	}
}

// Reset forgets every key; call it once every worker has committed what
// it was sent.
func (t *Tracker) Reset() { clear(t.inflight) }

// Len is the number of keys recorded.
func (t *Tracker) Len() int { return len(t.inflight) }
