package full

import (
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestTargetSchemaMismatch: a target table that already exists without a
// column of the source table pauses the copy with TargetSchemaMismatch
// naming the table and the column, before any row of it is written; once
// the target table is dropped, resume-task creates it and copies every row.
func TestTargetSchemaMismatch(t *testing.T) {
	c, up, down := startAll(t)
	up.Exec(t, "CREATE DATABASE app")
	up.Exec(t, BulkTable("app", "bulk", 3000)...)
	down.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.bulk (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL)")
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", bulkTaskYAML("mm", down, "")))

	code, msg, fix := waitError(t, c, "mm", 90*time.Second)
	t.Logf("%s: %s (%s)", code, msg, fix)
	if code != "TargetSchemaMismatch" || !strings.Contains(msg, "app.bulk") || !strings.Contains(msg, "no column c, pad, note") ||
		!strings.Contains(fix, "resume-task mm") {
		t.Fatalf("got %s: %s (%s); want TargetSchemaMismatch naming app.bulk, its missing columns and resume-task", code, msg, fix)
	}
	var n int
	if err := down.DB(t).QueryRow("SELECT COUNT(*) FROM app.bulk").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the mismatched target table holds %d rows (%v), want 0", n, err)
	}
	down.Exec(t, "DROP TABLE app.bulk")
	c.MustDmctl("resume-task", "mm")
	waitFinished(t, c, "mm", 90*time.Second)
	n1, s1 := up.Checksum(t, "app", "bulk")
	n2, s2 := down.Checksum(t, "app", "bulk")
	if n1 != n2 || s1 != s2 {
		t.Errorf("after resume: source %d rows %s, target %d rows %s", n1, s1, n2, s2)
	}
}
