// Package jepsen is dmraft's fault-injection suite: real dmnode processes
// under random faults (nemeses: kill -9, SIGSTOP past rebind-after,
// isolation, symmetric and one-way cuts, wiping a node and rejoining it),
// with workloads recorded as histories and checkers that decide whether
// anything went wrong: admin operations linearizable (porcupine), never two
// nodes running the same source at once (fencing), the cluster converging
// after the last heal (liveness). Every run prints a report with its seed;
// the same seed replays the same schedule of faults.
package jepsen
