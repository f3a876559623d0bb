package dml

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

func mergeTable(name string, keys ...Key) *Layout {
	t := &Table{Schema: "s", Name: name, Columns: []Column{{Name: "id"}, {Name: "v", Charset: "utf8mb4"}}, Keys: keys}
	t.Init()
	l, err := NewLayout(t, []string{"id", "v"})
	if err != nil {
		panic(err)
	}
	return l
}

var pk = Key{Name: "PRIMARY", Columns: []string{"id"}}

func ins(l *Layout, id any, v string) *Change {
	return &Change{Op: binlog.OpInsert, Layout: l, New: []any{id, v}}
}
func upd(l *Layout, id any, v string, nid any, nv string) *Change {
	return &Change{Op: binlog.OpUpdate, Layout: l, Old: []any{id, v}, New: []any{nid, nv}}
}
func del(l *Layout, id any, v string) *Change {
	return &Change{Op: binlog.OpDelete, Layout: l, Old: []any{id, v}}
}
func safe(c *Change) *Change { c.Safe = true; return c }

func sqls(st []Statement) string {
	var out []string
	for _, s := range st {
		out = append(out, s.SQL)
	}
	return strings.Join(out, "\n")
}

func TestBuildMergedRules(t *testing.T) {
	a := mergeTable("a", pk)
	b := mergeTable("b", pk)
	keyless := mergeTable("n")
	twoKeys := mergeTable("u", pk, Key{Name: "uv", Columns: []string{"v"}})
	// c has a character key (v, binlog column 1) in a case-insensitive
	// collation (the helpers' first value is the key).
	ciTable := &Table{Schema: "s", Name: "c", Columns: []Column{{Name: "v", Charset: "utf8mb4"}, {Name: "id", Charset: "utf8mb4"}},
		Keys: []Key{{Name: "PRIMARY", Columns: []string{"v"}}}}
	ciTable.Init()
	ci, err := NewLayout(ciTable, []string{"v", "id"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		insA   = "INSERT INTO `s`.`a` (`id`,`v`) VALUES "
		repA   = "REPLACE INTO `s`.`a` (`id`,`v`) VALUES "
		upsert = " ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`v`=VALUES(`v`)"
	)
	cases := []struct {
		name    string
		changes []*Change
		want    []string
	}{
		{"insert then update: one insert of the final image",
			[]*Change{ins(a, 1, "x"), upd(a, 1, "x", 1, "y"), upd(a, 1, "y", 1, "z")},
			[]string{insA + "(1,_utf8mb4'z')"}},
		{"insert then delete: nothing",
			[]*Change{ins(a, 1, "x"), del(a, 1, "x")},
			nil},
		{"insert then delete in safe mode: delete (the row may be there from the full phase)",
			[]*Change{safe(ins(a, 1, "x")), safe(del(a, 1, "x"))},
			[]string{"DELETE FROM `s`.`a` WHERE `id` IN (1)"}},
		{"update chain: one upsert",
			[]*Change{upd(a, 1, "x", 1, "y"), upd(a, 1, "y", 1, "z")},
			[]string{insA + "(1,_utf8mb4'z')" + upsert}},
		{"update then delete: delete",
			[]*Change{upd(a, 1, "x", 1, "y"), del(a, 1, "y")},
			[]string{"DELETE FROM `s`.`a` WHERE `id` IN (1)"}},
		{"delete then insert: replace",
			[]*Change{del(a, 1, "x"), ins(a, 1, "y")},
			[]string{repA + "(1,_utf8mb4'y')"}},
		{"delete, insert, update: replace of the final image",
			[]*Change{del(a, 1, "x"), ins(a, 1, "y"), upd(a, 1, "y", 1, "z")},
			[]string{repA + "(1,_utf8mb4'z')"}},
		{"key-changing update: delete of the old key, insert of the new",
			[]*Change{upd(a, 1, "x", 2, "x"), ins(a, 3, "w")},
			[]string{"DELETE FROM `s`.`a` WHERE `id` IN (1)", insA + "(2,_utf8mb4'x'),(3,_utf8mb4'w')"}},
		{"insert then key change: insert of the new key only",
			[]*Change{ins(a, 1, "x"), upd(a, 1, "x", 2, "y")},
			[]string{insA + "(2,_utf8mb4'y')"}},
		{"key change chain 1->2->3: delete 1, insert 3",
			[]*Change{upd(a, 1, "x", 2, "x"), upd(a, 2, "x", 3, "x")},
			[]string{"DELETE FROM `s`.`a` WHERE `id` IN (1)", insA + "(3,_utf8mb4'x')"}},
		{"key moves away and back: upsert... as replace (a delete happened)",
			[]*Change{upd(a, 1, "x", 2, "x"), upd(a, 2, "x", 1, "y")},
			[]string{repA + "(1,_utf8mb4'y')"}},
		{"rows of a key swap through a third key",
			[]*Change{upd(a, 1, "p", 9, "p"), upd(a, 2, "q", 1, "q"), upd(a, 9, "p", 2, "p")},
			[]string{repA + "(1,_utf8mb4'q'),(2,_utf8mb4'p')"}},
		{"sysbench write_only transactions group per table and kind",
			[]*Change{upd(a, 5, "k", 5, "k2"), upd(a, 6, "c", 6, "c2"), del(a, 7, "o"), ins(a, 7, "n"),
				upd(b, 5, "k", 5, "k2"), upd(a, 8, "c", 8, "c2"), del(a, 9, "o"), ins(a, 9, "n"), ins(b, 100, "i")},
			[]string{insA + "(5,_utf8mb4'k2'),(6,_utf8mb4'c2'),(8,_utf8mb4'c2')" + upsert,
				repA + "(7,_utf8mb4'n'),(9,_utf8mb4'n')",
				"INSERT INTO `s`.`b` (`id`,`v`) VALUES (5,_utf8mb4'k2')" + upsert,
				"INSERT INTO `s`.`b` (`id`,`v`) VALUES (100,_utf8mb4'i')"}},
		{"safe insert is a replace",
			[]*Change{safe(ins(a, 1, "x")), ins(a, 2, "y")},
			[]string{repA + "(1,_utf8mb4'x')", insA + "(2,_utf8mb4'y')"}},
		{"keyless table: never merged, binlog order",
			[]*Change{ins(keyless, 1, "x"), del(keyless, 1, "x")},
			[]string{"INSERT INTO `s`.`n` (`id`,`v`) VALUES (1,_utf8mb4'x')",
				"DELETE FROM `s`.`n` WHERE `id`=1 AND `v`=_utf8mb4'x' LIMIT 1"}},
		{"second unique key: not merged",
			[]*Change{ins(twoKeys, 1, "x"), upd(twoKeys, 1, "x", 1, "y")},
			[]string{"INSERT INTO `s`.`u` (`id`,`v`) VALUES (1,_utf8mb4'x')", "UPDATE `s`.`u` SET `id`=1,`v`=_utf8mb4'y' WHERE `id`=1"}},
		{"insert of a present row breaks the life cycle: binlog order",
			[]*Change{ins(a, 1, "x"), ins(a, 1, "y")},
			[]string{insA + "(1,_utf8mb4'x'),(1,_utf8mb4'y')"}},
		{"update of a deleted row breaks the life cycle: binlog order",
			[]*Change{del(a, 1, "x"), upd(a, 1, "x", 1, "y")},
			[]string{"DELETE FROM `s`.`a` WHERE `id` IN (1)", "UPDATE `s`.`a` SET `id`=1,`v`=_utf8mb4'y' WHERE `id`=1"}},
		{"keys equal but for case: not merged",
			[]*Change{ins(ci, "k", "y"), del(ci, "K", "x")},
			[]string{"INSERT INTO `s`.`c` (`v`,`id`) VALUES (_utf8mb4'k',_utf8mb4'y')", "DELETE FROM `s`.`c` WHERE `v` IN (_utf8mb4'K')"}},
		{"keys of distinct bytes are merged apart",
			[]*Change{ins(ci, "k", "y"), del(ci, "m", "x")},
			[]string{"DELETE FROM `s`.`c` WHERE `v` IN (_utf8mb4'm')", "INSERT INTO `s`.`c` (`v`,`id`) VALUES (_utf8mb4'k',_utf8mb4'y')"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sqls(BuildMerged(c.changes))
			if want := strings.Join(c.want, "\n"); got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// model is a table as a map from key to value, for the property test.
type model map[int64]string

// applyChange applies a binlog change the way the source did.
func (m model) applyChange(c *Change) error {
	switch c.Op {
	case binlog.OpInsert:
		id := c.New[0].(int64)
		if _, ok := m[id]; ok {
			return fmt.Errorf("duplicate %d", id)
		}
		m[id] = c.New[1].(string)
	case binlog.OpDelete:
		delete(m, c.Old[0].(int64))
	default:
		old, id := c.Old[0].(int64), c.New[0].(int64)
		if _, ok := m[id]; ok && id != old {
			return fmt.Errorf("duplicate %d", id)
		}
		delete(m, old)
		m[id] = c.New[1].(string)
	}
	return nil
}

// applyStatement applies a built statement with the target's semantics.
func (m model) applyStatement(s Statement) error {
	for _, c := range s.Changes {
		switch {
		case strings.HasPrefix(s.SQL, "DELETE"):
			delete(m, c.Old[0].(int64))
		case strings.HasPrefix(s.SQL, "REPLACE"), strings.Contains(s.SQL, "ON DUPLICATE KEY UPDATE"):
			m[c.New[0].(int64)] = c.New[1].(string)
		case strings.HasPrefix(s.SQL, "INSERT"):
			id := c.New[0].(int64)
			if _, ok := m[id]; ok {
				return fmt.Errorf("duplicate %d in %s", id, s.SQL)
			}
			m[id] = c.New[1].(string)
		case strings.HasPrefix(s.SQL, "UPDATE"):
			if err := m.applyChange(c); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown statement %s", s.SQL)
		}
	}
	return nil
}

// TestBuildMergedMatchesSerialApply: random valid change sequences on a
// table with a primary key (inserts, updates in place, key-changing
// updates, deletes) leave the same rows when the merged statements run as
// when the changes run one by one.
func TestBuildMergedMatchesSerialApply(t *testing.T) {
	l := mergeTable("a", pk)
	rng := rand.New(rand.NewSource(4))
	for iter := range 3000 {
		start := model{}
		for id := range int64(6) {
			if rng.Intn(2) == 0 {
				start[id] = fmt.Sprint("s", id)
			}
		}
		want := model{}
		for k, v := range start {
			want[k] = v
		}
		var changes []*Change
		for range 1 + rng.Intn(12) {
			id := int64(rng.Intn(6))
			v, present := want[id]
			var c *Change
			switch {
			case !present:
				c = ins(l, id, fmt.Sprint("i", iter, len(changes)))
			case rng.Intn(3) == 0:
				c = del(l, id, v)
			default:
				nid := id
				if rng.Intn(2) == 0 {
					nid = int64(rng.Intn(6))
					if _, taken := want[nid]; taken {
						nid = id
					}
				}
				c = upd(l, id, v, nid, fmt.Sprint("u", iter, len(changes)))
			}
			if err := want.applyChange(c); err != nil {
				t.Fatal(err)
			}
			changes = append(changes, c)
		}
		got := model{}
		for k, v := range start {
			got[k] = v
		}
		stmts := BuildMerged(changes)
		for _, s := range stmts {
			if err := got.applyStatement(s); err != nil {
				t.Fatalf("iteration %d: %v\nchanges %v\nstatements\n%s", iter, err, describe(changes), sqls(stmts))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("iteration %d: got %v want %v\nchanges %v\nstatements\n%s", iter, got, want, describe(changes), sqls(stmts))
		}
		if len(stmts) > 4 {
			t.Fatalf("iteration %d: %d statements for one table, want at most 4:\n%s", iter, len(stmts), sqls(stmts))
		}
	}
}

func describe(cs []*Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %v->%v", c.Op, c.Old, c.New))
	}
	return out
}
