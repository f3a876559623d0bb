package syncsuite

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// startStreaming seeds the source, starts the workload and a task-mode all
// task, and returns once the sync unit has applied workload rows.
func startStreaming(t *testing.T, task string) (*harness.Cluster, *mariadb.Server, *mariadb.Server, *workload, subtask) {
	t.Helper()
	c, up, down := setup(t, 3)
	up.Exec(t, seedSQL(5000)...)
	w := newWorkload(t, up, 2)
	w.start(100000, 5*time.Millisecond)
	t.Cleanup(w.halt)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML(task, "all", down, 4, 32, "")))
	waitSyncing(t, c, task, 90*time.Second)
	st := waitStatus(t, c, task, 30*time.Second, "rows applied by the sync unit", false, func(s subtask) bool {
		p, ok := s.sync()
		return ok && p.TotalRows > 200
	})
	return c, up, down, w, st
}

// TestKillBoundNode: kill -9 the node that syncs, mid-stream: the source
// moves with a higher epoch and the target ends equal to the source, with
// no duplicate in the keyless table.
func TestKillBoundNode(t *testing.T) {
	c, up, down, w, st := startStreaming(t, "kill1")
	t.Logf("killing %s (epoch %d) at %s", st.Worker, st.Epoch, st.Progress)
	killed := time.Now()
	c.Node(st.Worker).Kill()
	w.waitRounds(5, 30*time.Second) // written while nobody owns the source
	moved := waitMoved(t, c, "kill1", st.Worker, st.Epoch, 30*time.Second)
	t.Logf("source moved to %s epoch %d after %v", moved.Worker, moved.Epoch, time.Since(killed).Round(100*time.Millisecond))
	waitSyncing(t, c, "kill1", 30*time.Second)
	w.waitRounds(10, 60*time.Second)
	w.halt()

	converge(t, c, "kill1", up, down, "app", 90*time.Second)
	n1, n2 := count(t, up, "SELECT COUNT(*) FROM app.nokey"), count(t, down, "SELECT COUNT(*) FROM app.nokey")
	if n1 != n2 {
		t.Errorf("app.nokey: %d rows on the source, %d on the target", n1, n2)
	}
	per := rowsPerEpoch(batches(t, down, "kill1"))
	if per[st.Epoch] == 0 || per[moved.Epoch] == 0 {
		t.Errorf("rows per epoch %v: want rows of the killed owner (epoch %d) and of the new one (epoch %d)", per, st.Epoch, moved.Epoch)
	}
}

// TestPauseBoundNode: SIGSTOP the node that syncs (mid-way through a large
// transaction) until the source has moved, keep writing, SIGCONT it. The
// target ends equal to the source and the batch log shows that the paused
// node committed nothing after the new owner's first batch: the epoch
// check fenced it.
func TestPauseBoundNode(t *testing.T) {
	c, up, down, w, st := startStreaming(t, "pause1")
	// Mid-way through a transaction applied in batches, so that the
	// paused node is likely to hold a worker transaction open.
	hugeTxn(t, up, down, 30000)
	old := c.Node(st.Worker)
	t.Logf("pausing %s (epoch %d) at %s", old.Name, st.Epoch, st.Progress)
	old.Pause()
	paused := true
	defer func() {
		if paused {
			old.Resume()
		}
	}()
	moved := waitMoved(t, c, "pause1", old.Name, st.Epoch, 30*time.Second)
	w.waitRounds(5, 30*time.Second)
	old.Resume()
	paused = false
	resumed := time.Now()
	t.Logf("source moved to %s epoch %d; resumed %s", moved.Worker, moved.Epoch, old.Name)
	// The woken node notices that its lease lapsed and stops its runner.
	if !harness.Eventually(30*time.Second, func() bool {
		evs, _ := old.Events("runner_stopped")
		fenced, _ := old.Events("fenced")
		evs = append(evs, fenced...)
		for _, e := range evs {
			if e.Time.After(resumed.Add(-time.Second)) {
				return true
			}
		}
		return false
	}) {
		t.Errorf("%s did not stop its runner after it was resumed:\n%s", old.Name, old.LogTail(20))
	}
	w.waitRounds(10, 60*time.Second)
	w.halt()
	converge(t, c, "pause1", up, down, "app", 90*time.Second)

	bs := batches(t, down, "pause1")
	var firstNew *batch
	for i := range bs {
		if bs[i].Epoch > st.Epoch && (firstNew == nil || bs[i].ID < firstNew.ID) {
			firstNew = &bs[i]
		}
	}
	if firstNew == nil {
		t.Fatalf("no batch of the new owner in the batch log (%d batches)", len(bs))
	}
	oldRows := 0
	for _, b := range bs {
		if b.Epoch != st.Epoch {
			continue
		}
		oldRows += b.Rows
		if b.ID > firstNew.ID || b.Committed.After(firstNew.Committed) {
			t.Errorf("batch %d of the paused owner (epoch %d, worker %d, %d rows, %s) committed after the new owner's first batch %d (epoch %d, %s)",
				b.ID, b.Epoch, b.Worker, b.Rows, b.Committed.Format(time.StampMilli), firstNew.ID, firstNew.Epoch, firstNew.Committed.Format(time.StampMilli))
		}
	}
	t.Logf("batch log: %d batches, %d rows of epoch %d, rows per epoch %v; new owner's first batch %d at %s",
		len(bs), oldRows, st.Epoch, rowsPerEpoch(bs), firstNew.ID, firstNew.Committed.Format(time.StampMilli))
}

// TestKillDuringLoad: kill -9 the bound node while it loads, with the
// workload writing: the new owner finishes the load (chunks of two owners,
// snapshots of two dumps) and the sync unit replays the binlog over both;
// the target ends equal to the source.
func TestKillDuringLoad(t *testing.T) {
	c, up, down := setup(t, 3)
	up.Exec(t, seedSQL(80000)...)
	w := newWorkload(t, up, 3)
	w.start(100000, 5*time.Millisecond)
	t.Cleanup(w.halt)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("kl1", "all", down, 4, 32, "")))
	st := waitStatus(t, c, "kl1", 60*time.Second, "the load", false, func(s subtask) bool {
		var p struct {
			FinishedRows int64 `json:"finishedRows"`
		}
		return s.Unit == "sync" || (s.Unit == "load" && json.Unmarshal(s.Progress, &p) == nil && p.FinishedRows > 10000)
	})
	if st.Unit != "load" {
		t.Fatalf("the load finished before the kill: make the bulk table larger")
	}
	t.Logf("killing %s (epoch %d) during the load: %s", st.Worker, st.Epoch, st.Progress)
	c.Node(st.Worker).Kill()
	moved := waitMoved(t, c, "kl1", st.Worker, st.Epoch, 30*time.Second)
	t.Logf("source moved to %s epoch %d", moved.Worker, moved.Epoch)
	waitSyncing(t, c, "kl1", 120*time.Second)
	w.waitRounds(20, 60*time.Second)
	w.halt()
	converge(t, c, "kl1", up, down, "app", 90*time.Second)
}

// hugeTxn runs one source transaction of rows rows into a keyless table and
// as many into a keyed one (both larger than what the sync unit applies
// atomically, so their rows are committed in several batches), and returns
// once the target holds part of it, not all: the apply is mid-transaction.
func hugeTxn(t *testing.T, up, down *mariadb.Server, rows int) {
	t.Helper()
	up.Exec(t,
		"CREATE TABLE IF NOT EXISTS app.huge_nokey (a INT, b VARCHAR(20))",
		"CREATE TABLE IF NOT EXISTS app.huge_key (id INT PRIMARY KEY, b VARCHAR(20))")
	ddb := down.DB(t)
	for attempt := 1; attempt <= 3; attempt++ {
		var before int64
		_ = ddb.QueryRow("SELECT COUNT(*) FROM app.huge_nokey").Scan(&before)
		up.Exec(t, "BEGIN",
			fmt.Sprintf("INSERT INTO app.huge_nokey SELECT seq %% 100, CONCAT('h', seq %% 7) FROM app.seq_1_to_%d", rows),
			fmt.Sprintf("INSERT INTO app.huge_key SELECT %d + seq, 'k' FROM app.seq_1_to_%d", attempt*1_000_000, rows),
			"COMMIT")
		var n int64
		harness.Eventually(60*time.Second, func() bool {
			return ddb.QueryRow("SELECT COUNT(*) FROM app.huge_nokey").Scan(&n) == nil && n > before
		})
		if n > before && n < before+int64(rows) {
			t.Logf("the target holds %d of the %d keyless rows of the huge transaction", n-before, rows)
			return
		}
		t.Logf("attempt %d: the target held %d of %d rows when first looked at; again", attempt, n-before, rows)
	}
	t.Fatalf("never saw the huge transaction half applied")
}

// TestKillMidTransaction: kill -9 the bound node while it applies a source
// transaction too large to apply atomically (committed in batches, keyless
// rows on one worker, keyed rows spread): the new owner skips exactly what
// was committed; the keyless table has no duplicate and no gap.
func TestKillMidTransaction(t *testing.T) {
	c, up, down, w, st := startStreaming(t, "kt1")
	hugeTxn(t, up, down, 30000)
	t.Logf("killing %s (epoch %d)", st.Worker, st.Epoch)
	c.Node(st.Worker).Kill()
	moved := waitMoved(t, c, "kt1", st.Worker, st.Epoch, 30*time.Second)
	t.Logf("source moved to %s epoch %d", moved.Worker, moved.Epoch)
	w.waitRounds(10, 60*time.Second)
	w.halt()
	converge(t, c, "kt1", up, down, "app", 90*time.Second)
}
