package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

func TestBootstrapAndJoin(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	if leader.ClusterID() == "" {
		t.Fatal("bootstrap node has no cluster id")
	}
	for _, n := range c.live() {
		if n.ClusterID() != leader.ClusterID() {
			t.Errorf("%s: cluster id %q, want %q", n.Name(), n.ClusterID(), leader.ClusterID())
		}
	}
	c.waitFor("all members alive voters everywhere", func() error {
		for _, n := range c.live() {
			ms := n.Members()
			if len(ms) != 3 {
				return fmt.Errorf("%s sees %d members", n.Name(), len(ms))
			}
			for _, m := range ms {
				if m.State != StateAlive || !m.Voter || m.Addr == "" || m.GossipAddr == "" {
					return fmt.Errorf("%s sees %+v", n.Name(), m)
				}
				if m.Leader != (m.Name == leader.Name()) {
					return fmt.Errorf("%s sees leader flag %v on %s", n.Name(), m.Leader, m.Name)
				}
			}
		}
		return nil
	})

	res := c.createSource("mysql-01")
	c.WaitForIndex(res.Index)
	want := stateBytes(t, leader)
	for _, n := range c.live() {
		if _, ok := n.FSM().View().Sources["mysql-01"]; !ok {
			t.Errorf("%s does not see the source", n.Name())
		}
		if !bytes.Equal(stateBytes(t, n), want) {
			t.Errorf("%s: state differs from the leader's", n.Name())
		}
	}

	// A second AddVoter for a joined node is harmless; a name clash is not.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := c.cfgs[1]
	if err := leader.AddVoter(ctx, &pb.Node{Name: cfg.Name, Addr: cfg.Addr, RaftAddr: cfg.RaftAddr, GossipAddr: cfg.GossipAddr}); err != nil {
		t.Errorf("re-join: %v", err)
	}
	err := leader.AddVoter(ctx, &pb.Node{Name: cfg.Name, Addr: "127.0.0.1:1", RaftAddr: "127.0.0.1:2", GossipAddr: "127.0.0.1:3"})
	var ae *fsm.ApplyError
	if !errors.As(err, &ae) || ae.Code != fsm.CodeNodeExists {
		t.Errorf("join with a used name: got %v, want NodeExists", err)
	}

	// A follower refuses leader-only work with ErrNotLeader.
	follower := c.Node((c.index(leader) + 1) % 3)
	if _, err := follower.Propose(ctx, fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "x"}}, 0)); !errors.Is(err, ErrNotLeader) {
		t.Errorf("propose on a follower: got %v, want ErrNotLeader", err)
	}
}

func TestLeaderFailover(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.Leader()
	c.createSource("before")
	c.Kill(c.index(old))

	leader := c.Leader()
	if leader == old {
		t.Fatal("the killed node is still leader")
	}
	res := c.createSource("after")
	c.WaitForIndex(res.Index)
	for _, n := range c.live() {
		v := n.FSM().View()
		if v.Sources["before"] == nil || v.Sources["after"] == nil {
			t.Errorf("%s misses a source", n.Name())
		}
	}
	c.waitFor("the killed node reported dead", func() error {
		for _, m := range leader.Members() {
			if m.Name == old.Name() && m.State != StateDead {
				return fmt.Errorf("%s is %s", m.Name, m.State)
			}
		}
		return nil
	})
}

func TestRestartKeepsState(t *testing.T) {
	c := newTestCluster(t, 3)
	for i := range 5 {
		c.createSource("s" + strconv.Itoa(i))
	}
	victim := (c.index(c.Leader()) + 1) % 3
	c.Kill(victim)
	res := c.createSource("while-down")
	n := c.Restart(victim)
	c.WaitForIndex(res.Index)
	if !bytes.Equal(stateBytes(t, n), stateBytes(t, c.Leader())) {
		t.Fatal("restarted node's state differs from the leader's")
	}
	c.waitFor("restarted node alive in gossip", func() error {
		for _, m := range c.Leader().Members() {
			if m.Name == n.Name() && m.State != StateAlive {
				return fmt.Errorf("%s is %s", m.Name, m.State)
			}
		}
		return nil
	})
}

func TestSnapshotCatchUp(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 16
		cfg.SnapshotInterval = 100 * time.Millisecond
		cfg.TrailingLogs = 4
	})
	victim := (c.index(c.Leader()) + 1) % 3
	killedAt := c.Node(victim).FSM().AppliedIndex()
	c.Kill(victim)
	var last *pb.ApplyResult
	for i := range 60 {
		last = c.createSource("s" + strconv.Itoa(i))
	}
	// Whichever node leads when the victim returns must have compacted its
	// log past the victim's position.
	c.waitFor("live nodes compacted their logs past the victim", func() error {
		for _, n := range c.live() {
			first, err := n.store.FirstIndex()
			if err != nil || first <= killedAt+1 {
				return fmt.Errorf("%s: first log index %d (victim at %d): %v", n.Name(), first, killedAt, err)
			}
		}
		return nil
	})

	n := c.Restart(victim)
	c.WaitForIndex(last.Index)
	// raft records the installed snapshot just after the FSM restored it.
	c.waitFor("the restarted node installed a snapshot", func() error {
		snapIdx, _ := strconv.ParseUint(n.Stats()["last_snapshot_index"], 10, 64)
		if snapIdx <= killedAt {
			return fmt.Errorf("snapshot index %d, want > %d (installed from the leader)", snapIdx, killedAt)
		}
		return nil
	})
	if !bytes.Equal(stateBytes(t, n), stateBytes(t, c.Leader())) {
		t.Error("caught-up node's state differs from the leader's")
	}
}

func TestRemoveMember(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	victim := c.Node((c.index(leader) + 1) % 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := leader.RemoveMember(ctx, victim.Name()); err != nil {
		t.Fatal(err)
	}
	// The member was alive with a fresh lease: removal waits for it to lapse.
	if took := time.Since(start); took < testRebind-testFence/2 {
		t.Errorf("removal of a live member took %v; it must wait for its lease", took)
	}
	if _, ok := leader.FSM().View().Nodes[victim.Name()]; ok {
		t.Error("removed member still has a node record")
	}
	for _, s := range leader.raftServers() {
		if string(s.ID) == victim.Name() {
			t.Error("removed member is still in the raft configuration")
		}
	}
	for _, m := range leader.Members() {
		if m.Name == victim.Name() {
			t.Error("removed member still listed")
		}
	}
	c.waitFor("removed member loses its lease", func() error {
		if victim.Lease().Valid(time.Now()) {
			return errors.New("still valid")
		}
		return nil
	})
	if err := leader.RemoveMember(ctx, victim.Name()); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("second removal: got %v, want ErrUnknownMember", err)
	}
	c.createSource("after-removal") // two voters are still a quorum
}

func TestNoQuorum(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	for _, n := range c.live() {
		if n != leader {
			c.Kill(c.index(n))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := leader.Propose(ctx, fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "x"}}, 0))
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("propose without quorum took %v", took)
	}
	if err == nil || !(errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrNotLeader)) {
		t.Fatalf("propose without quorum: got %v", err)
	}
	t.Logf("error: %v", err)
	// Once the leader has stepped down and gossip has noticed the dead,
	// the error says how far the cluster is from a quorum.
	c.waitFor("a no-leader error that counts the voters", func() error {
		_, err = leader.Propose(ctx, fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "y"}}, 0))
		if !errors.Is(err, ErrNoLeader) || !strings.Contains(err.Error(), "1 of 3 voters alive") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

func TestLeaderEviction(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.Leader()
	c.propose(fsm.NewCommand(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: old.Name(), Evict: true}, 0))
	c.waitFor("leadership moves off the evicted node", func() error {
		if l := c.Leader(); l == old {
			return errors.New("still leader")
		}
		return nil
	})
}

func TestShutdownTwiceAndGraceful(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.Leader()
	i := c.index(old)
	if err := old.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	if err := old.Shutdown(true); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	c.mu.Lock()
	c.nodes[i] = nil
	c.mu.Unlock()
	leader := c.Leader()
	c.waitFor("the departed node reported dead", func() error {
		for _, m := range leader.Members() {
			if m.Name == old.Name() && m.State != StateDead {
				return fmt.Errorf("%s is %s", m.Name, m.State)
			}
		}
		return nil
	})
}
