package syncsuite

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestBinlogSkipReplace: a DDL the target rejects pauses the subtask;
// `dmctl binlog skip TASK` skips it and `dmctl binlog replace TASK "SQL;..."`
// runs other statements instead, each resuming the subtask in one command;
// the changes after the DDL are applied and the target equals the source.
func TestBinlogSkipReplace(t *testing.T) {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	up, down := srv[0], srv[1]
	c := harness.NewCluster(t, 1, harness.Options{NodeArgs: harness.FastTimeouts})
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s1.yaml", up.SourceYAML("src1")))
	up.Exec(t, seedSQL(500)...)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("bl1", "all", down, 4, 32, "")))
	waitSyncing(t, c, "bl1", 60*time.Second)

	t.Run("Skip", func(t *testing.T) {
		// The table exists on the target already, with the same definition:
		// the CREATE is rejected and skipping it is the fix.
		down.Exec(t, "CREATE TABLE app.skipme (id INT PRIMARY KEY, v VARCHAR(10))")
		up.Exec(t, "CREATE TABLE app.skipme (id INT PRIMARY KEY, v VARCHAR(10))",
			"INSERT INTO app.skipme VALUES (1, 'after')",
			"INSERT INTO app.items VALUES (99998001, 'after-skip', 1, 'written after the skipped DDL')")
		pausedAt(t, c, down, "skipme", 99998001)
		out := c.MustDmctl("binlog", "skip", "bl1")
		t.Logf("binlog skip:\n%s", out)
		if !strings.Contains(out, "src1") || !strings.Contains(out, "mysql-bin") && !strings.Contains(out, "bin.") {
			t.Errorf("binlog skip does not show the source and the position:\n%s", out)
		}
		converge(t, c, "bl1", up, down, "app", 60*time.Second)
		if n := count(t, down, "SELECT COUNT(*) FROM app.skipme WHERE id = 1"); n != 1 {
			t.Errorf("the row written after the skipped DDL is not on the target")
		}
	})

	t.Run("Replace", func(t *testing.T) {
		// A different table of that name on the target: replace the CREATE
		// by dropping it and creating the source's.
		down.Exec(t, "CREATE TABLE app.repl (other INT)")
		up.Exec(t, "CREATE TABLE app.repl (id INT PRIMARY KEY, v VARCHAR(10))",
			"INSERT INTO app.repl VALUES (1, 'after'), (2, 'after')",
			"INSERT INTO app.items VALUES (99998002, 'after-replace', 1, 'written after the replaced DDL')")
		pausedAt(t, c, down, "repl", 99998002)
		out := c.MustDmctl("-o", "json", "binlog", "replace", "bl1",
			"DROP TABLE app.repl; CREATE TABLE app.repl (id INT PRIMARY KEY, v VARCHAR(10))")
		t.Logf("binlog replace:\n%s", out)
		var resp struct {
			Result   bool `json:"result"`
			Subtasks []struct {
				Source   string `json:"source"`
				Position string `json:"position"`
			} `json:"subtasks"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil || !resp.Result || len(resp.Subtasks) != 1 || resp.Subtasks[0].Position == "" {
			t.Errorf("binlog replace --output json: %v\n%s", err, out)
		}
		converge(t, c, "bl1", up, down, "app", 60*time.Second)
		if n := count(t, down, "SELECT COUNT(*) FROM app.repl"); n != 2 {
			t.Errorf("app.repl has %d rows on the target, want 2", n)
		}
	})

	t.Run("NothingPaused", func(t *testing.T) {
		if out, err := c.Dmctl("binlog", "skip", "bl1"); err == nil {
			t.Errorf("binlog skip with no subtask paused at a DDL succeeded:\n%s", out)
		}
		if out, err := c.Dmctl("binlog", "replace", "bl1", "ALTER TABLE nonsense nonsense"); err == nil {
			t.Errorf("binlog replace with a statement that does not parse succeeded:\n%s", out)
		}
	})
}

// pausedAt waits for the subtask to pause at the CREATE TABLE of table,
// and checks that the row app.items id written after it is not applied.
func pausedAt(t *testing.T, c *harness.Cluster, down *mariadb.Server, table string, id int) {
	t.Helper()
	st, e := waitErr(t, c, "bl1", 60*time.Second)
	t.Logf("subtask error: %+v", e)
	if !strings.Contains(e.Message, "CREATE TABLE") || !strings.Contains(e.Message, table) {
		t.Fatalf("the error does not show the rejected statement: %+v", e)
	}
	if !strings.Contains(e.Workaround, "binlog skip") {
		t.Errorf("the error does not name `dmctl binlog skip`: %+v", e)
	}
	if st.Stage == "Running" && st.DesiredStage == "Running" {
		t.Errorf("the subtask is not paused: %+v", st)
	}
	if n := count(t, down, "SELECT COUNT(*) FROM app.items WHERE id = "+itoa(id)); n != 0 {
		t.Errorf("a row written after the rejected DDL is on the target while the subtask is paused")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
