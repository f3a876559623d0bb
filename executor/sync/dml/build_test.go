package dml

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dmraft/dmraft/executor/sync/binlog"
)

func table(keys ...Key) *Table {
	t := &Table{Schema: "s", Name: "t", Columns: []Column{{Name: "id"}, {Name: "name", Charset: "utf8mb4"}, {Name: "f", Float: true}, {Name: "g", Generated: true}}, Keys: keys}
	t.Init()
	return t
}

func TestBuild(t *testing.T) {
	keyed, _ := NewLayout(table(Key{Name: "PRIMARY", Columns: []string{"id"}}), []string{"id", "name", "f", "g"})
	keyless, _ := NewLayout(table(), []string{"id", "name", "f", "g"})
	ins := func(l *Layout, id int64, name any) *Change {
		return &Change{Op: binlog.OpInsert, Layout: l, New: []any{id, name, float32(1.1), int64(0)}}
	}
	del := func(l *Layout, id int64) *Change {
		return &Change{Op: binlog.OpDelete, Layout: l, Old: []any{id, "a", float32(1.1), int64(0)}}
	}
	upd := &Change{Op: binlog.OpUpdate, Layout: keyed, Old: []any{int64(1), "a", nil, int64(0)}, New: []any{int64(2), "it's", 2.5, int64(0)}}
	cases := []struct {
		name    string
		changes []*Change
		safe    bool
		want    []string
	}{
		{"multi-row insert skips generated columns", []*Change{ins(keyed, 1, "a"), ins(keyed, 2, []byte("b\x00"))}, false,
			[]string{"INSERT INTO `s`.`t` (`id`,`name`,`f`) VALUES (1,_utf8mb4'a',1.100000023841858),(2,_utf8mb4'b\\0',1.100000023841858)"}},
		{"safe insert is REPLACE", []*Change{ins(keyed, 1, "a")}, true,
			[]string{"REPLACE INTO `s`.`t` (`id`,`name`,`f`) VALUES (1,_utf8mb4'a',1.100000023841858)"}},
		{"multi-row delete by key", []*Change{del(keyed, 1), del(keyed, 2)}, false,
			[]string{"DELETE FROM `s`.`t` WHERE `id` IN (1,2)"}},
		{"update by key", []*Change{upd}, false,
			[]string{"UPDATE `s`.`t` SET `id`=2,`name`=_utf8mb4'it\\'s',`f`=2.5 WHERE `id`=1"}},
		{"safe update is delete + replace", []*Change{upd}, true,
			[]string{"DELETE FROM `s`.`t` WHERE `id` IN (1)", "REPLACE INTO `s`.`t` (`id`,`name`,`f`) VALUES (2,_utf8mb4'it\\'s',2.5)"}},
		{"keyless delete matches every column once", []*Change{del(keyless, 1), del(keyless, 1)}, false,
			[]string{"DELETE FROM `s`.`t` WHERE `id`=1 AND `name`=_utf8mb4'a' AND `f`=1.100000023841858 LIMIT 1",
				"DELETE FROM `s`.`t` WHERE `id`=1 AND `name`=_utf8mb4'a' AND `f`=1.100000023841858 LIMIT 1"}},
		{"keyless update with NULL", []*Change{{Op: binlog.OpUpdate, Layout: keyless, Old: []any{int64(1), nil, nil, nil}, New: []any{int64(1), "b", nil, nil}}}, true,
			[]string{"UPDATE `s`.`t` SET `id`=1,`name`=_utf8mb4'b',`f`=NULL WHERE `id`=1 AND `name` IS NULL AND `f` IS NULL LIMIT 1"}},
		{"order kept across kinds", []*Change{ins(keyed, 1, "a"), del(keyed, 1), ins(keyed, 1, "b")}, false,
			[]string{"INSERT INTO `s`.`t` (`id`,`name`,`f`) VALUES (1,_utf8mb4'a',1.100000023841858)", "DELETE FROM `s`.`t` WHERE `id` IN (1)",
				"INSERT INTO `s`.`t` (`id`,`name`,`f`) VALUES (1,_utf8mb4'b',1.100000023841858)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range Build(c.changes, c.safe) {
				got = append(got, s.SQL)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestLiterals(t *testing.T) {
	bin := &Column{Charset: "binary"}
	cases := []struct {
		c    *Column
		v    any
		want string
	}{
		{nil, uint64(18446744073709551615), "18446744073709551615"},
		{nil, int8(-128), "-128"},
		{nil, decimal.RequireFromString("12345678901234567890.0123456789"), "12345678901234567890.0123456789"},
		{nil, 2.2e-300, "2.2e-300"},
		{bin, []byte{0, 0xff, '\'', '\\', '\n', 0x1a}, "_binary'\\0\xff\\'\\\\\\n\\Z'"},
		{&Column{Charset: "latin1"}, "caf\xe9", "_latin1'caf\xe9'"},
		{nil, "2021-12-31 23:59:59.999999", "'2021-12-31 23:59:59.999999'"},
		{nil, nil, "NULL"},
	}
	for _, c := range cases {
		if got := string(AppendValue(nil, c.c, c.v)); got != c.want {
			t.Errorf("AppendValue(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestConflictKeysFoldCase(t *testing.T) {
	tb := table(Key{Name: "PRIMARY", Columns: []string{"id"}}, Key{Name: "uk", Columns: []string{"name"}, Nullable: true})
	l, err := NewLayout(tb, []string{"id", "name", "f", "g"})
	if err != nil {
		t.Fatal(err)
	}
	a := &Change{Op: binlog.OpInsert, Layout: l, New: []any{int64(1), "Abc ", nil, nil}}
	b := &Change{Op: binlog.OpDelete, Layout: l, Old: []any{int64(2), "abc", nil, nil}}
	if a.ConflictKeys()[1] != b.ConflictKeys()[1] {
		t.Fatal("values equal under a case-insensitive PAD SPACE collation must conflict")
	}
	n := &Change{Op: binlog.OpInsert, Layout: l, New: []any{int64(3), nil, nil, nil}}
	if len(n.ConflictKeys()) != 1 {
		t.Fatal("a NULL unique value conflicts with nothing")
	}
	u := &Change{Op: binlog.OpUpdate, Layout: l, Old: []any{int64(4), "x", nil, nil}, New: []any{int64(4), "y", nil, nil}}
	// id 4 once (kept), name before and after: each key value once.
	if ks := u.ConflictKeys(); len(ks) != 3 || ks[0] == ks[1] || ks[1] == ks[2] || ks[0] == ks[2] {
		t.Fatalf("an update keeping its primary key and changing its unique key has 3 distinct conflict keys, got %q", ks)
	}
	if _, err := NewLayout(tb, []string{"id", "name", "gone"}); err == nil {
		t.Fatal("a binlog column missing on the target is an error")
	}
}
