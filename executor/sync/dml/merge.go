package dml

import (
	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// BuildMerged returns the statements of one worker batch, which the
// caller commits in a single transaction (so no reader sees the order in
// which its rows are written). Changes of different target tables are
// independent (foreign key checks are off on writer sessions) and are
// built table by table. Within a table:
//
// When the table's only unique key is its handle (primary key or NOT NULL
// unique key) and every change of the batch fits the rows' life cycle (no
// INSERT of a present row, no UPDATE or DELETE of an absent one), the
// changes to each row are merged into one, and the rows, now with
// disjoint keys, are written in at most four multi-row statements:
//
//	INSERT then UPDATE(s)        -> INSERT of the final image
//	INSERT then DELETE           -> nothing (safe: DELETE, the row may be there already)
//	UPDATE then UPDATE           -> one upsert of the final image
//	UPDATE(s) then DELETE        -> DELETE
//	DELETE then INSERT (UPDATE)  -> REPLACE of the final image
//	UPDATE that changes the key  -> DELETE of the old key + INSERT of the new one, each merged further
//
// An UPDATE becomes INSERT ... ON DUPLICATE KEY UPDATE of the binlog's
// columns, so target columns the binlog does not carry keep their values,
// as with UPDATE; a row deleted and inserted again is a REPLACE, which
// resets them, as DELETE and INSERT do (on a diverged target that lacks
// the row, the upsert inserts it where UPDATE would do nothing). With one
// unique key and one change
// per key no two rows can conflict, so the order DELETE, upsert, REPLACE,
// INSERT is as good as the binlog's.
//
// Keys are compared by their exact bytes; when two keys of a batch differ
// only in case or trailing spaces (the same row under a case-insensitive
// collation) the table is not merged. Tables without a handle, with more
// than one unique key (rows may swap unique values through intermediate
// states) or whose batch does not fit the life cycle are built as Build
// does, in binlog order.
func BuildMerged(changes []*Change) []Statement {
	var tables []*Table
	byTable := map[*Table][]*Change{}
	for _, c := range changes {
		t := c.Layout.Table
		if _, ok := byTable[t]; !ok {
			tables = append(tables, t)
		}
		byTable[t] = append(byTable[t], c)
	}
	var out []Statement
	for _, t := range tables {
		cs := byTable[t]
		if merged, ok := mergeRows(cs); ok {
			out = append(out, merged...)
			continue
		}
		out = append(out, buildInOrder(cs)...)
	}
	return out
}

// buildInOrder is Build over runs of changes with the same Safe flag.
func buildInOrder(cs []*Change) []Statement {
	var out []Statement
	for i := 0; i < len(cs); {
		j := i
		for j < len(cs) && cs[j].Safe == cs[i].Safe {
			j++
		}
		out = append(out, Build(cs[i:j], cs[i].Safe)...)
		i = j
	}
	return out
}

// rowChain is what the changes of a batch did to one row.
type rowChain struct {
	existed bool  // the row was there before the batch
	deleted bool  // the batch deleted it at least once
	present bool  // the row is there after the changes so far
	before  []any // its image before the batch (existed)
	beforeL *Layout
	after   []any // its image after the batch (present)
	afterL  *Layout
	safe    bool
	changes []*Change // the changes merged into the chain
}

// mergeable reports whether the changes of table t may be merged: the
// handle is its only unique key.
func mergeable(t *Table) bool { return t.Handle != nil && len(t.Keys) == 1 }

// mergeRows merges the changes of one table (see BuildMerged); ok is false
// when the table or the batch does not allow it.
func mergeRows(cs []*Change) ([]Statement, bool) {
	if len(cs) < 2 || !mergeable(cs[0].Layout.Table) {
		return nil, false
	}
	var order []string
	chains := map[string]*rowChain{}
	folded := map[string]string{} // folded key -> exact key, for tables with character keys
	l0 := cs[0].Layout
	h := l0.handleIndex()
	foldable := false
	for _, name := range l0.Table.Handle.Columns {
		if col, _ := l0.Table.Column(name); col != nil && col.Charset != "" && col.Charset != "binary" {
			foldable = true
		}
	}
	var buf []byte
	key := func(l *Layout, img []any) string {
		buf = appendRowKey(buf[:0], l, h, img, false)
		return string(buf)
	}
	chainOf := func(l *Layout, img []any, exact string) (*rowChain, bool) {
		if foldable {
			fold := string(appendRowKey(nil, l, h, img, true))
			if e, ok := folded[fold]; ok && e != exact {
				return nil, false
			}
			folded[fold] = exact
		}
		ch, ok := chains[exact]
		if !ok {
			ch = &rowChain{}
			chains[exact] = ch
			order = append(order, exact)
		}
		return ch, true
	}
	// touch applies one change to the row of key k: its image before (nil
	// for an insert) and after (nil for a delete).
	touch := func(c *Change, k string, before, after []any) bool {
		img := before
		if img == nil {
			img = after
		}
		ch, ok := chainOf(c.Layout, img, k)
		if !ok {
			return false
		}
		if len(ch.changes) == 0 && before != nil {
			ch.existed, ch.present, ch.before, ch.beforeL = true, true, before, c.Layout
		}
		if (before != nil) != ch.present {
			return false // an insert of a present row, or a change of an absent one
		}
		ch.present, ch.after, ch.afterL = after != nil, after, c.Layout
		if after == nil {
			ch.deleted, ch.afterL = true, nil
		}
		ch.safe = ch.safe || c.Safe
		ch.changes = append(ch.changes, c)
		return true
	}
	for _, c := range cs {
		if c.Layout.Table != l0.Table {
			return nil, false
		}
		ok := true
		switch c.Op {
		case binlog.OpInsert:
			ok = touch(c, key(c.Layout, c.New), nil, c.New)
		case binlog.OpDelete:
			ok = touch(c, key(c.Layout, c.Old), c.Old, nil)
		default:
			ko, kn := key(c.Layout, c.Old), key(c.Layout, c.New)
			if ko == kn {
				ok = touch(c, ko, c.Old, c.New)
			} else { // the row moves to another key: a delete and an insert
				ok = touch(c, ko, c.Old, nil) && touch(c, kn, nil, c.New)
			}
		}
		if !ok {
			return nil, false
		}
	}
	var dels, upserts, replaces, inserts []*Change
	for _, k := range order {
		ch := chains[k]
		switch {
		case !ch.existed && !ch.present:
			if ch.safe { // the row may be on the target from the full phase
				last := ch.changes[len(ch.changes)-1]
				img := last.Old
				if img == nil {
					img = last.New
				}
				dels = append(dels, &Change{Op: binlog.OpDelete, Layout: last.Layout, Old: img, Safe: true})
			}
		case !ch.existed:
			inserts = append(inserts, &Change{Op: binlog.OpInsert, Layout: ch.afterL, New: ch.after, Safe: ch.safe})
		case !ch.present:
			dels = append(dels, &Change{Op: binlog.OpDelete, Layout: ch.beforeL, Old: ch.before, Safe: ch.safe})
		case ch.deleted:
			replaces = append(replaces, &Change{Op: binlog.OpInsert, Layout: ch.afterL, New: ch.after, Safe: true})
		default:
			upserts = append(upserts, &Change{Op: binlog.OpUpdate, Layout: ch.afterL, Old: ch.before, New: ch.after, Safe: ch.safe})
		}
	}
	var out []Statement
	for _, g := range byLayout(dels) {
		out = append(out, buildDeletes(g)...)
	}
	for _, g := range byLayout(upserts) {
		out = append(out, buildRows(g, upsertRows)...)
	}
	for _, g := range byLayout(replaces) {
		out = append(out, buildRows(g, replaceRows)...)
	}
	for _, g := range byLayout(inserts) {
		safe, plain := splitSafe(g)
		if len(safe) > 0 {
			out = append(out, buildRows(safe, replaceRows)...)
		}
		if len(plain) > 0 {
			out = append(out, buildRows(plain, insertRows)...)
		}
	}
	return out, true
}

// byLayout groups changes by the binlog column layout (multi-row
// statements need one), keeping their order within a group.
func byLayout(cs []*Change) [][]*Change {
	var out [][]*Change
next:
	for _, c := range cs {
		for i, g := range out {
			if sameGroup(g[0], c) {
				out[i] = append(g, c)
				continue next
			}
		}
		out = append(out, []*Change{c})
	}
	return out
}

func splitSafe(cs []*Change) (safe, plain []*Change) {
	for _, c := range cs {
		if c.Safe {
			safe = append(safe, c)
		} else {
			plain = append(plain, c)
		}
	}
	return safe, plain
}

// appendRowKey appends the values of key k of img (one table's rows, so no
// table or key name), folded as keyString does or by exact bytes.
func appendRowKey(b []byte, l *Layout, k int, img []any, fold bool) []byte {
	for j, src := range l.keySrc[k] {
		b = append(b, 0)
		b = appendKeyValue(b, l.keyCols[k][j], img[src], fold)
	}
	return b
}
