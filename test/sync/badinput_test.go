package syncsuite

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestBadInput: input dmraft cannot replicate as is gets a clear error and
// loses nothing: a source whose binlog is not ROW, a DDL the target
// rejects, a row the target rejects (each fixed on the target and resumed,
// after which the target equals the source), and a start position in a
// purged binlog.
func TestBadInput(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"},
		mariadb.Options{Name: "stmt", Binlog: true, ExtraArgs: []string{"--binlog-format=STATEMENT"}})
	up, down, stmt := srv[0], srv[1], srv[2]
	c := harness.NewCluster(t, 1, harness.Options{NodeArgs: harness.FastTimeouts})
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s1.yaml", up.SourceYAML("src1")))
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s2.yaml", stmt.SourceYAML("src2")))

	t.Run("BinlogNotRow", func(t *testing.T) { statementBinlog(t, c, stmt, down) })

	up.Exec(t, seedSQL(2000)...)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("bad1", "all", down, 4, 32, "")))
	waitSyncing(t, c, "bad1", 60*time.Second)
	t.Run("DDLRejected", func(t *testing.T) { ddlRejected(t, c, up, down) })
	t.Run("RowRejected", func(t *testing.T) { rowRejected(t, c, up, down) })
	c.MustDmctl("stop-task", "bad1")
	t.Run("PurgedBinlog", func(t *testing.T) { purgedBinlog(t, c, up, down) })
}

// statementBinlog: start-task on a STATEMENT-binlog source is refused by
// the precheck, or the subtask pauses, with an error naming binlog_format.
func statementBinlog(t *testing.T, c *harness.Cluster, stmt, down *mariadb.Server) {
	stmt.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	task := strings.Replace(taskYAML("stmt1", "all", down, 1, 10, ""), "source-id: src1", "source-id: src2", 1)
	task = strings.Replace(task, "do-dbs: [\"app\"]", "do-dbs: [\"app\"]\n    ignore-tables: [{db-name: app, tbl-name: nothing}]", 1)
	out, err := c.Dmctl("start-task", harness.WriteFile(t, t.TempDir(), "stmt.yaml", task))
	if err != nil {
		msg := out + err.Error()
		t.Logf("start-task refused: %s", msg)
		if !strings.Contains(msg, "binlog_format") || !strings.Contains(msg, "ROW") {
			t.Errorf("start-task on a STATEMENT binlog failed without naming binlog_format and ROW:\n%s", msg)
		}
		return
	}
	_, e := waitErr(t, c, "stmt1", 60*time.Second)
	t.Logf("subtask error: %+v", e)
	if !strings.Contains(e.Message+e.Workaround, "binlog_format") {
		t.Errorf("the error does not name binlog_format: %+v", e)
	}
	c.MustDmctl("stop-task", "stmt1")
}

// ddlRejected: a CREATE TABLE for a table that already exists on the
// target pauses the subtask with the statement; a change after it is not
// applied; after the table is dropped on the target, resume-task runs the
// DDL and everything after it.
func ddlRejected(t *testing.T, c *harness.Cluster, up, down *mariadb.Server) {
	down.Exec(t, "CREATE TABLE app.clash (other INT)")
	up.Exec(t, "CREATE TABLE app.clash (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO app.clash VALUES (1, 'after')",
		"INSERT INTO app.items VALUES (99999001, 'after-ddl', 1, 'written after the rejected DDL')")
	st, e := waitErr(t, c, "bad1", 60*time.Second)
	t.Logf("subtask error: %+v", e)
	if !strings.Contains(e.Message, "CREATE TABLE") || !strings.Contains(e.Message, "clash") {
		t.Errorf("the error does not show the rejected statement: %+v", e)
	}
	if !strings.Contains(e.Workaround, "resume-task") {
		t.Errorf("the error shows no way out: %+v", e)
	}
	if st.Stage == "Running" && st.DesiredStage == "Running" {
		t.Errorf("the subtask is not paused: %+v", st)
	}
	if n := count(t, down, "SELECT COUNT(*) FROM app.items WHERE id = 99999001"); n != 0 {
		t.Errorf("a row written after the rejected DDL is on the target while the subtask is paused")
	}
	down.Exec(t, "DROP TABLE app.clash")
	c.MustDmctl("resume-task", "bad1")
	converge(t, c, "bad1", up, down, "app", 60*time.Second)
}

// rowRejected: a row that violates a CHECK constraint of the target pauses
// the subtask with the row's key; after the constraint is dropped,
// resume-task applies it and everything after it.
func rowRejected(t *testing.T, c *harness.Cluster, up, down *mariadb.Server) {
	down.Exec(t, "ALTER TABLE app.items ADD CONSTRAINT qty_small CHECK (qty < 1000000)")
	up.Exec(t, "INSERT INTO app.items VALUES (99999100, 'too-big', 5000000, 'rejected by the target')")
	var after []string
	for i := range 20 {
		after = append(after, fmt.Sprintf("INSERT INTO app.items VALUES (%d, 'after-%d', %d, NULL)", 99999200+i, i, i))
	}
	up.Exec(t, after...)
	_, e := waitErr(t, c, "bad1", 60*time.Second)
	t.Logf("subtask error: %+v", e)
	if !strings.Contains(e.Message, "id=99999100") || !strings.Contains(e.Message, "items") {
		t.Errorf("the error does not name the rejected row app.items id=99999100: %+v", e)
	}
	if !strings.Contains(e.Workaround, "resume-task") {
		t.Errorf("the error shows no way out: %+v", e)
	}
	if n := count(t, down, "SELECT COUNT(*) FROM app.items WHERE id = 99999100"); n != 0 {
		t.Errorf("the rejected row is on the target")
	}
	// Later rows of other workers may be applied; none is skipped (below).
	t.Logf("%d of the 20 later rows are on the target while the subtask is paused",
		count(t, down, "SELECT COUNT(*) FROM app.items WHERE id BETWEEN 99999200 AND 99999219"))
	down.Exec(t, "ALTER TABLE app.items DROP CONSTRAINT qty_small")
	c.MustDmctl("resume-task", "bad1")
	converge(t, c, "bad1", up, down, "app", 60*time.Second)
}

// purgedBinlog: task-mode incremental from a binlog file the source has
// purged fails with an error that names the purge and the fix.
func purgedBinlog(t *testing.T, c *harness.Cluster, up, down *mariadb.Server) {
	db := up.DB(t)
	logs := func() []string {
		rows, err := db.Query("SHOW BINARY LOGS")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out []string
		for rows.Next() {
			var name string
			vals := []any{&name}
			for len(vals) < len(cols) {
				vals = append(vals, new(any))
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		return out
	}
	first := logs()[0]
	up.Exec(t, "FLUSH BINARY LOGS", "INSERT INTO app.items VALUES (99999300, 'purge', 1, NULL)", "FLUSH BINARY LOGS")
	cur := logs()
	last := cur[len(cur)-1]
	// A dump thread of the stopped task may still hold the file for a moment.
	if !harness.Eventually(30*time.Second, func() bool {
		up.Exec(t, "PURGE BINARY LOGS TO '"+last+"'")
		return logs()[0] == last
	}) {
		t.Fatalf("the source did not purge its binlogs before %s: %v", last, logs())
	}
	meta := fmt.Sprintf("    meta: {binlog-name: %s, binlog-pos: 4}\n", first)
	out, err := c.Dmctl("start-task", harness.WriteFile(t, t.TempDir(), "purge.yaml", taskYAML("purge1", "incremental", down, 2, 10, meta)))
	var msg string
	if err != nil {
		msg = out + err.Error()
		t.Logf("start-task refused: %s", msg)
	} else {
		_, e := waitErr(t, c, "purge1", 60*time.Second)
		t.Logf("subtask error: %+v", e)
		msg = e.ErrCode + " " + e.Message + " " + e.Workaround
	}
	if !strings.Contains(strings.ToLower(msg), "purged") || !strings.Contains(msg, first) {
		t.Errorf("the error does not say that %s was purged: %s", first, msg)
	}
	if !strings.Contains(msg, "full copy") && !strings.Contains(msg, "task-mode all") {
		t.Errorf("the error does not name the fix (a fresh full copy): %s", msg)
	}
}
