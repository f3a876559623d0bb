package causality

import "hash/fnv"

// Worker returns the worker of a route key among n workers.
func Worker(routeKey string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(routeKey))
	return int(h.Sum64() % uint64(n))
}

// Tracker remembers which worker each in-flight key value was sent to.
type Tracker struct {
	inflight map[string]int
}

// New returns an empty tracker.
func New() *Tracker { return &Tracker{inflight: map[string]int{}} }

// Add records keys for worker w, unless one of them is in flight on
// another worker: then it records nothing and returns false.
func (t *Tracker) Add(w int, keys []string) bool {
	for _, k := range keys {
		if o, ok := t.inflight[k]; ok && o != w {
			return false
		}
	}
	for _, k := range keys {
		t.inflight[k] = w
	}
	return true
}

// Reset forgets every key; call it once every worker has committed what
// it was sent.
func (t *Tracker) Reset() { clear(t.inflight) }

// Len is the number of keys in flight.
func (t *Tracker) Len() int { return len(t.inflight) }
