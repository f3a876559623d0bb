package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/dmraft/dmraft/executor/sync/dml"
)

// tableCache reads target tables from information_schema; it is cleared
// after every DDL.
type tableCache struct {
	db     *sql.DB
	tables map[string]*dml.Table
	// layouts by target table and binlog column list
	layouts map[string]*dml.Layout
}

func newTableCache(db *sql.DB) *tableCache {
	return &tableCache{db: db, tables: map[string]*dml.Table{}, layouts: map[string]*dml.Layout{}}
}

func (c *tableCache) clear() {
	clear(c.tables)
	clear(c.layouts)
}

// layout returns the mapping of binlog columns onto the target table.
func (c *tableCache) layout(ctx context.Context, schema, table string, cols []string) (*dml.Layout, error) {
	key := schema + "\x00" + table + "\x00" + strings.Join(cols, "\x00")
	if l, ok := c.layouts[key]; ok {
		return l, nil
	}
	t, err := c.table(ctx, schema, table)
	if err != nil {
		return nil, err
	}
	l, err := dml.NewLayout(t, cols)
	if err != nil {
		return nil, err
	}
	c.layouts[key] = l
	return l, nil
}

func (c *tableCache) table(ctx context.Context, schema, name string) (*dml.Table, error) {
	id := schema + "." + name
	if t, ok := c.tables[id]; ok {
		return t, nil
	}
	t := &dml.Table{Schema: schema, Name: name}
	rows, err := c.db.QueryContext(ctx, `SELECT COLUMN_NAME, IFNULL(CHARACTER_SET_NAME, ''), DATA_TYPE, IFNULL(EXTRA, '')
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	for rows.Next() {
		var col, cs, typ, extra string
		if err := rows.Scan(&col, &cs, &typ, &extra); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
		}
		typ = strings.ToLower(typ)
		if typ == "enum" || typ == "set" { // values arrive as numbers
			cs = ""
		}
		if strings.Contains(typ, "blob") || strings.Contains(typ, "binary") {
			cs = "binary"
		}
		gen := strings.Contains(strings.ToUpper(extra), "GENERATED") || strings.Contains(strings.ToUpper(extra), "VIRTUAL") ||
			strings.Contains(strings.ToUpper(extra), "PERSISTENT") || strings.Contains(strings.ToUpper(extra), "STORED")
		t.Columns = append(t.Columns, dml.Column{Name: col, Charset: cs, Float: typ == "float" || typ == "double", Generated: gen})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s", errTargetTableMissing, id)
	}
	if err := c.readKeys(ctx, t); err != nil {
		return nil, err
	}
	t.Init()
	c.tables[id] = t
	return t, nil
}

func (c *tableCache) readKeys(ctx context.Context, t *dml.Table) error {
	rows, err := c.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, IFNULL(NULLABLE, ''), SUB_PART
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
ORDER BY INDEX_NAME, SEQ_IN_INDEX`, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("read keys of target table %s: %w", t, err)
	}
	defer rows.Close()
	byName := map[string]*dml.Key{}
	var order []string
	prefix := map[string]bool{}
	for rows.Next() {
		var idx, col, nullable string
		var sub sql.NullInt64
		if err := rows.Scan(&idx, &col, &nullable, &sub); err != nil {
			return fmt.Errorf("read keys of target table %s: %w", t, err)
		}
		k, ok := byName[idx]
		if !ok {
			k = &dml.Key{Name: idx}
			byName[idx] = k
			order = append(order, idx)
		}
		k.Columns = append(k.Columns, col)
		k.Nullable = k.Nullable || nullable == "YES"
		if sub.Valid {
			prefix[idx] = true // a prefix key: values may differ beyond the prefix, still unique
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "PRIMARY" && order[j] != "PRIMARY" })
	for _, name := range order {
		if prefix[name] {
			continue // conflict detection on full values would miss prefix collisions; never a handle
		}
		t.Keys = append(t.Keys, *byName[name])
	}
	return nil
}
