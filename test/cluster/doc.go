// Package cluster holds the integration tests of dmraft's cluster core with
// real dmnode processes on loopback: bootstrap and join, leader and node
// failover, fencing under isolation and SIGSTOP, restarts, membership, and
// the errors a person gets for bad input.
package cluster
