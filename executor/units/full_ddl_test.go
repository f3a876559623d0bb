package units

import (
	"context"
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
