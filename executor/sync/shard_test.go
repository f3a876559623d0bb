package syncer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
	"github.com/dmraft/dmraft/test/mariadb"
)

// The shard path of the sync unit (shard.go, shard_operator.go) against a
// real source and target, with the cluster faked: one in-memory FSM that
// applies every proposal at once (the raft log of a one-node cluster), the
// leader's shardlock.Loop planning on it, and a second source "src2" whose
// one shard table (other_db.t_9) the test plays by hand through the
// shardlock API. The unit runs source src1: shard_db.t_1 and shard_db.t_2,
// both routed to db_target.t_target.

// shardCluster is the faked FSM side.
type shardCluster struct {
	t     *testing.T
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
	// intercept sees every proposal first; an error fails it (a crash).
	intercept func(cmd *pb.Command) error
}

func (c *shardCluster) propose(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.intercept != nil {
		if err := c.intercept(cmd); err != nil {
			return nil, err
		}
	}
	c.index++
	return c.f.Apply(c.index, fsm.Encode(cmd)), nil
}

// must applies commands the test issues itself.
func (c *shardCluster) must(cmds ...*pb.Command) {
	c.t.Helper()
	for _, cmd := range cmds {
		if cmd == nil {
			continue
		}
		res, err := c.propose(context.Background(), cmd)
		if err != nil || res.Code != "" {
			c.t.Fatalf("%v: %v %s %s", cmd.Type, err, res.GetCode(), res.GetMessage())
		}
	}
}

func (c *shardCluster) setIntercept(fn func(cmd *pb.Command) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.intercept = fn
}

const (
	shardTarget = "db_target.t_target"
	otherSchema = "other_db"
	otherTable  = "t_9"
	otherCreate = "CREATE TABLE t_9 (id BIGINT NOT NULL PRIMARY KEY, v INT)"
)

type shardEnv struct {
	t       *testing.T
	up      *mariadb.Server
	down    *mariadb.Server
	udb     *sql.DB
	ddb     *sql.DB
	c       *shardCluster
	a       executor.Assignment
	task    *config.Task
	mode    string
	lockID  string
	workers int
}

// newShardEnv starts the servers, the FSM with task "t1" (sources src1 and
// src2) and the leader's planner; src2's table is registered.
func newShardEnv(t *testing.T, mode string) *shardEnv {
	servers := mariadb.StartMany(t, mariadb.Options{Binlog: true}, mariadb.Options{})
	e := &shardEnv{t: t, up: servers[0], down: servers[1], mode: mode, workers: 2,
		lockID: shardlock.LockID("t1", "db_target", "t_target")}
	e.udb, e.ddb = e.up.DB(t), e.down.DB(t)
	e.up.Exec(t, "CREATE DATABASE shard_db",
		"CREATE TABLE shard_db.t_1 (id BIGINT NOT NULL PRIMARY KEY, v INT)",
		"CREATE TABLE shard_db.t_2 (id BIGINT NOT NULL PRIMARY KEY, v INT)")
	e.down.Exec(t, "CREATE DATABASE db_target", "CREATE TABLE db_target.t_target (id BIGINT NOT NULL PRIMARY KEY, v INT)")
	file, pos := masterPos(t, e.udb)

	key := config.DefaultKey
	src, err := config.ParseSource([]byte(fmt.Sprintf("source-id: src1\nflavor: mariadb\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
		e.up.Port, mariadb.User, mariadb.Password)))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := src.ToProto(key)
	if err != nil {
		t.Fatal(err)
	}
	task, err := config.ParseTask([]byte(fmt.Sprintf(`name: t1
task-mode: incremental
shard-mode: %s
target-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: src1
    meta: {binlog-name: %s, binlog-pos: %d}
    block-allow-list: bal
    route-rules: [tables, schemas]
    syncer: {worker-count: %d, batch: 20}
block-allow-list:
  bal: {do-dbs: [shard_db]}
routes:
  tables: {schema-pattern: shard_db, table-pattern: "t_*", target-schema: db_target, target-table: t_target}
  schemas: {schema-pattern: shard_db, target-schema: db_target}
`, mode, e.down.Port, mariadb.User, mariadb.Password, file, pos, e.workers)))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := task.ToProto(key)
	if err != nil {
		t.Fatal(err)
	}
	tp.CreatedUnixMs = 1000
	e.a = executor.Assignment{Task: tp, Subtask: &pb.Subtask{Task: "t1", SourceId: "src1"},
		Source: &pb.Source{Config: sc, CreatedUnixMs: 2000}, Epoch: 1}
	e.task, _ = config.TaskFromJSON(tp.ConfigJson)
	e.task.Normalize()

	e.c = &shardCluster{t: t, f: fsm.New()}
	for _, id := range []string{"src1", "src2"} {
		e.c.must(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: id}}, 0))
	}
	e.c.must(fsm.NewCommand(pb.CommandType_CREATE_TASK, &pb.CreateTask{
		Task:     &pb.Task{Name: "t1", ConfigJson: tp.ConfigJson, SourceIds: []string{"src1", "src2"}},
		Subtasks: []*pb.Subtask{{SourceId: "src1"}, {SourceId: "src2"}}}, 0))
	cmds, err := shardlock.Register(e.c.f.View(), "t1", "src2", []shardlock.Table{{UpSchema: otherSchema, UpTable: otherTable,
		DownSchema: "db_target", DownTable: "t_target", CreateTable: otherCreate}})
	if err != nil {
		t.Fatal(err)
	}
	e.c.must(cmds...)

	ctx, cancel := context.WithCancel(context.Background())
	loop := &shardlock.Loop{View: e.c.f.View, Changed: e.c.f.Changed, Propose: e.c.propose, IsLeader: func() bool { return true },
		Tick: 50 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	done := make(chan struct{})
	go func() { defer close(done); loop.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// run starts the unit of src1 with the given epoch.
func (e *shardEnv) run(epoch uint64) *running {
	e.t.Helper()
	a := e.a
	a.Epoch = epoch
	ctx, cancel := context.WithCancel(context.Background())
	u := New(Deps{Key: config.DefaultKey, Logger: zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.InfoLevel),
		View: e.c.f.View, Propose: e.c.propose}, a, e.task, e.task.Instance("src1"))
	r := &running{cancel: cancel, done: make(chan struct{}), unit: u}
	go func() { r.err = u.Run(ctx); close(r.done) }()
	e.t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// waitFor polls cond for up to 30 s; it fails the test when r ended.
func (e *shardEnv) waitFor(what string, r *running, cond func(v *fsm.View) bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond(e.c.f.View()) {
		if r != nil {
			select {
			case <-r.done:
				e.t.Fatalf("%s: the unit ended: %v", what, r.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within 30s; locks %v", what, shardlock.Locks(e.c.f.View(), "t1"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEnded waits until the unit returns and gives its error.
func waitEnded(t *testing.T, r *running) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("the unit still runs")
		return nil
	}
}

func (e *shardEnv) lock(v *fsm.View) *pb.ShardLock { return v.ShardLocks[e.lockID] }

// otherArrives reports src2's DDL, as src2's executor would.
func (e *shardEnv) otherArrives(ddls ...string) {
	e.t.Helper()
	cmd, err := shardlock.ReportInfo(e.c.f.View(), "t1", "src2", otherSchema, otherTable, ddls)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c.must(cmd)
}

// otherOperation waits for src2's operation.
func (e *shardEnv) otherOperation(r *running) *pb.ShardOperation {
	e.t.Helper()
	var op *pb.ShardOperation
	e.waitFor("src2's operation", r, func(v *fsm.View) bool {
		var ok bool
		op, ok = shardlock.OperationFor(v, "t1", "src2", otherSchema, otherTable)
		return ok
	})
	return op
}

func (e *shardEnv) otherDone() {
	e.t.Helper()
	cmd, err := shardlock.MarkDone(e.c.f.View(), "t1", "src2", otherSchema, otherTable)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c.must(cmd)
}

// ids returns id -> v of a table.
func ids(t *testing.T, db *sql.DB, table string) map[int64]int64 {
	t.Helper()
	rows, err := db.Query("SELECT id, IFNULL(v, -1) FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

func (e *shardEnv) union() map[int64]int64 {
	out := map[int64]int64{}
	for _, tbl := range []string{"shard_db.t_1", "shard_db.t_2"} {
		var n int
		e.udb.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shard_db' AND TABLE_NAME = ?", tbl[len("shard_db."):]).Scan(&n)
		if n == 0 {
			continue // dropped
		}
		for id, v := range ids(e.t, e.udb, tbl) {
			out[id] = v
		}
	}
	return out
}

// converged waits until the target holds want (id -> v), exactly.
func (e *shardEnv) converged(r *running, want map[int64]int64) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := ids(e.t, e.ddb, shardTarget)
		if len(got) == len(want) && func() bool {
			for id, v := range want {
				if got[id] != v {
					return false
				}
			}
			return true
		}() {
			return
		}
		if r != nil {
			select {
			case <-r.done:
				e.t.Fatalf("the unit ended before the target converged: %v", r.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("target has %d rows, want %d; locks %v", len(got), len(want), shardlock.Locks(e.c.f.View(), "t1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *shardEnv) targetColumn(col string) (bool, string) {
	var comment string
	err := e.ddb.QueryRow("SELECT COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND COLUMN_NAME = ?", col).Scan(&comment)
	return err == nil, comment
}

func insertRange(t *testing.T, db *sql.DB, table string, from, to int, extra string) {
	t.Helper()
	for i := from; i <= to; i++ {
		cols, vals := "id, v", fmt.Sprintf("%d, %d", i, i*10)
		if extra != "" {
			cols, vals = cols+", "+extra, vals+fmt.Sprintf(", %d", i)
		}
		exec(t, db, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, cols, vals))
	}
}

func member(table string) string { return shardlock.MemberKey("src1", "shard_db", table) }

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

// setOperator records `dmctl binlog skip|replace` for src1 at the DDL the
// unit paused at, as the admin service does.
func (e *shardEnv) setOperator(paused error, op string, statements ...string) {
	e.t.Helper()
	var ee *executor.Error
	if !errors.As(paused, &ee) || ee.Position == "" {
		e.t.Fatalf("the unit did not pause at a DDL: %v", paused)
	}
	e.c.must(fsm.NewCommand(pb.CommandType_SET_BINLOG_OPERATOR, &pb.SetBinlogOperator{Task: "t1", SourceId: "src1",
		Operator: &pb.BinlogOperator{Op: op, Position: ee.Position, Statements: statements}}, 0))
}

func errCode(err error) string {
	var ee *executor.Error
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ""
}

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
