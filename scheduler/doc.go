// Package scheduler makes the leader's decisions: which node runs which
// source, and how admin requests (start-task, pause-task, transfer-source,
// offline-member, ...) become FSM commands.
//
// Every decision is a pure function of a read-only fsm.View, the live
// members and the time: it returns commands and never writes state. The
// leader proposes them through raft; a command built from a stale view is
// rejected by the FSM (epoch or revision check) and re-planned. Loop runs
// Plan on the leader. Nothing here may import raft, a network, or read a
// clock outside Loop.
package scheduler

import "time"

// Member is what the leader knows about one node's liveness.
//
// The caller must list every node it knows of, registered or not. A node
// missing from the list counts as not alive and never heard from (LastSeen
// zero), so its bindings may move at once. A leader that has just been
// elected has no history: it must pass LastSeen = the start of its
// leadership for every node it has not heard from yet. LastSeen is taken
// literally; it alone decides when the fencing grace has passed.
type Member struct {
	Name string
	// Alive: memberlist reports the node alive and the leader has heard a
	// lease renewal from it recently. Only alive nodes receive bindings.
	Alive bool
	// LastSeen is the last time the leader heard from the node (a lease
	// renewal).
	LastSeen time.Time
}

// Config tunes Plan.
type Config struct {
	// RebindAfter is the fencing grace: a source moves away from a node only
	// once the node has not been heard from for longer than this. It must
	// exceed the nodes' fence-timeout by a safety margin (see DESIGN.md,
	// Fencing). Zero moves a binding as soon as its node is not seen.
	RebindAfter time.Duration
}
