package syncsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// syncProgress is the part of the sync unit's status the tests read.
type syncProgress struct {
	Stage        string `json:"stage"`
	TotalRows    int64  `json:"totalRows"`
	SyncerBinlog string `json:"syncerBinlog"`
	MasterBinlog string `json:"masterBinlog"`
	Synced       bool   `json:"synced"`
}

// subtask is the state of task's only subtask.
type subtask struct{ harness.Subtask }

func (s subtask) sync() (syncProgress, bool) {
	var p syncProgress
	if s.Unit != "sync" || json.Unmarshal(s.Progress, &p) != nil {
		return p, false
	}
	return p, true
}

func status(c *harness.Cluster, task string) (subtask, error) {
	st, err := c.OnlySubtask(task)
	return subtask{st}, err
}

// waitStatus polls query-status until cond holds, failing on a subtask
// error unless allowErr.
func waitStatus(t *testing.T, c *harness.Cluster, task string, timeout time.Duration, what string, allowErr bool, cond func(subtask) bool) subtask {
	t.Helper()
	var st subtask
	var err error
	var bad []harness.SubtaskError
	ok := harness.Eventually(timeout, func() bool {
		st, err = status(c, task)
		if err != nil {
			return false
		}
		if !allowErr && len(st.Errors()) > 0 {
			bad = st.Errors()
			return true
		}
		return cond(st)
	})
	if bad != nil {
		t.Fatalf("waiting for %s: subtask error %+v", what, bad)
	}
	if !ok {
		t.Fatalf("waiting for %s: not within %v; last status %+v progress %s (err %v)", what, timeout, st, st.Progress, err)
	}
	return st
}

// waitSyncing waits until the sync unit runs (the full phase is over).
func waitSyncing(t *testing.T, c *harness.Cluster, task string, timeout time.Duration) subtask {
	t.Helper()
	return waitStatus(t, c, task, timeout, "the sync unit", false, func(s subtask) bool {
		p, ok := s.sync()
		return ok && strings.HasPrefix(p.Stage, "syncing")
	})
}

// waitMoved waits until the source is bound to a node other than from with
// an epoch above epoch.
func waitMoved(t *testing.T, c *harness.Cluster, task, from string, epoch uint64, timeout time.Duration) subtask {
	t.Helper()
	return waitStatus(t, c, task, timeout, "the source to move off "+from, true, func(s subtask) bool {
		return s.Worker != "" && s.Worker != from && s.Epoch > epoch
	})
}

// taskYAML is a task for source src1 into down, replicating database app;
// extra is appended to the instance (e.g. "    meta: {...}\n").
func taskYAML(name, mode string, down *mariadb.Server, workers, batch int, extra string) string {
	return fmt.Sprintf(`name: %s
task-mode: %s
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    mydumper-config-name: md
    syncer: {worker-count: %d, batch: %d}
%sblock-allow-list:
  bal:
    do-dbs: ["app"]
mydumpers:
  md: {threads: 2, rows: 2000}
`, name, mode, down.Port, mariadb.User, mariadb.Password, workers, batch, extra)
}

// setup starts a source and a target server and a cluster of n nodes, and
// registers the source as src1.
func setup(t *testing.T, n int) (*harness.Cluster, *mariadb.Server, *mariadb.Server) {
	t.Helper()
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	c := harness.NewCluster(t, n, harness.Options{NodeArgs: harness.FastTimeouts})
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", srv[0].SourceYAML("src1")))
	return c, srv[0], srv[1]
}

// tables lists the base tables of schema db.
func tables(ctx context.Context, s *mariadb.Server, db string) ([]string, error) {
	pool, err := s.Open("")
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	rows, err := pool.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", db)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, rows.Err()
}

// diff compares every table of schema db on both servers and returns one
// line per difference (a missing or extra table, or different rows).
func diff(ctx context.Context, up, down *mariadb.Server, db string) []string {
	ut, err := tables(ctx, up, db)
	if err != nil {
		return []string{"source: " + err.Error()}
	}
	dt, err := tables(ctx, down, db)
	if err != nil {
		return []string{"target: " + err.Error()}
	}
	var out []string
	if strings.Join(ut, ",") != strings.Join(dt, ",") {
		out = append(out, fmt.Sprintf("tables of %s: source %v, target %v", db, ut, dt))
	}
	upool, err := up.Open("")
	if err != nil {
		return []string{err.Error()}
	}
	defer upool.Close()
	dpool, err := down.Open("")
	if err != nil {
		return []string{err.Error()}
	}
	defer dpool.Close()
	for _, tb := range ut {
		n1, s1, err1 := mariadb.RowChecksum(ctx, upool, db, tb)
		n2, s2, err2 := mariadb.RowChecksum(ctx, dpool, db, tb)
		if err1 != nil || err2 != nil || n1 != n2 || s1 != s2 {
			out = append(out, fmt.Sprintf("%s.%s: source %d rows %.16s (%v), target %d rows %.16s (%v)", db, tb, n1, s1, err1, n2, s2, err2))
		}
	}
	return out
}

// converge waits until the target equals the source in schema db, table by
// table, failing fast on a subtask error, and names every table that still
// differs at the deadline.
func converge(t *testing.T, c *harness.Cluster, task string, up, down *mariadb.Server, db string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	var last []string
	var bad []harness.SubtaskError
	ok := harness.Eventually(timeout, func() bool {
		if st, err := status(c, task); err == nil && len(st.Errors()) > 0 {
			bad = st.Errors()
			return true
		}
		last = diff(ctx, up, down, db)
		return len(last) == 0
	})
	if bad != nil {
		t.Fatalf("subtask error while waiting for the target to converge: %+v", bad)
	}
	if !ok {
		st, _ := status(c, task)
		t.Fatalf("the target did not converge within %v:\n  %s\nstatus %+v progress %s", timeout, strings.Join(last, "\n  "), st, st.Progress)
	}
}

// batch is one row of the sync unit's batch log.
type batch struct {
	ID        int64
	Worker    int
	Epoch     uint64
	Rows      int
	Committed time.Time
}

func batches(t *testing.T, down *mariadb.Server, task string) []batch {
	t.Helper()
	rows, err := down.DB(t).Query("SELECT id, worker, epoch, row_count, committed_at FROM dm_meta.dmraft_sync_batches WHERE task = ? ORDER BY id", task)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []batch
	for rows.Next() {
		var b batch
		var ts string
		if err := rows.Scan(&b.ID, &b.Worker, &b.Epoch, &b.Rows, &ts); err != nil {
			t.Fatal(err)
		}
		b.Committed, _ = time.Parse("2006-01-02 15:04:05.000", ts)
		out = append(out, b)
	}
	return out
}

// rowsPerEpoch sums the batch log's row counts per epoch.
func rowsPerEpoch(bs []batch) map[uint64]int {
	out := map[uint64]int{}
	for _, b := range bs {
		out[b.Epoch] += b.Rows
	}
	return out
}

// waitErr waits until the subtask reports an error and returns it.
func waitErr(t *testing.T, c *harness.Cluster, task string, timeout time.Duration) (subtask, harness.SubtaskError) {
	t.Helper()
	st := waitStatus(t, c, task, timeout, "a subtask error", true, func(s subtask) bool { return len(s.Errors()) > 0 })
	return st, st.Errors()[0]
}

// count returns SELECT COUNT(*) of a query's table on s.
func count(t *testing.T, s *mariadb.Server, q string) int64 {
	t.Helper()
	var n int64
	if err := s.DB(t).QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitFlag waits until f is set.
func waitFlag(f *atomic.Bool, timeout time.Duration) bool {
	return harness.Eventually(timeout, f.Load)
}
