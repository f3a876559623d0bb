package shard

import (
	"strings"
	"testing"
	"time"
)

// TestPessimisticWaysOut: pessimistic shard mode, DML on every shard.
//
//  1. A shard reaches a different DDL than the owner: its subtask pauses
//     with ShardDDLConflict; `binlog replace TASK "<the owner's DDL>"`
//     reports that statement for it instead, and the lock goes on.
//  2. A shard table that never arrives is dropped upstream: it leaves the
//     lock (its source holds at the owner's DDL and finds the DROP while
//     scanning ahead), the lock completes, its rows stay on the target.
//  3. The owner's DDL is rejected by the target (the column exists
//     already): the owner pauses with DDLFailed; `binlog skip TASK` skips
//     it for the owner, so every shard of the lock skips it.
//
// Every checkpoint is kept: the target ends equal to the union of the
// shards (the dropped one as it was).
func TestPessimisticWaysOut(t *testing.T) {
	e, stop := startSyncing(t, "pessw", "pessimistic")
	s := e.shards // s[0], s[1] on src1; s[2], s[3] on src2

	// 1. Differing DDLs, then binlog replace.
	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("lock opened by "+s[0].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[0].member() })
	e.alter(s[2], "ADD COLUMN c1 BIGINT NULL", 1)
	msg := e.waitPaused("src2", "ShardDDLConflict", 30*time.Second)
	if !strings.Contains(msg, "binlog replace") {
		t.Fatalf("the conflict does not name `binlog replace`: %s", msg)
	}
	out := e.c.MustDmctl("binlog", "replace", e.task, "ALTER TABLE db_target.t_target ADD COLUMN c1 INT NULL")
	t.Logf("binlog replace:\n%s", out)
	e.paused.Store(false)
	e.waitLock("the replaced DDL agrees with the owner's", 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[0].member() && len(l.Synced) == 2 && l.Conflict == ""
	})

	// 2. The last shard arrives, the other one is dropped.
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	time.Sleep(200 * time.Millisecond)
	e.requireNoTargetColumn("c1")
	e.drop(s[1])
	e.waitTargetColumn("c1", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)

	// 3. The target has the next column already: the owner's DDL fails.
	e.down.Exec(t, "ALTER TABLE db_target.t_target ADD COLUMN c2 VARCHAR(32) NULL")
	e.alter(s[3], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
	e.waitLock("lock opened by "+s[3].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[3].member() })
	e.alter(s[0], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
	e.alter(s[2], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
	msg = e.waitPaused("src2", "DDLFailed", 60*time.Second)
	if !strings.Contains(msg, "binlog skip") {
		t.Fatalf("the failed DDL does not name `binlog skip`: %s", msg)
	}
	out = e.c.MustDmctl("binlog", "skip", e.task)
	t.Logf("binlog skip:\n%s", out)
	e.paused.Store(false)
	e.waitNoLock(60 * time.Second)
	stop()
	e.waitConverged(90 * time.Second)
}

// TestOptimisticConflictUnlock: optimistic shard mode. Two shards add an
// index of the same name on other columns: the second one's subtask
// pauses with ShardDDLConflict. `binlog skip` is refused for it and names
// the way out, `shard-ddl-lock unlock LOCK`, which makes the shard skip its
// DDL (the target keeps the first index); after `resume-task` it goes on.
// The other shards add the first index; the shard in conflict later
// redefines its index the same way, and the lock goes.
func TestOptimisticConflictUnlock(t *testing.T) {
	e, stop := startSyncing(t, "optu", "optimistic")
	s := e.shards

	e.alter(s[1], "ADD INDEX ix (v)", 0)
	e.waitLock("lock opened by "+s[1].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[1].member() })
	e.alter(s[2], "ADD INDEX ix (note)", 0)
	e.waitPaused("src2", "ShardDDLConflict", 30*time.Second)
	out, err := e.c.Dmctl("binlog", "skip", e.task)
	if err == nil {
		t.Fatalf("binlog skip of an optimistic shard DDL in conflict was accepted:\n%s", out)
	}
	locks, lerr := e.locks()
	if lerr != nil || len(locks) != 1 {
		t.Fatalf("locks %+v %v", locks, lerr)
	}
	if !strings.Contains(err.Error(), "shard-ddl-lock unlock "+locks[0].ID) {
		t.Fatalf("the refusal does not name `shard-ddl-lock unlock %s`: %v", locks[0].ID, err)
	}
	t.Logf("binlog skip refused: %v", err)
	e.c.MustDmctl("shard-ddl-lock", "unlock", locks[0].ID)
	e.c.MustDmctl("resume-task", e.task)
	e.paused.Store(false)
	e.waitLock("the conflict is gone", 30*time.Second, func(l lockStatus) bool { return l.Conflict == "" })
	e.alter(s[0], "ADD INDEX ix (v)", 0)
	e.alter(s[3], "ADD INDEX ix (v)", 0)
	e.alter(s[2], "DROP INDEX ix, ADD INDEX ix (v)", 0)
	e.waitNoLock(60 * time.Second)
	var cols string
	if err := e.downDB.QueryRow("SELECT GROUP_CONCAT(COLUMN_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND INDEX_NAME = 'ix'").Scan(&cols); err != nil || cols != "v" {
		t.Fatalf("target index ix on %q (%v), want v", cols, err)
	}
	stop()
	e.waitConverged(90 * time.Second)
}
