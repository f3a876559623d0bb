package full

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// subStatus is a subtask's query-status.
type subStatus = harness.SubtaskStatus

type loadProgress struct {
	FinishedRows int64  `json:"finishedRows"`
	TotalRows    int64  `json:"totalRows"`
	Progress     string `json:"progress"`
}

// status returns the worker and the subtask status of task's only source.
func status(c *harness.Cluster, task string) (worker string, epoch uint64, st subStatus, err error) {
	sub, err := c.OnlySubtask(task)
	return sub.Worker, sub.Epoch, sub.SubtaskStatus, err
}

func finished(st subStatus) bool {
	for _, u := range st.FinishedUnits {
		if u == "load" {
			return true
		}
	}
	return false
}

// waitFinished waits until the load unit is marked finished, failing fast
// on a subtask error.
func waitFinished(t *testing.T, c *harness.Cluster, task string, timeout time.Duration) {
	t.Helper()
	var st subStatus
	var err error
	ok := harness.Eventually(timeout, func() bool {
		_, _, st, err = status(c, task)
		if err == nil && st.Result != nil && len(st.Result.Errors) > 0 {
			t.Fatalf("subtask error: %+v", st.Result.Errors)
		}
		return err == nil && finished(st)
	})
	if !ok {
		t.Fatalf("task %s not finished within %v: %+v %s %v", task, timeout, st, st.Progress, err)
	}
}

// taskYAML is TaskYAML into down with the given dump rows and threads and
// load pool size.
func taskYAML(name string, down *mariadb.Server, rows, threads, pool int) string {
	return TaskYAML(name, down.Port, fmt.Sprintf("threads: %d, rows: %d", threads, rows), fmt.Sprintf("pool-size: %d", pool), "")
}

// seed creates the shared dataset with bulkRows rows in app.bulk.
func seed(t *testing.T, up *mariadb.Server, bulkRows int) {
	t.Helper()
	stmts := []string{"CREATE DATABASE app", "CREATE DATABASE app_two", "CREATE DATABASE skipme"}
	stmts = append(stmts, TypesTable("app")...)
	stmts = append(stmts, BulkTable("app", "bulk", bulkRows)...)
	stmts = append(stmts, NoKeyTable("app", "nokey", 3000)...)
	stmts = append(stmts, CompositeKeyTable("app_two", "comp", 4000)...)
	stmts = append(stmts, BulkTable("app", "routed", 1500)...)
	stmts = append(stmts, BulkTable("app", "secret", 10)...)
	stmts = append(stmts, BulkTable("skipme", "t", 10)...)
	stmts = append(stmts, Views()...)
	up.Exec(t, stmts...)
}

// checkCopy compares every copied table and checks the filtered ones are absent.
func checkCopy(t *testing.T, up, down *mariadb.Server) {
	t.Helper()
	for _, p := range [][4]string{
		{"app", "types", "app", "types"}, {"app", "bulk", "app", "bulk"}, {"app", "nokey", "app", "nokey"},
		{"app_two", "comp", "app_two", "comp"}, {"app", "routed", "other", "renamed"},
	} {
		n1, s1 := up.Checksum(t, p[0], p[1])
		n2, s2 := down.Checksum(t, p[2], p[3])
		if n1 != n2 || s1 != s2 {
			t.Errorf("%s.%s -> %s.%s: source %d rows %s, target %d rows %s", p[0], p[1], p[2], p[3], n1, s1, n2, s2)
		}
	}
	checkViews(t, up, down)
	var names []string
	rows, err := down.DB(t).Query("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('app', 'skipme', 'other', 'app_two')")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	got := strings.Join(names, ",")
	for _, bad := range []string{"app.secret", "skipme.t", "app.routed", "skipme.v"} {
		if strings.Contains(got, bad) {
			t.Errorf("%s is on the target but is filtered out or routed away (target has %s)", bad, got)
		}
	}
}

// chunkEpochs counts the done chunks per epoch in the meta schema.
func chunkEpochs(t *testing.T, down *mariadb.Server) map[uint64]int {
	t.Helper()
	rows, err := down.DB(t).Query("SELECT epoch, COUNT(*) FROM dm_meta.dmraft_load_chunks WHERE done = 1 GROUP BY epoch")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64]int{}
	for rows.Next() {
		var e uint64
		var n int
		rows.Scan(&e, &n)
		out[e] = n
	}
	return out
}

// checkViews compares the views of Views on both sides and checks that
// no DEFINER of the source reached the target.
func checkViews(t *testing.T, up, down *mariadb.Server) {
	t.Helper()
	for _, v := range []string{"v_bulk", "v_routed", "a_of_v"} {
		n1, s1 := up.Checksum(t, "app", v)
		n2, s2 := down.Checksum(t, "app", v)
		if n1 != n2 || s1 != s2 || n1 == 0 {
			t.Errorf("view app.%s: source %d rows %s, target %d rows %s", v, n1, s1, n2, s2)
		}
		var name, ddl, cs, coll string
		if err := down.DB(t).QueryRow("SHOW CREATE VIEW app."+v).Scan(&name, &ddl, &cs, &coll); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ddl, "nobody") || (v == "v_routed" && !strings.Contains(ddl, "`other`.`renamed`")) {
			t.Errorf("view app.%s on the target: %s", v, ddl)
		}
	}
}
