package cluster

import (
	"fmt"
	"testing"
	"time"
)

func liveness(n *Node, name string) Liveness {
	for _, l := range n.Liveness(time.Now()) {
		if l.Name == name {
			return l
		}
	}
	return Liveness{Name: name}
}

func TestLivenessOfKilledNode(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	waitLeases(c, c.live()...)
	c.waitFor("everyone alive", func() error {
		for _, l := range leader.Liveness(time.Now()) {
			if !l.Alive {
				return fmt.Errorf("%+v", l)
			}
		}
		return nil
	})
	if l := liveness(leader, leader.Name()); time.Since(l.LastSeen) > 100*time.Millisecond {
		t.Errorf("leader's own LastSeen is %v old", time.Since(l.LastSeen))
	}

	i := (c.index(leader) + 1) % 3
	name := c.Node(i).Name()
	c.Kill(i)
	killed := time.Now()
	c.waitFor("killed node not alive", func() error {
		if l := liveness(leader, name); l.Alive {
			return fmt.Errorf("%+v", l)
		}
		return nil
	})
	last := liveness(leader, name).LastSeen
	if last.After(killed) {
		t.Errorf("LastSeen %v is after the kill at %v", last, killed)
	}
	time.Sleep(testFence / 2) // let renewals, if any, arrive
	if again := liveness(leader, name).LastSeen; !again.Equal(last) {
		t.Errorf("LastSeen of a dead node advanced from %v to %v", last, again)
	}
}

func TestNewLeaderGivesGracePeriod(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.Leader()
	waitLeases(c, c.live()...)
	c.Kill(c.index(old))
	leader := c.Leader()

	leader.mu.Lock()
	since := leader.leaderSince
	leader.mu.Unlock()
	if since.IsZero() {
		t.Fatal("leader has no leadership start")
	}
	for _, l := range leader.Liveness(time.Now()) {
		if l.LastSeen.Before(since) {
			t.Errorf("%s: LastSeen %v before the leadership start %v", l.Name, l.LastSeen, since)
		}
	}
	// The dead old leader's grace runs out; the survivors renew with the new leader.
	c.waitFor("old leader not alive, others alive", func() error {
		for _, l := range leader.Liveness(time.Now()) {
			if l.Alive != (l.Name != old.Name()) {
				return fmt.Errorf("%+v", l)
			}
		}
		return nil
	})
	if l := liveness(leader, old.Name()); !l.LastSeen.Equal(since) {
		t.Errorf("dead old leader: LastSeen %v, want the leadership start %v", l.LastSeen, since)
	}
}
