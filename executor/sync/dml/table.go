package dml

import (
	"fmt"
	"strings"
)

// Column is one column of a target table.
type Column struct {
	Name string
	// Charset is the column's character set for character columns,
	// "binary" for binary strings and "" for every other type.
	Charset   string
	Float     bool // FLOAT or DOUBLE: compared through its exact value
	Generated bool // computed by the server: never written
}

// Key is a unique key (the primary key first when the table has one).
type Key struct {
	Name     string
	Columns  []string
	Nullable bool // some column may be NULL: a NULL value never conflicts
}

// Table is the target side of a table, read from the target's
// information_schema. Because every DDL is applied to the target before the
// changes after it, the target's keys are those of the source at the
// change's position.
type Table struct {
	Schema, Name string
	Columns      []Column
	// Keys lists the unique keys, the primary key first. Handle is the key
	// that identifies a row (the primary key, or the first unique key whose
	// columns are NOT NULL); nil means the table has none and rows are
	// matched by every column.
	Keys   []Key
	Handle *Key

	index map[string]int // lower-case column name -> position in Columns
}

// Init builds the column index; call it after filling the fields.
func (t *Table) Init() {
	t.index = make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		t.index[strings.ToLower(c.Name)] = i
	}
	t.Handle = nil
	for i := range t.Keys {
		if !t.Keys[i].Nullable {
			t.Handle = &t.Keys[i]
			break
		}
	}
}

// Column returns the target column named name, case-insensitively.
func (t *Table) Column(name string) (*Column, bool) {
	i, ok := t.index[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return &t.Columns[i], true
}

// QuotedName is `schema`.`table`.
func (t *Table) QuotedName() string { return QuoteIdent(t.Schema) + "." + QuoteIdent(t.Name) }

func (t *Table) String() string { return t.Schema + "." + t.Name }

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// Layout maps the columns of a binlog row image onto a target table.
type Layout struct {
	Table *Table
	// Src[i] is the binlog column index of Cols[i]; Cols are the writable
	// target columns present in the binlog image.
	Src  []int
	Cols []*Column
	// keySrc[k][j] is the binlog index of column j of Table.Keys[k], and
	// keyCols[k][j] that column.
	keySrc  [][]int
	keyCols [][]*Column
}

// NewLayout matches binlog column names against the target table. A
// binlog column missing on the target is an error (the schemas diverged).
func NewLayout(t *Table, binlogCols []string) (*Layout, error) {
	l := &Layout{Table: t}
	pos := make(map[string]int, len(binlogCols))
	for i, name := range binlogCols {
		pos[strings.ToLower(name)] = i
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("column %s of the binlog row is not in target table %s: the schemas diverged", QuoteIdent(name), t)
		}
		if c.Generated {
			continue
		}
		l.Src = append(l.Src, i)
		l.Cols = append(l.Cols, c)
	}
	for _, k := range t.Keys {
		idx := make([]int, len(k.Columns))
		cols := make([]*Column, len(k.Columns))
		for j, name := range k.Columns {
			p, ok := pos[strings.ToLower(name)]
			if !ok {
				return nil, fmt.Errorf("key column %s of target table %s is not in the binlog row", QuoteIdent(name), t)
			}
			idx[j] = p
			cols[j], _ = t.Column(name)
		}
		l.keySrc = append(l.keySrc, idx)
		l.keyCols = append(l.keyCols, cols)
	}
	return l, nil
}

// handleIndex returns the position of Table.Handle in Table.Keys, or -1.
func (l *Layout) handleIndex() int {
	for i := range l.Table.Keys {
		if &l.Table.Keys[i] == l.Table.Handle {
			return i
		}
	}
	return -1
}
