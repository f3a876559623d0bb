package syncer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
)

// TestShardPessimisticHoldAndOwnerExec: the first shard table to reach the
// DDL (t_1) owns the lock. Its DML after the DDL waits, and so does every
// later event of the source (t_2's rows too): the unit holds at the DDL and
// only scans ahead, where it reports t_2's DDL. The target sees neither
// the column nor those rows until src2 arrived; then t_1 executes the DDL
// once, t_2 and src2 skip it, and the lock goes.
func TestShardPessimisticHoldAndOwnerExec(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 10, "")
	insertRange(t, e.udb, "shard_db.t_2", 101, 110, "")
	e.converged(r, e.union())
	before := e.union()

	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_1", 11, 20, "c")
	insertRange(t, e.udb, "shard_db.t_2", 111, 115, "")
	exec(t, e.udb, "ALTER TABLE shard_db.t_2 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_2", 116, 120, "c")

	e.waitFor("t_1 owns the lock and t_2 arrived through the scan", r, func(v *fsm.View) bool {
		l := e.lock(v)
		return l != nil && l.Owner == member("t_1") && l.Synced[member("t_2")] && !l.Ready
	})
	time.Sleep(500 * time.Millisecond) // whatever the unit would wrongly apply, give it time
	if has, _ := e.targetColumn("c"); has {
		t.Fatal("the target has column c before src2 arrived")
	}
	if got := ids(t, e.ddb, shardTarget); len(got) != len(before) {
		t.Fatalf("target has %d rows while the unit holds at t_1's DDL, want the %d before it", len(got), len(before))
	}

	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	if op := e.otherOperation(r); op.Action != shardlock.ActionSkip {
		t.Fatalf("src2 is no owner: operation %v, want skip", op)
	}
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	e.converged(r, e.union())
	if has, _ := e.targetColumn("c"); !has {
		t.Fatal("the target lacks column c after the lock")
	}
	var c sql.NullInt64
	if err := e.ddb.QueryRow("SELECT c FROM " + shardTarget + " WHERE id = 15").Scan(&c); err != nil || c.Int64 != 15 {
		t.Fatalf("row 15 of t_1 after the DDL: c = %v (%v), want 15", c, err)
	}
	v := e.c.f.View()
	for _, tbl := range []string{"t_1", "t_2"} {
		info := v.ShardInfos[fsm.ShardInfoKey("t1", "src1", "shard_db", tbl)]
		if len(info.GetDdls()) != 0 || info.GetDoneRevision() == 0 {
			t.Fatalf("%s not marked done: %v", tbl, info)
		}
	}
}

// TestShardPessimisticNonOwnerSkips: src2 arrives first and owns the lock;
// the unit's tables skip the DDL and go on only after the owner executed
// it (src2 runs its own statement, with a comment the unit's would lack:
// had the unit run the DDL too, the target would have refused a duplicate
// column and the unit would have paused).
func TestShardPessimisticNonOwnerSkips(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT", "ALTER TABLE shard_db.t_2 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "c")
	insertRange(t, e.udb, "shard_db.t_2", 106, 110, "c")

	op := e.otherOperation(r)
	if op.Action != shardlock.ActionExec {
		t.Fatalf("src2 arrived first: operation %v, want exec", op)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(ids(t, e.ddb, shardTarget)); n != 5 {
		t.Fatalf("the unit applied rows after its DDL before the owner executed it: %d rows, want 5", n)
	}
	exec(t, e.ddb, "ALTER TABLE db_target.t_target ADD COLUMN c INT COMMENT 'by src2'")
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	e.converged(r, e.union())
	if _, comment := e.targetColumn("c"); comment != "by src2" {
		t.Fatalf("column c has comment %q: the DDL was not the owner's", comment)
	}
	v := e.c.f.View()
	for _, tbl := range []string{"t_1", "t_2"} {
		if info := v.ShardInfos[fsm.ShardInfoKey("t1", "src1", "shard_db", tbl)]; info.GetDoneRevision() == 0 {
			t.Fatalf("%s did not finish its skip: %v", tbl, info)
		}
	}
}

// TestShardOptimisticJoinAndConflict: optimistic mode. t_1's ADD COLUMN
// reaches the target at once (src2 and t_2 still lack it: the join keeps
// it nullable), t_2's is skipped. Then t_2 adds a column with a type that
// conflicts with the one t_1 added: the unit pauses with ShardDDLConflict
// at that DDL's position, nothing after it applied. `binlog replace` with a
// compatible statement gets it on, keeping the checkpoint.
func TestShardOptimisticJoinAndConflict(t *testing.T) {
	e := newShardEnv(t, shardlock.ModeOptimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	insertRange(t, e.udb, "shard_db.t_2", 101, 105, "")
	e.converged(r, e.union())

	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT")
	e.waitFor("t_1's column reaches the target first", r, func(*fsm.View) bool { has, _ := e.targetColumn("c"); return has })
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "c")
	exec(t, e.udb, "ALTER TABLE shard_db.t_2 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_2", 106, 110, "c")
	e.converged(r, e.union())
	e.waitFor("the lock stays open while src2 lacks c", r, func(v *fsm.View) bool {
		l := e.lock(v)
		return l != nil && l.Synced[member("t_1")] && l.Synced[member("t_2")] && !l.Synced[shardlock.MemberKey("src2", otherSchema, otherTable)]
	})
	ops := e.c.f.View().ShardOperations
	if op := ops[fsm.ShardOperationKey(e.lockID, "src1", "shard_db", "t_2")]; op.GetAction() != shardlock.ActionSkip || !op.GetDone() {
		t.Fatalf("t_2's ADD COLUMN c: operation %v, want skip, done", op)
	}

	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN d INT")
	e.waitFor("t_1's d reaches the target", r, func(*fsm.View) bool { has, _ := e.targetColumn("d"); return has })
	exec(t, e.udb, "ALTER TABLE shard_db.t_2 ADD COLUMN d DATETIME")
	exec(t, e.udb, "INSERT INTO shard_db.t_2 (id, v) VALUES (111, 1110)")
	err := waitEnded(t, r)
	var ee *executor.Error
	if !errors.As(err, &ee) || ee.Code != shardlock.CodeConflict || ee.Position == "" {
		t.Fatalf("unit ended with %v, want a %s error with a position", err, shardlock.CodeConflict)
	}
	t.Logf("paused: %v (workaround: %s)", ee, ee.Workaround)
	if _, found := ids(t, e.ddb, shardTarget)[111]; found {
		t.Fatal("a row after the conflicting DDL reached the target")
	}

	// binlog replace: t_2's DDL is reported as the column the target has.
	e.c.must(fsm.NewCommand(pb.CommandType_SET_BINLOG_OPERATOR, &pb.SetBinlogOperator{Task: "t1", SourceId: "src1",
		Operator: &pb.BinlogOperator{Op: "replace", Position: ee.Position, Statements: []string{"ALTER TABLE db_target.t_target ADD COLUMN d INT"}}}, 0))
	r = e.run(1)
	e.converged(r, e.union())
	info := e.c.f.View().ShardInfos[fsm.ShardInfoKey("t1", "src1", "shard_db", "t_2")]
	if len(info.GetDdls()) != 0 || info.GetDoneRevision() == 0 {
		t.Fatalf("t_2 did not finish its replaced DDL: %v", info)
	}
}

// TestShardReplayExecutedDDL: the owner executed the lock's DDL and
// crashed (1) before its checkpoint passed the DDL, and (2) after, but
// before MarkDone. Both restarts finish the operation without running the
// DDL twice, and the lock completes.
func TestShardReplayExecutedDDL(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	crashes := 0
	var r *running
	var mu sync.Mutex
	e.c.setIntercept(func(cmd *pb.Command) error {
		if cmd.Type != pb.CommandType_PUT_SHARD_INFO {
			return nil
		}
		var c pb.PutShardInfo
		if err := proto.Unmarshal(cmd.Body, &c); err != nil {
			return err
		}
		i := c.Info
		markDone := i.SourceId == "src1" && i.UpstreamTable == "t_1" && len(i.Ddls) == 0 && i.DoneRevision > 0 && i.Revision == i.DoneRevision+1
		mu.Lock()
		defer mu.Unlock()
		if !markDone || crashes == 2 {
			return nil
		}
		crashes++
		r.cancel() // the node dies before its MarkDone reaches the log
		return context.Canceled
	})
	mu.Lock()
	r = e.run(1)
	mu.Unlock()
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT", "ALTER TABLE shard_db.t_2 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "c")
	e.waitFor("t_1 owns the lock", r, func(v *fsm.View) bool { l := e.lock(v); return l != nil && l.Owner == member("t_1") })
	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	if err := waitEnded(t, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run ended with %v, want the crash", err)
	}
	if has, _ := e.targetColumn("c"); !has {
		t.Fatal("the owner crashed before it executed the DDL")
	}

	// (1) Put the checkpoint back where it stood while the DDL ran: every
	// worker at the DDL, the DDL recorded as pending.
	var posJSON string
	if err := e.ddb.QueryRow("SELECT position FROM dm_meta." + ShardPendingTable + " WHERE task = 't1' AND source = 'src1' AND tbl = 'shard_db.t_1'").Scan(&posJSON); err != nil {
		t.Fatal(err)
	}
	var pos binlog.Position
	if err := json.Unmarshal([]byte(posJSON), &pos); err != nil {
		t.Fatal(err)
	}
	fence := target.Fence{Task: "t1", Source: "src1", Incarnation: 2000, Epoch: 1}
	store := &checkpoint.Store{Meta: target.Meta{Schema: "dm_meta"}, Fence: fence}
	tx, err := e.ddb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveAll(context.Background(), tx, e.workers, pos); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveDDL(context.Background(), tx, pos, "ALTER TABLE `db_target`.`t_target` ADD COLUMN `c` INT"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	r = e.run(2)
	mu.Unlock()
	if err := waitEnded(t, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("the replay of the executed DDL ended with %v, want the second crash (at MarkDone again)", err)
	}
	if got := ids(t, e.ddb, shardTarget); len(got) != 5 {
		t.Fatalf("target has %d rows after the second crash, want the 5 before the DDL", len(got))
	}

	// (2) The checkpoint is past the DDL, MarkDone was lost: the start
	// marks it done.
	r = e.run(3)
	e.otherOperation(r)
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	insertRange(t, e.udb, "shard_db.t_2", 101, 105, "c")
	e.converged(r, e.union())
	if crashes != 2 {
		t.Fatalf("%d crashes, want 2", crashes)
	}
}

// TestShardDroppedTableLeavesLock: t_1 reaches the DDL and holds the
// unit; t_2 is dropped later in the binlog without ever reaching it. The
// scan ahead unregisters t_2, so the lock stops waiting for it and
// completes once src2 arrived. The merged table keeps t_2's rows (the DROP
// is not replicated).
func TestShardDroppedTableLeavesLock(t *testing.T) {
	e := newShardEnv(t, shardlock.ModePessimistic)
	r := e.run(1)
	insertRange(t, e.udb, "shard_db.t_1", 1, 5, "")
	insertRange(t, e.udb, "shard_db.t_2", 101, 105, "")
	e.converged(r, e.union())
	want := e.union()

	exec(t, e.udb, "ALTER TABLE shard_db.t_1 ADD COLUMN c INT")
	insertRange(t, e.udb, "shard_db.t_1", 6, 10, "c")
	e.waitFor("t_1 owns the lock, t_2 is awaited", r, func(v *fsm.View) bool {
		locks := shardlock.Locks(v, "t1")
		return len(locks) == 1 && locks[0].Owner == member("t_1") && slices.Contains(locks[0].Unsynced, member("t_2"))
	})
	exec(t, e.udb, "DROP TABLE shard_db.t_2")
	e.waitFor("t_2 unregistered by the scan ahead", r, func(v *fsm.View) bool {
		_, found := v.ShardInfos[fsm.ShardInfoKey("t1", "src1", "shard_db", "t_2")]
		return !found
	})
	e.otherArrives("ALTER TABLE db_target.t_target ADD COLUMN c INT")
	e.otherOperation(r)
	e.otherDone()
	e.waitFor("lock removed", r, func(v *fsm.View) bool { return e.lock(v) == nil })
	for id, v := range e.union() {
		want[id] = v
	}
	e.converged(r, want)
	if has, _ := e.targetColumn("c"); !has {
		t.Fatal("the target lacks column c")
	}

	// The whole shard database goes: its tables leave too; the merged
	// table keeps every row.
	exec(t, e.udb, "DROP DATABASE shard_db")
	e.waitFor("shard_db's tables unregistered", r, func(v *fsm.View) bool {
		return len(shardlock.RegisteredTables(v, "t1", "src1", "shard_db")) == 0
	})
	e.converged(r, want)
}
