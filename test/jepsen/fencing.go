package jepsen

import (
	"fmt"
	"sort"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// interval is the time one node held a runner for a subtask at an epoch,
// read from the node's log (runner_started .. runner_stopped).
type interval struct {
	node, task, source string
	epoch              uint64
	start, end         time.Time
}

// runnerIntervals reads every node's log. A runner still open at the end
// of the log ends when the node died (a kill window) or at end.
func runnerIntervals(c *harness.Cluster, windows []Window, end time.Time) ([]interval, error) {
	var out []interval
	for _, n := range c.Nodes {
		starts, err := n.Events("runner_started")
		if err != nil {
			return nil, err
		}
		stops, err := n.Events("runner_stopped")
		if err != nil {
			return nil, err
		}
		type key struct {
			task, source string
			epoch        uint64
		}
		keyOf := func(ev harness.LogEvent) key {
			t, _ := ev.Fields["task"].(string)
			s, _ := ev.Fields["source"].(string)
			e, _ := ev.Fields["epoch"].(float64)
			return key{t, s, uint64(e)}
		}
		boots, err := n.Events("node_started")
		if err != nil {
			return nil, err
		}
		events := append(append(append([]harness.LogEvent{}, starts...), stops...), boots...)
		sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
		open := map[key]time.Time{}
		for _, ev := range events {
			if ev.Fields["event"] == "node_started" {
				// The process was killed before: close what it held.
				for k, s := range open {
					out = append(out, interval{n.Name, k.task, k.source, k.epoch, s, deathAfter(windows, n.Name, s, ev.Time)})
					delete(open, k)
				}
				continue
			}
			k := keyOf(ev)
			if ev.Fields["event"] == "runner_started" {
				if _, already := open[k]; !already {
					open[k] = ev.Time
				}
				continue
			}
			if s, ok := open[k]; ok {
				out = append(out, interval{n.Name, k.task, k.source, k.epoch, s, ev.Time})
				delete(open, k)
			}
		}
		for k, s := range open {
			out = append(out, interval{n.Name, k.task, k.source, k.epoch, s, deathAfter(windows, n.Name, s, end)})
		}
	}
	return out, nil
}

// schedulerEpochs reads every node's log for the bindings the scheduler
// made (a source left unbound, or its node not heard from for
// rebind-after): source -> epochs. Any other epoch came from
// transfer-source.
func schedulerEpochs(c *harness.Cluster) (map[string]map[uint64]bool, error) {
	out := map[string]map[uint64]bool{}
	for _, n := range c.Nodes {
		evs, err := n.Messages("source bound")
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			s, _ := ev.Fields["source"].(string)
			e, _ := ev.Fields["epoch"].(float64)
			if out[s] == nil {
				out[s] = map[uint64]bool{}
			}
			out[s][uint64(e)] = true
		}
	}
	return out, nil
}

// deathAfter is when the node was killed after t (a kill or wipe window), or end.
func deathAfter(windows []Window, node string, t, end time.Time) time.Time {
	for _, w := range windows {
		if (w.Kind == FaultKill || w.Kind == FaultWipe) && w.Nodes[0] == node && w.Start.After(t) && w.Start.Before(end) {
			end = w.Start
		}
	}
	return end
}

// frozen returns the part of iv during which its node was stopped by
// SIGSTOP; a frozen process executes nothing.
func frozen(iv interval, windows []Window) (from, to time.Time, ok bool) {
	for _, w := range windows {
		if w.Kind == FaultPause && w.Nodes[0] == iv.node && w.Start.Before(iv.end) && w.End.After(iv.start) {
			return w.Start, w.End, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// resumeSlack is how long a process woken from SIGSTOP may take to notice
// that its lease lapsed while it slept and stop its runners. Writes in that
// moment are what the epoch check on the target rejects.
const resumeSlack = 200 * time.Millisecond

// handOverBound is how long the old owner may keep running after
// transfer-source moved its source (no grace period: the new owner starts
// at once and the epoch in the target fences the old one): until it
// applies the new binding, at most until its lease lapses (fence-timeout
// 1s in the suite), plus the slack to stop.
const handOverBound = time.Second + resumeSlack

// checkFencing reports every pair of runners of one subtask held by two
// different nodes at the same time, outside the time a node was frozen
// (plus the slack to wake) and outside a transfer's hand-over, and every
// epoch that went down over time. scheduled holds the epochs the
// scheduler bound (nil: every epoch); it also returns how many overlaps a
// transfer's hand-over excused.
func checkFencing(ivs []interval, windows []Window, scheduled map[string]map[uint64]bool) (problems []string, handOvers int) {
	by := map[string][]interval{}
	for _, iv := range ivs {
		k := iv.task + "/" + iv.source
		by[k] = append(by[k], iv)
	}
	for k, list := range by {
		sort.Slice(list, func(i, j int) bool { return list[i].start.Before(list[j].start) })
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				a, b := list[i], list[j]
				if a.node == b.node || !b.start.Before(a.end) {
					continue
				}
				handOver := scheduled != nil && handedOver(a, b, scheduled)
				if b.epoch < a.epoch && !handOver {
					problems = append(problems, fmt.Sprintf("%s: epoch went down: %s ran epoch %d from %s, then %s started epoch %d",
						k, a.node, a.epoch, a.start.Format("15:04:05.000"), b.node, b.epoch))
				}
				if excused(a, b, windows) || excused(b, a, windows) {
					continue
				}
				if handOver {
					handOvers++
					continue
				}
				problems = append(problems, fmt.Sprintf("%s: %s (epoch %d, %s..%s) and %s (epoch %d, %s..%s) ran at the same time",
					k, a.node, a.epoch, a.start.Format("15:04:05.000"), a.end.Format("15:04:05.000"),
					b.node, b.epoch, b.start.Format("15:04:05.000"), b.end.Format("15:04:05.000")))
			}
		}
	}
	sort.Strings(problems)
	return problems, handOvers
}

// handedOver: of two runners on different nodes, the one with the higher
// epoch got it from transfer-source, and the one with the lower epoch
// stopped within handOverBound of the other's start. The old owner may
// even start late (its replica applies the old binding after the new
// owner applied the new one) and stop as soon as it applies the new one.
func handedOver(a, b interval, scheduled map[string]map[uint64]bool) bool {
	hi, lo := a, b
	if lo.epoch > hi.epoch {
		hi, lo = lo, hi
	}
	return hi.epoch > lo.epoch && !scheduled[hi.source][hi.epoch] && lo.end.Sub(hi.start) <= handOverBound
}

// excused: the overlap of a and b lies where a's node was frozen, or right
// after it woke.
func excused(a, b interval, windows []Window) bool {
	from, to, ok := frozen(a, windows)
	if !ok {
		return false
	}
	overlapStart, overlapEnd := later(a.start, b.start), earlier(a.end, b.end)
	return !overlapStart.Before(from) && !overlapEnd.After(to.Add(resumeSlack))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
