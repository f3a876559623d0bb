package shard

import (
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// nodeOf returns the node running source.
func (e *env) nodeOf(source string) string {
	e.t.Helper()
	q, err := e.status()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range q.Sources {
		if s.SourceStatus.Source == source {
			return s.SourceStatus.Worker
		}
	}
	e.t.Fatalf("source %s is not bound: %+v", source, q)
	return ""
}

// kill kills a node with -9 and waits until both sources run sync again
// on live nodes.
func (e *env) kill(name string) {
	e.t.Helper()
	e.t.Logf("kill -9 %s", name)
	e.c.Node(name).Kill()
	if !harness.Eventually(60*time.Second, func() bool {
		q, err := e.status()
		if err != nil || len(q.Sources) != 2 {
			return false
		}
		for _, s := range q.Sources {
			if s.SourceStatus.Worker == "" || s.SourceStatus.Worker == name {
				return false
			}
		}
		return true
	}) {
		e.t.Fatalf("the sources did not move off %s", name)
	}
}

// killLeader kills the Raft leader -9, waits until the sources run on live
// nodes and a new leader is elected.
func (e *env) killLeader(leader string) {
	e.t.Helper()
	e.kill(leader)
	m := e.c.WaitMembersAlive(2, 30*time.Second)
	if m.Leader == leader || m.Leader == "" {
		e.t.Fatalf("no new leader after killing %s: %+v", leader, m)
	}
	e.t.Logf("new leader %s", m.Leader)
}

// leader returns the name of the Raft leader.
func (e *env) leader() string {
	e.t.Helper()
	m, err := e.c.ListMembers()
	if err != nil || m.Leader == "" {
		e.t.Fatalf("no leader: %+v %v", m, err)
	}
	return m.Leader
}

// ownerOffLeader returns the shards, reordered when needed (the other
// source's shards first) so that the shard at index owner, which will open
// a lock, runs on a node other than leader.
func (e *env) ownerOffLeader(owner int, leader string) []*shard {
	e.t.Helper()
	s := e.shards
	if e.nodeOf(s[owner].source) == leader {
		s = []*shard{e.shards[2], e.shards[3], e.shards[0], e.shards[1]}
		if e.nodeOf(s[owner].source) == leader {
			e.t.Fatalf("both sources run on the leader %s", leader)
		}
	}
	return s
}
