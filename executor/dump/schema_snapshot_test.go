package dump

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/fsm/config"
	"github.com/dmraft/dmraft/test/mariadb"
)

func snapshotTestServer(t *testing.T) (*mariadb.Server, *sql.DB) {
	t.Helper()
	srv := mariadb.Start(t, mariadb.Options{Name: "snap", Binlog: true})
	srv.Exec(t, "CREATE DATABASE d",
		"CREATE TABLE d.side (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO d.side SELECT seq, CONCAT('s', seq) FROM d.seq_1_to_300")
	return srv, srv.DB(t)
}

// hookOnce runs stmts on srv once, in the window between listing the
// tables and opening the snapshot.
func hookOnce(t *testing.T, srv *mariadb.Server, stmts ...string) {
	var once sync.Once
	TestHookTablesListed = func() { once.Do(func() { srv.Exec(t, stmts...) }) }
	t.Cleanup(func() { TestHookTablesListed = nil })
}

func columnNames(t *Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// readAll reads chunk c of t in the snapshot and returns its statements.
func readAll(t *testing.T, q Querier, tbl *Table) (string, int64) {
	t.Helper()
	var sb strings.Builder
	var rows int64
	_, err := StreamChunk(context.Background(), q, &Chunk{Table: tbl}, "INSERT", 1<<20, func(b Batch) error {
		sb.Write(b.SQL)
		rows += b.Rows
		return nil
	})
	if err != nil {
		t.Fatalf("read %s in the snapshot: %v", tbl.ID(), err)
	}
	return sb.String(), rows
}

func find(tables []*Table, id string) *Table {
	for _, t := range tables {
		if t.ID() == id {
			return t
		}
	}
	return nil
}

// TestSnapshotTablesDefinitionMatchesRows: DDL and writes between the
// listing and the snapshot end up in both the definitions returned and the
// rows read (with the global read lock, and without it: a user lacking
// RELOAD gets the single-connection MariaDB snapshot, where a changed
// definition starts the attempt over); tables created or dropped in that
// window are listed as the snapshot has them.
func TestSnapshotTablesDefinitionMatchesRows(t *testing.T) {
	srv, root := snapshotTestServer(t)
	srv.Exec(t, "CREATE TABLE d.gone (id INT PRIMARY KEY)",
		"CREATE USER 'nolock'@'127.0.0.1' IDENTIFIED BY 'nolock'",
		"GRANT SELECT, REPLICATION CLIENT, SHOW VIEW ON *.* TO 'nolock'@'127.0.0.1'")
	cfg := srv.Config("")
	cfg.User, cfg.Passwd = "nolock", "nolock"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nolock := sql.OpenDB(conn)
	defer nolock.Close()
	sel := NewSelector(&config.Task{}, &config.Instance{})
	ctx := context.Background()

	for i, c := range []struct {
		name   string
		db     *sql.DB
		locked bool
	}{{"locked", root, true}, {"lockless", nolock, false}} {
		col := []string{"z", "y"}[i]
		hookOnce(t, srv,
			"ALTER TABLE d.side ADD COLUMN "+col+" INT NOT NULL DEFAULT 3, ADD INDEX ("+col+")",
			"INSERT INTO d.side (id, v, "+col+") VALUES ("+[]string{"5001", "5002"}[i]+", 'after', 5)",
			"CREATE TABLE d.new_"+c.name+" (id INT PRIMARY KEY)", "INSERT INTO d.new_"+c.name+" VALUES (1)",
			"DROP TABLE IF EXISTS d.gone")
		snap, tables, err := OpenSnapshotTables(ctx, c.db, 2, config.FlavorMariaDB, sel)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if snap.Locked != c.locked {
			t.Errorf("%s: snapshot locked = %v", c.name, snap.Locked)
		}
		side := find(tables, "d.side")
		if side == nil || !strings.HasSuffix(columnNames(side), ","+col) || !strings.Contains(side.CreateSQL, "`"+col+"`") {
			t.Fatalf("%s: d.side listed without column %s: %+v", c.name, col, side)
		}
		stmts, rows := readAll(t, snap.Conns[0], side)
		want := []string{"(5001,_utf8mb4'after',5)", "(5002,_utf8mb4'after',3,5)"}[i]
		if rows != int64(301+i) || !strings.Contains(stmts, want) {
			t.Errorf("%s: snapshot of d.side has %d rows (want %d), row %s: %v", c.name, rows, 301+i, want, strings.Contains(stmts, want))
		}
		if nt := find(tables, "d.new_"+c.name); nt == nil {
			t.Errorf("%s: d.new_%s (created before the snapshot) is not listed", c.name, c.name)
		} else if _, n := readAll(t, snap.Conns[0], nt); n != 1 {
			t.Errorf("%s: d.new_%s has %d rows in the snapshot, want 1", c.name, c.name, n)
		}
		if find(tables, "d.gone") != nil {
			t.Errorf("%s: d.gone (dropped before the snapshot) is listed", c.name)
		}
		snap.Close()
	}
}

// TestSnapshotTablesHoldDDL: once the snapshot is open, DDL on a listed
// table waits for its end, so the rows are read with the definitions
// returned instead of failing with "Table definition has changed" (1412);
// and while such an ALTER waits, every snapshot connection still reads
// the table (none queues behind the ALTER, which would hang the copy).
func TestSnapshotTablesHoldDDL(t *testing.T) {
	_, root := snapshotTestServer(t)
	ctx := context.Background()
	snap, tables, err := OpenSnapshotTables(ctx, root, 3, config.FlavorMariaDB, NewSelector(&config.Task{}, &config.Instance{}))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	const alter = "ALTER TABLE d.side ADD COLUMN z INT NOT NULL DEFAULT 3, ADD INDEX (z)"
	c, err := root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = c.ExecContext(ctx, alter)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		t.Errorf("ALTER during the snapshot: %v, want a lock wait timeout (1205)", err)
	}

	// An ALTER that waits (as a client's would) while the snapshot reads.
	if _, err := c.ExecContext(ctx, "SET SESSION lock_wait_timeout = 60"); err != nil {
		t.Fatal(err)
	}
	altered := make(chan error, 1)
	go func() { _, err := c.ExecContext(ctx, alter); altered <- err }()
	waitFor(t, root, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE d.side%'")
	side := find(tables, "d.side")
	for w, q := range snap.Conns {
		if _, err := q.ExecContext(ctx, "SET SESSION lock_wait_timeout = 2"); err != nil {
			t.Fatal(err)
		}
		if _, n := readAll(t, q, side); n != 300 {
			t.Errorf("connection %d read %d rows of d.side, want 300", w, n)
		}
	}
	select {
	case err := <-altered:
		t.Fatalf("the ALTER finished while the snapshot was open: %v", err)
	default:
	}
	snap.Close()
	if err := <-altered; err != nil {
		t.Errorf("ALTER after the snapshot closed: %v", err)
	}
}

// waitFor polls q (a COUNT) until it is positive, for up to 10 s.
func waitFor(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	for range 100 {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("still 0 after 10 s: %s", q)
}
