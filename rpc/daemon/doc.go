// Package daemon assembles one dmnode process: the FSM, the raft node
// (package cluster), the executor, the leader's scheduler loop and the gRPC
// server, and runs them until the context ends. cmd/dmnode only parses flags
// and calls Run.
package daemon
