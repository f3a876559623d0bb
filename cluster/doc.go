// Package cluster owns dmraft's membership and consensus plumbing: the
// embedded hashicorp/raft instance (raft-boltdb log and stable store, file
// snapshots, optional TLS transport), bootstrap / join / leave, gossip
// liveness through memberlist, and the fencing lease that tells the executor
// whether it may run work at all.
//
// It never decides what runs where (that is the scheduler) and never talks
// gRPC: calls to other nodes, such as a lease renewal, are injected as
// functions by package rpc. See DESIGN.md for the lease safety argument.
package cluster
