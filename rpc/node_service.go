package rpc

import (
	"context"

	"google.golang.org/grpc"

	pb "github.com/dmraft/dmraft/proto"
)

// Propose applies a command at the leader (executors on followers report
// finished units, errors and shard-DDL infos this way).
func (s *Server) Propose(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	return atLeader(ctx, s, func(ctx context.Context) (*pb.ApplyResult, error) {
		return s.node.Propose(ctx, cmd)
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.ApplyResult, error) {
		return pb.NewNodeClient(c).Propose(ctx, cmd)
	})
}

// Join adds the caller as a voter.
func (s *Server) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinResponse, error) {
	return atLeader(ctx, s, func(ctx context.Context) (*pb.JoinResponse, error) {
		if err := s.node.AddVoter(ctx, req.GetNode()); err != nil {
			return nil, err
		}
		v := s.node.FSM().View()
		resp := &pb.JoinResponse{Leader: s.node.Name(), ClusterId: s.node.ClusterID()}
		for _, name := range v.NodeNames() {
			resp.Nodes = append(resp.Nodes, v.Nodes[name])
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.JoinResponse, error) {
		return pb.NewNodeClient(c).Join(ctx, req)
	})
}

// Lease renews the caller's lease. It is never forwarded: only the leader
// grants leases. The renewal is recorded at the time the request arrived,
// which is no earlier than when the caller sent it (see cluster/DESIGN.md).
func (s *Server) Lease(ctx context.Context, req *pb.LeaseRequest) (*pb.LeaseResponse, error) {
	if !s.node.IsLeader() {
		return nil, errNotLeader
	}
	index, err := s.node.GrantLease(ctx, req.Node)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LeaseResponse{CommitIndex: index, Leader: s.node.Name()}, nil
}

// RunnerStatus reports this node's runners.
func (s *Server) RunnerStatus(_ context.Context, req *pb.RunnerStatusRequest) (*pb.RunnerStatusResponse, error) {
	return &pb.RunnerStatusResponse{Runners: s.exec.Status(req.Task, req.Sources)}, nil
}

// LeaseRenewer returns the function cluster uses to renew this node's lease
// at the leader's admin address.
func LeaseRenewer(self string, pool *ConnPool) func(ctx context.Context, leaderAddr string) (uint64, error) {
	return func(ctx context.Context, leaderAddr string) (uint64, error) {
		conn, err := pool.Get(leaderAddr)
		if err != nil {
			return 0, err
		}
		resp, err := pb.NewNodeClient(conn).Lease(ctx, &pb.LeaseRequest{Node: self})
		if err != nil {
			return 0, err
		}
		return resp.CommitIndex, nil
	}
}
