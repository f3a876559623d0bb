package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// defaultOpTimeout bounds raft operations whose ctx has no deadline.
const defaultOpTimeout = 10 * time.Second

// Propose commits cmd through raft and returns the FSM's result for it. It
// works on the leader only; elsewhere it returns an error wrapping
// ErrNotLeader (and ErrNoLeader if no leader is known). cmd.NowUnixMs is
// stamped if zero (on a copy). A business error is in the result, not in
// the error: see fsm.ResultError.
func (n *Node) Propose(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	if cmd.NowUnixMs == 0 {
		cmd = proto.Clone(cmd).(*pb.Command)
		cmd.NowUnixMs = time.Now().UnixMilli()
	}
	op := "propose " + cmd.Type.String()
	if !n.IsLeader() {
		return nil, n.notLeaderError(op, nil)
	}
	f := n.raft.Apply(fsm.Encode(cmd), opTimeout(ctx))
	if err := n.waitFuture(ctx, f, op); err != nil {
		return nil, err
	}
	res, ok := f.Response().(*pb.ApplyResult)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected apply response %T", op, f.Response())
	}
	return res, nil
}

// Barrier waits until every entry committed so far is applied to the
// leader's FSM. Leader only.
func (n *Node) Barrier(ctx context.Context) error {
	if !n.IsLeader() {
		return n.notLeaderError("barrier", nil)
	}
	return n.waitFuture(ctx, n.raft.Barrier(opTimeout(ctx)), "barrier")
}

// VerifyLeader confirms with a quorum that this node is still the leader and
// returns a read index: the index of the last command committed before the
// call. A replica whose FSM has applied it has seen every command committed
// before VerifyLeader was called.
func (n *Node) VerifyLeader(ctx context.Context) (commitIndex uint64, err error) {
	if !n.isReadyLeader() {
		if n.IsLeader() {
			return 0, fmt.Errorf("verify leadership: %w: leadership not established yet", ErrNotLeader)
		}
		return 0, n.notLeaderError("verify leadership", nil)
	}
	commit := n.raft.CommitIndex()
	if err := n.waitFuture(ctx, n.raft.VerifyLeader(), "verify leadership"); err != nil {
		return 0, err
	}
	return n.readIndex(commit)
}

// AddVoter adds a joining node: it registers the node's record (rejected if
// its name or an address is in use by another node) and then makes it a
// raft voter. Calling it again for the same node is harmless. Leader only.
func (n *Node) AddVoter(ctx context.Context, node *pb.Node) error {
	op := "add member " + node.GetName()
	if node.GetName() == "" || node.GetRaftAddr() == "" {
		return fmt.Errorf("%s: a member needs a name and a raft address", op)
	}
	res, err := n.Propose(ctx, fsm.NewCommand(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: node}, 0))
	if err != nil {
		return err
	}
	if err := fsm.ResultError(res); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n.mu.Lock()
	delete(n.removing, node.Name)
	n.mu.Unlock()
	for _, s := range n.raftServers() {
		if string(s.ID) == node.Name && string(s.Address) == node.RaftAddr && s.Suffrage == raft.Voter {
			return nil
		}
	}
	f := n.raft.AddVoter(raft.ServerID(node.Name), raft.ServerAddress(node.RaftAddr), 0, opTimeout(ctx))
	if err := n.waitFuture(ctx, f, op); err != nil {
		return err
	}
	n.log.Info().Str(logPeer, node.Name).Str("raft_addr", node.RaftAddr).Msg("member added")
	return nil
}

// RemoveMember removes a node from the cluster: its record (and with it its
// bindings) and its raft membership. It first fences the node out: leases
// are refused to it and the call waits until RebindAfter has passed since
// its last renewal, so the node has stopped its work before its sources
// can move. That can take up to RebindAfter; give ctx at least that long.
// Leader only; removing the leader itself transfers leadership and returns
// ErrNotLeader so that the caller retries on the new leader.
func (n *Node) RemoveMember(ctx context.Context, name string) error {
	op := "remove member " + name
	if !n.IsLeader() {
		return n.notLeaderError(op, nil)
	}
	if name == n.cfg.Name {
		if err := n.LeadershipTransfer(); err != nil {
			return fmt.Errorf("%s: it is the leader and cannot hand over leadership: %w", op, err)
		}
		return fmt.Errorf("%s: leadership handed over, retry on the new leader: %w", op, ErrNotLeader)
	}
	_, inFSM := n.fsm.View().Nodes[name]
	var server *raft.Server
	for _, s := range n.raftServers() {
		if string(s.ID) == name {
			server = &s
		}
	}
	if !inFSM && server == nil {
		return fmt.Errorf("%s: %w", op, ErrUnknownMember)
	}
	if err := n.fenceOut(ctx, name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if inFSM {
		res, err := n.Propose(ctx, fsm.NewCommand(pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: name}, 0))
		if err != nil {
			return err
		}
		var ae *fsm.ApplyError
		if err := fsm.ResultError(res); err != nil && !(errors.As(err, &ae) && ae.Code == fsm.CodeNodeNotFound) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if server != nil {
		if err := n.waitFuture(ctx, n.raft.RemoveServer(server.ID, 0, opTimeout(ctx)), op); err != nil {
			return err
		}
	}
	n.mu.Lock()
	delete(n.removing, name)
	delete(n.renewals, name)
	n.mu.Unlock()
	n.log.Info().Str(logPeer, name).Msg("member removed")
	return nil
}

// fenceOut refuses further leases to name and waits until any lease it may
// hold has lapsed (RebindAfter since its last renewal or this leadership).
func (n *Node) fenceOut(ctx context.Context, name string) error {
	n.mu.Lock()
	n.removing[name] = struct{}{}
	n.mu.Unlock()
	for {
		lastSeen := time.Time{}
		for _, l := range n.Liveness(time.Now()) {
			if l.Name == name {
				lastSeen = l.LastSeen
			}
		}
		wait := time.Until(lastSeen.Add(n.cfg.RebindAfter))
		if lastSeen.IsZero() || wait <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			n.mu.Lock()
			delete(n.removing, name)
			n.mu.Unlock()
			return fmt.Errorf("it may still hold a lease for %v: %w", wait.Round(time.Millisecond), ctx.Err())
		case <-time.After(wait):
		}
	}
}

// QuorumStatus returns how many raft voters gossip sees alive (this node
// included) and how many voters there are.
func (n *Node) QuorumStatus() (reachable, voters int) {
	states := n.gossipStates()
	for _, s := range n.raftServers() {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if states[string(s.ID)] == StateAlive {
			reachable++
		}
	}
	return reachable, voters
}

// notLeaderError explains why this node cannot serve op: who leads, or,
// without a leader, how far the voters are from a quorum.
func (n *Node) notLeaderError(op string, cause error) error {
	if name, _ := n.Leader(); name != "" && name != n.cfg.Name {
		if cause != nil {
			return fmt.Errorf("%s: %w (the leader is %s): %w", op, ErrNotLeader, name, cause)
		}
		return fmt.Errorf("%s: %w (the leader is %s)", op, ErrNotLeader, name)
	}
	reachable, voters := n.QuorumStatus()
	err := fmt.Errorf("%s: %w: %w: %d of %d voters alive in gossip, %d needed for a quorum", op, ErrNotLeader, ErrNoLeader, reachable, voters, voters/2+1)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// waitFuture waits for f, but no longer than ctx allows.
func (n *Node) waitFuture(ctx context.Context, f raft.Future, op string) error {
	errCh := make(chan error, 1)
	go func() { errCh <- f.Error() }()
	select {
	case err := <-errCh:
		return n.mapRaftError(op, err)
	case <-ctx.Done():
		reachable, voters := n.QuorumStatus()
		if need := voters/2 + 1; reachable < need {
			return fmt.Errorf("%s: %w: %d of %d voters alive in gossip, %d needed; it may still complete later: %w",
				op, ErrNoQuorum, reachable, voters, need, ctx.Err())
		}
		return fmt.Errorf("%s: not done in time (%d of %d voters alive in gossip); it may still complete later: %w",
			op, reachable, voters, ctx.Err())
	}
}

// mapRaftError turns raft's errors into this package's sentinels.
func (n *Node) mapRaftError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return n.notLeaderError(op, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", op, ErrShutdown)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s: %w: raft did not take the request in time", op, ErrNoQuorum)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func opTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return defaultOpTimeout
}
