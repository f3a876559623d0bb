package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

const (
	fenceTimeout = time.Second
	rebindAfter  = 2 * time.Second
)

func newCluster(t *testing.T) *harness.Cluster {
	if testing.Short() {
		t.Skip("starts dmnode processes")
	}
	return harness.NewCluster(t, 3, harness.Options{NodeArgs: harness.FastTimeouts})
}

func TestBootstrapJoinAndAdmin(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	leaders := 0
	for _, mem := range m.Members {
		if mem.Leader {
			leaders++
		}
		if mem.Addr == "" || !mem.Voter {
			t.Errorf("member %+v: want an address and a voter", mem)
		}
	}
	if leaders != 1 {
		t.Fatalf("want exactly one leader, got %d in %+v", leaders, m)
	}

	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s1.yaml", sourceYAML("mysql-01", 3306)))
	b := waitBound(t, c, "mysql-01", "", 10*time.Second)
	if b.epoch != 1 {
		t.Fatalf("first binding has epoch %d, want 1", b.epoch)
	}
	// The password is stored encrypted and shown nowhere.
	for _, args := range [][]string{{"operate-source", "show"}, {"-o", "json", "operate-source", "show"}, {"list-member"}} {
		if out := c.MustDmctl(args...); strings.Contains(out, "s3cret-pw") {
			t.Fatalf("dmctl %v shows the password:\n%s", args, out)
		}
	}
	for _, n := range c.Nodes {
		if tail := n.LogTail(1000); strings.Contains(tail, "s3cret-pw") {
			t.Fatalf("%s logged the password", n.Name)
		}
	}

	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("t1", "mysql-01")))
	var qs harness.QueryStatus
	// Nothing listens at the task's servers: the subtask must pause with an
	// error that says so and what to do, kept in the FSM.
	if !harness.Eventually(15*time.Second, func() bool {
		return c.DmctlJSON(&qs, "query-status", "t1") == nil && len(qs.Sources) == 1 &&
			len(qs.Sources[0].SubTaskStatus) == 1 && qs.Sources[0].SubTaskStatus[0].Result != nil
	}) {
		t.Fatalf("no error reported for unreachable servers: %+v", qs)
	}
	st := qs.Sources[0].SubTaskStatus[0]
	e := st.Result.Errors[0]
	if st.Stage != "Paused" || !strings.Contains(e.Message, "127.0.0.1:3306") || e.Workaround == "" {
		t.Fatalf("want a paused subtask with an error naming the address and a workaround, got %+v", st)
	}
	if strings.Contains(e.Message, "target-pw") || strings.Contains(e.Message, "s3cret-pw") {
		t.Fatalf("error shows a password: %s", e.Message)
	}
	if qs.Sources[0].SourceStatus.Worker != b.worker {
		t.Fatalf("query-status worker %q, binding %q", qs.Sources[0].SourceStatus.Worker, b.worker)
	}

	c.MustDmctl("resume-task", "t1")
	c.MustDmctl("pause-task", "t1")
	if !harness.Eventually(10*time.Second, func() bool {
		return c.DmctlJSON(&qs, "query-status", "t1") == nil && qs.Sources[0].SubTaskStatus[0].Stage == "Paused"
	}) {
		t.Fatalf("task not paused: %+v", qs)
	}
	c.MustDmctl("stop-task", "t1")
	c.MustDmctl("operate-source", "stop", "mysql-01")
}

func TestLeaderKillNewLeaderServesWrites(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	old := c.Node(m.Leader)
	killed := time.Now()
	old.Kill()
	// dmctl fails over between addresses and retries through the election.
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("after-kill", 3306)))
	t.Logf("first write after killing the leader succeeded after %v", time.Since(killed))
	var now harness.Members
	if !harness.Eventually(10*time.Second, func() bool {
		var err error
		now, err = c.ListMembers()
		return err == nil && now.Leader != "" && now.Leader != old.Name
	}) {
		t.Fatalf("no new leader: %+v", now)
	}
	if _, err := showSource(c, "after-kill"); err != nil {
		t.Fatal(err)
	}
}

func TestKillBoundNodeRebindsAfterGraceOnly(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	// Bind the source to a follower so the kill does not also force an election.
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	first := waitBound(t, c, "mysql-01", "", 10*time.Second)
	if first.worker == m.Leader {
		var follower string
		for _, mem := range m.Members {
			if !mem.Leader {
				follower = mem.Name
				break
			}
		}
		c.MustDmctl("transfer-source", "mysql-01", follower)
		first = waitBound(t, c, "mysql-01", m.Leader, 10*time.Second)
	}
	victim := c.Node(first.worker)
	killed := time.Now()
	victim.Kill()

	var b binding
	for {
		var err error
		b, err = showSource(c, "mysql-01")
		if err == nil && b.worker != victim.Name {
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("source not rebound 20 s after the kill: %+v %v", b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	gap := b.bound.Sub(killed)
	t.Logf("source failover gap %v (fence-timeout %v, rebind-after %v)", gap, fenceTimeout, rebindAfter)
	// The leader last heard from the victim at most one renewal interval
	// (fence-timeout/4) before the kill, and waits rebind-after from then.
	if min := rebindAfter - fenceTimeout/4 - 100*time.Millisecond; gap < min {
		t.Fatalf("rebound %v after the kill: earlier than the grace allows (%v)", gap, min)
	}
	if b.epoch != first.epoch+1 {
		t.Fatalf("epoch after rebind %d, want %d", b.epoch, first.epoch+1)
	}
}
