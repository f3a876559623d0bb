// Package executor is the per-node reconciler: it compares the local FSM
// view (the sources bound to this node and their subtasks) with the runners
// it has, and closes the difference — start, pause, resume, stop, restart on
// a new revision or epoch. It runs units only while the node's lease is
// valid; when the lease lapses it stops every runner at once.
//
// It never imports raft: it gets a View, a change channel, a Lease and a
// Propose function. Each runner is handed the epoch of its binding, which
// every unit must check on the target inside its write transactions.
package executor
