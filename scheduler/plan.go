package scheduler

import (
	"fmt"
	"time"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Plan returns the binding changes to propose now, in order: one BindSource
// (epoch = the source's epoch + 1) per source that should get a new owner.
// It is deterministic: sources are visited in id order, nodes compared by
// name.
//
//   - Bind: an enabled, unbound source goes to its last node if that node is
//     alive, else to the alive node with the fewest bindings (counting the
//     ones planned earlier in this call; ties by name).
//   - Rebind: a binding whose node has not been heard from for longer than
//     cfg.RebindAfter moves to another alive node, chosen the same way. A
//     node that left v.Nodes is judged the same way, by its LastSeen.
//   - Grace: a source never gets a new owner while its previous owner (the
//     bound node, or the last node of an unbound source) is not alive but
//     was heard from within cfg.RebindAfter: that node may still be running
//     it until its own fence-timeout lapses.
//
// Only alive, registered nodes receive sources; EvictLeader does not matter.
// Disabled sources are neither bound nor moved. When no node can take a
// source, it is left as it is. The commands carry NowUnixMs 0: the proposer
// stamps them.
func Plan(v *fsm.View, members []Member, now time.Time, cfg Config) []*pb.Command {
	var cmds []*pb.Command
	for _, m := range planMoves(v, members, now, cfg) {
		cmds = append(cmds, m.command())
	}
	return cmds
}

// move is one planned binding change.
type move struct {
	Source string
	From   string // the previous owner; empty if the source had none
	To     string
	Epoch  uint64
	Reason string
}

func (m move) command() *pb.Command {
	return fsm.NewCommand(pb.CommandType_BIND_SOURCE,
		&pb.BindSource{SourceId: m.Source, Node: m.To, Epoch: m.Epoch}, 0)
}

// liveness answers the two questions Plan asks about a node.
type liveness struct {
	v       *fsm.View
	members map[string]Member
	now     time.Time
	grace   time.Duration
}

func newLiveness(v *fsm.View, members []Member, now time.Time, grace time.Duration) liveness {
	l := liveness{v: v, members: make(map[string]Member, len(members)), now: now, grace: grace}
	for _, m := range members {
		l.members[m.Name] = m
	}
	return l
}

// canTake reports whether node may receive a binding: registered and alive.
func (l liveness) canTake(node string) bool {
	_, registered := l.v.Nodes[node]
	return registered && l.members[node].Alive
}

// fenced reports whether node can no longer be running anything: it has not
// been heard from for longer than the grace. Missing members were never
// heard from.
func (l liveness) fenced(node string) bool {
	return l.now.Sub(l.members[node].LastSeen) > l.grace
}

func (l liveness) silence(node string) string {
	m, found := l.members[node]
	if !found || m.LastSeen.IsZero() {
		return "never heard from"
	}
	return fmt.Sprintf("not heard from for %s", l.now.Sub(m.LastSeen))
}

func planMoves(v *fsm.View, members []Member, now time.Time, cfg Config) []move {
	live := newLiveness(v, members, now, cfg.RebindAfter)
	var targets []string // sorted by name
	for _, name := range v.NodeNames() {
		if live.canTake(name) {
			targets = append(targets, name)
		}
	}
	counts := map[string]int{}
	for _, b := range v.Bindings {
		counts[b.Node]++
	}

	var moves []move
	for _, id := range v.SourceIDs() {
		src := v.Sources[id]
		if !src.Enabled {
			continue
		}
		var m move
		b, bound := v.Bindings[id]
		if bound {
			if !live.fenced(b.Node) {
				continue // healthy, or still inside the grace
			}
			m = move{From: b.Node, To: pick(targets, counts, b.Node, ""),
				Reason: fmt.Sprintf("node %s %s (rebind-after %s)", b.Node, live.silence(b.Node), cfg.RebindAfter)}
			if _, registered := v.Nodes[b.Node]; !registered {
				m.Reason = fmt.Sprintf("node %s was removed", b.Node)
			}
		} else {
			last := src.LastNode
			if last != "" && !live.canTake(last) && !live.fenced(last) {
				continue // its last owner may still run it: wait for the grace
			}
			m = move{From: last, To: pick(targets, counts, "", last), Reason: "unbound"}
			if m.To == last {
				m.Reason = "unbound; back to its last node"
			}
		}
		if m.To == "" {
			continue // no node can take it
		}
		m.Source, m.Epoch = id, src.Epoch+1
		if bound {
			counts[b.Node]--
		}
		counts[m.To]++
		moves = append(moves, m)
	}
	return moves
}

// pick returns prefer if it is a target, else the target with the fewest
// bindings, ties broken by name (targets are sorted); never exclude. It
// returns "" when there is no target.
func pick(targets []string, counts map[string]int, exclude, prefer string) string {
	best := ""
	for _, n := range targets {
		if n == exclude {
			continue
		}
		if n == prefer {
			return n
		}
		if best == "" || counts[n] < counts[best] {
			best = n
		}
	}
	return best
}
