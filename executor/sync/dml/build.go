package dml

import (
	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// MaxStatementBytes bounds one multi-row statement.
const MaxStatementBytes = 1 << 20

// Statement is one SQL statement and the changes it applies.
type Statement struct {
	SQL     string
	Changes []*Change
}

// Build returns the statements that apply changes in order. Consecutive
// inserts into one table become one multi-row INSERT, consecutive deletes
// from a table with a handle one multi-row DELETE; updates are one UPDATE
// each, matched by the handle. Rows of a table without a handle are
// matched by every column with LIMIT 1, one statement per row.
//
// With safe set (replay over rows that may already be there), INSERT
// becomes REPLACE and an UPDATE of a table with a handle becomes DELETE of
// the old key plus REPLACE of the new row; tables without a handle are
// written as usual, because their replay is kept exactly-once instead.
func Build(changes []*Change, safe bool) []Statement {
	var out []Statement
	for i := 0; i < len(changes); {
		c := changes[i]
		keyed := c.Layout.Table.Handle != nil
		j := i + 1
		switch {
		case c.Op == binlog.OpInsert:
			for j < len(changes) && sameGroup(c, changes[j]) {
				j++
			}
			out = append(out, buildInserts(changes[i:j], safe && keyed)...)
		case c.Op == binlog.OpDelete && keyed:
			for j < len(changes) && sameGroup(c, changes[j]) {
				j++
			}
			out = append(out, buildDeletes(changes[i:j])...)
		case c.Op == binlog.OpUpdate && keyed && safe:
			out = append(out, buildDeletes([]*Change{c})...)
			out = append(out, buildInserts([]*Change{{Op: binlog.OpInsert, Layout: c.Layout, New: c.New}}, true)...)
			out[len(out)-1].Changes = []*Change{c}
		case c.Op == binlog.OpUpdate:
			out = append(out, Statement{SQL: buildUpdate(c), Changes: []*Change{c}})
		default: // delete without a handle
			out = append(out, Statement{SQL: buildDeleteOne(c), Changes: []*Change{c}})
		}
		i = j
	}
	return out
}

func sameGroup(a, b *Change) bool {
	if a.Op != b.Op || a.Layout.Table != b.Layout.Table || len(a.Layout.Src) != len(b.Layout.Src) {
		return false
	}
	for i := range a.Layout.Src {
		if a.Layout.Src[i] != b.Layout.Src[i] {
			return false
		}
	}
	return true
}

// rowVerb is how a multi-row statement writes its rows.
type rowVerb int

const (
	insertRows  rowVerb = iota // INSERT: a duplicate key is an error
	replaceRows                // REPLACE: the row replaces any with its key
	upsertRows                 // INSERT ... ON DUPLICATE KEY UPDATE of every written column
)

func buildInserts(cs []*Change, replace bool) []Statement {
	if replace {
		return buildRows(cs, replaceRows)
	}
	return buildRows(cs, insertRows)
}

// buildRows writes the New images of cs (one layout) in multi-row
// statements of about MaxStatementBytes.
func buildRows(cs []*Change, verb rowVerb) []Statement {
	l := cs[0].Layout
	var head []byte
	if verb == replaceRows {
		head = append(head, "REPLACE INTO "...)
	} else {
		head = append(head, "INSERT INTO "...)
	}
	head = append(head, l.Table.QuotedName()...)
	head = append(head, " ("...)
	for i, col := range l.Cols {
		if i > 0 {
			head = append(head, ',')
		}
		head = append(head, QuoteIdent(col.Name)...)
	}
	head = append(head, ") VALUES "...)
	var tail []byte
	if verb == upsertRows {
		tail = append(tail, " ON DUPLICATE KEY UPDATE "...)
		for i, col := range l.Cols {
			if i > 0 {
				tail = append(tail, ',')
			}
			q := QuoteIdent(col.Name)
			tail = append(tail, q...)
			tail = append(tail, "=VALUES("...)
			tail = append(tail, q...)
			tail = append(tail, ')')
		}
	}
	var out []Statement
	buf := append([]byte(nil), head...)
	start := 0
	for i, c := range cs {
		if i > start {
			if len(buf) > MaxStatementBytes {
				out = append(out, Statement{SQL: string(append(buf, tail...)), Changes: cs[start:i]})
				buf, start = append(buf[:0:0], head...), i
			} else {
				buf = append(buf, ',')
			}
		}
		buf = append(buf, '(')
		for k, col := range l.Cols {
			if k > 0 {
				buf = append(buf, ',')
			}
			buf = AppendValue(buf, col, c.New[l.Src[k]])
		}
		buf = append(buf, ')')
	}
	return append(out, Statement{SQL: string(append(buf, tail...)), Changes: cs[start:]})
}

// buildDeletes deletes rows by handle: k IN (...) or (k1,k2) IN ((...),...).
func buildDeletes(cs []*Change) []Statement {
	l := cs[0].Layout
	h := l.handleIndex()
	key := l.Table.Handle
	var head []byte
	head = append(head, "DELETE FROM "...)
	head = append(head, l.Table.QuotedName()...)
	head = append(head, " WHERE "...)
	multi := len(key.Columns) > 1
	if multi {
		head = append(head, '(')
	}
	for i, name := range key.Columns {
		if i > 0 {
			head = append(head, ',')
		}
		head = append(head, QuoteIdent(name)...)
	}
	if multi {
		head = append(head, ')')
	}
	head = append(head, " IN ("...)
	var out []Statement
	buf := append([]byte(nil), head...)
	start := 0
	for i, c := range cs {
		if i > start {
			if len(buf) > MaxStatementBytes {
				out = append(out, Statement{SQL: string(append(buf, ')')), Changes: cs[start:i]})
				buf, start = append(buf[:0:0], head...), i
			} else {
				buf = append(buf, ',')
			}
		}
		if multi {
			buf = append(buf, '(')
		}
		for j, src := range l.keySrc[h] {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = AppendValue(buf, l.keyCols[h][j], c.Old[src])
		}
		if multi {
			buf = append(buf, ')')
		}
	}
	return append(out, Statement{SQL: string(append(buf, ')')), Changes: cs[start:]})
}

func buildUpdate(c *Change) string {
	l := c.Layout
	var b []byte
	b = append(b, "UPDATE "...)
	b = append(b, l.Table.QuotedName()...)
	b = append(b, " SET "...)
	for k, col := range l.Cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, QuoteIdent(col.Name)...)
		b = append(b, '=')
		b = AppendValue(b, col, c.New[l.Src[k]])
	}
	b = appendMatch(b, c)
	return string(b)
}

func buildDeleteOne(c *Change) string {
	b := append([]byte("DELETE FROM "), c.Layout.Table.QuotedName()...)
	return string(appendMatch(b, c))
}

// appendMatch appends the WHERE clause that finds the row of c.Old: by
// handle, or by every column and LIMIT 1.
func appendMatch(b []byte, c *Change) []byte {
	l := c.Layout
	b = append(b, " WHERE "...)
	if h := l.handleIndex(); h >= 0 {
		for j, src := range l.keySrc[h] {
			if j > 0 {
				b = append(b, " AND "...)
			}
			col := l.keyCols[h][j]
			b = append(b, QuoteIdent(col.Name)...)
			b = append(b, '=')
			b = AppendValue(b, col, c.Old[src])
		}
		return b
	}
	for k, col := range l.Cols {
		if k > 0 {
			b = append(b, " AND "...)
		}
		b = append(b, QuoteIdent(col.Name)...)
		v := c.Old[l.Src[k]]
		if v == nil {
			b = append(b, " IS NULL"...)
			continue
		}
		b = append(b, '=')
		b = AppendValue(b, col, v)
	}
	return append(b, " LIMIT 1"...)
}
