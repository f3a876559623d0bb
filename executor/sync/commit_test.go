package syncer

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestGroupCommit: two workers' batches that wait together go into one
// target transaction (their batch log rows share one timestamp), each with
// its own checkpoint; a group of a stale owner commits nothing.
func TestGroupCommit(t *testing.T) {
	down := mariadb.Start(t, mariadb.Options{})
	setup(t, down, false)
	root := down.DB(t)
	ctx := context.Background()
	meta := target.Meta{Schema: "dm_meta"}
	fence := target.Fence{Task: "t1", Source: "src1", Incarnation: 1000, Epoch: 1}
	store := &checkpoint.Store{Meta: meta, Fence: fence}
	if err := meta.Ensure(ctx, root); err != nil {
		t.Fatal(err)
	}
	if err := store.Ensure(ctx, root); err != nil {
		t.Fatal(err)
	}
	if err := meta.RaiseEpoch(ctx, root, fence, 5); err != nil {
		t.Fatal(err)
	}
	cfg := down.Config("")
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	layout, err := newTableCache(db).layout(ctx, "app", "routed", []string{"id", "v"})
	if err != nil {
		t.Fatal(err)
	}
	change := func(op binlog.Op, id int32, v int32) job {
		c := &dml.Change{Op: op, Layout: layout}
		switch op {
		case binlog.OpInsert:
			c.New = []any{id, v}
		case binlog.OpDelete:
			c.Old = []any{id, v}
		default:
			c.Old, c.New = []any{id, v - 1}, []any{id, v}
		}
		return job{kind: jobChange, change: c}
	}
	at := func(pos uint32) checkpoint.Point {
		return checkpoint.Boundary(binlog.Position{Name: "mysql-bin.000001", Pos: pos})
	}
	run := func(f target.Fence, reqs ...*commitRequest) []error {
		in := make(chan *commitRequest, len(reqs))
		for _, r := range reqs {
			r.done = make(chan error, 1)
			in <- r
		}
		close(in)
		c := &committer{db: db, store: &checkpoint.Store{Meta: meta, Fence: f}, fence: f, log: zerolog.Nop(), in: in, maxRows: 1000}
		c.run(ctx)
		var errs []error
		for _, r := range reqs {
			errs = append(errs, <-r.done)
		}
		return errs
	}

	errs := run(fence,
		&commitRequest{worker: 0, of: 2, point: at(100), jobs: []job{change(binlog.OpInsert, 1, 10), change(binlog.OpUpdate, 1, 11), change(binlog.OpInsert, 2, 20)}},
		&commitRequest{worker: 1, of: 2, point: at(200), jobs: []job{change(binlog.OpInsert, 3, 30), change(binlog.OpInsert, 4, 40), change(binlog.OpDelete, 4, 40)}})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	converged := func() string {
		var got string
		if err := root.QueryRow("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM app.routed").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := converged(); got != "1=11,2=20,3=30" {
		t.Fatalf("rows after the group: %s, want 1=11,2=20,3=30", got)
	}
	resume, err := store.Load(ctx, root)
	if err != nil || resume == nil || len(resume.Points) != 2 || resume.Points[0] != at(100) || resume.Points[1] != at(200) {
		t.Fatalf("checkpoints: %+v, %v", resume, err)
	}
	var logRows, stamps, rowSum int
	if err := root.QueryRow("SELECT COUNT(*), COUNT(DISTINCT committed_at), SUM(row_count) FROM dm_meta."+checkpoint.BatchTable).Scan(&logRows, &stamps, &rowSum); err != nil {
		t.Fatal(err)
	}
	if logRows != 2 || stamps != 1 || rowSum != 6 {
		t.Fatalf("batch log: %d rows, %d timestamps, %d row changes; want 2 rows of one transaction, 6 row changes", logRows, stamps, rowSum)
	}

	// A newer owner raised the epoch: the stale group fails for every
	// worker in it and leaves rows, checkpoints and batch log alone.
	next := fence
	next.Epoch = 2
	if err := meta.RaiseEpoch(ctx, root, next, 5); err != nil {
		t.Fatal(err)
	}
	errs = run(fence,
		&commitRequest{worker: 0, of: 2, point: at(300), jobs: []job{change(binlog.OpInsert, 5, 50)}},
		&commitRequest{worker: 1, of: 2, point: at(400), jobs: []job{change(binlog.OpDelete, 1, 11)}})
	for _, err := range errs {
		if !errors.Is(err, target.ErrFenced) {
			t.Fatalf("stale group: got %v, want ErrFenced for every batch", err)
		}
	}
	if got := converged(); got != "1=11,2=20,3=30" {
		t.Fatalf("a stale group changed rows: %s", got)
	}
	if resume, err := store.Load(ctx, root); err != nil || resume.Points[0] != at(100) || resume.Points[1] != at(200) {
		t.Fatalf("a stale group moved checkpoints: %+v, %v", resume, err)
	}
}
