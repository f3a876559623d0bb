package target

import (
	"context"
	"database/sql"
)

// Commit commits tx but returns when ctx ends, without waiting for the
// server's answer. database/sql's Commit takes no context, and against a
// target that stopped answering (a partition) it would hold a cancelled,
// fenced runner for as long as the connection's read timeout.
//
// On ctx's end the outcome is unknown: the COMMIT finishes or fails in the
// background. That is safe: the transaction did its epoch check before, so
// it holds the epoch row's shared lock and a new owner's RaiseEpoch waits
// for it; and its checkpoint commits or not together with its rows, so the
// next run resumes from whatever the target has.
func Commit(ctx context.Context, tx *sql.Tx) error {
	done := make(chan error, 1)
	go func() { done <- tx.Commit() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
