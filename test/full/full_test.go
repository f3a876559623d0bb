package full

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

func startAll(t *testing.T) (*harness.Cluster, *mariadb.Server, *mariadb.Server) {
	t.Helper()
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	c := harness.NewCluster(t, 3, harness.Options{NodeArgs: harness.FastTimeouts})
	return c, srv[0], srv[1]
}

// TestFullTask: a full task copies every type, the keyless, routed and
// composite-key tables, and leaves filtered tables out.
func TestFullTask(t *testing.T) {
	c, up, down := startAll(t)
	seed(t, up, 20000)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	// A wrong target password: check-task names the item and the fix,
	// start-task refuses, and the password is never printed.
	bad := strings.Replace(taskYAML("full1", down, 3000, 2, 4), "password: "+mariadb.Password, "password: Wr0ngPassw0rd", 1)
	out, _ := c.Dmctl("check-task", harness.WriteFile(t, t.TempDir(), "bad.yaml", bad))
	if !strings.Contains(out, "target connection") || strings.Contains(out, "Wr0ngPassw0rd") {
		t.Errorf("check-task with a wrong target password:\n%s", out)
	}
	out, err := c.Dmctl("start-task", harness.WriteFile(t, t.TempDir(), "bad.yaml", bad))
	if err == nil || strings.Contains(out+err.Error(), "Wr0ngPassw0rd") || !strings.Contains(err.Error(), "precheck failed") {
		t.Errorf("start-task with a wrong target password: %v\n%s", err, out)
	}
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("full1", down, 3000, 2, 4)))
	waitFinished(t, c, "full1", 90*time.Second)
	checkCopy(t, up, down)
	_, _, st, err := status(c, "full1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != "Finished" {
		t.Errorf("stage %q, want Finished", st.Stage)
	}
}

// TestFailoverMidLoad: kill -9 the node that is loading; the source moves
// and the new owner loads only the chunks that were not committed.
func TestFailoverMidLoad(t *testing.T) {
	c, up, down := startAll(t)
	seed(t, up, 200000)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("fo", down, 2000, 1, 2)))

	var worker string
	var epoch uint64
	if !harness.Eventually(60*time.Second, func() bool {
		w, e, st, err := status(c, "fo")
		var p loadProgress
		if err != nil || st.Unit != "load" || json.Unmarshal(st.Progress, &p) != nil {
			return false
		}
		worker, epoch = w, e
		return p.FinishedRows > 20000
	}) {
		t.Fatal("the load did not start")
	}
	w, _, st, _ := status(c, "fo")
	if finished(st) || w != worker {
		t.Fatalf("the load finished or moved before the kill (%s): make the dataset larger", st.Progress)
	}
	t.Logf("killing %s at %s", worker, st.Progress)
	c.Node(worker).Kill()

	waitFinished(t, c, "fo", 150*time.Second)
	w, e, _, _ := status(c, "fo")
	if w == worker || e <= epoch {
		t.Errorf("after the kill the source is on %s epoch %d; was %s epoch %d", w, e, worker, epoch)
	}
	checkCopy(t, up, down)
	epochs := chunkEpochs(t, down)
	if epochs[epoch] == 0 || len(epochs) < 2 {
		t.Errorf("chunks per epoch %v: want chunks of the killed owner (epoch %d) kept and the rest loaded by the new one", epochs, epoch)
	}
}

// TestTargetRestartMidLoad: the target restarts during the load; the
// writers retry and the copy completes.
func TestTargetRestartMidLoad(t *testing.T) {
	c, up, down := startAll(t)
	seed(t, up, 120000)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("rt", down, 2000, 1, 2)))
	if !harness.Eventually(60*time.Second, func() bool {
		_, _, st, err := status(c, "rt")
		var p loadProgress
		return err == nil && st.Unit == "load" && json.Unmarshal(st.Progress, &p) == nil && p.FinishedRows > 10000
	}) {
		t.Fatal("the load did not start")
	}
	_, _, st, _ := status(c, "rt")
	if finished(st) {
		t.Fatal("the load finished before the restart: make the dataset larger")
	}
	down.Restart(t)
	waitFinished(t, c, "rt", 120*time.Second)
	checkCopy(t, up, down)
}
