package load

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor/dump"
)

// ErrInfileInexact means a LOAD DATA batch did not load every row exactly
// (a warning: a duplicate key skipped, a value adjusted); the chunk's
// transaction was rolled back and the chunk must be loaded with INSERT,
// which reports such a row as an error.
var ErrInfileInexact = errors.New("LOAD DATA did not load every row exactly")

// InfileSupported reports whether the target accepts LOAD DATA LOCAL
// INFILE (local_infile on). Any doubt means no: INSERT always works.
func InfileSupported(ctx context.Context, db *sql.DB) bool {
	var on sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
		return false
	}
	return on.String == "1" || strings.EqualFold(on.String, "ON")
}

var infileSeq atomic.Uint64

// execInfile runs a LOAD DATA batch in tx, its rows served from memory
// under a name of its own, and checks that every row was loaded without a
// warning.
func execInfile(ctx context.Context, tx *sql.Tx, b dump.Batch, table string) error {
	name := fmt.Sprintf("dmraft-rows-%d", infileSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(b.Infile) })
	defer mysql.DeregisterReaderHandler(name)
	stmt := strings.Replace(string(b.SQL), dump.InfilePlaceholder, "Reader::"+name, 1)
	res, err := tx.ExecContext(ctx, stmt)
	if err != nil {
		return fmt.Errorf("load data into %s: %w", table, err)
	}
	loaded, _ := res.RowsAffected()
	var warnings int64
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return fmt.Errorf("load data into %s: read the warning count: %w", table, err)
	}
	if warnings > 0 || loaded < b.Rows {
		var level, msg string
		var code int
		_ = tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg)
		return fmt.Errorf("%w: %s: %d of %d rows, %d warnings (first: %s)", ErrInfileInexact, table, loaded, b.Rows, warnings, msg)
	}
	return nil
}
