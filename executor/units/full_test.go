package units

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/full"
	"github.com/dmraft/dmraft/test/mariadb"
)

// recorder is a fake Propose that keeps the commands.
type recorder struct {
	mu   sync.Mutex
	cmds []*pb.Command
}

func (r *recorder) propose(_ context.Context, c *pb.Command) (*pb.ApplyResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, c)
	return &pb.ApplyResult{}, nil
}

func assignment(t *testing.T, up, down *mariadb.Server, taskExtra string, epoch uint64) executor.Assignment {
	t.Helper()
	key := config.DefaultKey
	src, err := config.ParseSource([]byte(fmt.Sprintf("source-id: src1\nflavor: mariadb\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
		up.Port, mariadb.User, mariadb.Password)))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := src.ToProto(key)
	if err != nil {
		t.Fatal(err)
	}
	task, err := config.ParseTask([]byte(full.TaskYAML("t1", down.Port, "threads: 2, rows: 1000, statement-size: 20000", "pool-size: 3", taskExtra)))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := task.ToProto(key)
	if err != nil {
		t.Fatal(err)
	}
	tp.CreatedUnixMs = 1000
	return executor.Assignment{
		Task:    tp,
		Subtask: &pb.Subtask{Task: "t1", SourceId: "src1", DesiredStage: pb.Stage_RUNNING},
		Source:  &pb.Source{Config: sc, Enabled: true, CreatedUnixMs: 500, Epoch: epoch},
		Epoch:   epoch,
	}
}

func seed(t *testing.T, up *mariadb.Server) {
	t.Helper()
	stmts := []string{"CREATE DATABASE app", "CREATE DATABASE app_two", "CREATE DATABASE skipme"}
	stmts = append(stmts, full.TypesTable("app")...)
	stmts = append(stmts, full.InfileTypesTable("app")...)
	stmts = append(stmts, full.BulkTable("app", "bulk", 12345)...)
	stmts = append(stmts, full.NoKeyTable("app", "nokey", 2500)...)
	stmts = append(stmts, full.CompositeKeyTable("app_two", "comp", 5003)...)
	stmts = append(stmts, full.BulkTable("app", "routed", 1500)...)
	stmts = append(stmts, full.BulkTable("app", "secret", 10)...)
	stmts = append(stmts, full.BulkTable("skipme", "t", 10)...)
	up.Exec(t, stmts...)
}

func compare(t *testing.T, up, down *mariadb.Server, pairs [][4]string) {
	t.Helper()
	for _, p := range pairs {
		n1, s1 := up.Checksum(t, p[0], p[1])
		n2, s2 := down.Checksum(t, p[2], p[3])
		if n1 != n2 || s1 != s2 {
			t.Errorf("%s.%s -> %s.%s: source %d rows %s, target %d rows %s", p[0], p[1], p[2], p[3], n1, s1, n2, s2)
		}
	}
}

var tablePairs = [][4]string{
	{"app", "types", "app", "types"}, {"app", "types_infile", "app", "types_infile"}, {"app", "bulk", "app", "bulk"}, {"app", "nokey", "app", "nokey"},
	{"app_two", "comp", "app_two", "comp"}, {"app", "routed", "other", "renamed"},
}

func absent(t *testing.T, down *mariadb.Server, schema, table string) {
	t.Helper()
	var n int
	if err := down.DB(t).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%s.%s was copied but is filtered out", schema, table)
	}
}

func TestFullUnitCopiesEveryTypeAndResumes(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	seed(t, up)
	rec := &recorder{}
	deps := Deps{Key: config.DefaultKey, Propose: rec.propose, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	a := assignment(t, up, down, "", 1)
	unit, err := NewFactory(deps)(a)
	if err != nil || unit == nil {
		t.Fatalf("factory: %v %v", unit, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := unit.Run(ctx); err != nil {
		t.Fatal(err)
	}
	compare(t, up, down, tablePairs)
	// Tables without BIT or spatial columns went through LOAD DATA.
	var name string
	var loads int
	if err := down.DB(t).QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &loads); err != nil || loads == 0 {
		t.Errorf("the target ran %d LOAD DATA statements (%v), want some", loads, err)
	}
	absent(t, down, "app", "secret")
	absent(t, down, "skipme", "t")
	absent(t, down, "app", "routed")
	if !strings.Contains(unit.Progress(), `"progress":"100.00 %"`) {
		t.Errorf("progress after finish: %s", unit.Progress())
	}
	var idx, deferred int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'bulk' AND INDEX_NAME = 'k'").Scan(&idx)
	down.DB(t).QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_deferred_indexes").Scan(&deferred)
	if idx != 1 || deferred != 0 {
		t.Errorf("secondary index app.bulk.k: %d (want 1); deferred indexes left: %d", idx, deferred)
	}
	if len(rec.cmds) != 2 {
		t.Fatalf("proposed %d commands, want the dump and load marks", len(rec.cmds))
	}

	// Lose some chunks on the target (as if their transactions had not
	// committed), then run again as a new owner: only they are loaded.
	db := down.DB(t)
	from := forgetChunksFrom(t, db, "app.bulk", 6000)
	mustExec(t, db, fmt.Sprintf("DELETE FROM app.bulk WHERE id > %d", from))
	up.Exec(t, "UPDATE app.bulk SET note = 'changed' WHERE id = 1") // after the first snapshot: stays old on the target
	a2 := assignment(t, up, down, "", 2)
	unit2, _ := NewFactory(deps)(a2)
	if err := unit2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	db.QueryRow("SELECT COUNT(*) FROM app.bulk").Scan(&n)
	if n != 12345 {
		t.Errorf("after resume app.bulk has %d rows, want 12345", n)
	}
	var note string
	db.QueryRow("SELECT note FROM app.bulk WHERE id = 1").Scan(&note)
	if note == "changed" {
		t.Errorf("a finished chunk was loaded again")
	}
	var stale int
	db.QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_load_chunks WHERE epoch NOT IN (1, 2) OR done = 0").Scan(&stale)
	if stale != 0 {
		t.Errorf("%d chunk rows not done or with an unknown epoch", stale)
	}

	// The first owner is stale now: it must not write.
	unit3, _ := NewFactory(deps)(assignment(t, up, down, "", 1))
	err = unit3.Run(ctx)
	var ee *executor.Error
	if err == nil || !strings.Contains(err.Error(), "fenced") {
		t.Errorf("stale owner: got %v, want a fenced error", err)
	} else if asErr(err, &ee); ee.Code != "Fenced" {
		t.Errorf("stale owner: code %q", ee.Code)
	}
}

func asErr(err error, target **executor.Error) {
	for e := err; e != nil; {
		if x, ok := e.(*executor.Error); ok {
			*target = x
			return
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return
		}
		e = u.Unwrap()
	}
}
