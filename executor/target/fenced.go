package target

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"
)

// WriteFenced runs stmts in one target transaction that commits only
// while f holds the source: BEGIN, the locking epoch read (the statement of
// CheckEpoch) and stmts travel together as multi-statement packets of at
// most maxPacket bytes (one round trip for a batch that fits), then COMMIT
// follows when the epoch read returned exactly f. That is two round trips
// for a typical sync batch instead of one per statement.
//
// db must allow multi-statements, and stmts must be complete SQL without
// placeholders. The epoch read is the first statement after BEGIN, so the
// transaction holds the epoch row's shared lock from before its first
// write until it ends, exactly as CheckEpoch does (see the package doc).
// Every statement runs on the server even when the epoch is stale, but
// nothing is committed then: WriteFenced rolls back and returns a
// *FencedError. When a statement fails, the error is a *StatementError
// (after the rollback), unless the epoch read showed a newer owner, which
// wins.
func (m Meta) WriteFenced(ctx context.Context, db *sql.DB, f Fence, stmts []string, maxPacket int) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("fenced write: %w", err)
	}
	open := false // a transaction may be open on conn
	defer func() {
		// After ctx's end (a stopped runner, maybe a partitioned target)
		// the connection is dropped without waiting for a ROLLBACK; so is a
		// connection whose ROLLBACK failed. The server rolls back a
		// dropped session's transaction.
		if open && (ctx.Err() != nil || !rollback(conn)) {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	// BEGIN and the epoch read always share the first packet.
	packets := packStatements(append([]string{"BEGIN;" + m.checkEpochSQL(f)}, stmts...), maxPacket)
	open = true
	if err := m.firstPacket(ctx, conn, f, packets[0]); err != nil {
		return err
	}
	for _, p := range packets[1:] {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return &StatementError{Err: err}
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		// On a lost connection or ctx's end the outcome is unknown; that is
		// safe for the reasons given at Commit.
		return fmt.Errorf("commit: %w", err)
	}
	open = false
	return nil
}

// rollbackTimeout bounds the ROLLBACK after a failed fenced write; past
// it the connection is dropped instead.
const rollbackTimeout = 5 * time.Second

// StatementError is a statement of a fenced write that the target
// rejected (its transaction was rolled back).
type StatementError struct{ Err error }

func (e *StatementError) Error() string { return "target rejected a statement: " + e.Err.Error() }
func (e *StatementError) Unwrap() error { return e.Err }

// firstPacket sends BEGIN, the epoch read and the first statements, and
// checks the epoch row before it reads the statements' results.
func (m Meta) firstPacket(ctx context.Context, conn *sql.Conn, f Fence, packet string) error {
	rows, err := conn.QueryContext(ctx, packet)
	if err != nil {
		return fmt.Errorf("check epoch: %w", err)
	}
	defer rows.Close()
	var inc int64
	var epoch uint64
	found := rows.Next()
	if found {
		if err := rows.Scan(&inc, &epoch); err != nil {
			return fmt.Errorf("check epoch: %w", err)
		}
	} else if err := rows.Err(); err != nil {
		return fmt.Errorf("check epoch: %w", err)
	}
	if ferr := epochMatches(f, found, inc, epoch); ferr != nil {
		return ferr
	}
	for rows.NextResultSet() { // the statements return no rows; this reads up to the last
	}
	if err := rows.Err(); err != nil {
		return &StatementError{Err: err}
	}
	if err := rows.Close(); err != nil {
		return &StatementError{Err: err}
	}
	return nil
}

func rollback(conn *sql.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_, err := conn.ExecContext(ctx, "ROLLBACK")
	return err == nil
}

func (m Meta) checkEpochSQL(f Fence) string {
	lock := " LOCK IN SHARE MODE"
	if m.Exclusive {
		lock = " FOR UPDATE"
	}
	return "SELECT incarnation, epoch FROM " + m.Table(EpochTable) + " WHERE task = " + QuoteString(f.Task) +
		" AND source = " + QuoteString(f.Source) + lock
}

// epochMatches is the verdict of an epoch read: nil when the row holds f.
func epochMatches(f Fence, found bool, inc int64, epoch uint64) error {
	if !found {
		return &FencedError{Ours: f, Missing: true}
	}
	if inc != f.Incarnation || epoch != f.Epoch {
		return &FencedError{Ours: f, StoredIncarnation: inc, StoredEpoch: epoch}
	}
	return nil
}

// packStatements joins stmts with ";" into packets of at most maxPacket
// bytes (a single longer statement is a packet of its own).
func packStatements(stmts []string, maxPacket int) []string {
	var out []string
	var b strings.Builder
	for _, s := range stmts {
		if b.Len() > 0 && b.Len()+1+len(s) > maxPacket {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(s)
	}
	return append(out, b.String())
}

// QuoteString is s as an SQL string literal, escaped as
// mysql_real_escape_string does (writer sessions do not set
// NO_BACKSLASH_ESCAPES).
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\x1a':
			b.WriteString(`\Z`)
		case '\'', '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
