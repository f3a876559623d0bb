// Package shardlock coordinates shard DDL: many upstream shard tables merge
// into one downstream table, and a DDL they run at different times must
// reach the target once, in a shape that fits every shard. Pessimistic mode
// holds each shard at its DDL until all arrived, then the owner executes it
// and the others skip it; optimistic mode keeps shards going and sends only
// the changes that alter the joined schema of all shards.
//
// It owns the meaning of the FSM's ShardInfo, ShardLock and ShardOperation
// records and nothing else. It is pure logic over an fsm.View: every
// function returns commands for the caller to propose and never does I/O,
// reads a clock, or talks to raft. Executors call Register, ReportInfo,
// OperationFor and MarkDone; the leader runs Plan (or Loop); dmctl uses
// Locks and Unlock. See DESIGN.md for the protocol.
package shardlock
