// Package units picks and builds the unit that runs next for a subtask
// (the executor's UnitFactory) from its task-mode and finished-unit marks,
// and holds the full-copy unit, which streams dump into load: a consistent
// snapshot read in key-range chunks on mydumper.threads connections,
// written on loaders.pool-size connections, one target transaction per
// chunk with its checkpoint and the epoch check.
//
// Finished marks (proposed to the FSM when every chunk is loaded):
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
