package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// waitLeases waits until every given node holds a valid lease.
func waitLeases(c *testCluster, nodes ...*Node) {
	c.t.Helper()
	c.waitFor("valid leases", func() error {
		for _, n := range nodes {
			if !n.Lease().Valid(time.Now()) {
				return fmt.Errorf("%s has no lease", n.Name())
			}
		}
		return nil
	})
}

func TestLeaseFollowsLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.Leader()
	waitLeases(c, c.live()...)
	for _, n := range c.live() {
		exp := n.Lease().Expiry()
		if d := time.Until(exp); d > testFence {
			t.Errorf("%s: lease runs %v more, longer than the fence timeout", n.Name(), d)
		}
	}

	var followers []*Node
	for _, n := range c.live() {
		if n != old {
			followers = append(followers, n)
		}
	}
	// Slow the followers' elections down so that no new leader renews their
	// leases before the old leader's have lapsed.
	setElectionTimeouts := func(d time.Duration) {
		for _, f := range followers {
			rc := f.raft.ReloadableConfig()
			rc.HeartbeatTimeout, rc.ElectionTimeout = d, d
			if err := f.raft.ReloadConfig(rc); err != nil {
				t.Fatal(err)
			}
		}
	}
	setElectionTimeouts(4 * testFence)
	changed := map[*Node]<-chan struct{}{}
	for _, f := range followers {
		changed[f] = f.Lease().Changed()
	}
	c.Kill(c.index(old))
	killed := time.Now()
	for _, f := range followers {
		if exp := f.Lease().Expiry(); exp.After(killed.Add(testFence)) {
			t.Errorf("%s: lease expiry %v is more than the fence timeout after the leader died", f.Name(), exp.Sub(killed))
		}
		lapsed := waitLapse(t, f, killed.Add(testFence+time.Second))
		if d := lapsed.Sub(killed); d > testFence+200*time.Millisecond {
			t.Errorf("%s: lease still valid %v after the leader died", f.Name(), d)
		}
		select {
		case <-changed[f]:
		default:
			t.Errorf("%s: Changed did not fire", f.Name())
		}
	}
	// A new leader is elected; leases return.
	setElectionTimeouts(DefaultHeartbeatTimeout)
	c.Leader()
	waitLeases(c, c.live()...)
}

// waitLapse returns when n's lease is first seen invalid after now, failing
// the test if that has not happened by deadline. It waits on Changed, so it
// also checks that a lapse is signaled without anyone polling.
func waitLapse(t *testing.T, n *Node, deadline time.Time) time.Time {
	t.Helper()
	for {
		ch := n.Lease().Changed()
		now := time.Now()
		if !n.Lease().Valid(now) {
			return now
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%s: lease did not lapse (expiry %v)", n.Name(), n.Lease().Expiry())
		}
	}
}

func TestLeaseLapsesWhenRenewalsFail(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	waitLeases(c, c.live()...)
	i := (c.index(leader) + 1) % 3
	f := c.Node(i)
	start := time.Now()
	c.renewFail[i].Store(true)
	lapsed := waitLapse(t, f, start.Add(testFence+time.Second))
	if d := lapsed.Sub(start); d > testFence+200*time.Millisecond {
		t.Errorf("lease lapsed %v after renewals began to fail; want within %v", d, testFence)
	}
	// The others keep theirs, and the leader stops counting f as alive.
	other := c.Node((i + 1) % 3)
	if !other.Lease().Valid(time.Now()) {
		t.Errorf("%s lost its lease too", other.Name())
	}
	c.waitFor("leader sees the fenced node as not alive", func() error {
		for _, l := range leader.Liveness(time.Now()) {
			if l.Name == f.Name() && l.Alive {
				return errors.New("still alive")
			}
		}
		return nil
	})
	c.renewFail[i].Store(false)
	waitLeases(c, f)
}

func TestLeaderLeaseDropsWithLeadership(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.Leader()
	waitLeases(c, leader)
	// Kill both followers: the leader cannot verify its leadership any more.
	ch := leader.Lease().Changed()
	start := time.Now()
	for _, n := range c.live() {
		if n != leader {
			c.Kill(c.index(n))
		}
	}
	lapsed := waitLapse(t, leader, start.Add(testFence+time.Second))
	if d := lapsed.Sub(start); d > testFence+200*time.Millisecond {
		t.Errorf("leader's lease lapsed %v after it lost its quorum", d)
	}
	<-ch
}

func TestLeaseUnit(t *testing.T) {
	l := newLease(zerolog.Nop())
	if l.Valid(time.Now()) {
		t.Fatal("a new lease is valid")
	}
	ch := l.Changed()
	sent := time.Now()
	if !l.extend(sent, 200*time.Millisecond) {
		t.Fatal("extend did nothing")
	}
	<-ch
	if !l.Valid(time.Now()) || !l.Expiry().Equal(sent.Add(200*time.Millisecond)) {
		t.Fatalf("lease not extended to sent+fence: %v", l.Expiry())
	}
	// An older renewal never shortens it, an expired one never extends it.
	if l.extend(sent.Add(-time.Millisecond), 200*time.Millisecond) {
		t.Error("older renewal changed the lease")
	}
	if l.extend(time.Now().Add(-time.Second), 200*time.Millisecond) {
		t.Error("renewal that has already run out changed the lease")
	}
	ch = l.Changed()
	select {
	case <-ch:
		if l.Valid(time.Now()) {
			t.Error("Changed fired while still valid")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Changed did not fire at expiry")
	}
	l.extend(time.Now(), time.Hour)
	ch = l.Changed()
	l.invalidate()
	<-ch
	if l.Valid(time.Now()) {
		t.Error("invalidated lease is valid")
	}
	l.close()
	if l.extend(time.Now(), time.Hour) {
		t.Error("closed lease was extended")
	}
}
