package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/test/mariadb"
)

// Test timings: fast, but with room for the race detector on two cores.
const (
	testFence   = time.Second
	testRebind  = 2 * time.Second
	waitTimeout = 15 * time.Second
)

// testCluster runs n nodes in this process over loopback TCP with the real
// raft transport and memberlist. Node 0 bootstraps; the others join.
type testCluster struct {
	t    *testing.T
	logw *testLogWriter

	mu        sync.Mutex
	cfgs      []Config
	nodes     []*Node // nil while killed
	byAddr    map[string]*Node
	renewFail []*atomic.Bool // make node i's lease renewals fail
}

// newTestCluster starts an n-node cluster and waits until every node is a
// voter with a registered record. tune adjusts each node's config.
func newTestCluster(t *testing.T, n int, tune ...func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, logw: &testLogWriter{t: t}, byAddr: map[string]*Node{}}
	for i := 0; i < n; i++ {
		c.cfgs = append(c.cfgs, c.newConfig(i, tune...))
		c.nodes = append(c.nodes, nil)
		c.renewFail = append(c.renewFail, &atomic.Bool{})
	}
	// Cleanups run last-in first-out: register after t.TempDir so that the
	// nodes stop before their data dirs are removed.
	t.Cleanup(c.cleanup)
	c.start(0)
	leader := c.Leader()
	for i := 1; i < n; i++ {
		c.start(i)
		c.join(leader, i)
	}
	c.waitFor("every node registered everywhere", func() error {
		for _, node := range c.live() {
			if got := len(node.FSM().View().Nodes); got != n {
				return fmt.Errorf("%s has %d node records", node.Name(), got)
			}
		}
		return nil
	})
	return c
}

func (c *testCluster) newConfig(i int, tune ...func(*Config)) Config {
	dir := c.t.TempDir()
	cfg := Config{
		Name:              fmt.Sprintf("node%d", i),
		DataDir:           dir,
		Addr:              freeAddr(c.t),
		RaftAddr:          freeAddr(c.t),
		GossipAddr:        freeAddr(c.t),
		Bootstrap:         i == 0,
		FenceTimeout:      testFence,
		RebindAfter:       testRebind,
		SnapshotInterval:  time.Minute,
		SnapshotThreshold: 8192,
		Logger:            zerolog.New(c.logw).Level(zerolog.InfoLevel).With().Timestamp().Str("node", fmt.Sprintf("node%d", i)).Logger(),
	}
	fail := func() *atomic.Bool { c.mu.Lock(); defer c.mu.Unlock(); return c.renewFail[i] }
	name := cfg.Name
	cfg.RenewLease = func(ctx context.Context, leaderAddr string) (uint64, error) {
		if fail().Load() {
			return 0, errors.New("renewal made to fail by the test")
		}
		c.mu.Lock()
		leader := c.byAddr[leaderAddr]
		c.mu.Unlock()
		if leader == nil {
			return 0, fmt.Errorf("no node at %s", leaderAddr)
		}
		return leader.GrantLease(ctx, name)
	}
	for _, f := range tune {
		f(&cfg)
	}
	return cfg
}

// start opens node i from its config (the first start of node 0 bootstraps).
func (c *testCluster) start(i int) *Node {
	c.t.Helper()
	c.mu.Lock()
	cfg := c.cfgs[i]
	c.mu.Unlock()
	var node *Node
	var err error
	// A port just released by a killed node may linger briefly.
	c.waitFor("open "+cfg.Name, func() error {
		node, err = Open(cfg, fsm.New())
		return err
	})
	c.mu.Lock()
	c.nodes[i] = node
	c.byAddr[cfg.Addr] = node
	c.cfgs[i].Bootstrap = false // a restart never bootstraps
	c.mu.Unlock()
	return node
}

func (c *testCluster) join(leader *Node, i int) {
	c.t.Helper()
	node := c.Node(i)
	rec := &pb.Node{Name: node.Name(), Addr: c.cfgs[i].Addr, RaftAddr: c.cfgs[i].RaftAddr, GossipAddr: c.cfgs[i].GossipAddr}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := leader.AddVoter(ctx, rec); err != nil {
		c.t.Fatalf("join %s: %v", node.Name(), err)
	}
	if err := node.SetClusterID(leader.ClusterID()); err != nil {
		c.t.Fatalf("join %s: %v", node.Name(), err)
	}
}

// Node returns node i (nil while killed).
func (c *testCluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

func (c *testCluster) index(n *Node) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.nodes {
		if x == n {
			return i
		}
	}
	return -1
}

func (c *testCluster) live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Leader waits for exactly one established leader among the live nodes,
// agreed on by all of them.
func (c *testCluster) Leader() *Node {
	c.t.Helper()
	var leader *Node
	c.waitFor("a leader", func() error {
		leader = nil
		for _, n := range c.live() {
			if n.isReadyLeader() {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.Name(), n.Name())
				}
				leader = n
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, n := range c.live() {
			if name, _ := n.Leader(); name != leader.Name() {
				return fmt.Errorf("%s thinks the leader is %q", n.Name(), name)
			}
		}
		return nil
	})
	return leader
}

// WaitForIndex waits until every live node has applied index.
func (c *testCluster) WaitForIndex(index uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, n := range c.live() {
		if err := n.FSM().WaitIndex(ctx, index); err != nil {
			c.t.Fatalf("%s: %v", n.Name(), err)
		}
	}
}

// Kill stops node i without any goodbye, as SIGKILL would.
func (c *testCluster) Kill(i int) {
	c.t.Helper()
	n := c.Node(i)
	if err := n.Shutdown(false); err != nil {
		c.t.Logf("kill %s: %v", n.Name(), err)
	}
	c.mu.Lock()
	c.nodes[i] = nil
	delete(c.byAddr, c.cfgs[i].Addr)
	c.mu.Unlock()
}

// Restart starts killed node i again from its data dir.
func (c *testCluster) Restart(i int) *Node { return c.start(i) }

// propose commits cmd through the current leader and fails on any error.
func (c *testCluster) propose(cmd *pb.Command) *pb.ApplyResult {
	c.t.Helper()
	var res *pb.ApplyResult
	c.waitFor("propose "+cmd.Type.String(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		res, err = c.Leader().Propose(ctx, cmd)
		if err == nil {
			err = fsm.ResultError(res)
		}
		return err
	})
	return res
}

// createSource proposes a new source named id.
func (c *testCluster) createSource(id string) *pb.ApplyResult {
	return c.propose(fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: id}}, 0))
}

// waitFor polls cond until it returns nil or waitTimeout passes.
func (c *testCluster) waitFor(what string, cond func() error) {
	c.t.Helper()
	waitFor(c.t, what, cond)
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *testCluster) cleanup() {
	var wg sync.WaitGroup
	for _, n := range c.live() {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.Shutdown(false) }()
	}
	wg.Wait()
	c.logw.close()
}

// stateBytes is a node's whole FSM state, for comparing replicas.
func stateBytes(t *testing.T, n *Node) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := n.FSM().Snapshot().Persist(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// freeAddr returns a loopback address whose port is free for TCP and UDP,
// below the ephemeral range and never handed out twice in this process
// (mariadb.FreePort): a kernel-picked port could be handed out again to
// the next node, or taken by an outgoing connection, before it is bound.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := mariadb.FreePort()
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// testLogWriter sends logs to t.Log until the test is over.
type testLogWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
