package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestMutualTLSAndGossipKey runs a cluster whose gRPC and raft speak mutual
// TLS and whose gossip is encrypted; dmctl without a certificate is refused.
func TestMutualTLSAndGossipKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dmnode processes")
	}
	dir, err := os.MkdirTemp("", "dmraft-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	files, err := harness.GenerateTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	nodeArgs := append(append([]string{}, harness.FastTimeouts...), files.Args()...)
	nodeArgs = append(nodeArgs, "--gossip-key", strings.Repeat("ab", 32))
	c := harness.NewCluster(t, 3, harness.Options{NodeArgs: nodeArgs, DmctlArgs: files.Args()})

	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	waitBound(t, c, "mysql-01", "", 10*time.Second)

	// The raft port completes a TLS handshake with the cluster's certificate.
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(files.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", c.Nodes[0].RaftAddr, &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool})
	if err != nil {
		t.Fatalf("raft address does not speak TLS: %v", err)
	}
	conn.Close()

	// A dmctl without the client certificate gets nothing.
	_, dmctl, _ := harness.Binaries()
	out, err := runCmd(dmctl, "--addr", c.Nodes[0].Addr, "--timeout", "2s", "list-member")
	if err == nil {
		t.Fatalf("dmctl without a certificate was answered:\n%s", out)
	}
}

func TestEvictLeader(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	old := m.Leader
	c.MustDmctl("operate-leader", "evict", "--name", old)
	var now harness.Members
	if !harness.Eventually(15*time.Second, func() bool {
		var err error
		now, err = c.ListMembers()
		return err == nil && now.Leader != "" && now.Leader != old
	}) {
		t.Fatalf("leadership did not leave the evicted %s: %+v", old, now)
	}
	c.MustDmctl("operate-leader", "cancel-evict", "--name", old)
	out := c.MustDmctl("-o", "json", "list-member")
	if strings.Contains(out, `"evict_leader": true`) {
		t.Fatalf("eviction not cancelled:\n%s", out)
	}
}

func TestUpdateTaskRestartsRunnerOnNewRevision(t *testing.T) {
	c := newCluster(t)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("mysql-01", 3306)))
	b := waitBound(t, c, "mysql-01", "", 10*time.Second)
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "task.yaml", taskYAML("t1", "mysql-01")))
	changed := strings.Replace(taskYAML("t1", "mysql-01"), "port: 3306", "port: 3307", 1)
	out := c.MustDmctl("-o", "json", "update-task", harness.WriteFile(t, t.TempDir(), "task2.yaml", changed))
	if !strings.Contains(out, `"revision": 2`) {
		t.Fatalf("update-task did not raise the revision:\n%s", out)
	}
	n := c.Node(b.worker)
	if !harness.Eventually(10*time.Second, func() bool {
		evs, _ := n.Events("runner_started")
		for _, ev := range evs {
			if r, _ := ev.Fields["revision"].(float64); r == 2 {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s did not restart the runner on revision 2", n.Name)
	}
	// update-task cannot add sources.
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s2.yaml", sourceYAML("mysql-02", 3306)))
	if _, err := c.Dmctl("update-task", harness.WriteFile(t, t.TempDir(), "task3.yaml", taskYAML("t1", "mysql-01", "mysql-02"))); err == nil {
		t.Fatal("update-task that adds a source succeeded")
	}
}

// TestShardDDLLockCommands: dmctl shard-ddl-lock lists no lock on a fresh
// cluster, and unlocking an unknown lock says so.
func TestShardDDLLockCommands(t *testing.T) {
	c := newCluster(t)
	var out struct {
		Locks []any `json:"locks"`
	}
	if err := c.DmctlJSON(&out, "shard-ddl-lock"); err != nil || out.Locks == nil || len(out.Locks) != 0 {
		t.Fatalf("shard-ddl-lock on a fresh cluster: %+v %v", out, err)
	}
	if _, err := c.Dmctl("shard-ddl-lock", "unlock", "no-such-lock"); err == nil || !strings.Contains(err.Error(), "no-such-lock") {
		t.Fatalf("unlock of an unknown lock: %v", err)
	}
}
