package cluster

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

func TestRestartFromDataDirKeepsState(t *testing.T) {
	c := newCluster(t)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	before := waitBound(t, c, "mysql-01", "", 10*time.Second)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("t1", "mysql-01")))

	for _, n := range c.Nodes {
		n.Stop() // SIGTERM: graceful leave
	}
	for _, n := range c.Nodes {
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitMembersAlive(3, 30*time.Second)
	after, err := showSource(c, "mysql-01")
	if err != nil {
		t.Fatal(err)
	}
	if after.epoch < before.epoch {
		t.Fatalf("epoch went down across a restart: %d -> %d", before.epoch, after.epoch)
	}
	out := c.MustDmctl("-o", "json", "query-status")
	if !strings.Contains(out, `"taskName": "t1"`) {
		t.Fatalf("task lost across restart: %s", out)
	}
}

func TestOfflineMemberRemovesDeadNode(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	var victim *harness.Node
	for _, n := range c.Nodes {
		if n.Name != m.Leader {
			victim = n
		}
	}
	if _, err := c.Dmctl("offline-member", "--name", victim.Name); err == nil {
		t.Fatal("offline-member of a live node must be refused")
	}
	victim.Kill()
	if !harness.Eventually(20*time.Second, func() bool {
		_, err := c.Dmctl("offline-member", "--name", victim.Name)
		return err == nil
	}) {
		t.Fatalf("offline-member of the dead %s never succeeded", victim.Name)
	}
	mem, err := c.ListMembers()
	if err != nil {
		t.Fatal(err)
	}
	for _, mm := range mem.Members {
		if mm.Name == victim.Name {
			t.Fatalf("%s still listed after offline-member: %+v", victim.Name, mem)
		}
	}
	if len(mem.Members) != 2 {
		t.Fatalf("want 2 members, got %+v", mem)
	}
	// The cluster of two still commits.
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("after-offline", 3306)))
}

func TestNoQuorumFailsClearlyInsteadOfHanging(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	var survivor *harness.Node
	for _, n := range c.Nodes {
		if n.Name == m.Leader {
			survivor = n
			continue
		}
		n.Kill()
	}
	_ = survivor
	start := time.Now()
	_, err := c.Dmctl("--timeout", "6s", "operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("no-quorum", 3306)))
	took := time.Since(start)
	if err == nil {
		t.Fatal("a write without quorum succeeded")
	}
	if took > 15*time.Second {
		t.Fatalf("dmctl took %v without quorum; it must give up at its timeout", took)
	}
	if !strings.Contains(err.Error(), "quorum") {
		t.Fatalf("error does not say what is wrong: %v", err)
	}
}

func TestBadInputIsRejectedClearly(t *testing.T) {
	c := newCluster(t)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	cases := []struct {
		name string
		args []string
		want string // a fragment the error must contain
	}{
		{"malformed source yaml", []string{"operate-source", "create", harness.WriteFile(t, t.TempDir(), "bad.yaml", "source-id: [unterminated\n")}, "line"},
		{"unknown source field", []string{"operate-source", "create", harness.WriteFile(t, t.TempDir(), "typo.yaml", "source-id: x\nform:\n  host: h\n")}, "form"},
		{"duplicate source with another config", []string{"operate-source", "create", harness.WriteFile(t, t.TempDir(), "dup.yaml", sourceYAML("mysql-01", 3307))}, "already exists"},
		{"task on unknown source", []string{"start-task", harness.WriteFile(t, t.TempDir(), "t.yaml", taskYAML("t9", "nope"))}, "nope"},
		{"task without name", []string{"start-task", harness.WriteFile(t, t.TempDir(), "t2.yaml", "task-mode: all\n")}, "name"},
		{"unknown task", []string{"pause-task", "ghost"}, "ghost"},
		{"transfer to unknown node", []string{"transfer-source", "mysql-01", "node9"}, "node9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Dmctl(tc.args...)
			if err == nil {
				t.Fatalf("dmctl %v succeeded", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// The same source.yaml again (a retry after a lost answer) is no error.
	if out := c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "same.yaml", sourceYAML("mysql-01", 3306))); !strings.Contains(out, "unchanged") {
		t.Fatalf("re-submitting the same source.yaml: %s", out)
	}
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("t1", "mysql-01")))
	if _, err := c.Dmctl("operate-source", "stop", "mysql-01"); err == nil || !strings.Contains(err.Error(), "t1") {
		t.Fatalf("removing a source a task uses: want an error naming the task, got %v", err)
	}
	if out := c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task2.yaml", taskYAML("t1", "mysql-01"))); !strings.Contains(out, "unchanged") {
		t.Fatalf("re-submitting the same task.yaml: %s", out)
	}
	changed := strings.Replace(taskYAML("t1", "mysql-01"), "port: 3306", "port: 3307", 1)
	if _, err := c.Dmctl("start-task", harness.WriteFile(t, t.TempDir(), "task3.yaml", changed)); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a different task under a used name: %v", err)
	}
	// Nothing of the failed calls changed the state.
	var s sourceShow
	if err := c.DmctlJSON(&s, "operate-source", "show"); err != nil || len(s.Sources) != 1 {
		t.Fatalf("state changed by rejected calls: %+v %v", s, err)
	}
}

func TestNodeStartErrors(t *testing.T) {
	c := newCluster(t)
	dmnode, _, err := harness.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	n1 := c.Nodes[0]
	n1.Stop() // its data dir is used below; the other two keep a quorum
	run := func(args ...string) string {
		cmd := exec.Command(dmnode, args...)
		done := make(chan struct{})
		var out []byte
		go func() { out, _ = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("dmnode %v did not exit", args)
		}
		if cmd.ProcessState.Success() {
			t.Fatalf("dmnode %v succeeded", args)
		}
		return string(out)
	}
	addrs := func() []string {
		var a []string
		for _, p := range []string{"--addr", "--raft-addr", "--gossip-addr"} {
			l, _ := harness.FreeAddr()
			a = append(a, p, l)
		}
		return a
	}
	// --bootstrap on a data dir that has state.
	copyDir := t.TempDir()
	if out := run(append([]string{"start", "--bootstrap", "--name", n1.Name, "--data-dir", n1.DataDir}, addrs()...)...); !strings.Contains(out, "bootstrap") {
		t.Fatalf("bootstrap on existing state: %s", out)
	}
	// A data dir of another node.
	if out := run(append([]string{"start", "--name", "intruder", "--data-dir", n1.DataDir}, addrs()...)...); !strings.Contains(out, n1.Name) {
		t.Fatalf("another node's data dir: %s", out)
	}
	// Joining with a name already in use.
	if out := run(append([]string{"join", c.Nodes[1].Addr, "--name", c.Nodes[1].Name, "--data-dir", copyDir}, addrs()...)...); !strings.Contains(out, c.Nodes[1].Name) {
		t.Fatalf("join with a used name: %s", out)
	}
	// rebind-after must exceed fence-timeout.
	if out := run(append([]string{"start", "--bootstrap", "--name", "x", "--data-dir", t.TempDir(), "--fence-timeout", "3s", "--rebind-after", "2s"}, addrs()...)...); !strings.Contains(out, "rebind-after") {
		t.Fatalf("rebind-after <= fence-timeout: %s", out)
	}
	_ = os.Remove(copyDir)

	// A data dir of another cluster, used to join this one.
	soloDir := t.TempDir()
	soloArgs := addrs()
	solo := startProcess(t, dmnode, append([]string{"start", "--bootstrap", "--name", "solo", "--data-dir", soloDir}, soloArgs...)...)
	_, dmctl, _ := harness.Binaries()
	if !harness.Eventually(15*time.Second, func() bool {
		out, err := runCmd(dmctl, "--addr", soloArgs[1], "--timeout", "2s", "-o", "json", "list-member")
		return err == nil && strings.Contains(out, `"leader": "solo"`)
	}) {
		t.Fatal("the solo cluster did not start")
	}
	solo.stop()
	if out := run(append([]string{"join", c.Nodes[1].Addr, "--name", "solo", "--data-dir", soloDir}, addrs()...)...); !strings.Contains(out, "belongs to cluster") {
		t.Fatalf("joining with another cluster's data dir: %s", out)
	}
}
