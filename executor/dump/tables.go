package dump

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// Column is one upstream column.
type Column struct {
	Name      string
	DataType  string // information_schema DATA_TYPE, lower case
	Charset   string // CHARACTER_SET_NAME; "" for non-string types
	Unsigned  bool
	Generated bool // virtual or stored generated: never inserted
}

// Table is one selected upstream table and where it goes.
type Table struct {
	Schema, Name             string // upstream
	TargetSchema, TargetName string
	Columns                  []Column
	Key                      []int // chunking key: primary key or unique NOT NULL key; nil when none
	EstRows, EstBytes        int64
	CreateSQL                string // SHOW CREATE TABLE upstream, when read with the table (OpenSnapshotTables)
}

// ID is schema.table, the name used in checkpoints.
func (t *Table) ID() string { return t.Schema + "." + t.Name }

// TargetID is the routed schema.table.
func (t *Table) TargetID() string { return t.TargetSchema + "." + t.TargetName }

// Inserted returns the columns that are inserted (not generated).
func (t *Table) Inserted() []Column {
	out := make([]Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.Generated {
			out = append(out, c)
		}
	}
	return out
}

// KeyColumns returns the chunking key's columns.
func (t *Table) KeyColumns() []Column {
	out := make([]Column, len(t.Key))
	for i, k := range t.Key {
		out[i] = t.Columns[k]
	}
	return out
}

// ListTables returns the base tables that sel allows, sorted by name, with
// their columns, chunking key and size estimates.
func ListTables(ctx context.Context, db Querier, sel *Selector) ([]*Table, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0)
FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("list upstream tables: %w", err)
	}
	var tables []*Table
	for rows.Next() {
		t := &Table{}
		if err := rows.Scan(&t.Schema, &t.Name, &t.EstRows, &t.EstBytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list upstream tables: %w", err)
		}
		if sel.TableAllowed(t.Schema, t.Name) {
			t.TargetSchema, t.TargetName = sel.Route(t.Schema, t.Name)
			tables = append(tables, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list upstream tables: %w", err)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].ID() < tables[j].ID() })
	for _, t := range tables {
		if err := describe(ctx, db, t); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

// Querier is a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func describe(ctx context.Context, db Querier, t *Table) error {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, LOWER(DATA_TYPE), COALESCE(CHARACTER_SET_NAME, ''), LOWER(COLUMN_TYPE), UPPER(EXTRA), IS_NULLABLE
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("describe %s: %w", t.ID(), err)
	}
	notNull := map[string]bool{}
	for rows.Next() {
		var c Column
		var colType, extra, nullable string
		if err := rows.Scan(&c.Name, &c.DataType, &c.Charset, &colType, &extra, &nullable); err != nil {
			rows.Close()
			return fmt.Errorf("describe %s: %w", t.ID(), err)
		}
		c.Unsigned = strings.Contains(colType, "unsigned")
		c.Generated = strings.Contains(extra, "GENERATED") || extra == "VIRTUAL" || extra == "PERSISTENT" || extra == "STORED"
		if c.DataType == "json" && c.Charset == "" {
			c.Charset = "utf8mb4"
		}
		notNull[c.Name] = nullable == "NO"
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("describe %s: %w", t.ID(), err)
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("describe %s: no columns (dropped during the dump?)", t.ID())
	}

	rows, err = db.QueryContext(ctx, `SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART IS NOT NULL
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("describe %s keys: %w", t.ID(), err)
	}
	type index struct {
		cols   []string
		usable bool
	}
	indexes := map[string]*index{}
	var names []string
	for rows.Next() {
		var name, col string
		var nonUnique int
		var prefix bool
		if err := rows.Scan(&name, &nonUnique, &col, &prefix); err != nil {
			rows.Close()
			return fmt.Errorf("describe %s keys: %w", t.ID(), err)
		}
		ix := indexes[name]
		if ix == nil {
			ix = &index{usable: true}
			indexes[name] = ix
			names = append(names, name)
		}
		ix.cols = append(ix.cols, col)
		ix.usable = ix.usable && nonUnique == 0 && !prefix && notNull[col]
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("describe %s keys: %w", t.ID(), err)
	}
	// PRIMARY first, then the unique NOT NULL key with the fewest columns.
	sort.SliceStable(names, func(i, j int) bool {
		if (names[i] == "PRIMARY") != (names[j] == "PRIMARY") {
			return names[i] == "PRIMARY"
		}
		return len(indexes[names[i]].cols) < len(indexes[names[j]].cols)
	})
	for _, n := range names {
		ix := indexes[n]
		if !ix.usable || !keyComparable(t, ix.cols) {
			continue
		}
		for _, col := range ix.cols {
			for i, c := range t.Columns {
				if c.Name == col {
					t.Key = append(t.Key, i)
				}
			}
		}
		break
	}
	return nil
}

// keyComparable refuses keys with types whose literals do not compare
// like the stored values sort (floating point, BIT, ENUM, SET, spatial);
// such a key is skipped for the next one, or the table is one chunk.
func keyComparable(t *Table, cols []string) bool {
	for _, name := range cols {
		for _, c := range t.Columns {
			if c.Name == name {
				switch c.DataType {
				case "float", "double", "real", "bit", "enum", "set":
					// Approximate values, or an order (ENUM/SET by index, BIT
					// as a number) that a literal does not compare by.
					return false
				}
				if kindOf(c) == kindOther {
					return false
				}
			}
		}
	}
	return true
}
