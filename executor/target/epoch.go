package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrFenced means a newer owner of the source has raised the epoch on the
// target: this process is stale and must not write.
var ErrFenced = errors.New("fenced: a newer owner holds this source")

// Fence identifies the owner of one subtask's writes.
type Fence struct {
	Task        string
	Source      string
	Incarnation int64  // the source record's created_unix_ms
	Epoch       uint64 // the binding epoch
}

// FencedError tells which token won.
type FencedError struct {
	Ours              Fence
	StoredIncarnation int64
	StoredEpoch       uint64
	Missing           bool
}

func (e *FencedError) Error() string {
	if e.Missing {
		return fmt.Sprintf("%v: no epoch row for task %s source %s on the target (meta schema dropped?)", ErrFenced, e.Ours.Task, e.Ours.Source)
	}
	return fmt.Sprintf("%v: task %s source %s: target holds epoch %d (incarnation %d), ours is %d (incarnation %d)",
		ErrFenced, e.Ours.Task, e.Ours.Source, e.StoredEpoch, e.StoredIncarnation, e.Ours.Epoch, e.Ours.Incarnation)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// RaiseEpoch makes f the owner on the target. It never lowers the stored
// epoch of the same incarnation: when the stored token is newer than f, it
// returns a *FencedError. It waits for writers holding the epoch row (see
// the package doc) for at most lockWait seconds, then returns the lock wait
// error, which callers retry.
func (m Meta) RaiseEpoch(ctx context.Context, db *sql.DB, f Fence, lockWait int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("raise epoch: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", max(lockWait, 1))); err != nil {
		return fmt.Errorf("raise epoch: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("raise epoch: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var inc int64
	var epoch uint64
	err = tx.QueryRowContext(ctx, "SELECT incarnation, epoch FROM "+m.Table(EpochTable)+" WHERE task = ? AND source = ? FOR UPDATE",
		f.Task, f.Source).Scan(&inc, &epoch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, "INSERT INTO "+m.Table(EpochTable)+" (task, source, incarnation, epoch) VALUES (?, ?, ?, ?)",
			f.Task, f.Source, f.Incarnation, f.Epoch)
	case err != nil:
	case inc > f.Incarnation || (inc == f.Incarnation && epoch > f.Epoch):
		return &FencedError{Ours: f, StoredIncarnation: inc, StoredEpoch: epoch}
	case inc == f.Incarnation && epoch == f.Epoch:
		return tx.Commit()
	default:
		_, err = tx.ExecContext(ctx, "UPDATE "+m.Table(EpochTable)+" SET incarnation = ?, epoch = ?, updated_at = CURRENT_TIMESTAMP(3) WHERE task = ? AND source = ?",
			f.Incarnation, f.Epoch, f.Task, f.Source)
	}
	if err != nil {
		return fmt.Errorf("raise epoch of %s/%s to %d: %w", f.Task, f.Source, f.Epoch, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("raise epoch of %s/%s to %d: %w", f.Task, f.Source, f.Epoch, err)
	}
	return nil
}

// CheckEpoch is the first statement of every write transaction: a shared
// locking read of the epoch row that fails with a *FencedError unless the
// row holds exactly f. The shared lock is held until tx ends, so a
// concurrent RaiseEpoch waits for tx (see the package doc).
func (m Meta) CheckEpoch(ctx context.Context, tx *sql.Tx, f Fence) error {
	var inc int64
	var epoch uint64
	err := tx.QueryRowContext(ctx, m.checkEpochSQL(f)).Scan(&inc, &epoch)
	found := true
	switch {
	case errors.Is(err, sql.ErrNoRows):
		found = false
	case err != nil:
		return fmt.Errorf("check epoch: %w", err)
	}
	return epochMatches(f, found, inc, epoch)
}

// InTx runs fn in a transaction of db that starts with CheckEpoch for f
// and commits (target.Commit) only when fn succeeds.
func (m Meta) InTx(ctx context.Context, db *sql.DB, f Fence, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := m.CheckEpoch(ctx, tx, f); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return Commit(ctx, tx)
}
