package jepsen

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// Fault kinds.
const (
	FaultKill      = "kill"           // kill -9 a node, restart it when healed
	FaultPause     = "pause"          // SIGSTOP longer than rebind-after, then SIGCONT
	FaultIsolate   = "isolate"        // drop every packet a node sends
	FaultCut       = "cut"            // symmetric partition between two nodes
	FaultCutOneWay = "cut-1way"       // one node cannot reach another; the reverse works
	FaultWipe      = "wipe"           // kill, wipe the data dir, offline-member, join again
	FaultNone      = "quiet"          // no fault: a pause in the schedule
	FaultSource    = "restart-source" // kill -9 the source server, start it again
	FaultTarget    = "restart-target" // kill -9 the target server, start it again
	// FaultPartition splits the nodes into a random minority and the
	// majority, cut both ways on every channel between them (the sources
	// and the target stay reachable from both sides).
	FaultPartition = "partition"
	// FaultPartitionLeader is a partition whose minority holds the leader.
	FaultPartitionLeader = "partition-leader"
)

// AllFaults is the default mix.
var AllFaults = []string{FaultKill, FaultPause, FaultIsolate, FaultCut, FaultCutOneWay, FaultWipe, FaultSource, FaultTarget, FaultPartition, FaultPartitionLeader}

// Window is one injected fault: what, on which nodes, from when to when.
type Window struct {
	Kind   string
	Nodes  []string
	Target string // kill: random | leader | bound
	Start  time.Time
	End    time.Time
	Err    string // set when the fault could not be injected or healed
}

func (w Window) String() string {
	return fmt.Sprintf("%s %v %s+%v", w.Kind, w.Nodes, w.Start.Format("15:04:05.000"), w.End.Sub(w.Start).Round(time.Millisecond))
}

// nemesis injects faults into a cluster on a seeded schedule.
type nemesis struct {
	c     *harness.Cluster
	rng   *rand.Rand
	kinds []string
	hold  time.Duration // how long a fault stays
	env   *dataEnv      // the sources (for "the bound node") and their servers, the target

	mu      sync.Mutex
	windows []Window
}

// pick chooses a node: at random, the leader, or the node bound to the source.
func (n *nemesis) pick(target string) *harness.Node {
	var name string
	switch target {
	case "leader":
		if m, err := n.c.ListMembers(); err == nil {
			name = m.Leader
		}
	case "bound":
		var s struct {
			Sources []struct{ Source, Worker string } `json:"sources"`
		}
		source := n.env.sources[n.rng.Intn(len(n.env.sources))]
		if n.c.DmctlJSON(&s, "operate-source", "show", source) == nil && len(s.Sources) == 1 {
			name = s.Sources[0].Worker
		}
	}
	for _, node := range n.c.Nodes {
		if node.Name == name && node.Running() {
			return node
		}
	}
	var running []*harness.Node
	for _, node := range n.c.Nodes {
		if node.Running() {
			running = append(running, node)
		}
	}
	if len(running) == 0 {
		return nil
	}
	return running[n.rng.Intn(len(running))]
}

// one injects one fault, holds it, heals it and records the window.
func (n *nemesis) one() {
	kind := n.kinds[n.rng.Intn(len(n.kinds))]
	targets := []string{"random", "leader", "bound"}
	w := Window{Kind: kind, Target: targets[n.rng.Intn(len(targets))]}
	if kind == FaultPartitionLeader {
		w.Target = "leader"
	}
	victim := n.pick(w.Target) // asks the cluster, which may take a while
	if victim == nil {
		return
	}
	w.Start = time.Now() // the fault starts now, not before the question
	w.Nodes = []string{victim.Name}
	var heal func() error
	switch kind {
	case FaultKill:
		victim.Kill()
		heal = victim.Restart
	case FaultPause:
		victim.Pause()
		heal = func() error { victim.Resume(); return nil }
	case FaultIsolate:
		n.c.Isolate(victim)
		heal = func() error { n.c.Heal(victim); return nil }
	case FaultCut, FaultCutOneWay:
		other := n.other(victim)
		w.Nodes = append(w.Nodes, other.Name)
		n.c.Cut(victim, other)
		if kind == FaultCut {
			n.c.Cut(other, victim)
		}
		heal = func() error { n.c.Heal(victim); n.c.Heal(other); return nil }
	case FaultWipe:
		victim.Kill()
		heal = func() error { return n.rejoin(victim) }
	case FaultPartition, FaultPartitionLeader:
		minority, majority := n.split(victim)
		w.Nodes = names(minority)
		for _, a := range minority {
			for _, b := range majority {
				n.c.Cut(a, b)
				n.c.Cut(b, a)
			}
		}
		heal = func() error {
			for _, node := range n.c.Nodes {
				n.c.Heal(node)
			}
			return nil
		}
	case FaultSource, FaultTarget:
		srv := n.env.ups[n.rng.Intn(len(n.env.ups))]
		if kind == FaultTarget {
			srv = n.env.down
		}
		w.Nodes = []string{srv.Name}
		if err := srv.Kill(); err != nil {
			w.Err = err.Error()
		}
		heal = func() error { return srv.RestartContext(context.Background()) }
	case FaultNone:
		heal = func() error { return nil }
	}
	time.Sleep(n.hold)
	if err := heal(); err != nil {
		w.Err = err.Error()
	}
	w.End = time.Now()
	n.mu.Lock()
	n.windows = append(n.windows, w)
	n.mu.Unlock()
}

// split divides the nodes into a minority that holds first (1 to
// (n-1)/2 nodes, the others chosen at random) and the majority.
func (n *nemesis) split(first *harness.Node) (minority, majority []*harness.Node) {
	size := 1 + n.rng.Intn((len(n.c.Nodes)-1)/2)
	minority = []*harness.Node{first}
	for _, i := range n.rng.Perm(len(n.c.Nodes)) {
		node := n.c.Nodes[i]
		switch {
		case node == first:
		case len(minority) < size:
			minority = append(minority, node)
		default:
			majority = append(majority, node)
		}
	}
	return minority, majority
}

func names(nodes []*harness.Node) []string {
	var out []string
	for _, node := range nodes {
		out = append(out, node.Name)
	}
	return out
}

func (n *nemesis) other(not *harness.Node) *harness.Node {
	var others []*harness.Node
	for _, node := range n.c.Nodes {
		if node != not {
			others = append(others, node)
		}
	}
	return others[n.rng.Intn(len(others))]
}

// rejoin takes a dead node out of the cluster and brings it back with an
// empty data dir under the same name. The data dir goes only once the
// cluster has forgotten the node: when offline-member cannot be done (no
// quorum answers), the node restarts with its data instead, so that the
// failed fault does not leave the cluster a node short.
func (n *nemesis) rejoin(victim *harness.Node) error {
	var lastErr error
	if !harness.Eventually(30*time.Second, func() bool {
		_, lastErr = n.c.Dmctl("offline-member", "--name", victim.Name)
		return lastErr == nil || (lastErr != nil && containsAny(lastErr.Error(), "no member named"))
	}) {
		err := fmt.Errorf("offline-member %s: %v", victim.Name, lastErr)
		if rerr := victim.Restart(); rerr != nil {
			return fmt.Errorf("%w; restart with its data: %v", err, rerr)
		}
		return err
	}
	if err := os.RemoveAll(victim.DataDir); err != nil {
		return err
	}
	return n.c.Rejoin(victim)
}

// run injects faults until stop is closed, then heals whatever is left.
func (n *nemesis) run(stop <-chan struct{}, gap time.Duration) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
		n.one()
	}
}

func (n *nemesis) counts() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for _, w := range n.windows {
		out[w.Kind]++
	}
	return out
}

func (n *nemesis) history() []Window {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Window(nil), n.windows...)
}
