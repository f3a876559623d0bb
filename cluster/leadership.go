package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// leadershipLoop follows raft's leadership notifications. It must never
// block for long: raft's main loop waits on the channel.
func (n *Node) leadershipLoop(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-n.notifyCh:
			n.onLeadership(ctx, leader)
		}
	}
}

func (n *Node) onLeadership(ctx context.Context, leader bool) {
	n.mu.Lock()
	n.leaderGen++
	gen := n.leaderGen
	n.leaderReady = false
	if leader {
		// Every node gets a full grace period from now: renewals granted by
		// earlier leaders were all sent before this moment.
		n.leaderSince = time.Now()
		n.renewals = map[string]time.Time{}
	} else {
		n.leaderSince = time.Time{}
		n.renewals = map[string]time.Time{}
		// The lease of a leader is its leadership: drop it at once, under mu
		// so that no renewal of the old leadership can slip in after.
		n.lease.invalidate()
	}
	n.mu.Unlock()

	if leader {
		n.log.Info().Msg("became leader")
		n.wg.Add(1)
		go n.establishLeadership(ctx, gen)
	} else {
		n.log.Info().Msg("lost leadership")
	}
}

// establishLeadership commits and applies a barrier in the new term, so that
// the commit index covers everything earlier leaders committed; only then
// does the node serve read indexes and hold a leader lease.
func (n *Node) establishLeadership(ctx context.Context, gen uint64) {
	defer n.wg.Done()
	for n.isLeaderGeneration(gen) {
		err := n.raft.Barrier(n.cfg.ElectionTimeout * 4).Error()
		if err == nil {
			n.mu.Lock()
			ready := n.leaderGen == gen
			n.leaderReady = ready
			n.mu.Unlock()
			if ready {
				n.kickLease()
				n.ensureRegistered(ctx)
			}
			return
		}
		n.log.Debug().Err(err).Msg("leader barrier")
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) isLeaderGeneration(gen uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaderGen == gen
}

// leaderGeneration returns the current leadership generation.
func (n *Node) leaderGeneration() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaderGen
}

func (n *Node) isReadyLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaderReady && n.raft.State() == raft.Leader
}

func (n *Node) kickLease() {
	select {
	case n.leaseKick <- struct{}{}:
	default:
	}
}

// maintainLoop does the leader's housekeeping: its own node record and
// leader eviction. It runs every 500ms and on every FSM change.
func (n *Node) maintainLoop(ctx context.Context) {
	defer n.wg.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var lastTransfer time.Time
	for {
		changed := n.fsm.Changed()
		if n.isReadyLeader() {
			n.ensureRegistered(ctx)
			if rec := n.fsm.View().Nodes[n.cfg.Name]; rec != nil && rec.EvictLeader && time.Since(lastTransfer) > 2*n.cfg.ElectionTimeout {
				lastTransfer = time.Now()
				err := n.LeadershipTransfer()
				n.log.Info().Err(err).Msg("leader evicted: transferring leadership")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-changed:
		}
	}
}

// ensureRegistered proposes this node's own record if the FSM lacks it (the
// bootstrap node, or a leader whose record was lost). Records of joining
// nodes come from AddVoter.
func (n *Node) ensureRegistered(ctx context.Context) {
	if _, ok := n.fsm.View().Nodes[n.cfg.Name]; ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := n.Propose(ctx, fsm.NewCommand(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: n.selfRecord()}, 0))
	if err == nil {
		err = fsm.ResultError(res)
	}
	if err != nil && !errors.Is(err, ErrNotLeader) {
		n.log.Warn().Err(err).Msg("register this node")
	}
}

func (n *Node) selfRecord() *pb.Node {
	return &pb.Node{Name: n.cfg.Name, Addr: n.cfg.Addr, RaftAddr: n.cfg.RaftAddr, GossipAddr: n.cfg.GossipAddr}
}

// LeadershipTransfer hands leadership to another voter, preferring one that
// gossip sees alive and that is not marked evict-leader.
func (n *Node) LeadershipTransfer() error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	view := n.fsm.View()
	states := n.gossipStates()
	var best *raft.Server
	bestScore := -1
	for _, s := range n.raftServers() {
		if s.Suffrage != raft.Voter || string(s.ID) == n.cfg.Name {
			continue
		}
		rec := view.Nodes[string(s.ID)]
		if rec != nil && rec.EvictLeader {
			continue
		}
		score := 0
		if states[string(s.ID)] == StateAlive {
			score = 1
		}
		if score > bestScore {
			best, bestScore = &s, score
		}
	}
	if best == nil {
		return ErrNoTransferTarget
	}
	if err := n.raft.LeadershipTransferToServer(best.ID, best.Address).Error(); err != nil {
		return n.mapRaftError("leadership transfer", err)
	}
	n.log.Info().Str(logPeer, string(best.ID)).Msg("leadership transferred")
	return nil
}
