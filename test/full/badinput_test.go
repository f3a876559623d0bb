package full

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// bulkTaskYAML is a full task of schema app only (threads 1, small chunks).
func bulkTaskYAML(name string, down *mariadb.Server, extraBAL string) string {
	return fmt.Sprintf(`name: %s
task-mode: full
target-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    mydumper: {threads: 1, rows: 1000}
    loader: {pool-size: 1}
block-allow-list:
  bal: {do-dbs: [app, app_two]%s}
`, name, down.Port, mariadb.User, mariadb.Password, extraBAL)
}

// TestTargetDiskFull: the target table cannot grow past 4 MB (a MEMORY
// table created under max_heap_table_size = 4M: the server answers 1114
// "The table is full", as InnoDB does when its tablespace cannot grow).
// The load pauses with TargetDiskFull naming the target and the fix; once
// the limit is raised, resume-task completes with every row exactly once.
//
// A tablespace on a full filesystem is not used here: MariaDB 10.11 then
// aborts in the statement rollback ("[FATAL] InnoDB: Error (Out of disk
// space) in rollback"), which dmraft sees as a target crash: retried for
// two minutes, then TargetWriteFailed; the chunk's transaction is lost
// with the server and reloaded after resume-task.
func TestTargetDiskFull(t *testing.T) {
	c, up, down := startAll(t)
	up.Exec(t, "CREATE DATABASE app")
	up.Exec(t, BulkTable("app", "bulk", 20000)...)
	down.Exec(t, "CREATE DATABASE app", "SET SESSION max_heap_table_size = 4194304",
		"CREATE TABLE app.bulk (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, note VARCHAR(64) NULL, KEY (k)) ENGINE=MEMORY")
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", bulkTaskYAML("df", down, "")))

	code, msg, fix := waitError(t, c, "df", 90*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", down.Port)
	t.Logf("%s: %s (%s)", code, msg, fix)
	if code != "TargetDiskFull" || !strings.Contains(msg, addr) || !strings.Contains(fix, "resume-task df") {
		t.Fatalf("disk full: %s: %s (%s); want TargetDiskFull naming %s and resume-task", code, msg, fix, addr)
	}
	_, _, st, _ := status(c, "df")
	if finished(st) || st.Stage != "Paused" {
		t.Fatalf("stage %s, finished %v: want paused, not finished", st.Stage, finished(st))
	}
	down.Exec(t, "SET SESSION max_heap_table_size = 134217728", "ALTER TABLE app.bulk ENGINE=MEMORY")
	c.MustDmctl("resume-task", "df")
	waitFinished(t, c, "df", 90*time.Second)
	n1, s1 := up.Checksum(t, "app", "bulk")
	n2, s2 := down.Checksum(t, "app", "bulk")
	if n1 != n2 || s1 != s2 {
		t.Errorf("after resume: source %d rows %s, target %d rows %s", n1, s1, n2, s2)
	}
}

// TestSourceDroppedDuringDump defines what a DROP upstream does to a
// running full copy (the load is held at a chosen chunk by a row lock on
// the target, so the timing is deterministic):
//   - A table the snapshot has opened (every table split into several
//     chunks is, from the start) cannot be dropped under it: the DROP
//     waits for the snapshot's metadata lock, the copy completes as of the
//     snapshot, and the DROP runs afterwards (task-mode all replays it).
//   - A table dropped while no snapshot holds it (the subtask paused, or
//     moved to another node after a failover) pauses the next run with
//     SourceTableGone naming the table, instead of finishing without its
//     missing chunks.
func TestSourceDroppedDuringDump(t *testing.T) {
	c, up, down := startAll(t)
	up.Exec(t, "CREATE DATABASE app", "CREATE DATABASE app_two")
	up.Exec(t, BulkTable("app", "bulk", 60000)...)
	up.Exec(t, BulkTable("app", "victim", 20000)...)
	up.Exec(t, CompositeKeyTable("app_two", "comp", 5000)...)
	up.Exec(t, "ANALYZE TABLE app.bulk, app.victim, app_two.comp")
	wantN, wantSum := up.Checksum(t, "app_two", "comp")
	down.Exec(t, "CREATE DATABASE app")
	down.Exec(t, BulkTable("app", "bulk", 0)[0], BulkTable("app", "victim", 0)[0])
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))

	// Hold the last chunk of app.bulk (the last chunk of the copy).
	unlock := holdRow(t, down, "app.bulk", 60000)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", bulkTaskYAML("dr", down, "")))
	waitRows(t, c, "dr", 70000)
	dropped := make(chan error, 1)
	go func() { dropped <- execWait(t, up, "DROP DATABASE app_two") }()
	select {
	case err := <-dropped:
		t.Fatalf("DROP DATABASE app_two ran while the snapshot was open (%v)", err)
	case <-time.After(time.Second):
	}
	unlock()
	waitFinished(t, c, "dr", 60*time.Second)
	if err := <-dropped; err != nil {
		t.Fatalf("DROP DATABASE after the copy: %v", err)
	}
	if n, sum := down.Checksum(t, "app_two", "comp"); n != wantN || sum != wantSum {
		t.Errorf("app_two.comp on the target: %d rows %s; the snapshot had %d rows %s", n, sum, wantN, wantSum)
	}

	// A second task, into empty tables, is held inside app.victim, paused,
	// and the table dropped.
	down.Exec(t, "DROP DATABASE app", "CREATE DATABASE app", BulkTable("app", "bulk", 0)[0], BulkTable("app", "victim", 0)[0])
	unlock = holdRow(t, down, "app.victim", 15000)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task2.yaml", bulkTaskYAML("dr2", down, "")))
	waitRows(t, c, "dr2", 20000)
	c.MustDmctl("pause-task", "dr2")
	if !harness.Eventually(30*time.Second, func() bool { _, _, st, err := status(c, "dr2"); return err == nil && st.Stage == "Paused" }) {
		t.Fatal("dr2 did not pause")
	}
	unlock()
	if err := execWait(t, up, "DROP TABLE app.victim"); err != nil {
		t.Fatalf("DROP TABLE app.victim while paused: %v", err)
	}
	c.MustDmctl("resume-task", "dr2")
	code, msg, fix := waitError(t, c, "dr2", 60*time.Second)
	t.Logf("%s: %s (%s)", code, msg, fix)
	if code != "SourceTableGone" || !strings.Contains(msg, "app.victim") || !strings.Contains(fix, "stop-task") {
		t.Errorf("a table dropped during the copy: %s: %s (%s); want SourceTableGone naming app.victim", code, msg, fix)
	}
	_, _, st, _ := status(c, "dr2")
	if finished(st) {
		t.Error("dr2 finished without the chunks of the dropped table")
	}
}

// holdRow inserts id into table on s in an open transaction, so that a
// load writing that key waits; the returned function rolls it back.
func holdRow(t *testing.T, s *mariadb.Server, table string, id int) func() {
	t.Helper()
	tx, err := s.DB(t).Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(fmt.Sprintf("INSERT INTO %s (id, k, c, pad) VALUES (%d, 0, 'held', 'held')", table, id)); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback() }
}

// execWait runs stmt with a 60 s lock wait timeout.
func execWait(t *testing.T, s *mariadb.Server, stmt string) error {
	conn, err := s.DB(t).Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SET SESSION lock_wait_timeout = 60"); err != nil {
		return err
	}
	_, err = conn.ExecContext(context.Background(), stmt)
	return err
}

// waitRows waits until the load unit has loaded more than rows rows.
func waitRows(t *testing.T, c *harness.Cluster, task string, rows int64) {
	t.Helper()
	if !harness.Eventually(60*time.Second, func() bool {
		_, _, st, err := status(c, task)
		var p loadProgress
		return err == nil && st.Unit == "load" && json.Unmarshal(st.Progress, &p) == nil && p.FinishedRows > rows
	}) {
		t.Fatal("the load did not start")
	}
}
