package cluster

import (
	"context"
	"fmt"
	"time"
)

// Liveness is the leader's view of whether a node still holds its lease.
type Liveness struct {
	Name string
	// Alive: memberlist sees the node alive and its last lease renewal is
	// younger than FenceTimeout.
	Alive bool
	// LastSeen is the last lease renewal this leader received from the node,
	// or the moment this node became leader if none since: a new leader gives
	// every node a full grace period. The leader itself is seen at now.
	LastSeen time.Time
}

// GrantLease is the leader's side of a lease renewal requested by the node
// named name (the rpc layer calls it from its RenewLease handler). It records
// the renewal at receipt, before answering, then verifies leadership and
// returns the read index the requester must apply before using the lease.
// It refuses unknown members and members being removed.
func (n *Node) GrantLease(ctx context.Context, name string) (uint64, error) {
	n.mu.Lock()
	_, removing := n.removing[name]
	n.mu.Unlock()
	if removing {
		return 0, fmt.Errorf("grant lease to %s: member is being removed: %w", name, ErrLeaseRefused)
	}
	if _, known := n.fsm.View().Nodes[name]; !known {
		return 0, fmt.Errorf("grant lease to %s: %w: %w", name, ErrUnknownMember, ErrLeaseRefused)
	}
	// Recorded before the answer leaves, at a time no earlier than the
	// requester's sent: the leader's grace period counts from here.
	n.RecordLeaseRenewal(name, time.Now())
	return n.VerifyLeader(ctx)
}

// RecordLeaseRenewal notes that name asked for a lease at at. Only the
// latest time is kept; renewals received before this node's current
// leadership are forgotten when it becomes leader.
func (n *Node) RecordLeaseRenewal(name string, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if at.After(n.renewals[name]) {
		n.renewals[name] = at
	}
}

// Liveness reports every node in the replicated node records, sorted by
// name. Pass time.Now(). It is meaningful on the leader only; elsewhere no
// node but this one has a LastSeen.
func (n *Node) Liveness(now time.Time) []Liveness {
	view := n.fsm.View()
	gossip := n.gossipStates()
	n.mu.Lock()
	since := n.leaderSince
	renewals := make(map[string]time.Time, len(n.renewals))
	for k, v := range n.renewals {
		renewals[k] = v
	}
	n.mu.Unlock()

	out := make([]Liveness, 0, len(view.Nodes))
	for _, name := range view.NodeNames() {
		l := Liveness{Name: name, LastSeen: renewals[name]}
		if name == n.cfg.Name && !since.IsZero() {
			l.LastSeen = now
		}
		if since.After(l.LastSeen) {
			l.LastSeen = since
		}
		alive := name == n.cfg.Name || gossip[name] == StateAlive
		l.Alive = alive && !l.LastSeen.IsZero() && now.Sub(l.LastSeen) < n.cfg.FenceTimeout
		out = append(out, l)
	}
	return out
}

// FenceTimeout is the configured lease duration.
func (n *Node) FenceTimeout() time.Duration { return n.cfg.FenceTimeout }

// RebindAfter is how long the scheduler must wait after a node's LastSeen
// before it moves the node's bindings.
func (n *Node) RebindAfter() time.Duration { return n.cfg.RebindAfter }
