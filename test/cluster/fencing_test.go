package cluster

import (
	"os"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// startBoundTask creates a source and a task and returns the node that runs it,
// making sure it is not the leader (isolating the leader is another test).
func startBoundTask(t *testing.T, c *harness.Cluster) (*harness.Node, binding) {
	t.Helper()
	m := c.WaitMembersAlive(3, 10*time.Second)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	b := waitBound(t, c, "mysql-01", "", 10*time.Second)
	if b.worker == m.Leader {
		for _, mem := range m.Members {
			if !mem.Leader {
				c.MustDmctl("transfer-source", "mysql-01", mem.Name)
				break
			}
		}
		b = waitBound(t, c, "mysql-01", m.Leader, 10*time.Second)
	}
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("t1", "mysql-01")))
	n := c.Node(b.worker)
	if !harness.Eventually(10*time.Second, func() bool { return runnerStarted(t, n, b.epoch) }) {
		t.Fatalf("%s never started the runner at epoch %d", n.Name, b.epoch)
	}
	return n, b
}

func runnerStarted(t *testing.T, n *harness.Node, epoch uint64) bool {
	evs, err := n.Events("runner_started")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if e, _ := ev.Fields["epoch"].(float64); uint64(e) == epoch {
			return true
		}
	}
	return false
}

// TestIsolatedNodeFencesBeforeRebind cuts the bound node off the network:
// it must have stopped its runners (its own log) before the leader bound
// the source elsewhere (the FSM's binding time).
func TestIsolatedNodeFencesBeforeRebind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test isolates a node with iptables and must run as root")
	}
	c := newCluster(t)
	victim, first := startBoundTask(t, c)
	isolated := time.Now()
	c.Isolate(victim)

	b := waitBound(t, c, "mysql-01", victim.Name, 20*time.Second)
	if b.epoch != first.epoch+1 {
		t.Fatalf("epoch %d after rebind, want %d", b.epoch, first.epoch+1)
	}
	fenced, err := victim.Events("fenced")
	if err != nil {
		t.Fatal(err)
	}
	var fencedAt time.Time
	for _, ev := range fenced {
		if ev.Time.After(isolated) {
			fencedAt = ev.Time
			break
		}
	}
	if fencedAt.IsZero() {
		t.Fatalf("%s logged no fence after isolation", victim.Name)
	}
	t.Logf("isolated at %s, fenced at +%v, rebound at +%v (to %s)", isolated.Format(time.StampMilli),
		fencedAt.Sub(isolated), b.bound.Sub(isolated), b.worker)
	if !fencedAt.Before(b.bound) {
		t.Fatalf("the isolated node fenced at %v, after the leader rebound at %v", fencedAt, b.bound)
	}

	healed := time.Now()
	c.Heal(victim)
	c.WaitMembersAlive(3, 20*time.Second)
	// Back in contact, the old owner learns the new binding and runs nothing for it.
	time.Sleep(2 * fenceTimeout)
	if n := runnerStartsSince(t, victim, first.epoch, healed); n > 0 {
		t.Fatalf("%s restarted its runner with the stale epoch %d after the heal", victim.Name, first.epoch)
	}
	if runnerStarted(t, victim, b.epoch) {
		t.Fatalf("%s runs the source at the new epoch, which belongs to %s", victim.Name, b.worker)
	}
}

// runnerStartsSince counts the runners n started at epoch after since.
func runnerStartsSince(t *testing.T, n *harness.Node, epoch uint64, since time.Time) int {
	evs, err := n.Events("runner_started")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, ev := range evs {
		if e, _ := ev.Fields["epoch"].(float64); uint64(e) == epoch && ev.Time.After(since) {
			count++
		}
	}
	return count
}

// TestPausedNodeWakesFenced freezes the bound node (SIGSTOP) until the
// source has moved; when it wakes it must stop its runner at once and never
// run the source again at the old epoch.
func TestPausedNodeWakesFenced(t *testing.T) {
	c := newCluster(t)
	victim, first := startBoundTask(t, c)
	victim.Pause()
	b := waitBound(t, c, "mysql-01", victim.Name, 20*time.Second)
	resumed := time.Now()
	victim.Resume()

	var fencedAt time.Time
	if !harness.Eventually(5*time.Second, func() bool {
		evs, err := victim.Events("fenced")
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Time.After(resumed.Add(-50 * time.Millisecond)) {
				fencedAt = ev.Time
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s did not fence itself after waking", victim.Name)
	}
	t.Logf("woke at %s, fenced %v later; source moved to %s at epoch %d", resumed.Format(time.StampMilli),
		fencedAt.Sub(resumed), b.worker, b.epoch)
	if d := fencedAt.Sub(resumed); d > fenceTimeout {
		t.Fatalf("fenced %v after waking; the lease had long lapsed, it must be at once", d)
	}
	c.WaitMembersAlive(3, 20*time.Second)
	time.Sleep(2 * fenceTimeout)
	if n := runnerStartsSince(t, victim, first.epoch, resumed); n > 0 {
		t.Fatalf("%s started its runner at the stale epoch %d times after waking", victim.Name, n)
	}
}
