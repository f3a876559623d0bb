package syncsuite

import (
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestAllUnderWorkload: task-mode all on three nodes while the source
// takes writes during the full phase and after it, with DDL in the middle;
// the target ends equal to the source, table by table.
func TestAllUnderWorkload(t *testing.T) {
	c, up, down := setup(t, 3)
	up.Exec(t, seedSQL(60000)...)
	w := newWorkload(t, up, 1)
	w.start(100000, 5*time.Millisecond)
	defer w.halt()

	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("all1", "all", down, 4, 64, "")))
	started := w.round.Load()
	st := waitStatus(t, c, "all1", 60*time.Second, "the full phase", false, func(s subtask) bool { return s.Unit == "load" || s.Unit == "sync" })
	// A DDL while the full phase runs: the sync unit replays it from the
	// binlog, whether or not the table was loaded with it.
	if st.Unit == "sync" {
		t.Logf("the full phase ended before the DDL (a faster machine?): it runs during sync instead")
	}
	up.Exec(t, "ALTER TABLE app.side ADD COLUMN z INT NOT NULL DEFAULT 3, ADD INDEX (z)",
		"INSERT INTO app.side VALUES (5001, 'after alter', 5)", "UPDATE app.side SET z = 4 WHERE id % 10 = 0")
	st = waitSyncing(t, c, "all1", 120*time.Second)
	during := w.round.Load() - started
	t.Logf("full phase done on %s (epoch %d); %d workload rounds ran during it", st.Worker, st.Epoch, during)
	if during < 3 {
		t.Errorf("only %d workload rounds ran during the full phase: make the bulk table larger", during)
	}

	w.waitRounds(10, 60*time.Second)
	w.ddl.Store(true)
	if !waitFlag(&w.ddlDone, 90*time.Second) {
		t.Fatalf("the DDL steps did not finish (round %d, step %d)", w.round.Load(), w.ddlStep)
	}
	w.waitRounds(10, 60*time.Second)
	// Fewer workers: the sync unit restarts from its checkpoints and
	// switches the worker count at a drained boundary.
	c.MustDmctl("update-task", harness.WriteFile(t, t.TempDir(), "task2.yaml", taskYAML("all1", "all", down, 2, 16, "")))
	w.waitRounds(20, 60*time.Second)
	w.halt()

	converge(t, c, "all1", up, down, "app", 120*time.Second)
	waitStatus(t, c, "all1", 30*time.Second, "synced in query-status", false, func(s subtask) bool {
		p, ok := s.sync()
		return ok && p.Synced
	})
	// The batch log shows the work spread over the workers.
	workers := map[int]int{}
	for _, b := range batches(t, down, "all1") {
		workers[b.Worker] += b.Rows
	}
	t.Logf("rows per worker: %v", workers)
	if len(workers) < 2 {
		t.Errorf("rows per worker %v: want the changes spread over several workers", workers)
	}
}
