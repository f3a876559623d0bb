package shard

import (
	"testing"
	"time"
)

// TestPessimisticKillLeader: pessimistic shard mode; while a lock waits
// for two of the four shards, the Raft leader (which plans the locks) is
// killed -9. A new leader takes over the planning from the FSM: the lock
// is still there with its owner and arrivals, completes when the last
// shards arrive, and the target equals the union of the shards.
func TestPessimisticKillLeader(t *testing.T) {
	e := newEnv(t, "pessl")
	e.start("pessimistic")
	stop := e.writers(4000)
	e.waitSyncing(90 * time.Second)
	leader := e.leader()
	s := e.shards
	// The owner runs elsewhere: this test kills the leader, not the owner
	// (the other source may run on the leader and moves with the kill).
	if e.nodeOf(s[0].source) == leader {
		s = []*shard{e.shards[2], e.shards[3], e.shards[0], e.shards[1]}
		if e.nodeOf(s[0].source) == leader {
			t.Fatalf("both sources run on the leader %s", leader)
		}
	}

	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("lock opened by "+s[0].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[0].member() })
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard arrived", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) >= 2 })
	if e.targetHasColumn("c1") {
		t.Fatal("pessimistic: the target has c1 before every shard arrived")
	}
	e.kill(leader)
	m := e.c.WaitMembersAlive(2, 30*time.Second)
	if m.Leader == leader || m.Leader == "" {
		t.Fatalf("no new leader after killing %s: %+v", leader, m)
	}
	t.Logf("new leader %s", m.Leader)
	e.waitLock("lock kept across the leader's kill", 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[0].member() && len(l.Synced) == 2 && !l.Ready
	})
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	time.Sleep(200 * time.Millisecond)
	if e.targetHasColumn("c1") {
		t.Fatal("pessimistic: the target has c1 before every shard arrived")
	}
	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)

	for _, i := range []int{1, 3, 2, 0} {
		e.alter(s[i], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
		time.Sleep(100 * time.Millisecond)
	}
	e.waitTargetColumn("c2", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)
	stop()
	e.waitConverged(90 * time.Second)
}

// TestOptimisticKillOwner: optimistic shard mode; the first shard's ADD
// COLUMN reaches the target at once and makes it the lock's owner; while
// the lock is open (shards differ) the owner's node is killed -9. The
// source moves, the lock survives with its joined schema, and it goes once
// the other shards agree with the target: one adds the column, the last
// one is dropped upstream (its schema leaves the join). A second DDL
// follows on the three remaining shards.
func TestOptimisticKillOwner(t *testing.T) {
	e := newEnv(t, "optk")
	e.start("optimistic")
	stop := e.writers(4000)
	e.waitSyncing(90 * time.Second)
	leader := e.leader()
	s := e.shards
	// The owner runs on a node that is not the leader: this test kills the
	// owner's node alone.
	if e.nodeOf(s[1].source) == leader {
		s = []*shard{e.shards[2], e.shards[3], e.shards[0], e.shards[1]}
		if e.nodeOf(s[1].source) == leader {
			t.Fatalf("both sources run on the leader %s", leader)
		}
	}

	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 30*time.Second)
	l := e.waitLock("optimistic lock owned by "+s[1].member(), 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[1].member() && len(l.Unsynced) > 0
	})
	t.Logf("lock %s owner %s synced %v unsynced %v", l.ID, l.Owner, l.Synced, l.Unsynced)
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard synced", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 2 })
	owner := e.nodeOf(s[1].source)
	e.kill(owner)
	e.waitLock("lock kept across the owner's kill", 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[1].member() && len(l.Synced) == 2 && len(l.Unsynced) == 2
	})
	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("third shard synced", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 3 })
	e.drop(s[3])
	e.waitNoLock(60 * time.Second)

	for _, i := range []int{2, 0, 1} {
		e.alter(s[i], "ADD COLUMN c2 VARCHAR(32) NULL", 2)
		time.Sleep(100 * time.Millisecond)
	}
	e.waitTargetColumn("c2", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)
	stop()
	e.waitConverged(90 * time.Second)
}
