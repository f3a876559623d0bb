package rpc

import (
	"context"
	"errors"
	"time"

	"github.com/dmraft/dmraft/cluster"
	pb "github.com/dmraft/dmraft/proto"
)

// Proposer returns the function executors use to commit a command from any
// node: locally on the leader, else through the leader's Node service. It
// retries through elections until ctx ends.
func Proposer(node *cluster.Node, pool *ConnPool) func(context.Context, *pb.Command) (*pb.ApplyResult, error) {
	return func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
		if cmd.NowUnixMs == 0 {
			cmd.NowUnixMs = time.Now().UnixMilli()
		}
		for {
			res, err := proposeOnce(ctx, node, pool, cmd)
			if err == nil {
				return res, nil
			}
			if !errors.Is(err, cluster.ErrNotLeader) && !IsNotLeader(err) && !retryable(err) {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(retryPause):
			}
		}
	}
}

func proposeOnce(ctx context.Context, node *cluster.Node, pool *ConnPool, cmd *pb.Command) (*pb.ApplyResult, error) {
	if node.IsLeader() {
		return node.Propose(ctx, cmd)
	}
	_, addr := node.Leader()
	if addr == "" {
		return nil, cluster.ErrNotLeader
	}
	conn, err := pool.Get(addr)
	if err != nil {
		return nil, err
	}
	return pb.NewNodeClient(conn).Propose(ctx, cmd)
}
