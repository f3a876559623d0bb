package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestSigtermLeaderHandsOffLeadership stops the leader gracefully: it must
// hand leadership over before it exits, so writes go on at once.
func TestSigtermLeaderHandsOffLeadership(t *testing.T) {
	c := newCluster(t)
	m := c.WaitMembersAlive(3, 10*time.Second)
	leader := c.Node(m.Leader)
	leader.Stop()
	if !strings.Contains(leader.LogTail(100), "leadership transferred") {
		t.Fatalf("%s stopped without handing off leadership:\n%s", leader.Name, leader.LogTail(20))
	}
	start := time.Now()
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", sourceYAML("after-sigterm", 3306)))
	t.Logf("first write after a graceful leader stop took %v", time.Since(start))
	if err := leader.Restart(); err != nil {
		t.Fatal(err)
	}
	c.WaitMembersAlive(3, 20*time.Second)
}

// TestConfigFile starts a node from a --config file and rejects unknown keys.
func TestConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dmnode processes")
	}
	dmnode, dmctl, err := harness.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = harness.FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "dmnode.yaml")
	text := fmt.Sprintf("name: solo\ndata-dir: %s\naddr: %s\nraft-addr: %s\ngossip-addr: %s\nfence-timeout: 1s\nrebind-after: 2s\n",
		filepath.Join(dir, "data"), addrs[0], addrs[1], addrs[2])
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := startProcess(t, dmnode, "start", "--bootstrap", "--config", cfg)
	defer cmd.stop()
	var out string
	if !harness.Eventually(15*time.Second, func() bool {
		out, err = runCmd(dmctl, "--addr", addrs[0], "--timeout", "2s", "-o", "json", "list-member")
		return err == nil && strings.Contains(out, `"leader": "solo"`)
	}) {
		t.Fatalf("node from --config not serving: %v %s", err, out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nfence-timout: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(dmnode, "start", "--config", bad)
	if err == nil || !strings.Contains(out, "fence-timout") {
		t.Fatalf("unknown --config key: want an error naming it, got %v %s", err, out)
	}
}
