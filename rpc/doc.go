// Package rpc serves dmraft's gRPC services on every node — Admin (what
// dmctl calls) and Node (node to node: forwarding, join, lease, runner
// status) — and provides their clients.
//
// Any node accepts every admin call; a node that is not the leader forwards
// it to the leader, which validates it against a fresh view (after a raft
// barrier), plans it with package scheduler and proposes it through raft.
// Clients retry NotLeader and unreachable addresses themselves, so an
// election is never shown to the user as an error.
package rpc
