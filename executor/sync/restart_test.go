package syncer

import (
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/mariadb"
)

// TestRestartBeforeEveryWorkerCommitted: a unit that stops when only one
// of its workers has committed (one change applied) starts again from the
// checkpoints: the rows of the idle workers were written at the start, so
// the restart neither fails nor repeats the applied change.
func TestRestartBeforeEveryWorkerCommitted(t *testing.T) {
	servers := mariadb.StartMany(t, mariadb.Options{Binlog: true}, mariadb.Options{})
	up, down := servers[0], servers[1]
	setup(t, up, false)
	setup(t, down, true)
	udb := up.DB(t)
	file, pos := masterPos(t, udb)

	a, task := incremental(t, up, down, file, pos, 4, 1)
	r := start(t, a, task)
	exec(t, udb, "INSERT INTO app.items (id, code, qty) VALUES (1, 'one', 1)")
	converge(t, up, down, [][2]string{{"app.items", "app.items"}})
	r.cancel()
	<-r.done

	var rows int
	if err := down.DB(t).QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_sync_checkpoints WHERE task = 't1'").Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("checkpoint rows after the first run: %d (%v), want one per worker (4)", rows, err)
	}
	a2, task2 := incremental(t, up, down, file, pos, 4, 2)
	r2 := start(t, a2, task2)
	exec(t, udb, "INSERT INTO app.items (id, code, qty) VALUES (2, 'two', 2)")
	converge(t, up, down, [][2]string{{"app.items", "app.items"}})
	select {
	case <-r2.done:
		t.Fatalf("the restarted unit ended: %v", r2.err)
	case <-time.After(200 * time.Millisecond):
	}
}
