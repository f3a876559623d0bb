// Package fsm is dmraft's replicated state machine: nodes, sources, bindings
// with their epochs, tasks, subtasks and shard-DDL records.
//
// Every change arrives as a pb.Command through Apply, which looks the type up
// in a registry and calls one apply function. Apply is deterministic: it
// reads no clock, no network and no randomness; a time a command needs is
// stamped into the command by its proposer. A body that does not decode is a
// corrupt log and panics; a business error (unknown source, duplicate task)
// is returned in the ApplyResult and changes nothing.
//
// Readers call View for an immutable copy of the state and WaitIndex or
// Changed to wait for more. Nothing here may import raft, a network or a clock.
package fsm
