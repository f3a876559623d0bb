package shard

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// shard is one upstream shard table.
type shard struct {
	no     int // 1..4, the id prefix
	src    *mariadb.Server
	source string // source id
	schema string
	table  string
	db     *sql.DB
	seq    atomic.Int64
	cols   atomic.Int32 // extra columns present upstream: 0, 1 (c1), 2 (c1, c2)
	// mu is held by the writer around each change and by drop.
	mu      sync.Mutex
	dropped map[int64]string // the rows when the table was dropped; nil while it exists
}

func (s *shard) name() string   { return s.schema + "." + s.table }
func (s *shard) member() string { return s.source + "/" + s.name() }

type env struct {
	t *testing.T
	c *harness.Cluster
	// paused: subtask errors are expected (a test drives a way out), so
	// the wait helpers do not fail on them.
	paused atomic.Bool
	up     [2]*mariadb.Server
	down   *mariadb.Server
	downDB *sql.DB
	shards []*shard
	task   string
}

const (
	initialRows = 300
	target      = "db_target.t_target"
)

func newEnv(t *testing.T, task string) *env {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up1", Binlog: true}, mariadb.Options{Name: "up2", Binlog: true}, mariadb.Options{Name: "down"})
	e := &env{t: t, up: [2]*mariadb.Server{srv[0], srv[1]}, down: srv[2], task: task}
	e.downDB = e.down.DB(t)
	e.c = harness.NewCluster(t, 3, harness.Options{NodeArgs: harness.FastTimeouts})
	no := 0
	for i, up := range e.up {
		schema := fmt.Sprintf("shard_db_%d", i+1)
		up.Exec(t, "CREATE DATABASE "+schema)
		for j := 1; j <= 2; j++ {
			no++
			s := &shard{no: no, src: up, source: fmt.Sprintf("src%d", i+1), schema: schema, table: fmt.Sprintf("t_%d", j), db: up.DB(t)}
			up.Exec(t, fmt.Sprintf("CREATE TABLE %s (id BIGINT NOT NULL PRIMARY KEY, shard INT NOT NULL, v INT NOT NULL, note VARCHAR(64)) ENGINE=InnoDB", s.name()))
			for k := 0; k < initialRows; k++ {
				s.insert(t.Context())
			}
			e.shards = append(e.shards, s)
		}
	}
	return e
}

func (e *env) writeFile(name, text string) string {
	p := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) dmctl(args ...string) string {
	e.t.Helper()
	out, err := e.c.Dmctl(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// start creates both sources and starts the task in shard mode.
func (e *env) start(mode string) {
	for i, up := range e.up {
		y := fmt.Sprintf("source-id: src%d\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
			i+1, up.Port, mariadb.User, mariadb.Password)
		e.dmctl("operate-source", "create", e.writeFile(fmt.Sprintf("s%d.yaml", i+1), y))
	}
	task := fmt.Sprintf(`name: %s
task-mode: all
shard-mode: %s
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    route-rules: [tables, schemas]
    syncer-config-name: sy
  - source-id: src2
    block-allow-list: bal
    route-rules: [tables, schemas]
    syncer-config-name: sy
block-allow-list:
  bal:
    do-dbs: ["~^shard_db_"]
routes:
  tables: {schema-pattern: "shard_db_*", table-pattern: "t_*", target-schema: db_target, target-table: t_target}
  schemas: {schema-pattern: "shard_db_*", target-schema: db_target}
syncers:
  sy: {worker-count: 4, batch: 50}
`, e.task, mode, e.down.Port, mariadb.User, mariadb.Password)
	e.dmctl("start-task", e.writeFile("task.yaml", task))
}

func (s *shard) insert(ctx context.Context) error {
	n := s.seq.Add(1)
	id := int64(s.no)*10_000_000 + n
	_, err := s.db.ExecContext(ctx, "INSERT INTO "+s.name()+" (id, shard, v, note) VALUES (?, ?, ?, ?)", id, s.no, n, fmt.Sprintf("row %d", n))
	return err
}

// op runs one random change on the shard: insert, update (of the extra
// columns too once they exist) or delete.
func (s *shard) op(ctx context.Context, r *rand.Rand) error {
	n := s.seq.Load()
	id := int64(s.no)*10_000_000 + 1 + r.Int63n(max(n, 1))
	switch x := r.Intn(10); {
	case x < 5:
		return s.insert(ctx)
	case x < 9:
		set := "v = v + 1"
		if c := s.cols.Load(); c >= 1 {
			set += ", c1 = v"
			if c >= 2 {
				set += ", c2 = CONCAT('c2-', v)"
			}
		}
		_, err := s.db.ExecContext(ctx, "UPDATE "+s.name()+" SET "+set+" WHERE id = ?", id)
		return err
	default:
		_, err := s.db.ExecContext(ctx, "DELETE FROM "+s.name()+" WHERE id = ?", id)
		return err
	}
}

// writers runs DML on every shard until stop is called or each shard did
// maxOps changes.
func (e *env) writers(maxOps int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, s := range e.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(s.no)))
			for i := 0; i < maxOps && ctx.Err() == nil; i++ {
				s.mu.Lock()
				if s.dropped != nil {
					s.mu.Unlock()
					return
				}
				err := s.op(ctx, r)
				s.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					failed.Store(fmt.Errorf("%s: %w", s.name(), err))
					return
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			e.t.Fatalf("writer failed: %v", err)
		}
	}
}

// alter runs a DDL on one shard; the writer of the shard sees the new
// column count from then on.
func (e *env) alter(s *shard, ddl string, cols int32) {
	e.t.Helper()
	e.t.Logf("%s: %s", s.name(), ddl)
	s.src.Exec(e.t, "ALTER TABLE "+s.name()+" "+ddl)
	if cols > 0 {
		s.cols.Store(cols)
	}
}

// drop stops the shard's writer and drops its table upstream. The rows it
// had stay on the target: shard mode does not replicate the DROP.
func (e *env) drop(s *shard) {
	e.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := rowsOf(context.Background(), s.db, s.name())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("%s: DROP TABLE (%d rows)", s.name(), len(rows))
	s.src.Exec(e.t, "DROP TABLE "+s.name())
	s.dropped = rows
}

// rowsOf returns id -> row text of a table, with the columns that exist.
func rowsOf(ctx context.Context, db *sql.DB, table string) (map[int64]string, error) {
	cols := "id, shard, v, IFNULL(note, 'NULL')"
	var n int
	parts := strings.SplitN(table, ".", 2)
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME IN ('c1', 'c2')", parts[0], parts[1]).Scan(&n); err != nil {
		return nil, err
	}
	if n >= 1 {
		cols += ", IFNULL(c1, 'NULL')"
	}
	if n >= 2 {
		cols += ", IFNULL(c2, 'NULL')"
	}
	rows, err := db.QueryContext(ctx, "SELECT CONCAT_WS('|', "+cols+"), id FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var s string
		var id int64
		if err := rows.Scan(&s, &id); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// diff compares the target with the union of the shards and describes the
// first differences, "" when equal.
func (e *env) diff() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	union := map[int64]string{}
	fromDropped := map[int64]bool{}
	for _, s := range e.shards {
		s.mu.Lock()
		rows, err := s.dropped, error(nil)
		s.mu.Unlock()
		dropped := rows != nil
		if !dropped {
			rows, err = rowsOf(ctx, s.db, s.name())
		}
		if err != nil {
			return "", err
		}
		for id, r := range rows {
			union[id] = r
			fromDropped[id] = dropped
		}
	}
	got, err := rowsOf(ctx, e.downDB, target)
	if err != nil {
		return "", err
	}
	var bad []string
	for id, r := range union {
		if fromDropped[id] && strings.HasPrefix(got[id], r) && strings.ReplaceAll(strings.TrimPrefix(got[id], r), "|NULL", "") == "" {
			continue // a row of a dropped shard: the columns added later are NULL on the target
		}
		if got[id] != r {
			bad = append(bad, fmt.Sprintf("id %d: source %q target %q", id, r, got[id]))
		}
	}
	for id, r := range got {
		if _, ok := union[id]; !ok {
			bad = append(bad, fmt.Sprintf("id %d: only on the target %q", id, r))
		}
	}
	sort.Strings(bad)
	if len(bad) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%d rows differ (source %d rows, target %d): %s", len(bad), len(union), len(got), strings.Join(bad[:min(len(bad), 5)], "; ")), nil
}

// checksums compares RowChecksum of the target with that of the union:
// the shards' checksums cannot be added as strings, so the union is
// compared by rows (diff) and the checksum is the summary logged.
func (e *env) waitConverged(timeout time.Duration) {
	e.t.Helper()
	var last string
	var lastErr error
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		last, lastErr = e.diff()
		return lastErr == nil && last == ""
	}) {
		e.t.Fatalf("target %s is not the union of the shards after %v: %s %v\n%s", target, timeout, last, lastErr, e.dmctl("shard-ddl-lock", e.task))
	}
	n, sum := e.down.Checksum(e.t, "db_target", "t_target")
	e.t.Logf("target equals the union of the 4 shards: %d rows, checksum %s", n, sum)
}

type subStatus struct {
	Stage         string   `json:"stage"`
	Unit          string   `json:"unit"`
	FinishedUnits []string `json:"finishedUnits"`
	Result        *struct {
		Errors []struct {
			ErrCode, Message, Workaround string
		} `json:"errors"`
	} `json:"result"`
}

type queryStatus struct {
	Sources []struct {
		SourceStatus struct {
			Source string `json:"source"`
			Worker string `json:"worker"`
		} `json:"sourceStatus"`
		SubTaskStatus []subStatus `json:"subTaskStatus"`
	} `json:"sources"`
}

func (e *env) status() (queryStatus, error) {
	var q queryStatus
	err := e.c.DmctlJSON(&q, "query-status", e.task)
	return q, err
}

// failOnError fails the test when a subtask reports an error (a pause).
func (e *env) failOnError() {
	e.t.Helper()
	if e.paused.Load() {
		return
	}
	q, err := e.status()
	if err != nil {
		return
	}
	for _, s := range q.Sources {
		for _, st := range s.SubTaskStatus {
			if st.Result != nil && len(st.Result.Errors) > 0 {
				e.t.Fatalf("subtask of %s: %+v\n%s", s.SourceStatus.Source, st.Result.Errors, e.dmctl("shard-ddl-lock", e.task))
			}
		}
	}
}

// waitPaused waits until the subtask of source reports an error with
// code, and returns its message and workaround. Errors are expected from
// here on until e.paused is cleared.
func (e *env) waitPaused(source, code string, timeout time.Duration) string {
	e.t.Helper()
	e.paused.Store(true)
	var q queryStatus
	var found string
	if !harness.Eventually(timeout, func() bool {
		var err error
		if q, err = e.status(); err != nil {
			return false
		}
		for _, s := range q.Sources {
			for _, st := range s.SubTaskStatus {
				if s.SourceStatus.Source != source || st.Result == nil {
					continue
				}
				for _, er := range st.Result.Errors {
					if er.ErrCode == code {
						found = er.Message + "\n  workaround: " + er.Workaround
						return true
					}
				}
			}
		}
		return false
	}) {
		e.t.Fatalf("the subtask of %s did not pause with %s in %v: %+v", source, code, timeout, q)
	}
	e.t.Logf("%s paused as expected: %s", source, found)
	return found
}

// waitSyncing waits until both subtasks run the sync unit.
func (e *env) waitSyncing(timeout time.Duration) {
	e.t.Helper()
	var q queryStatus
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		var err error
		if q, err = e.status(); err != nil || len(q.Sources) != 2 {
			return false
		}
		for _, s := range q.Sources {
			if len(s.SubTaskStatus) != 1 || s.SubTaskStatus[0].Unit != "sync" {
				return false
			}
		}
		return true
	}) {
		e.t.Fatalf("the subtasks did not reach the sync unit in %v: %+v", timeout, q)
	}
}

// nodeOf returns the node running source.
func (e *env) nodeOf(source string) string {
	e.t.Helper()
	q, err := e.status()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range q.Sources {
		if s.SourceStatus.Source == source {
			return s.SourceStatus.Worker
		}
	}
	e.t.Fatalf("source %s is not bound: %+v", source, q)
	return ""
}

type lockStatus struct {
	ID       string   `json:"id"`
	Mode     string   `json:"mode"`
	Owner    string   `json:"owner"`
	DDLs     []string `json:"ddls"`
	Synced   []string `json:"synced"`
	Unsynced []string `json:"unsynced"`
	Ready    bool     `json:"ready"`
	Resolved bool     `json:"resolved"`
	Conflict string   `json:"conflict"`
}

func (e *env) locks() ([]lockStatus, error) {
	var out struct {
		Locks []lockStatus `json:"locks"`
	}
	err := e.c.DmctlJSON(&out, "shard-ddl-lock", e.task)
	return out.Locks, err
}

// waitLock waits until the task's lock satisfies cond and returns it.
func (e *env) waitLock(what string, timeout time.Duration, cond func(l lockStatus) bool) lockStatus {
	e.t.Helper()
	var got []lockStatus
	var err error
	var hit lockStatus
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		if got, err = e.locks(); err != nil {
			return false
		}
		for _, l := range got {
			if cond(l) {
				hit = l
				return true
			}
		}
		return false
	}) {
		e.t.Fatalf("%s: not within %v: locks %+v %v", what, timeout, got, err)
	}
	return hit
}

// waitNoLock waits until the task has no lock left.
func (e *env) waitNoLock(timeout time.Duration) {
	e.t.Helper()
	var got []lockStatus
	var err error
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		got, err = e.locks()
		return err == nil && len(got) == 0
	}) {
		e.t.Fatalf("the shard-DDL lock is still there after %v: %+v %v", timeout, got, err)
	}
}

// waitTargetColumn waits until the target has (or lacks) a column.
func (e *env) waitTargetColumn(col string, want bool, timeout time.Duration) {
	e.t.Helper()
	db := e.downDB
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND COLUMN_NAME = ?", col).Scan(&n)
		return err == nil && (n == 1) == want
	}) {
		e.t.Fatalf("target column %s present=%v not reached in %v", col, want, timeout)
	}
}

func (e *env) targetHasColumn(col string) bool {
	var n int
	e.downDB.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db_target' AND TABLE_NAME = 't_target' AND COLUMN_NAME = ?", col).Scan(&n)
	return n == 1
}

// kill kills a node with -9 and waits until both sources run sync again
// on live nodes.
func (e *env) kill(name string) {
	e.t.Helper()
	e.t.Logf("kill -9 %s", name)
	e.c.Node(name).Kill()
	if !harness.Eventually(60*time.Second, func() bool {
		q, err := e.status()
		if err != nil || len(q.Sources) != 2 {
			return false
		}
		for _, s := range q.Sources {
			if s.SourceStatus.Worker == "" || s.SourceStatus.Worker == name {
				return false
			}
		}
		return true
	}) {
		e.t.Fatalf("the sources did not move off %s", name)
	}
}

func (e *env) leader() string {
	e.t.Helper()
	m, err := e.c.ListMembers()
	if err != nil || m.Leader == "" {
		e.t.Fatalf("no leader: %+v %v", m, err)
	}
	return m.Leader
}

// TestPessimisticKillOwner: pessimistic shard mode. ADD COLUMN reaches the
// four shards at different times, with DML on all of them; while the lock
// waits, the node of the lock owner (the first shard that arrived) is
// killed -9. The lock survives in the FSM, the source moves, the owner's
// replacement executes the DDL once, and the target never sees the new
// column before every shard arrived. Then a second DDL in another order.
func TestPessimisticKillOwner(t *testing.T) {
	e := newEnv(t, "pess")
	e.start("pessimistic")
	stop := e.writers(4000)
	e.waitSyncing(90 * time.Second)
	s := e.shards
	// The owner is the first shard to arrive: take one whose node is not
	// the Raft leader, so that this test kills the owner alone.
	if leader := e.leader(); e.nodeOf(s[0].source) == leader {
		s = []*shard{e.shards[2], e.shards[3], e.shards[0], e.shards[1]}
		if e.nodeOf(s[0].source) == leader {
			t.Fatalf("both sources run on the leader %s", leader)
		}
	}

	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	l := e.waitLock("lock opened by "+s[0].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[0].member() })
	t.Logf("lock %s owner %s synced %v", l.ID, l.Owner, l.Synced)
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard arrived", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) >= 2 })
	if e.targetHasColumn("c1") {
		t.Fatal("pessimistic: the target has c1 before every shard arrived")
	}
	owner := e.nodeOf(s[0].source)
	t.Logf("lock owner %s runs on %s; leader %s", s[0].member(), owner, e.leader())
	e.kill(owner)
	e.waitLock("lock kept across the kill", 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[0].member() && len(l.Synced) == 2 && !l.Ready
	})
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	time.Sleep(200 * time.Millisecond) // let DML of s[1] run between the DDLs
	if e.targetHasColumn("c1") {
		t.Fatal("pessimistic: the target has c1 before every shard arrived")
	}
	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)

	// Second DDL, another order.
	for _, i := range []int{3, 1, 0, 2} {
		e.alter(s[i], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
		time.Sleep(100 * time.Millisecond)
	}
	e.waitTargetColumn("c2", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)
	stop()
	e.waitConverged(90 * time.Second)
}

// TestOptimisticKillLeader: optimistic shard mode: the first shard's ADD
// COLUMN reaches the target at once, the others skip it; while the lock is
// open (shards differ) the Raft leader is killed -9. The lock survives,
// the remaining shards arrive and the lock goes; a second DDL follows.
func TestOptimisticKillLeader(t *testing.T) {
	e := newEnv(t, "opt")
	e.start("optimistic")
	stop := e.writers(4000)
	e.waitSyncing(90 * time.Second)
	s := e.shards

	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 30*time.Second)
	l := e.waitLock("optimistic lock open", 30*time.Second, func(l lockStatus) bool { return len(l.Unsynced) > 0 })
	t.Logf("lock %s synced %v unsynced %v", l.ID, l.Synced, l.Unsynced)
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard synced", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 2 })
	e.kill(e.leader())
	e.c.WaitMembersAlive(2, 30*time.Second)
	e.waitLock("lock kept across the leader's kill", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 2 && len(l.Unsynced) == 2 })
	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	e.waitNoLock(60 * time.Second)

	for _, i := range []int{2, 0, 3, 1} {
		e.alter(s[i], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
		time.Sleep(100 * time.Millisecond)
	}
	e.waitTargetColumn("c2", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)
	stop()
	e.waitConverged(90 * time.Second)
}
