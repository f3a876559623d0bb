// Command dmnode runs one dmraft node: a Raft member, an executor of the
// sources bound to it, and an admin endpoint for dmctl.
//
// `dmnode start` runs a node (--bootstrap creates a new cluster) and
// `dmnode join PEER_ADDR` adds one to a cluster. This package only parses
// flags and the --config file and sets up logging; the node itself is
// rpc/daemon.Run.
package main
