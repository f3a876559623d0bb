// Package units picks and builds the unit that runs next for a subtask
// (the executor's UnitFactory) from its task-mode and finished-unit marks,
// and holds the full-copy unit, which streams dump into load.
//
// # The full copy
//
//  1. Connect to the target, create the meta schema, RaiseEpoch (package
//     target). Nothing is written before the raise.
//  2. List the tables the block-allow-list selects, route them, and create
//     missing target schemas and tables from SHOW CREATE TABLE; an existing
//     target table must have every inserted column.
//  3. Without a chunk plan in the meta schema: open a snapshot (package
//     dump), split every table into key ranges and save the plan with the
//     snapshot position in one transaction. With a plan: open a new
//     snapshot for the chunks that are not done and record its position.
//  4. min(mydumper threads, loader pool-size) workers each stream a chunk
//     from their snapshot connection into one target transaction: epoch
//     check, INSERTs (REPLACE for on-duplicate-logical replace, the
//     default), checkpoint row. One statement is in flight per worker.
//     Transient target errors (restart, lost connection, deadlock) retry the
//     whole chunk for up to two minutes; the rolled back attempt leaves
//     nothing behind.
//  5. Propose the finished marks (below) and wait until they are applied.
//
// Choices where the issue is silent:
//
//   - A plan belongs to one task incarnation (the task record's
//     created_unix_ms). A task stopped and started again under the same name
//     starts a new plan; REPLACE makes reloading keyed tables harmless, but
//     rows of keyless tables already on the target are not removed.
//   - A table without a primary or unique NOT NULL key (or whose key is
//     FLOAT/DOUBLE or spatial) is one chunk, one transaction.
//   - A table dropped upstream while the plan still has chunks of it pauses
//     the subtask (SourceTableGone). A table created after the first
//     snapshot is not copied (it did not exist at the snapshot; sync replays
//     its creation).
//   - task-mode dump and load (SQL files) are refused by the precheck and by
//     the factory; incremental and the sync half of all pause the subtask
//     with SyncUnitMissing until the sync unit ships.
//
// # Finished marks
//
//   - "dump" carries the position of the EARLIEST snapshot any chunk was
//     read from. The sync unit must start replaying there, in safe mode
//     (idempotent writes), because chunks loaded before a failover reflect
//     that snapshot.
//   - "load" carries the position of the LATEST snapshot. Once sync has
//     passed it, every row is at least as new as the binlog, so safe mode
//     may end there.
//
// When no failover happened both positions are the same.
package units
