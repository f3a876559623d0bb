package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/scheduler"
)

// ListMember lists every member with its liveness, voter status and
// bindings. Without a leader it answers from this node's own view, so a
// user can still see what is down.
func (s *Server) ListMember(ctx context.Context, req *pb.ListMemberRequest) (*pb.ListMemberResponse, error) {
	if !s.node.IsLeader() && !isForwarded(ctx) {
		if _, addr := s.node.Leader(); addr == "" {
			return s.members(), nil
		}
	}
	return atLeader(ctx, s, func(context.Context) (*pb.ListMemberResponse, error) {
		return s.members(), nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.ListMemberResponse, error) {
		return pb.NewAdminClient(c).ListMember(ctx, req)
	})
}

func (s *Server) members() *pb.ListMemberResponse {
	v := s.node.FSM().View()
	resp := &pb.ListMemberResponse{ClusterId: s.node.ClusterID()}
	for _, m := range s.node.Members() {
		pm := &pb.Member{
			Name: m.Name, Addr: m.Addr, RaftAddr: m.RaftAddr, GossipAddr: m.GossipAddr,
			State: m.State, Voter: m.Voter, Leader: m.Leader, EvictLeader: m.EvictLeader,
		}
		for _, b := range v.BindingsOfNode(m.Name) {
			pm.Sources = append(pm.Sources, b.SourceId)
		}
		if m.Leader {
			resp.Leader = m.Name
		}
		resp.Members = append(resp.Members, pm)
	}
	return resp
}

// schedulerMembers is the leader's liveness of every node, as the scheduler sees it.
func (s *Server) schedulerMembers() []scheduler.Member {
	var out []scheduler.Member
	for _, l := range s.node.Liveness(time.Now()) {
		out = append(out, scheduler.Member{Name: l.Name, Alive: l.Alive, LastSeen: l.LastSeen})
	}
	return out
}

// OfflineMember removes a dead member from the cluster; its sources are
// rebound by the scheduler.
func (s *Server) OfflineMember(ctx context.Context, req *pb.OfflineMemberRequest) (*pb.OfflineMemberResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.OfflineMemberResponse, error) {
		if req.Name == s.node.Name() {
			return nil, status.Errorf(codes.FailedPrecondition, "%s is the leader; stop it (SIGTERM hands leadership over) or `operate-leader evict` it first", req.Name)
		}
		if _, err := scheduler.PlanOfflineMember(v, req.Name, s.schedulerMembers()); err != nil {
			return nil, err
		}
		resp := &pb.OfflineMemberResponse{}
		for _, b := range v.BindingsOfNode(req.Name) {
			resp.UnboundSources = append(resp.UnboundSources, b.SourceId)
		}
		if err := s.node.RemoveMember(ctx, req.Name); err != nil {
			return nil, err
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.OfflineMemberResponse, error) {
		return pb.NewAdminClient(c).OfflineMember(ctx, req)
	})
}

// TransferSource moves a source to another node with a new epoch.
func (s *Server) TransferSource(ctx context.Context, req *pb.TransferSourceRequest) (*pb.TransferSourceResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.TransferSourceResponse, error) {
		cmd, err := scheduler.PlanTransfer(v, req.SourceId, req.Node, s.schedulerMembers())
		if errors.Is(err, scheduler.ErrAlreadyBound) { // idempotent: nothing to move
			b := v.Bindings[req.SourceId]
			return &pb.TransferSourceResponse{SourceId: req.SourceId, Node: b.Node, Epoch: b.Epoch}, nil
		}
		if err != nil {
			return nil, err
		}
		res, err := s.propose(ctx, cmd)
		if err != nil {
			return nil, err
		}
		return &pb.TransferSourceResponse{SourceId: req.SourceId, Node: req.Node, Epoch: res.Epoch}, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.TransferSourceResponse, error) {
		return pb.NewAdminClient(c).TransferSource(ctx, req)
	})
}

// OperateLeader marks a node (default: the one receiving the call) as
// never to hold leadership, or clears the mark.
func (s *Server) OperateLeader(ctx context.Context, req *pb.OperateLeaderRequest) (*pb.OperateLeaderResponse, error) {
	if req.Node == "" && !isForwarded(ctx) {
		req.Node = s.node.Name()
	}
	var evict bool
	switch req.Op {
	case "evict":
		evict = true
	case "cancel-evict":
	default:
		return nil, invalid(fmt.Errorf("operate-leader %q: the operation is evict or cancel-evict", req.Op))
	}
	return atLeader(ctx, s, func(ctx context.Context) (*pb.OperateLeaderResponse, error) {
		cmd := fsm.NewCommand(pb.CommandType_SET_LEADER_EVICTION, &pb.SetLeaderEviction{Node: req.Node, Evict: evict}, 0)
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
		leader, _ := s.node.Leader()
		return &pb.OperateLeaderResponse{Node: req.Node, Leader: leader}, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.OperateLeaderResponse, error) {
		return pb.NewAdminClient(c).OperateLeader(ctx, req)
	})
}
