package target

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/mariadb"
)

func TestEpochFencing(t *testing.T) {
	srv := mariadb.Start(t, mariadb.Options{Name: "fence"})
	db := srv.DB(t)
	ctx := context.Background()
	m := Meta{Schema: "dm_meta"}
	if err := m.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	old := Fence{Task: "t", Source: "s", Incarnation: 100, Epoch: 1}
	if err := m.RaiseEpoch(ctx, db, old, 5); err != nil {
		t.Fatal(err)
	}

	// A writer of epoch 1 holds the shared lock: the raise to 2 waits for it.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckEpoch(ctx, tx, old); err != nil {
		t.Fatal(err)
	}
	next := old
	next.Epoch = 2
	raised := make(chan error, 1)
	start := time.Now()
	go func() { raised <- m.RaiseEpoch(ctx, db, next, 10) }()
	select {
	case err := <-raised:
		t.Fatalf("raise finished (%v) while a writer of the old epoch was in its transaction", err)
	case <-time.After(700 * time.Millisecond):
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS dm_meta.w (x INT)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("the old owner's transaction that began before the raise must commit: %v", err)
	}
	if err := <-raised; err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 700*time.Millisecond {
		t.Fatal("raise did not wait")
	}

	// After the raise the old owner is fenced, in a new transaction.
	tx2, _ := db.BeginTx(ctx, nil)
	err = m.CheckEpoch(ctx, tx2, old)
	tx2.Rollback()
	var fe *FencedError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFenced) || fe.StoredEpoch != 2 {
		t.Fatalf("stale writer: got %v, want a FencedError with stored epoch 2", err)
	}
	// The epoch never goes down.
	if err := m.RaiseEpoch(ctx, db, old, 5); !errors.Is(err, ErrFenced) {
		t.Fatalf("lowering the epoch: got %v, want ErrFenced", err)
	}
	// A re-created source (newer incarnation, epoch 1 again) takes over; the
	// older incarnation is fenced whatever its epoch.
	reborn := Fence{Task: "t", Source: "s", Incarnation: 200, Epoch: 1}
	if err := m.RaiseEpoch(ctx, db, reborn, 5); err != nil {
		t.Fatal(err)
	}
	tx3, _ := db.BeginTx(ctx, nil)
	err = m.CheckEpoch(ctx, tx3, next)
	tx3.Rollback()
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("older incarnation: got %v, want ErrFenced", err)
	}
	if err := m.RaiseEpoch(ctx, db, next, 5); !errors.Is(err, ErrFenced) {
		t.Fatalf("older incarnation raise: got %v, want ErrFenced", err)
	}
}
