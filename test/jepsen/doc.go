// Package jepsen is dmraft's fault-injection suite: real dmnode processes
// (3 or 5) under random faults (nemeses: kill -9, SIGSTOP past
// rebind-after, isolation, symmetric and one-way cuts, partitions into a
// minority and a majority with or without the leader, wiping a node and
// rejoining it, restarting a source or the target server), with workloads
// recorded as histories and checkers that decide whether anything went
// wrong.
//
// Workloads: the default one writes one source (bank transfers, a set of
// acknowledged ids, keyless DML, ADD COLUMN); the shard one writes four
// shard tables on two sources merged by routes into one target table,
// with ADD COLUMN on every shard (a pessimistic or optimistic shard-DDL
// lock). The admin workload creates and removes spare sources, pauses,
// resumes and updates the task, and transfers its sources.
//
// Checkers: the target equals the sources row by row (lost, duplicated,
// divergent), set and bank invariants, the admin history linearizable
// against a model of the FSM (porcupine; writes of unknown outcome are
// pending effects the model may apply at any later time, see model.go,
// and a check that times out is reported as such, never as a pass), never two nodes running one
// source at once outside a transfer's hand-over (fencing, from the node
// logs) and no batch committed at a stale epoch (from the target's batch
// log), the cluster converging after the last heal (liveness). Every run
// prints a report with its seed; the same seed replays the same schedule.
package jepsen
