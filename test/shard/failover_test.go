package shard

import (
	"testing"
	"time"
)

// TestPessimisticKillOwner: pessimistic shard mode. ADD COLUMN reaches the
// four shards at different times, with DML on all of them; while the lock
// waits, the node of the lock owner (the first shard that arrived) is
// killed -9. The lock survives in the FSM, the source moves, the owner's
// replacement executes the DDL once, and the target never sees the new
// column before every shard arrived. Then a second DDL in another order.
func TestPessimisticKillOwner(t *testing.T) {
	testPessimisticKill(t, "pess", "owner", []int{3, 1, 0, 2})
}

// TestPessimisticKillLeader: pessimistic shard mode; while a lock waits
// for two of the four shards, the Raft leader (which plans the locks) is
// killed -9. A new leader takes over the planning from the FSM: the lock
// is still there with its owner and arrivals, completes when the last
// shards arrive, and the target equals the union of the shards.
func TestPessimisticKillLeader(t *testing.T) {
	testPessimisticKill(t, "pessl", "leader", []int{1, 3, 2, 0})
}

// testPessimisticKill runs the pessimistic kill tests: victim is "owner"
// (the node of the lock owner) or "leader" (the Raft leader, which then
// does not run the owner); c2Order is the order in which the shards reach
// the second DDL.
func testPessimisticKill(t *testing.T, task, victim string, c2Order []int) {
	e, stop := startSyncing(t, task, "pessimistic")
	leader := e.leader()
	// The owner is the first shard to arrive: it runs on a node that is not
	// the leader, so that this test kills the one it means to.
	s := e.ownerOffLeader(0, leader)

	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	l := e.waitLock("lock opened by "+s[0].member(), 30*time.Second, func(l lockStatus) bool { return l.Owner == s[0].member() })
	t.Logf("lock %s owner %s synced %v", l.ID, l.Owner, l.Synced)
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard arrived", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) >= 2 })
	e.requireNoTargetColumn("c1")
	switch victim {
	case "owner":
		owner := e.nodeOf(s[0].source)
		t.Logf("lock owner %s runs on %s; leader %s", s[0].member(), owner, leader)
		e.kill(owner)
	case "leader":
		e.killLeader(leader)
	default:
		t.Fatalf("unknown victim %q", victim)
	}
	e.waitLock("lock kept across the kill of the "+victim, 30*time.Second, func(l lockStatus) bool {
		return l.Owner == s[0].member() && len(l.Synced) == 2 && !l.Ready
	})
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	time.Sleep(200 * time.Millisecond) // let DML of s[1] run between the DDLs
	e.requireNoTargetColumn("c1")
	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 60*time.Second)
	e.waitNoLock(60 * time.Second)

	e.addColumnEverywhere(s, "c2 VARCHAR(32) NULL", 2, c2Order)
	stop()
	e.waitConverged(90 * time.Second)
}

// TestOptimisticKillLeader: optimistic shard mode: the first shard's ADD
// COLUMN reaches the target at once, the others skip it; while the lock is
// open (shards differ) the Raft leader is killed -9. The lock survives,
// the remaining shards arrive and the lock goes; a second DDL follows.
func TestOptimisticKillLeader(t *testing.T) {
	e, stop := startSyncing(t, "opt", "optimistic")
	s := e.shards

	e.alter(s[1], "ADD COLUMN c1 INT NULL", 1)
	e.waitTargetColumn("c1", true, 30*time.Second)
	l := e.waitLock("optimistic lock open", 30*time.Second, func(l lockStatus) bool { return len(l.Unsynced) > 0 })
	t.Logf("lock %s synced %v unsynced %v", l.ID, l.Synced, l.Unsynced)
	e.alter(s[2], "ADD COLUMN c1 INT NULL", 1)
	e.waitLock("second shard synced", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 2 })
	e.killLeader(e.leader())
	e.waitLock("lock kept across the leader's kill", 30*time.Second, func(l lockStatus) bool { return len(l.Synced) == 2 && len(l.Unsynced) == 2 })
	e.alter(s[0], "ADD COLUMN c1 INT NULL", 1)
	e.alter(s[3], "ADD COLUMN c1 INT NULL", 1)
	e.waitNoLock(60 * time.Second)

	e.addColumnEverywhere(s, "c2 VARCHAR(32) NULL", 2, []int{2, 0, 3, 1})
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
	e, stop := startSyncing(t, "optk", "optimistic")
	// The owner runs on a node that is not the leader: this test kills the
	// owner's node alone.
	s := e.ownerOffLeader(1, e.leader())

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

	e.addColumnEverywhere(s, "c2 VARCHAR(32) NULL", 2, []int{2, 0, 1})
	stop()
	e.waitConverged(90 * time.Second)
}
