package units

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestFullUnitDefinitionAndRowsFromOneSnapshot runs an ALTER, an INSERT
// and an UPDATE upstream right after the full unit has listed the tables
// (the window in which the copied table definition and the copied rows
// used to come from different points of the source's history: the target
// table got the new column, the rows were read without it and it took its
// default). The target must then hold the source's table as of the dump
// mark, and the binlog after the mark must hold none of those changes
// (the sync unit skips or replays exactly what follows the mark).
func TestFullUnitDefinitionAndRowsFromOneSnapshot(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	up.Exec(t, "CREATE DATABASE app",
		"CREATE TABLE app.side (id INT NOT NULL PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO app.side SELECT seq, CONCAT('s', seq) FROM app.seq_1_to_3000",
		"CREATE TABLE app.small (id INT NOT NULL PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO app.small VALUES (1, 'a'), (2, 'b')")
	ddl := []string{
		"ALTER TABLE app.side ADD COLUMN z INT NOT NULL DEFAULT 3, ADD INDEX (z)",
		"INSERT INTO app.side VALUES (5001, 'after alter', 5)",
		"UPDATE app.side SET z = 4 WHERE id % 10 = 0",
		"ALTER TABLE app.small ADD COLUMN w INT NOT NULL DEFAULT 7",
		"INSERT INTO app.small VALUES (3, 'c', 8)",
	}
	var once sync.Once
	dump.TestHookTablesListed = func() { once.Do(func() { up.Exec(t, ddl...) }) }
	t.Cleanup(func() { dump.TestHookTablesListed = nil })

	rec := &recorder{}
	deps := Deps{Key: config.DefaultKey, Propose: rec.propose, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	unit, err := NewFactory(deps)(assignment(t, up, down, "", 1))
	if err != nil || unit == nil {
		t.Fatalf("factory: %v %v", unit, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := unit.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var fired bool
	once.Do(func() { fired = true })
	if fired {
		t.Fatal("the hook between listing the tables and the snapshot did not run")
	}
	// Nothing changes upstream after the hook: the target equals the
	// source now exactly when the snapshot is after the hook's changes.
	compare(t, up, down, [][4]string{{"app", "side", "app", "side"}, {"app", "small", "app", "small"}})
	var z int64
	if err := down.DB(t).QueryRow("SELECT SUM(z) FROM app.side").Scan(&z); err != nil || z != 9305 {
		t.Errorf("target app.side SUM(z) = %d (%v), want 9305 as on the source", z, err)
	}

	if len(rec.cmds) == 0 {
		t.Fatal("no dump mark proposed")
	}
	var mark pb.MarkUnitFinished
	if err := proto.Unmarshal(rec.cmds[0].GetBody(), &mark); err != nil {
		t.Fatal(err)
	}
	pos := mark.GetMark().GetPosition()
	rows, err := up.DB(t).Query("SHOW BINLOG EVENTS IN '" + pos.GetName() + "' FROM " + strconv.FormatUint(uint64(pos.GetPos()), 10))
	if err != nil {
		t.Fatalf("binlog after the dump mark %s:%d: %v", pos.GetName(), pos.GetPos(), err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new([]byte)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		info := string(*vals[len(vals)-1].(*[]byte))
		if strings.Contains(info, "ALTER TABLE") {
			t.Errorf("the binlog after the dump mark holds %q, which the copied table already has", info)
		}
	}
}

// TestFullUnitReloadsTableAlteredBeforeResume: the full phase stops with
// chunks of app.side left, a column is added upstream, and a new owner
// resumes with a new snapshot. The target table (created from the first
// snapshot) lacks the column the rows now have: the new owner loads the
// table again, whole, from its snapshot, so the table's definition and
// rows come from one point (every chunk carries that snapshot: the sync
// unit's window of the table is that point). Before, it paused with
// TargetSchemaMismatch.
func TestFullUnitReloadsTableAlteredBeforeResume(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	up.Exec(t, "CREATE DATABASE app",
		"CREATE TABLE app.side (id INT NOT NULL PRIMARY KEY, v VARCHAR(20), KEY (v)) ENGINE=InnoDB",
		"INSERT INTO app.side SELECT seq, CONCAT('s', seq) FROM app.seq_1_to_3000",
		"CREATE TABLE app.other (id INT NOT NULL PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO app.other SELECT seq, CONCAT('o', seq) FROM app.seq_1_to_3000",
		"ANALYZE TABLE app.side, app.other")
	rec := &recorder{}
	deps := Deps{Key: config.DefaultKey, Propose: rec.propose, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unit, _ := NewFactory(deps)(assignment(t, up, down, "", 1))
	if err := unit.Run(ctx); err != nil {
		t.Fatal(err)
	}
	db := down.DB(t)
	for _, tbl := range []string{"app.side", "app.other"} {
		from := forgetChunksFrom(t, db, tbl, 1500)
		mustExec(t, db, fmt.Sprintf("DELETE FROM %s WHERE id > %d", tbl, from))
	}
	up.Exec(t, "ALTER TABLE app.side ADD COLUMN z INT NOT NULL DEFAULT 3, ADD INDEX (z)",
		"INSERT INTO app.side VALUES (5001, 'after alter', 5)", "UPDATE app.side SET z = 4 WHERE id % 10 = 0",
		"UPDATE app.other SET v = 'changed' WHERE id = 1")

	unit2, _ := NewFactory(deps)(assignment(t, up, down, "", 2))
	if err := unit2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	compare(t, up, down, [][4]string{{"app", "side", "app", "side"}})
	var n int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'side' AND INDEX_NAME IN ('v', 'z')").Scan(&n)
	if n != 2 {
		t.Errorf("target app.side has %d of its secondary indexes v and z", n)
	}
	// app.side: every chunk from the second snapshot; app.other keeps its
	// first chunks (row 1 as of the first snapshot).
	var last string
	if err := db.QueryRow("SELECT last_position FROM dm_meta.dmraft_load_plans").Scan(&last); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT tbl, snapshot_position = ?, done FROM dm_meta.dmraft_load_chunks", last)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	atLast := map[string][2]int{}
	for rows.Next() {
		var tbl string
		var isLast, done bool
		if err := rows.Scan(&tbl, &isLast, &done); err != nil {
			t.Fatal(err)
		}
		c := atLast[tbl]
		if isLast && done {
			c[0]++
		}
		c[1]++
		atLast[tbl] = c
	}
	if c := atLast["app.side"]; c[0] != c[1] || c[1] < 2 {
		t.Errorf("app.side: %d of %d chunks loaded from the second snapshot, want all", c[0], c[1])
	}
	if c := atLast["app.other"]; c[0] == 0 || c[0] == c[1] {
		t.Errorf("app.other: %d of %d chunks loaded from the second snapshot, want only the forgotten ones", c[0], c[1])
	}
	var v string
	db.QueryRow("SELECT v FROM app.other WHERE id = 1").Scan(&v)
	if v == "changed" {
		t.Errorf("app.other was loaded again: only app.side changed its definition")
	}

	// Every chunk loaded, marks not yet proposed (a crash), and a column
	// added upstream since: the target table stays as loaded (the sync
	// unit replays the ALTER) and the marks are proposed.
	up.Exec(t, "ALTER TABLE app.other ADD COLUMN w INT NOT NULL DEFAULT 1")
	before := len(rec.cmds)
	unit3, _ := NewFactory(deps)(assignment(t, up, down, "", 3))
	if err := unit3.Run(ctx); err != nil {
		t.Fatalf("all chunks loaded, table altered since: %v", err)
	}
	if len(rec.cmds) != before+2 {
		t.Errorf("proposed %d commands, want the dump and load marks", len(rec.cmds)-before)
	}
}
