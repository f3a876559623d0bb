// Package units picks and builds the unit that runs next for a subtask
// (the executor's UnitFactory) from its task-mode and finished-unit marks,
// and holds the full-copy unit, which streams dump into load.
//
// # The full copy
//
//  1. Connect to the target, create the meta schema, RaiseEpoch (package
//     target). Nothing is written before the raise.
//  2. Read the chunk plan from the meta schema. Unless every chunk of it
//     is done, open a snapshot (package dump) and list the tables the
//     block-allow-list selects with their definitions as of that snapshot
//     (dump.OpenSnapshotTables); route them, and create missing target
//     schemas and tables from their SHOW CREATE TABLE; an existing target
//     table must have every inserted column.
//  3. Without a chunk plan: split every table into key ranges and save the
//     plan with the snapshot position in one transaction. With a plan:
//     record the new snapshot's position for the chunks that are not done.
//  4. min(mydumper threads, loader pool-size) workers each stream a chunk
//     from their snapshot connection into one target transaction: epoch
//     check, the rows, checkpoint row. The rows go as LOAD DATA LOCAL
//     INFILE batches when the target allows local_infile (package load,
//     infile.go; a batch with any warning rolls the chunk back and its
//     table loads with INSERT), else as INSERTs (REPLACE for
//     on-duplicate-logical replace, the default). One statement is in
//     flight per worker. task-mode load uses INSERT (the files' own
//     statements).
//     Transient target errors (restart, lost connection, deadlock) retry the
//     whole chunk for up to two minutes; the rolled back attempt leaves
//     nothing behind.
//  5. Add the secondary indexes left out of the CREATE TABLE, then create
//     the selected views (SHOW CREATE VIEW, routed, without DEFINER; a view
//     over another view is retried after it).
//  6. Propose the finished marks (below) and wait until they are applied.
//
// # task-mode dump and load (SQL files)
//
// dump writes a consistent snapshot into <loaders.dir>/<task>.<source> on
// the node the source is bound to (a relative loaders.dir, DM's default
// ./dumped_data included, is below the node's --data-dir; DM appends
// ".<task>" to the directory name, dmraft a sub-directory so that the
// sources of a task do not collide). The layout is mydumper 0.10's
// (package dump, files.go), so myloader and the mysql client read it too.
// Files carry upstream names; the block-allow-list applies, routes do not.
// Everything is written into <dir>.partial and fsynced, then the directory
// is renamed and only then the dump mark proposed: a crash or failover
// leaves no half dump under the final name, and the new owner dumps again
// from the start. A finished directory of the same task incarnation is
// reused; any other directory there pauses the subtask (DumpDirExists).
//
// load reads loaders.dir itself when it holds a metadata file, else
// <loaders.dir>/<task>.<source>; each data file is one chunk of the plan,
// loaded like a streamed chunk (epoch check, rows and checkpoint in one
// transaction), with the load task's block-allow-list and routes. A node
// without the directory pauses the subtask (DumpDirMissing, naming the
// path and the node) before it writes anything; a file that the manifest
// lists with another size (DumpDirDamaged) too. The load mark carries the
// metadata position. The files are never deleted.
//
// Choices where the issue is silent:
//
//   - A plan belongs to one task incarnation (the task record's
//     created_unix_ms). A task stopped and started again under the same name
//     starts a new plan; REPLACE makes reloading keyed tables harmless, but
//     rows of keyless tables already on the target are not removed.
//   - A table without a primary or unique NOT NULL key (or whose key is
//     FLOAT/DOUBLE or spatial) is one chunk, one transaction.
//   - The tables, their definitions (target CREATE TABLE, column list of
//     the reads) and their rows come from one point of the source's
//     history, the snapshot's (dump.OpenSnapshotTables): the snapshot
//     opens every selected table while DDL cannot run, so DDL upstream on
//     a copied table (ALTER, DROP) waits for the snapshot's metadata lock
//     until the copy ends, and then reaches the target through the binlog.
//     A table dropped while no snapshot holds it (paused subtask,
//     failover) while the plan still has chunks of it pauses the subtask
//     (SourceTableGone). Nothing finishes with chunks missing. A table
//     that gained columns while no snapshot held it, with chunks left,
//     is dropped on the target and loaded again, whole, from the new
//     snapshot (its definition and rows from one point again; the sync
//     unit skips its changes before that point and replays its DDL since
//     the first snapshot, tolerating "already done"), unless other
//     tables are merged into its target table (then TargetSchemaMismatch
//     pauses). With every chunk loaded, such a change is left to the
//     sync unit.
//   - A target out of space (1114 table full, 1021 disk full, errno 28)
//     pauses with TargetDiskFull naming the target; resume-task reloads the
//     failed chunk. (MariaDB's InnoDB may abort in the statement rollback
//     when a file-per-table tablespace cannot grow: that looks like a
//     target crash, retried, then TargetWriteFailed.) A table created after the first
//     snapshot is not copied (it did not exist at the snapshot; sync replays
//     its creation).
//   - A view that selects from a table the block-allow-list leaves out
//     cannot be created: the subtask pauses (TargetViewFailed) naming it.
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
