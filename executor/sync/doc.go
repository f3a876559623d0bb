// Package syncer (directory executor/sync) is the sync unit: it reads the
// source's binlog from the committed checkpoint, filters and routes the
// changes, and applies them on syncers.worker-count workers, each worker
// transaction carrying the epoch check and that worker's checkpoint.
//
// # Exactly once, with or without keys
//
// Every row change has an identity that a replay reproduces: (s, i), the
// start position s of its source transaction and its index i among all
// rows of that transaction (counted before any filter). A source
// transaction goes whole to one worker: Worker(route key, n) of its first
// change, the hash of that row's handle (primary key, or NOT NULL unique
// key) before the change, or of the table name when the table has no
// handle; the worker commits it in one target transaction, so a reader of
// the target never sees half of a source transaction (a bank's balances
// always sum up). A transaction of more than maxAtomicRows changes is split
// as in DM: each row goes to the worker of its own route key. Routing
// depends on nothing else, so the same change goes to the same worker in
// every run with the same n.
//
// A worker receives its changes in binlog order (a FIFO queue) and commits
// them in batches; the transaction that commits a batch also writes the
// worker's checkpoint Point: the identity of the last change it contains,
// or, after a commit marker, the boundary "every transaction starting
// before P". Hence, for each worker w, the committed changes are exactly
// those its stored point Covers (checkpoint.Point.Covers): the commit is
// atomic, the queue is ordered, and a point never moves backwards (a
// worker ignores markers below its stored point).
//
// Batches of several workers share target transactions (group commit,
// commit.go): each batch commits together with its own worker's point (a
// batch may be written in parts, each part ending where a source
// transaction ends, each with the point of its last change), and a worker
// has one batch in flight at a time, so the argument holds per worker.
// Within a transaction, changes are written in binlog order, changes to
// the same row are merged and rows are grouped into multi-row statements
// where that is exact (dml.BuildMerged).
//
// On restart the reader starts at the lowest point of any worker and
// skips, for worker w, the changes its point covers. Every change is
// therefore applied once: the covered ones were committed and are skipped,
// the others were not committed and are applied. This holds for tables
// without a key as well (their changes all go to one worker, in order),
// so no idempotent "safe mode" is needed for correctness. A change of the
// worker count (update-task) takes effect once the replay has passed every
// stored point: the workers are drained at a transaction boundary and all
// points are rewritten for the new count in one transaction.
//
// Ordering between workers: a change whose unique-key values (before or
// after, primary and unique keys, case-folded) are in flight on another
// worker depends on that worker's commit up to the earlier change
// (causality.Tracker.Place). The committer writes a change only once its
// dependencies are committed or written in the same target transaction
// before it, so each key's changes reach the target in binlog order, and
// committed changes always form a set closed under conflicts: the replay
// continues from a state a serial apply could have produced. Unlike DM's
// causality flush, a conflict stalls neither the reader nor the other
// workers.
//
// After a full phase, the replay starts at the "dump" mark (the earliest
// snapshot); each table's changes before its chunks' snapshot are skipped
// (the rows already contain them), and changes between its earliest and
// latest chunk snapshot are written idempotently (REPLACE, delete by key).
// Tables without a key are one chunk, so their window is empty: exact.
//
// # DDL
//
// A DDL drains every worker to the boundary before it, records "DDL at P
// may have run" in the meta schema, executes the statement while holding
// the epoch row's shared lock (so a paused old owner cannot run DDL after
// a new owner raised the epoch), and then moves every worker's point past
// it in one transaction. A crash in between replays the DDL; only then
// (or inside the full phase's window) are "already exists / does not
// exist" errors tolerated.
//
// # Column names
//
// From the binlog (binlog_row_metadata=FULL); keys and column character
// sets from the target's information_schema, which is in step with the
// binlog because DDL is applied in binlog order after draining.
package syncer
