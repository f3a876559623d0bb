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

// Place records keys for worker w at sequence number seq, unless one of
// them is still in flight on another worker: a key sent to worker o at
// sequence s is in flight while committed(o) < s. It returns the workers
// that hold such keys (each once, ascending) and records nothing then;
// the caller makes them commit and places again.
func (t *Tracker) Place(w int, seq uint64, keys []string, committed func(worker int) uint64) []int {
	var blockers []int
	for _, k := range keys {
		e, ok := t.inflight[k]
		if !ok || e.worker == w || committed(e.worker) >= e.seq {
			continue
		}
		dup := false
		for _, b := range blockers {
			dup = dup || b == e.worker
		}
		if !dup {
			blockers = append(blockers, e.worker)
		}
	}
	if len(blockers) > 0 {
		sort.Ints(blockers)
		return blockers
	}
	for _, k := range keys {
		t.inflight[k] = entry{worker: w, seq: seq}
	}
	return nil
}

// Add is Place for callers that do not track commits: every recorded key
// stays in flight until Reset.
func (t *Tracker) Add(w int, keys []string) bool {
	return t.Place(w, 1, keys, func(int) uint64 { return 0 }) == nil
}

// Reset forgets every key; call it once every worker has committed what
// it was sent.
func (t *Tracker) Reset() { clear(t.inflight) }

// Len is the number of keys recorded.
func (t *Tracker) Len() int { return len(t.inflight) }
