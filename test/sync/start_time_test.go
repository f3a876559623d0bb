package syncsuite

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestStartTime: `start-task --start-time` on an incremental task starts at
// the first binlog transaction at or after that time, found across rotated
// binlog files: the rows written before it never reach the target, every
// row written after it does. A second start with --start-time while the
// target holds the task's checkpoint is refused (it would apply changes
// twice or skip them), and --start-time on task-mode all is refused.
func TestStartTime(t *testing.T) {
	c, up, down := setup(t, 1)
	up.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, phase VARCHAR(10) NOT NULL)")
	down.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, phase VARCHAR(10) NOT NULL)")
	insert := func(from, n int, phase string) {
		for i := from; i < from+n; i += 10 {
			up.Exec(t, fmt.Sprintf("INSERT INTO app.t SELECT seq, '%s' FROM app.seq_%d_to_%d", phase, i, min(i+9, from+n-1)))
		}
	}
	insert(1, 50, "before")
	up.Exec(t, "FLUSH BINARY LOGS")
	insert(51, 50, "before")
	up.Exec(t, "FLUSH BINARY LOGS")
	// Binlog timestamps are whole seconds: start at the next full second
	// and write the later rows after it.
	at := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(at) + 100*time.Millisecond)
	insert(1001, 40, "after")
	up.Exec(t, "FLUSH BINARY LOGS")
	insert(1041, 40, "after")

	dir := t.TempDir()
	taskFile := harness.WriteFile(t, dir, "task.yaml", taskYAML("st1", "incremental", down, 2, 16, ""))
	when := at.Local().Format(time.DateTime)
	c.MustDmctl("start-task", "--start-time", when, taskFile)
	insert(2001, 30, "later")
	if !harness.Eventually(60*time.Second, func() bool {
		return count(t, down, "SELECT COUNT(*) FROM app.t") >= 110
	}) {
		st, _ := status(c, "st1")
		t.Fatalf("the target has %d rows, want 110 (80 after --start-time, 30 later); status %+v %s",
			count(t, down, "SELECT COUNT(*) FROM app.t"), st, st.Progress)
	}
	time.Sleep(time.Second)
	if n := count(t, down, "SELECT COUNT(*) FROM app.t WHERE phase = 'before'"); n != 0 {
		t.Errorf("%d rows written before --start-time %s reached the target", n, when)
	}
	if n := count(t, down, "SELECT COUNT(*) FROM app.t WHERE phase = 'after'"); n != 80 {
		t.Errorf("%d of the 80 rows written after --start-time %s are on the target", n, when)
	}
	if n := count(t, down, "SELECT COUNT(*) FROM app.t WHERE phase = 'later'"); n != 30 {
		t.Errorf("%d of the 30 rows written after the start are on the target", n)
	}

	t.Run("CheckpointExists", func(t *testing.T) {
		c.MustDmctl("stop-task", "st1")
		out, err := c.Dmctl("start-task", "--start-time", when, taskFile)
		if err == nil || !strings.Contains(out+err.Error(), "checkpoint") {
			t.Fatalf("start-task --start-time over an existing checkpoint: err %v\n%s", err, out)
		}
		t.Logf("refused: %s", strings.TrimSpace(out))
	})
	t.Run("ModeAll", func(t *testing.T) {
		out, err := c.Dmctl("start-task", "--start-time", when, harness.WriteFile(t, dir, "all.yaml", taskYAML("st2", "all", down, 2, 16, "")))
		if err == nil || !strings.Contains(out+err.Error(), "task-mode incremental") {
			t.Fatalf("start-task --start-time on task-mode all: err %v\n%s", err, out)
		}
	})
	t.Run("BadTime", func(t *testing.T) {
		out, err := c.Dmctl("start-task", "--start-time", "yesterday", taskFile)
		if err == nil || !strings.Contains(out+err.Error(), "2006-01-02 15:04:05") {
			t.Fatalf("start-task --start-time yesterday: err %v\n%s", err, out)
		}
	})
}
