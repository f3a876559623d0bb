package units

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
)

// Transient reports whether err is worth retrying: lost or refused
// connections, server shutdown, lock wait timeouts and deadlocks, and an
// FSM command computed from a view that has moved on.
func Transient(err error) bool {
	var re *dump.ReadError
	if err == nil || errors.Is(err, target.ErrFenced) || errors.Is(err, context.Canceled) || errors.As(err, &re) {
		return false
	}
	if fsm.HasCode(err, fsm.CodeShardInfoChanged) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1213, 1317, 1927, 2006, 2013, 1158, 1159, 1160, 1161:
			return true
		}
	}
	return false
}

// retry runs fn until it succeeds, fails with a permanent error, ctx ends,
// or transient errors have lasted retryBudget.
func retry(ctx context.Context, log zerolog.Logger, what string, fn func() error) error {
	start := time.Now()
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !Transient(err) || time.Since(start) > retryBudget || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		log.Warn().Err(err).Int("attempt", attempt).Str("op", what).Msg("transient error, retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 3*time.Second)
	}
}
