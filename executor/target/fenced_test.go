package target

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/test/mariadb"
)

// fencedFixture is a meta schema with epoch 1 of t/s and a data table,
// reached through a multi-statement pool of one connection (so a
// transaction left open would show up in the next write).
func fencedFixture(t *testing.T) (*sql.DB, *sql.DB, Meta, Fence) {
	srv := mariadb.Start(t, mariadb.Options{Name: "fenced"})
	root := srv.DB(t)
	ctx := context.Background()
	m := Meta{Schema: "dm_meta"}
	if err := m.Ensure(ctx, root); err != nil {
		t.Fatal(err)
	}
	f := Fence{Task: "t", Source: "s", Incarnation: 100, Epoch: 1}
	if err := m.RaiseEpoch(ctx, root, f, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := root.ExecContext(ctx, "CREATE TABLE dm_meta.w (id INT PRIMARY KEY, v VARCHAR(20))"); err != nil {
		t.Fatal(err)
	}
	c := srv.Config("")
	c.MultiStatements = true
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return root, db, m, f
}

func countRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM dm_meta.w").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func inserts(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "INSERT INTO dm_meta.w VALUES ("+strconv.Itoa(i)+", "+QuoteString("it's \\ "+strconv.Itoa(i))+")")
	}
	return out
}

func TestWriteFenced(t *testing.T) {
	root, db, m, f := fencedFixture(t)
	ctx := context.Background()

	// The owner commits, in one packet and in several.
	if err := m.WriteFenced(ctx, db, f, inserts(0, 3), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFenced(ctx, db, f, inserts(3, 10), 60); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, root); n != 10 {
		t.Fatalf("after two fenced writes: %d rows, want 10", n)
	}
	var v string
	if err := root.QueryRow("SELECT v FROM dm_meta.w WHERE id = 1").Scan(&v); err != nil || v != `it's \ 1` {
		t.Fatalf("QuoteString round trip: %q, %v", v, err)
	}

	// A rejected statement rolls back the statements before it and leaves
	// no transaction open on the pooled connection.
	bad := append(inserts(10, 12), "INSERT INTO dm_meta.w VALUES (0, 'duplicate')")
	err := m.WriteFenced(ctx, db, f, bad, 1<<20)
	var se *StatementError
	if !errors.As(err, &se) {
		t.Fatalf("duplicate key: got %v, want a StatementError", err)
	}
	if n := countRows(t, root); n != 10 {
		t.Fatalf("after a rejected batch: %d rows, want 10", n)
	}
	var inTx int
	if err := db.QueryRow("SELECT @@in_transaction").Scan(&inTx); err != nil || inTx != 0 {
		t.Fatalf("pooled connection after a rejected batch: in_transaction=%d, %v", inTx, err)
	}

	// A newer owner: the stale write runs its statements but never
	// commits, also when one of them fails (the fence wins).
	next := f
	next.Epoch = 2
	if err := m.RaiseEpoch(ctx, root, next, 5); err != nil {
		t.Fatal(err)
	}
	for _, stmts := range [][]string{inserts(20, 25), append(inserts(25, 26), "INSERT INTO dm_meta.w VALUES (0, 'dup')")} {
		err := m.WriteFenced(ctx, db, f, stmts, 1<<20)
		var fe *FencedError
		if !errors.As(err, &fe) || fe.StoredEpoch != 2 {
			t.Fatalf("stale owner: got %v, want a FencedError with stored epoch 2", err)
		}
	}
	if n := countRows(t, root); n != 10 {
		t.Fatalf("a stale owner committed: %d rows, want 10", n)
	}
	if err := m.WriteFenced(ctx, db, next, inserts(20, 21), 1<<20); err != nil {
		t.Fatalf("the new owner on the same pooled connection: %v", err)
	}
}

// TestWriteFencedRaceWithRaise covers both orders of a fenced write and a
// new owner's RaiseEpoch (the package doc's cases 1 and 2).
func TestWriteFencedRaceWithRaise(t *testing.T) {
	root, db, m, f := fencedFixture(t)
	ctx := context.Background()
	next := f
	next.Epoch = 2

	// Case 1: the write read the epoch first; the raise waits for its
	// commit, and the write commits.
	wrote := make(chan error, 1)
	go func() { wrote <- m.WriteFenced(ctx, db, f, append(inserts(0, 2), "DO SLEEP(1.2)"), 1<<20) }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := m.RaiseEpoch(ctx, root, next, 10); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("a write that read the epoch before the raise must commit: %v", err)
		}
	default:
		t.Fatal("the raise finished while the old owner's write was in its transaction")
	}
	if waited < 500*time.Millisecond {
		t.Fatalf("the raise waited only %v for the writer's shared lock", waited)
	}
	if n := countRows(t, root); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}

	// Case 2: a raise holds the epoch row; a stale write waits for it,
	// then sees the new epoch and commits nothing.
	tx, err := root.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE dm_meta."+EpochTable+" SET epoch = 3 WHERE task = 't' AND source = 's'"); err != nil {
		t.Fatal(err)
	}
	go func() { wrote <- m.WriteFenced(ctx, db, next, inserts(10, 12), 1<<20) }()
	select {
	case err := <-wrote:
		t.Fatalf("a write finished (%v) while a raise held the epoch row", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-wrote
	var fe *FencedError
	if !errors.As(err, &fe) || fe.StoredEpoch != 3 {
		t.Fatalf("write behind a raise: got %v, want a FencedError with stored epoch 3", err)
	}
	if n := countRows(t, root); n != 2 {
		t.Fatalf("a fenced write committed: %d rows, want 2", n)
	}
}

func TestPackStatements(t *testing.T) {
	got := packStatements([]string{"aaaa", "bb", "cccccccc", "d"}, 8)
	want := []string{"aaaa;bb", "cccccccc", "d"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if q := QuoteString("a'b\\c\x00\n"); q != `'a\'b\\c\0\n'` {
		t.Fatalf("QuoteString: %s", q)
	}
}

// TestWriteFencedCancelled: a write whose context ends mid-transaction
// (a stopped runner) returns at once, without waiting for a ROLLBACK, and
// commits nothing; the pool stays usable.
func TestWriteFencedCancelled(t *testing.T) {
	root, db, m, f := fencedFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.WriteFenced(ctx, db, f, append(inserts(0, 2), "DO SLEEP(5)"), 1<<20)
	if err == nil {
		t.Fatal("a write cancelled mid-transaction reported success")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a cancelled write took %v to return", d)
	}
	if n := countRows(t, root); n != 0 {
		t.Fatalf("a cancelled write committed %d rows", n)
	}
	if err := m.WriteFenced(context.Background(), db, f, inserts(5, 6), 1<<20); err != nil {
		t.Fatalf("the pool after a cancelled write: %v", err)
	}
}
