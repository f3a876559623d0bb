// Package shard holds the integration tests of shard merge: two MariaDB
// sources with two shard tables each (shard_db_1.t_1, shard_db_1.t_2 on
// source 1; shard_db_2.t_1, shard_db_2.t_2 on source 2) routed into one
// target table db_target.t_target, three dmnode processes, task-mode all,
// DML on every shard throughout, and DDLs that reach the shards at
// different times — in pessimistic and optimistic shard mode, with the
// lock owner's node or the Raft leader killed (-9) while a lock is open
// (all four combinations), a shard table dropped upstream while a lock
// waits for it, and the ways out of a stuck lock (binlog replace|skip,
// shard-ddl-lock unlock) with every checkpoint kept.
// The target must equal the union of the shards (row by row, by key).
//
// Shard keys are globally unique (id = shard number * 10^7 + sequence), as
// DM requires: nothing orders writes of two sources to one target key.
package shard
