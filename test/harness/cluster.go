package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TB is the part of testing.TB the harness uses, so that programs (the
// demo, benchmarks) can drive a cluster too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Options tune a test cluster.
type Options struct {
	// NodeArgs are extra dmnode flags for every node, e.g. timeouts.
	NodeArgs []string
	// DmctlArgs are extra dmctl flags for every call, e.g. TLS files.
	DmctlArgs []string
}

// FastTimeouts are the fence and rebind timeouts tests use.
var FastTimeouts = []string{"--fence-timeout", "1s", "--rebind-after", "2s"}

// Cluster is a set of dmnode processes on loopback.
type Cluster struct {
	t      TB
	opts   Options
	id     int
	uids   *uidBlock
	dir    string
	dmnode string
	dmctl  string
	Nodes  []*Node

	mu    sync.Mutex
	rules []rule // iptables rules in place, removed by Heal
}

// NewCluster starts n nodes: the first bootstraps, the others join it. It
// returns once every node is listed alive by dmctl list-member.
func NewCluster(t TB, n int, opts Options) *Cluster {
	t.Helper()
	dmnode, dmctl, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dmraft-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	block, err := reserveUIDBlock()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, opts: opts, id: block.id, uids: block, dir: dir, dmnode: dmnode, dmctl: dmctl}
	t.Cleanup(c.cleanup)
	for i := 0; i < n; i++ {
		if _, err := c.AddNode(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitMembersAlive(n, 30*time.Second)
	return c
}

// AddNode starts one more node: bootstrap when it is the first, else join.
func (c *Cluster) AddNode() (*Node, error) {
	n, err := newNode(c, len(c.Nodes))
	if err != nil {
		return nil, err
	}
	c.Nodes = append(c.Nodes, n)
	if len(c.Nodes) == 1 {
		err = n.start(n.args("start", "--bootstrap"))
	} else {
		err = n.start(n.args("join", c.Nodes[0].Addr+","+c.liveAddrs()))
	}
	return n, err
}

func (c *Cluster) liveAddrs() string {
	var out []string
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n.Addr)
		}
	}
	return strings.Join(out, ",")
}

func (c *Cluster) cleanup() {
	c.HealAll()
	for _, n := range c.Nodes {
		n.Resume()
		n.Kill()
	}
	c.uids.release()
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("---- %s log tail (%s)\n%s", n.Name, n.LogPath, n.LogTail(40))
		}
		c.t.Logf("cluster files kept in %s", c.dir)
		return
	}
	_ = os.RemoveAll(c.dir)
}

// Dir is the cluster's working directory (world-readable).
func (c *Cluster) Dir() string { return c.dir }

// Dmctl runs dmctl against every node address and returns its stdout.
func (c *Cluster) Dmctl(args ...string) (string, error) {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	full := append([]string{"--addr", strings.Join(addrs, ","), "--timeout", "20s"}, c.opts.DmctlArgs...)
	full = append(full, args...)
	cmd := exec.Command(c.dmctl, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("dmctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// DmctlJSON runs dmctl -o json and decodes its output into v.
func (c *Cluster) DmctlJSON(v any, args ...string) error {
	out, err := c.Dmctl(append([]string{"-o", "json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("decode dmctl output %q: %w", out, err)
	}
	return nil
}

// Members is the JSON of dmctl list-member.
type Members struct {
	Leader  string `json:"leader"`
	Members []struct {
		Name    string   `json:"name"`
		Addr    string   `json:"addr"`
		State   string   `json:"state"`
		Voter   bool     `json:"voter"`
		Leader  bool     `json:"leader"`
		Sources []string `json:"sources"`
	} `json:"members"`
}

// ListMembers returns dmctl list-member.
func (c *Cluster) ListMembers() (Members, error) {
	var m Members
	err := c.DmctlJSON(&m, "list-member")
	return m, err
}

// WaitMembersAlive waits until list-member shows n alive voters and a leader.
func (c *Cluster) WaitMembersAlive(n int, timeout time.Duration) Members {
	c.t.Helper()
	var last Members
	var lastErr error
	ok := Eventually(timeout, func() bool {
		last, lastErr = c.ListMembers()
		if lastErr != nil || last.Leader == "" {
			return false
		}
		alive := 0
		for _, m := range last.Members {
			if m.State == "alive" && m.Voter {
				alive++
			}
		}
		return alive == n
	})
	if !ok {
		c.t.Fatalf("cluster did not reach %d alive voters in %v: last %+v, error %v", n, timeout, last, lastErr)
	}
	return last
}

// Node returns the node with name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// Eventually polls cond every 100 ms until it holds or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RSSPeakKB returns the peak resident set size of the node's process
// (VmHWM), in KiB, or 0 when it is not running.
func (n *Node) RSSPeakKB() int {
	if !n.Running() {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb
		}
	}
	return 0
}

// Rejoin starts a stopped node with an empty data dir and asks the running
// nodes to admit it again (after `offline-member`).
func (c *Cluster) Rejoin(n *Node) error {
	if n.Running() {
		return fmt.Errorf("%s is still running", n.Name)
	}
	if err := os.RemoveAll(n.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return err
	}
	if n.UID != 0 {
		if err := os.Chown(n.DataDir, n.UID, n.UID); err != nil {
			return err
		}
	}
	return n.start(n.args("join", c.liveAddrs()))
}

// MustDmctl runs dmctl and fails the test on an error.
func (c *Cluster) MustDmctl(args ...string) string {
	c.t.Helper()
	out, err := c.Dmctl(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// WriteFile writes text to dir/name (a config for dmctl or dmnode) and
// returns the path.
func WriteFile(tb TB, dir, name, text string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
