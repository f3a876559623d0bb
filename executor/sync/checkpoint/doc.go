// Package checkpoint keeps the sync unit's progress in the target's meta
// schema, written inside the same transactions as the data:
//
//   - dmraft_sync_checkpoints: one row per (task, source, worker) with the
//     worker's Point and the worker count that routed the changes;
//   - dmraft_sync_ddl: the last DDL the unit started, so that a replay
//     knows which DDL may already have run;
//   - dmraft_sync_batches: a log of committed worker transactions with the
//     epoch they were written under (pruned to the last hour), so a checker
//     can prove that no fenced owner committed.
//
// Resume (pure) turns the rows into the replay start and the per-worker
// skip rule; see the package syncer documentation for why it is exact.
package checkpoint
