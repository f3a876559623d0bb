package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/mariadb"
)

// incremental returns an assignment of task-mode incremental from meta.
func incremental(t *testing.T, up, down *mariadb.Server, file string, pos uint32, workers int, epoch uint64) (executor.Assignment, *config.Task) {
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
	task, err := config.ParseTask([]byte(fmt.Sprintf(`name: t1
task-mode: incremental
target-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: src1
    meta: {binlog-name: %s, binlog-pos: %d}
    block-allow-list: bal
    route-rules: [r1]
    filter-rules: [f1]
    syncer: {worker-count: %d, batch: 50}
block-allow-list:
  bal: {do-dbs: ["~^app"], ignore-tables: [{db-name: app, tbl-name: secret}]}
routes:
  r1: {schema-pattern: app, table-pattern: routed, target-schema: other, target-table: renamed}
filters:
  f1: {schema-pattern: app, table-pattern: nodelete, events: [delete], action: Ignore}
`, down.Port, mariadb.User, mariadb.Password, file, pos, workers)))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := task.ToProto(key)
	if err != nil {
		t.Fatal(err)
	}
	tp.CreatedUnixMs = 1000
	a := executor.Assignment{Task: tp, Subtask: &pb.Subtask{Task: "t1", SourceId: "src1"},
		Source: &pb.Source{Config: sc, CreatedUnixMs: 2000}, Epoch: epoch}
	tk, _ := config.TaskFromJSON(tp.ConfigJson)
	tk.Normalize()
	return a, tk
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned; err is then set
	err    error
	unit   *Unit
}

func start(t *testing.T, a executor.Assignment, task *config.Task) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := New(Deps{Key: config.DefaultKey, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}, a, task, task.Instance("src1"))
	r := &running{cancel: cancel, done: make(chan struct{}), unit: u}
	go func() { r.err = u.Run(ctx); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func masterPos(t *testing.T, db *sql.DB) (string, uint32) {
	t.Helper()
	var file string
	var pos uint32
	var a, b, c sql.NullString
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		if err2 := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b, &c); err2 != nil {
			t.Fatal(err)
		}
	}
	return file, pos
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// converge waits until every listed table has equal checksums.
func converge(t *testing.T, up, down *mariadb.Server, pairs [][2]string) {
	t.Helper()
	udb, ddb := up.DB(t), down.DB(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		diff := ""
		for _, p := range pairs {
			un, us, err1 := mariadb.RowChecksum(context.Background(), udb, strings.Split(p[0], ".")[0], strings.Split(p[0], ".")[1])
			dn, ds, err2 := mariadb.RowChecksum(context.Background(), ddb, strings.Split(p[1], ".")[0], strings.Split(p[1], ".")[1])
			if err1 != nil || err2 != nil || un != dn || us != ds {
				diff = fmt.Sprintf("%s (%d rows, %v) vs %s (%d rows, %v)", p[0], un, err1, p[1], dn, err2)
				break
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("target did not converge: %s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const schema = `CREATE TABLE app.items (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, qty INT, note TEXT, UNIQUE KEY (code));
CREATE TABLE app.nokey (a INT, b VARCHAR(10), f FLOAT);
CREATE TABLE app.types (id BIGINT UNSIGNED PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT,
  d DECIMAL(30,10), f FLOAT, db DOUBLE, bt BIT(10), dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(2), y YEAR,
  ch CHAR(5), vc VARCHAR(100) CHARACTER SET latin1, bin VARBINARY(20), bl BLOB, tx MEDIUMTEXT, e ENUM('x','y','z'),
  s SET('a','b','c'), j JSON);
CREATE TABLE app.routed (id INT PRIMARY KEY, v INT);
CREATE TABLE app.nodelete (id INT PRIMARY KEY);
CREATE TABLE app.secret (id INT PRIMARY KEY)`

func setup(t *testing.T, srv *mariadb.Server, routedTarget bool) {
	t.Helper()
	srv.Exec(t, "CREATE DATABASE app")
	for _, s := range strings.Split(schema, ";\n") {
		srv.Exec(t, s)
	}
	if routedTarget {
		srv.Exec(t, "CREATE DATABASE other", "CREATE TABLE other.renamed (id INT PRIMARY KEY, v INT)")
	}
}

func workload(t *testing.T, db *sql.DB, round int) {
	t.Helper()
	b := round * 100000
	for i := 0; i < 200; i++ {
		exec(t, db, fmt.Sprintf("INSERT INTO app.items (id, code, qty) VALUES (%d, 'c%d', %d)", b+i, b+i, i))
	}
	exec(t, db,
		fmt.Sprintf("UPDATE app.items SET qty = qty + 1 WHERE id < %d", b+100),
		fmt.Sprintf("UPDATE app.items SET id = id + 5000 WHERE id >= %d AND id < %d", b+150, b+160), // key change
		fmt.Sprintf("UPDATE app.items SET code = CONCAT(code, 'x') WHERE id >= %d AND id < %d", b+100, b+110),
		fmt.Sprintf("DELETE FROM app.items WHERE id >= %d AND id < %d", b+50, b+70),
		// unique value moves between rows in one transaction
		"BEGIN",
		fmt.Sprintf("UPDATE app.items SET code = 'tmp%d' WHERE id = %d", round, b+1),
		fmt.Sprintf("UPDATE app.items SET code = 'c%d' WHERE id = %d", b+1, b+2),
		"COMMIT",
		"INSERT INTO app.nokey (a, b, f) VALUES (1, 'a', 1.1), (1, 'a', 1.1), (2, NULL, NULL), (3, 'c', 3.3)",
		"UPDATE app.nokey SET b = 'z' WHERE a = 1 LIMIT 1",
		"DELETE FROM app.nokey WHERE a = 3",
		fmt.Sprintf(`INSERT INTO app.types VALUES (%d, -128, 65535, -8388608, -9223372036854775808, 12345678901234567890.0123456789, 1.1, 2.2e-300,
b'1010101010', '2020-02-29', '2021-12-31 23:59:59.999999', '2022-01-01 00:00:00.123', '-838:59:59.99', 2155,
'ab', 'caf\xe9', x'00ff10', x'deadbeef', 'line1\nline2 \'q\' \\', 'y', 'a,c', '{"k": [1, 2.5, "x"]}')`, round+1),
		fmt.Sprintf("INSERT INTO app.types (id) VALUES (%d)", round+100),
		fmt.Sprintf("INSERT INTO app.routed VALUES (%d, 1)", round),
		fmt.Sprintf("UPDATE app.routed SET v = v + 1 WHERE id = %d", round),
		fmt.Sprintf("INSERT INTO app.nodelete VALUES (%d)", round),
		fmt.Sprintf("DELETE FROM app.nodelete WHERE id = %d", round),
		fmt.Sprintf("INSERT INTO app.secret VALUES (%d)", round),
	)
	// A big transaction.
	var sb strings.Builder
	sb.WriteString("INSERT INTO app.items (id, code, qty) VALUES ")
	for i := 0; i < 3000; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "(%d, 'big%d', %d)", b+50000+i, b+50000+i, i)
	}
	exec(t, db, "BEGIN", sb.String(), fmt.Sprintf("UPDATE app.items SET qty = -1 WHERE id >= %d", b+50000), "COMMIT")
}

var compared = [][2]string{{"app.items", "app.items"}, {"app.nokey", "app.nokey"}, {"app.types", "app.types"}, {"app.routed", "other.renamed"}}

func TestSyncEndToEnd(t *testing.T) {
	servers := mariadb.StartMany(t, mariadb.Options{Binlog: true}, mariadb.Options{})
	up, down := servers[0], servers[1]
	setup(t, up, false)
	setup(t, down, true)
	udb := up.DB(t)
	file, pos := masterPos(t, udb)

	a, task := incremental(t, up, down, file, pos, 4, 1)
	r := start(t, a, task)
	workload(t, udb, 1)
	converge(t, up, down, compared)

	// DDL in the middle, with writes around it.
	exec(t, udb,
		"ALTER TABLE app.items ADD COLUMN extra INT DEFAULT 7",
		"INSERT INTO app.items (id, code, qty, extra) VALUES (900000, 'ddl1', 1, 8)",
		"ALTER TABLE app.items DROP COLUMN note",
		"UPDATE app.items SET extra = 9 WHERE id = 900000",
		"CREATE INDEX qty_idx ON app.items (qty)",
		"CREATE TABLE app.fresh (id INT PRIMARY KEY, v VARCHAR(5))",
		"INSERT INTO app.fresh VALUES (1, 'a'), (2, 'b')",
		"RENAME TABLE app.fresh TO app.fresh2",
		"INSERT INTO app.fresh2 VALUES (3, 'c')",
		"CREATE TABLE app.gone (id INT)", "INSERT INTO app.gone VALUES (1)", "DROP TABLE app.gone",
		"ALTER TABLE app.nokey ADD COLUMN c INT FIRST",
		"INSERT INTO app.nokey VALUES (5, 9, 'q', 2.5)",
	)
	converge(t, up, down, append(compared, [2]string{"app.fresh2", "app.fresh2"}))
	var n int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME IN ('gone', 'secret_x')").Scan(&n)
	if n != 0 {
		t.Fatal("dropped table still on the target")
	}
	var nd int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM app.nodelete").Scan(&nd)
	if nd != 1 {
		t.Fatalf("filter ignoring deletes: target has %d rows in app.nodelete, want 1", nd)
	}
	var secret int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM app.secret").Scan(&secret)
	if secret != 0 {
		t.Fatal("the block-allow-list ignores app.secret")
	}
	time.Sleep(2500 * time.Millisecond)
	t.Logf("progress: %s", r.unit.Progress())

	// Crash mid-stream (cancel without draining), restart with another
	// epoch and another worker count: nothing lost, nothing doubled.
	done := make(chan struct{})
	go func() {
		defer close(done)
		workload(t, udb, 2)
	}()
	time.Sleep(300 * time.Millisecond)
	r.cancel()
	<-r.done
	<-done
	a2, task2 := incremental(t, up, down, file, pos, 3, 2)
	r2 := start(t, a2, task2)
	workload(t, udb, 3)
	converge(t, up, down, append(compared, [2]string{"app.fresh2", "app.fresh2"}))

	// Fencing: a newer owner raises the epoch; the old one must stop.
	a3, task3 := incremental(t, up, down, file, pos, 3, 3)
	r3 := start(t, a3, task3)
	exec(t, udb, "INSERT INTO app.items (id, code) VALUES (990001, 'fence')")
	select {
	case <-r2.done:
		if !errors.Is(r2.err, target.ErrFenced) {
			t.Fatalf("old owner ended with %v, want fenced", r2.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("old owner still runs after the epoch was raised")
	}
	converge(t, up, down, compared)
	var stale int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_sync_batches WHERE epoch = 2 AND id > (SELECT MIN(id) FROM dm_meta.dmraft_sync_batches WHERE epoch = 3)").Scan(&stale)
	if stale != 0 {
		t.Fatalf("%d batches of epoch 2 committed after epoch 3 started", stale)
	}
	var st status
	if err := jsonUnmarshal(r3.unit.Progress(), &st); err != nil || st.SyncerBinlog == "" || st.MasterBinlog == "" {
		t.Fatalf("progress %s (%v)", r3.unit.Progress(), err)
	}
}
