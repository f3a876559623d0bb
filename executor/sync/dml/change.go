package dml

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// Change is one row change mapped onto its target table.
type Change struct {
	Op     binlog.Op
	Layout *Layout
	Old    []any // before image (update, delete)
	New    []any // after image (insert, update)
	// Safe asks for an idempotent write: the target may already hold the
	// change (the full phase's snapshot window, or syncers.safe-mode).
	Safe bool
}

// image returns the image that identifies the row before the change.
func (c *Change) image() []any {
	if c.Op == binlog.OpInsert {
		return c.New
	}
	return c.Old
}

// Size estimates the bytes of the change's row images.
func (c *Change) Size() int {
	n := 0
	for _, img := range [][]any{c.Old, c.New} {
		for _, v := range img {
			switch x := v.(type) {
			case string:
				n += len(x)
			case []byte:
				n += len(x)
			default:
				n += 8
			}
		}
	}
	return n
}

// RouteKey is what decides the worker of a change: the handle value of the
// row before the change (after it for an insert), or for a table without a
// handle only the table, so that all its changes go to one worker in
// binlog order.
func (c *Change) RouteKey() string {
	l := c.Layout
	h := l.handleIndex()
	if h < 0 {
		return l.Table.String()
	}
	k, _ := keyString(l, h, c.image())
	return k
}

// ConflictKeys lists every unique-key value the change touches, before and
// after. Two changes that share one must be applied in binlog order.
func (c *Change) ConflictKeys() []string {
	var out []string
	for i, img := range [][]any{c.Old, c.New} {
		if img == nil {
			continue
		}
		for k := range c.Layout.Table.Keys {
			s, ok := keyString(c.Layout, k, img)
			if !ok || (i == 1 && c.Old != nil && slices.Contains(out, s)) {
				continue // NULL, or an update that keeps this key
			}
			out = append(out, s)
		}
	}
	return out
}

// keyString renders key k of img; ok is false when a column is NULL.
// Character values are folded to lower case without trailing spaces, so
// values equal under a case-insensitive PAD SPACE collation give the same
// string (a superset of real conflicts, which is safe).
func keyString(l *Layout, k int, img []any) (string, bool) {
	key := &l.Table.Keys[k]
	var b []byte
	b = append(b, l.Table.Schema...)
	b = append(b, '.')
	b = append(b, l.Table.Name...)
	b = append(b, 0)
	b = append(b, key.Name...)
	for j, src := range l.keySrc[k] {
		v := img[src]
		if v == nil {
			return "", false
		}
		b = append(b, 0)
		b = appendKeyValue(b, l.keyCols[k][j], v, true)
	}
	return string(b), true
}

func appendKeyValue(b []byte, c *Column, v any, fold bool) []byte {
	var raw []byte
	switch x := v.(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	default:
		return AppendValue(b, c, v)
	}
	if fold && c != nil && c.Charset != "" && c.Charset != "binary" {
		raw = bytes.ToLower(bytes.TrimRight(raw, " "))
	}
	b = strconv.AppendInt(b, int64(len(raw)), 10)
	b = append(b, ':')
	return append(b, raw...)
}

// Describe names the change for an error message: operation, table and
// the key (or the first columns) of the row.
func (c *Change) Describe() string {
	l := c.Layout
	img := c.image()
	var b []byte
	cols := l.Cols
	src := l.Src
	if h := l.handleIndex(); h >= 0 {
		cols, src = nil, l.keySrc[h]
		for _, name := range l.Table.Handle.Columns {
			col, _ := l.Table.Column(name)
			cols = append(cols, col)
		}
	}
	for i, col := range cols {
		if i == 8 {
			b = append(b, ", ..."...)
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, col.Name...)
		b = append(b, '=')
		v := AppendValue(nil, col, img[src[i]])
		if len(v) > 64 {
			v = append(v[:61], "..."...)
		}
		b = append(b, v...)
	}
	return fmt.Sprintf("%s on %s row (%s)", c.Op, l.Table, b)
}
