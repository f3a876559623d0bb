package dump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Batch is one multi-row INSERT of a chunk, or one LOAD DATA statement
// (SQL names InfilePlaceholder as its file) with its rows in Infile.
type Batch struct {
	SQL    []byte
	Rows   int64
	Infile []byte
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
	rows, cols, list, err := queryChunk(ctx, q, c)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	head := verb + " INTO " + into + " (" + list + ") VALUES "
	return streamRows(c, rows, maxStmt, func(buf []byte, raw []sql.RawBytes) []byte {
		if len(buf) == 0 {
			buf = append(buf, head...)
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, '(')
		for i, v := range raw {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendLiteral(buf, cols[i], v)
		}
		return append(buf, ')')
	}, func(buf []byte, n int64) error { return emit(Batch{SQL: buf, Rows: n}) })
}

// streamRows appends each row of rows to a buffer with appendRow and hands
// the buffer to flush whenever it reaches max bytes, and at the end. It
// returns the bytes flushed.
func streamRows(c *Chunk, rows *sql.Rows, max int, appendRow func(buf []byte, raw []sql.RawBytes) []byte, flush func(buf []byte, n int64) error) (int64, error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
	}
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var cur []byte
	var curRows, bytes int64
	send := func() error {
		if curRows == 0 {
			return nil
		}
		bytes += int64(len(cur))
		b, n := cur, curRows
		cur, curRows = nil, 0
		return flush(b, n)
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return bytes, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
		}
		if cur == nil {
			cur = make([]byte, 0, max+max/8)
		}
		cur = appendRow(cur, raw)
		curRows++
		if len(cur) >= max {
			if err := send(); err != nil {
				return bytes, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return bytes, &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
	}
	return bytes, send()
}

// queryChunk selects the inserted columns of chunk c's rows; list is the
// quoted column list.
func queryChunk(ctx context.Context, q Querier, c *Chunk) (rows *sql.Rows, cols []Column, list string, err error) {
	where, err := c.Where()
	if err != nil {
		return nil, nil, "", &ReadError{err}
	}
	cols = c.Table.Inserted()
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = quoteIdent(col.Name)
	}
	list = strings.Join(names, ",")
	rows, err = q.QueryContext(ctx, "SELECT "+list+" FROM "+quoteTable(c.Table.Schema, c.Table.Name)+where)
	if err != nil {
		return nil, nil, "", &ReadError{fmt.Errorf("read chunk %s: %w", c.ID(), err)}
	}
	return rows, cols, list, nil
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
