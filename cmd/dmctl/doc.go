// Command dmctl administers a dmraft cluster over gRPC, with DM's command
// names: operate-source, start-task, query-status, list-member, ...
//
// It talks to any node's admin address (--addr; it fails over between the
// addresses given, and the node forwards writes to the leader). This package
// only parses flags and prints results; it holds no cluster logic.
package main
