package dump

import (
	"context"
	"testing"

	"github.com/dmraft/dmraft/fsm/config"
	"github.com/dmraft/dmraft/test/mariadb"
)

func TestBoundRoundTrip(t *testing.T) {
	for _, b := range []Bound{nil, {[]byte("1")}, {[]byte("a'b\x00"), []byte("")}} {
		got, err := UnmarshalBound(MarshalBound(b))
		if err != nil || len(got) != len(b) || (b == nil) != (got == nil) {
			t.Fatalf("%q -> %q, %v", b, got, err)
		}
		for i := range b {
			if string(got[i]) != string(b[i]) {
				t.Fatalf("%q -> %q", b, got)
			}
		}
	}
}

func TestWhereComposite(t *testing.T) {
	tbl := &Table{Schema: "d", Name: "t", Columns: []Column{{Name: "a", DataType: "varchar", Charset: "utf8mb4"}, {Name: "b", DataType: "int"}}, Key: []int{0, 1}}
	c := &Chunk{Table: tbl, Lower: Bound{[]byte("x'"), []byte("5")}, Upper: Bound{[]byte("y"), []byte("7")}}
	got, err := c.Where()
	want := " WHERE ((`a` > _utf8mb4'x\\'') OR (`a` = _utf8mb4'x\\'' AND `b` > 5)) AND ((`a` < _utf8mb4'y') OR (`a` = _utf8mb4'y' AND `b` <= 7))"
	if err != nil || got != want {
		t.Fatalf("Where:\n got %s (%v)\nwant %s", got, err, want)
	}
	bad := &Chunk{Table: tbl, Lower: Bound{[]byte("x"), []byte("5 OR 1=1")}}
	if _, err := bad.Where(); err == nil {
		t.Fatal("a non-numeric bound for an INT key was accepted")
	}
}

// TestSplitCoversEveryRowOnce splits real tables (sparse integer key,
// composite case-insensitive string key, no key) and counts each chunk.
func TestSplitCoversEveryRowOnce(t *testing.T) {
	srv := mariadb.Start(t, mariadb.Options{Name: "split"})
	srv.Exec(t, "CREATE DATABASE d",
		"CREATE TABLE d.sparse (id BIGINT UNSIGNED PRIMARY KEY, v INT)",
		"INSERT INTO d.sparse SELECT seq * seq * 7, seq FROM d.seq_1_to_3000",
		"INSERT INTO d.sparse VALUES (18446744073709551615, 0), (0, 0)",
		"CREATE TABLE d.comp (r VARCHAR(10) NOT NULL, n INT NOT NULL, UNIQUE KEY (r, n)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
		"INSERT INTO d.comp SELECT ELT(1 + seq % 4, 'a', 'B', 'é', 'z''q'), seq FROM d.seq_1_to_2500",
		"CREATE TABLE d.nokey (x INT)", "INSERT INTO d.nokey SELECT 1 FROM d.seq_1_to_50",
		"ANALYZE TABLE d.sparse, d.comp, d.nokey")
	db := srv.DB(t)
	ctx := context.Background()
	tables, err := ListTables(ctx, db, NewSelector(&config.Task{}, &config.Instance{}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"d.sparse": 3002, "d.comp": 2500, "d.nokey": 50}
	for _, tbl := range tables {
		if _, ok := want[tbl.ID()]; !ok {
			continue
		}
		chunks, err := Split(ctx, db, tbl, 300)
		if err != nil {
			t.Fatal(err)
		}
		if tbl.ID() != "d.nokey" && len(chunks) < 5 {
			t.Errorf("%s: only %d chunks", tbl.ID(), len(chunks))
		}
		var sum int64
		for _, c := range chunks {
			where, err := c.Where()
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := db.QueryRow("SELECT COUNT(*) FROM " + quoteTable(tbl.Schema, tbl.Name) + where).Scan(&n); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			sum += n
		}
		if sum != want[tbl.ID()] {
			t.Errorf("%s: chunks hold %d rows, table has %d", tbl.ID(), sum, want[tbl.ID()])
		}
	}
}
