// Package harness runs real dmnode processes for integration and fault
// tests: it builds the binaries, starts a cluster on free loopback ports,
// drives it with dmctl, and injects faults — kill -9, SIGSTOP/SIGCONT,
// restart, and network isolation of one node (each node runs under its own
// uid so an iptables owner rule can drop every packet it sends).
package harness
