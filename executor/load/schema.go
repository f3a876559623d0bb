package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/target"
)

// ErrSchemaMismatch means an existing target table lacks a column that the
// source table has.
var ErrSchemaMismatch = errors.New("target table has a different schema")

// CreateTable creates t's target schema and table from the source's
// CREATE TABLE (through routes) when they do not exist, then checks that
// the target table has every column the load inserts.
func CreateTable(ctx context.Context, db *sql.DB, t *dump.Table, createSQL string) error {
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+target.QuoteIdent(t.TargetSchema)); err != nil {
		return fmt.Errorf("create schema %s: %w", t.TargetSchema, err)
	}
	if _, err := db.ExecContext(ctx, createSQL); err != nil {
		return fmt.Errorf("create table %s: %w", t.TargetID(), err)
	}
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", t.TargetSchema, t.TargetName)
	if err != nil {
		return fmt.Errorf("describe target table %s: %w", t.TargetID(), err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("describe target table %s: %w", t.TargetID(), err)
		}
		have[strings.ToLower(n)] = true
	}
	rows.Close()
	var missing []string
	for _, c := range t.Inserted() {
		if !have[strings.ToLower(c.Name)] {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s has no column %s of source table %s", ErrSchemaMismatch, t.TargetID(), strings.Join(missing, ", "), t.ID())
	}
	return nil
}
