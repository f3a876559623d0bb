package syncer

import (
	"errors"
	"strings"
	"testing"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/shardlock"
)

// TestShardPessimisticSkipConflict: src2 owns the lock; t_1 reaches
// another DDL and pauses with ShardDDLConflict. `binlog skip` there makes
// t_1 take part with the lock's DDLs: it skips them once the owner
// executed, and the lock completes.
func TestShardPessimisticSkipConflict(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c BIGINT", "ALTER TABLE shard_db.t_2 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "c")
	err := waitEnded(t, r)
	if errCode(err) != shardlock.CodeConflict {
		t.Fatalf("unit ended with %v, want %s", err, shardlock.CodeConflict)
	}
	e.setOperator(err, "skip")
	r = e.run(1)
	op := e.otherOperation(r)
	if op.Action != shardlock.ActionExec {
		t.Fatalf("src2's operation %v, want exec once t_1 agrees", op)
	}
	exec(t, e.ddb, "ALTER TABLE db_target.t_target ADD COLUMN c INT")
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	e.converged(r, e.union())
	info := e.c.f.View().ShardInfos[fsm.ShardInfoKey("t1", "src1", "shard_db", "t_1")]
	if info.GetDoneRevision() != 2 {
		t.Fatalf("t_1 should have reported twice (its DDL, then the lock's) and finished the second: %v", info)
	}
}

// TestShardOptimisticSkip: optimistic mode. A DDL the schema model cannot
// follow pauses with ShardDDLUnsupported and `binlog skip` passes it. A
// DDL in conflict cannot be skipped by the unit alone (ShardSkipRefused,
// naming the unlock); after the lock's unlock the shard skips it.
func TestShardOptimisticSkip(t *testing.T) {
	e := newShardEnv(t, shardlock.ModeOptimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ORDER BY id")
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "")
	err := waitEnded(t, r)
	if errCode(err) != "ShardDDLUnsupported" {
		t.Fatalf("unit ended with %v, want ShardDDLUnsupported", err)
	}
	e.setOperator(err, "skip")
	r = e.run(1)
	e.converged(r, e.union())

	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD INDEX ix (v)")
	e.waitFor("t_1's index decided", r, func(v *fsm.View) bool {
		op := v.ShardOperations[fsm.ShardOperationKey(e.lockID, "src1", "shard_db", "t_1")]
		return op.GetDone()
	})
	exec(t, e.udb, "ALTER TABLE shard_db.t_2 ADD INDEX ix (id, v)")
	insertRange(t, e.udb, "shard_db.t_2", 101, 105, "")
	err = waitEnded(t, r)
	if errCode(err) != shardlock.CodeConflict {
		t.Fatalf("unit ended with %v, want %s", err, shardlock.CodeConflict)
	}
	e.setOperator(err, "skip")
	r = e.run(1)
	err = waitEnded(t, r)
	var ee *executor.Error
	if !errors.As(err, &ee) || ee.Code != CodeShardSkipRefused || !strings.Contains(ee.Workaround, "shard-ddl-lock unlock "+e.lockID) {
		t.Fatalf("binlog skip in conflict: unit ended with %v, want %s naming the unlock", err, CodeShardSkipRefused)
	}
	cmds, err := shardlock.Unlock(e.c.f.View(), e.lockID, false)
	if err != nil {
		t.Fatal(err)
	}
	e.c.must(cmds...)
	r = e.run(1)
	e.converged(r, e.union())
	var cols string
	if err := e.ddb.QueryRow("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND INDEX_NAME = 'ix'").Scan(&cols); err != nil || cols != "v" {
		t.Fatalf("target index ix on %q (%v), want t_1's (v)", cols, err)
	}
}

// TestShardPessimisticScanConflictReplace: the unit holds at t_1's DDL (it
// owns the lock) and finds, scanning ahead, t_2's differing DDL. Nothing
// else would show that conflict: the unit pauses at t_2's DDL. `binlog
// replace` there makes t_2 report the owner's DDL when the held unit scans
// again, and the lock completes.
func TestShardPessimisticScanConflictReplace(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT", "ALTER TABLE shard_db.t_2 ADD COLUMN c BIGINT")
	insertRange(t, e.udb, "shard_db.t_2", 101, 105, "c")
	err := waitEnded(t, r)
	var ee *executor.Error
	if !errors.As(err, &ee) || ee.Code != shardlock.CodeConflict || !strings.Contains(ee.Message, "shard_db.t_2") {
		t.Fatalf("unit ended with %v, want %s at t_2's DDL", err, shardlock.CodeConflict)
	}
	if got := ids(t, e.ddb, shardTarget); len(got) != 5 {
		t.Fatalf("target has %d rows, want the 5 before t_1's DDL", len(got))
	}
	e.setOperator(err, "replace", "ALTER TABLE db_target.t_target ADD COLUMN c INT")
	r = e.run(1)
	e.waitFor("t_2 agrees with the owner", r, func(v *fsm.View) bool {
		l := e.lock(v)
		return l != nil && l.Synced[member("t_2")] && l.ConflictMessage == ""
	})
	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	e.otherOperation(r)
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	e.converged(r, e.union())
}
