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

// ReadChunk reads chunk c through q (a connection inside the snapshot) and
// returns it as INSERT statements of at most about maxStmt bytes each;
// verb is "INSERT", "REPLACE" or "INSERT IGNORE". Generated columns are
// left out.
func ReadChunk(ctx context.Context, q Querier, c *Chunk, verb string, maxStmt int) ([]Batch, int64, error) {
	where, err := c.Where()
	if err != nil {
		return nil, 0, err
	}
	cols := c.Table.Inserted()
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = quoteIdent(col.Name)
	}
	list := strings.Join(names, ",")
	rows, err := q.QueryContext(ctx, "SELECT "+list+" FROM "+quoteTable(c.Table.Schema, c.Table.Name)+where)
	if err != nil {
		return nil, 0, fmt.Errorf("read chunk %s: %w", c.ID(), err)
	}
	defer rows.Close()
	head := verb + " INTO " + quoteTable(c.Table.TargetSchema, c.Table.TargetName) + " (" + list + ") VALUES "
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var batches []Batch
	var cur []byte
	var curRows, bytes int64
	flush := func() {
		if curRows > 0 {
			bytes += int64(len(cur))
			batches = append(batches, Batch{SQL: cur, Rows: curRows})
		}
		cur, curRows = nil, 0
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, fmt.Errorf("read chunk %s: %w", c.ID(), err)
		}
		if cur == nil {
			cur = make([]byte, 0, min(maxStmt+maxStmt/4, 4<<20))
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
			flush()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read chunk %s: %w", c.ID(), err)
	}
	flush()
	return batches, bytes, nil
}

// ShowCreateTable returns the CREATE TABLE statement of t, rewritten to
// create the routed target table if it does not exist.
func ShowCreateTable(ctx context.Context, q Querier, t *Table) (string, error) {
	var name, ddl string
	if err := q.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteTable(t.Schema, t.Name)).Scan(&name, &ddl); err != nil {
		return "", fmt.Errorf("show create table %s: %w", t.ID(), err)
	}
	prefix := "CREATE TABLE " + quoteIdent(t.Name)
	if !strings.HasPrefix(ddl, prefix) {
		return "", fmt.Errorf("show create table %s: unexpected statement start %.40q", t.ID(), ddl)
	}
	return "CREATE TABLE IF NOT EXISTS " + quoteTable(t.TargetSchema, t.TargetName) + ddl[len(prefix):], nil
}
