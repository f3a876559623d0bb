package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
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
