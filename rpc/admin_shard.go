package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
)

// ShardDDLLock shows shard-DDL locks, or unlocks one: the waiting shards go
// on (skip) and every checkpoint is kept.
func (s *Server) ShardDDLLock(ctx context.Context, req *pb.ShardDDLLockRequest) (*pb.ShardDDLLockResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.ShardDDLLockResponse, error) {
		switch req.Op {
		case "", "show":
		case "unlock":
			if req.LockId == "" {
				return nil, invalid(fmt.Errorf("shard-ddl-lock unlock needs a lock id (`dmctl shard-ddl-lock` lists them)"))
			}
			cmds, err := shardlock.Unlock(v, req.LockId, req.ForceRemove)
			if err != nil {
				return nil, invalid(err)
			}
			for _, cmd := range cmds {
				if _, err := s.propose(ctx, cmd); err != nil {
					return nil, err
				}
			}
			v = s.node.FSM().View()
		default:
			return nil, invalid(fmt.Errorf("shard-ddl-lock %q: use show or unlock", req.Op))
		}
		locks := shardlock.Locks(v, req.Task)
		if locks == nil {
			locks = []shardlock.LockStatus{}
		}
		b, err := json.Marshal(locks)
		if err != nil {
			return nil, err
		}
		return &pb.ShardDDLLockResponse{LocksJson: b}, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.ShardDDLLockResponse, error) {
		return pb.NewAdminClient(c).ShardDDLLock(ctx, req)
	})
}
