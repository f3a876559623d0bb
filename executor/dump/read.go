package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Batch is one multi-row INSERT of a chunk.
type Batch struct {
	SQL  []byte
	Rows int64
}

// ReadError marks an error of the source side of a chunk: the snapshot
// connection is gone or the table changed, so retrying on the same
// connection does not help.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// StreamChunk reads chunk c through q (a connection inside the snapshot)
// and hands it to emit as INSERT statements of about maxStmt bytes each,
// one at a time; verb is "INSERT", "REPLACE" or "INSERT IGNORE".
// Generated columns are left out. It returns the statement bytes emitted.
// An error from emit stops the read and is returned as is; read errors are
// *ReadError.
func StreamChunk(ctx context.Context, q Querier, c *Chunk, verb string, maxStmt int, emit func(Batch) error) (int64, error) {
	return StreamChunkInto(ctx, q, c, quoteTable(c.Table.TargetSchema, c.Table.TargetName), verb, maxStmt, emit)
}

// StreamChunkInto is StreamChunk with the statements' table given as
// quoted SQL (a dump file names the upstream table without its schema).
func StreamChunkInto(ctx context.Context, q Querier, c *Chunk, into, verb string, maxStmt int, emit func(Batch) error) (int64, error) {
	where, err := c.Where()
	if err != nil {
		return 0, &ReadError{err}
	}
	cols := c.Table.Inserted()
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = quoteIdent(col.Name)
	}
	list := strings.Join(names, ",")
	rows, err := q.QueryContext(ctx, "SELECT "+list+" FROM "+quoteTable(c.Table.Schema, c.Table.Name)+where)
	if err != nil {
		return 0, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
	}
	defer rows.Close()
	head := verb + " INTO " + into + " (" + list + ") VALUES "
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var cur []byte
	var curRows, bytes int64
	flush := func() error {
		if curRows == 0 {
			return nil
		}
		bytes += int64(len(cur))
		b := Batch{SQL: cur, Rows: curRows}
		cur, curRows = nil, 0
		return emit(b)
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return bytes, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
		}
		if cur == nil {
			cur = make([]byte, 0, maxStmt+maxStmt/8)
			cur = append(cur, head...)
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, '(')
		for i, v := range raw {
			if i > 0 {
				cur = append(cur, ',')
			}
			cur = AppendLiteral(cur, cols[i], v)
		}
		cur = append(cur, ')')
		curRows++
		if len(cur) >= maxStmt {
			if err := flush(); err != nil {
				return bytes, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return bytes, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
	}
	return bytes, flush()
}

// ShowCreateTable returns the CREATE TABLE statement of t, rewritten to
// create the routed target table if it does not exist.
func ShowCreateTable(ctx context.Context, q Querier, t *Table) (string, error) {
	ddl, err := RawCreateTable(ctx, q, t)
	if err != nil {
		return "", err
	}
	return RouteCreateTable(ddl, t)
}

// RawCreateTable returns SHOW CREATE TABLE of t as the source prints it.
func RawCreateTable(ctx context.Context, q Querier, t *Table) (string, error) {
	var name, ddl string
	if err := q.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteTable(t.Schema, t.Name)).Scan(&name, &ddl); err != nil {
		return "", fmt.Errorf("show create table %s: %w", t.ID(), err)
	}
	return ddl, nil
}

// RouteCreateTable rewrites "CREATE TABLE `name` ..." (SHOW CREATE TABLE's
// form) into a CREATE TABLE IF NOT EXISTS of t's routed target table.
func RouteCreateTable(ddl string, t *Table) (string, error) {
	prefix := "CREATE TABLE " + quoteIdent(t.Name)
	if !strings.HasPrefix(ddl, prefix) {
		return "", fmt.Errorf("show create table %s: unexpected statement start %.40q", t.ID(), ddl)
	}
	return "CREATE TABLE IF NOT EXISTS " + quoteTable(t.TargetSchema, t.TargetName) + ddl[len(prefix):], nil
}
