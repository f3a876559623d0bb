package target

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/mariadb"
)

// TestExclusiveEpochLock: the FOR UPDATE variant of the epoch read (for
// TiDB, which has no shared row locks) fences exactly as the shared one: a
// raise waits for a writer holding the row, and the writer's next check
// after the raise is fenced. MariaDB is not TiDB, so ForServer keeps the
// shared lock there.
func TestExclusiveEpochLock(t *testing.T) {
	srv := mariadb.Start(t, mariadb.Options{Name: "xfence"})
	db := srv.DB(t)
	ctx := context.Background()
	if m := (Meta{Schema: "dm_meta"}).ForServer(ctx, db); m.Exclusive {
		t.Fatalf("MariaDB taken for TiDB")
	}
	m := Meta{Schema: "dm_meta", Exclusive: true}
	if err := m.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	old := Fence{Task: "t", Source: "s", Incarnation: 100, Epoch: 1}
	if !strings.HasSuffix(m.checkEpochSQL(old), " FOR UPDATE") {
		t.Fatalf("exclusive epoch read: %s", m.checkEpochSQL(old))
	}
	if err := m.RaiseEpoch(ctx, db, old, 5); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckEpoch(ctx, tx, old); err != nil {
		t.Fatal(err)
	}
	raised := make(chan error, 1)
	start := time.Now()
	go func() { raised <- m.RaiseEpoch(ctx, db, Fence{Task: "t", Source: "s", Incarnation: 100, Epoch: 2}, 10) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-raised:
		t.Fatalf("the raise did not wait for the writer holding the row: %v", err)
	default:
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-raised; err != nil {
		t.Fatalf("raise after the writer committed: %v", err)
	}
	t.Logf("the raise waited %v for the writer", time.Since(start).Round(time.Millisecond))
	tx2, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback() //nolint:errcheck
	if err := m.CheckEpoch(ctx, tx2, old); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old writer after the raise: got %v, want ErrFenced", err)
	}
}
