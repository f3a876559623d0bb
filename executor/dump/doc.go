// Package dump reads a consistent snapshot of the selected upstream tables:
// it opens N connections inside one snapshot with its binlog position,
// lists the tables the block-allow-list selects (routed to their target
// names), splits each into key-range chunks, and reads a chunk as
// ready-to-run multi-row INSERT statements whose values round-trip exactly
// (see encode.go). It writes nothing to the target (package load owns the
// target side); for task-mode dump it writes the snapshot into a
// mydumper-style directory (files.go). It also lists the selected views and
// rewrites their CREATE VIEW for the target (views.go).
//
// The tables' definitions are read as of the snapshot (OpenSnapshotTables):
// every snapshot connection opens every selected table while no DDL can
// run and keeps its metadata lock until the snapshot closes, so DDL on a
// copied table waits for the end of the copy and follows the snapshot's
// binlog position.
//
// Chunk bounds are plain key values, so the same chunk can be read again
// from a later snapshot (after a failover) and covers the same keys; the
// first chunk has no lower bound and the last none upper, so every row of
// any snapshot falls into exactly one chunk.
package dump
