package rpc

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/cluster"
	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// forwardedKey marks a call one node forwarded to the leader; a forwarded
// call that reaches a non-leader is answered NotLeader instead of hopping on.
const forwardedKey = "dmraft-forwarded"

// Server implements the Admin and Node services of one node.
type Server struct {
	pb.UnimplementedAdminServer
	pb.UnimplementedNodeServer

	node   *cluster.Node
	exec   *executor.Executor
	secret config.Key
	conns  *ConnPool
	log    zerolog.Logger
}

// ServerConfig wires a Server to its node.
type ServerConfig struct {
	Node      *cluster.Node
	Executor  *executor.Executor
	Secret    config.Key
	ClientTLS *tls.Config // for calls to other nodes; nil for plain text
	Logger    zerolog.Logger
}

// NewServer returns the services of one node.
func NewServer(cfg ServerConfig) *Server {
	return &Server{
		node: cfg.Node, exec: cfg.Executor, secret: cfg.Secret,
		conns: NewConnPool(cfg.ClientTLS),
		log:   cfg.Logger.With().Str("component", "rpc").Logger(),
	}
}

// Register adds both services to g.
func (s *Server) Register(g *grpc.Server) {
	pb.RegisterAdminServer(g, s)
	pb.RegisterNodeServer(g, s)
}

// Close releases the connections to other nodes.
func (s *Server) Close() { s.conns.Close() }

func isForwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedKey)) > 0
}

// atLeader runs local on the leader; elsewhere it forwards the call through
// remote to the leader's admin address.
func atLeader[Resp any](ctx context.Context, s *Server, local func(context.Context) (Resp, error), remote func(context.Context, *grpc.ClientConn) (Resp, error)) (Resp, error) {
	var zero Resp
	if s.node.IsLeader() {
		resp, err := local(ctx)
		return resp, toStatus(err)
	}
	if isForwarded(ctx) {
		return zero, errNotLeader
	}
	name, addr := s.node.Leader()
	if addr == "" {
		return zero, status.Error(codes.Unavailable, notLeaderPrefix+": no leader is elected yet")
	}
	conn, err := s.conns.Get(addr)
	if err != nil {
		return zero, status.Errorf(codes.Unavailable, "%s: leader %s at %s unreachable: %v", notLeaderPrefix, name, addr, err)
	}
	return remote(metadata.AppendToOutgoingContext(ctx, forwardedKey, "1"), conn)
}

// atLeaderWithView is atLeader whose local part runs with a fresh view
// (freshView): one that holds every command committed before the call.
func atLeaderWithView[Resp any](ctx context.Context, s *Server, local func(context.Context, *fsm.View) (Resp, error), remote func(context.Context, *grpc.ClientConn) (Resp, error)) (Resp, error) {
	return atLeader(ctx, s, func(ctx context.Context) (Resp, error) {
		v, err := s.freshView(ctx)
		if err != nil {
			var zero Resp
			return zero, err
		}
		return local(ctx, v)
	}, remote)
}

// freshView returns the leader's view after a barrier, so it holds every
// command committed before the call.
func (s *Server) freshView(ctx context.Context) (*fsm.View, error) {
	if err := s.node.Barrier(ctx); err != nil {
		return nil, err
	}
	return s.node.FSM().View(), nil
}

// propose commits cmd through raft and turns a business error into an error.
func (s *Server) propose(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
	if cmd.NowUnixMs == 0 {
		cmd.NowUnixMs = time.Now().UnixMilli()
	}
	res, err := s.node.Propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return res, fsm.ResultError(res)
}
