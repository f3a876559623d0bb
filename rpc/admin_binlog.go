package rpc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
)

// Binlog is `dmctl binlog skip|replace TASK`: the DDL at which a subtask is
// paused is skipped, or replaced by the given statements, and the subtask
// resumes. The leader records an operator keyed by the DDL's binlog
// position (the paused subtask's error names it, or req.Position) for each
// subtask, then resumes them; the sync unit applies the operator when it
// reaches that DDL (executor/sync/operator.go).
func (s *Server) Binlog(ctx context.Context, req *pb.BinlogRequest) (*pb.BinlogResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.BinlogResponse, error) {
		op, err := binlogOperator(req)
		if err != nil {
			return nil, invalid(err)
		}
		task, found := v.Tasks[req.Task]
		if !found {
			return nil, status.Errorf(codes.NotFound, "task %q does not exist (`dmctl query-status` lists the tasks)", req.Task)
		}
		targets, err := binlogTargets(v, req)
		if err != nil {
			return nil, err
		}
		if cfg, err := config.TaskFromJSON(task.ConfigJson); err == nil && cfg.ShardMode == config.ShardOptimistic && op.Op == "skip" {
			if err := optimisticSkipRefused(v, req.Task, targets); err != nil {
				return nil, err
			}
		}
		resp := &pb.BinlogResponse{Task: req.Task, Op: op.Op}
		var ids []string
		for _, st := range targets {
			o := &pb.BinlogOperator{Op: op.Op, Position: req.Position, Statements: op.Statements}
			if o.Position == "" {
				o.Position = st.GetLastError().GetBinlogPosition()
			}
			cmd := fsm.NewCommand(pb.CommandType_SET_BINLOG_OPERATOR, &pb.SetBinlogOperator{Task: req.Task, SourceId: st.SourceId, Operator: o}, 0)
			if _, err := s.propose(ctx, cmd); err != nil {
				return nil, err
			}
			r := &pb.BinlogResult{SourceId: st.SourceId, Position: o.Position, Result: op.Op + " set, resumed"}
			if b, bound := v.Bindings[st.SourceId]; bound {
				r.Worker = b.Node
			}
			resp.Subtasks = append(resp.Subtasks, r)
			ids = append(ids, st.SourceId)
		}
		// After the operators in the log: the bound node sees them before
		// it restarts the subtask.
		cmd := fsm.NewCommand(pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: req.Task, SourceIds: ids, Stage: pb.Stage_RUNNING}, 0)
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.BinlogResponse, error) {
		return pb.NewAdminClient(c).Binlog(ctx, req)
	})
}

// binlogOperator validates the request: the op, and for replace statements
// that parse (split into one statement each).
func binlogOperator(req *pb.BinlogRequest) (*pb.BinlogOperator, error) {
	op := &pb.BinlogOperator{Op: req.Op}
	switch req.Op {
	case "skip":
		if len(req.Statements) > 0 {
			return nil, fmt.Errorf("binlog skip takes no statements; use binlog replace")
		}
	case "replace":
		p := parser.New()
		for _, text := range req.Statements {
			stmts, _, err := p.Parse(text, "", "")
			if err != nil {
				return nil, fmt.Errorf("binlog replace: %q does not parse: %w", text, err)
			}
			for _, st := range stmts {
				if t := strings.TrimRight(strings.TrimSpace(st.Text()), ";"); t != "" {
					op.Statements = append(op.Statements, t)
				}
			}
		}
		if len(op.Statements) == 0 {
			return nil, fmt.Errorf("binlog replace needs the statements to run instead, e.g. binlog replace %s \"ALTER TABLE ...;\"", req.Task)
		}
	default:
		return nil, fmt.Errorf("binlog %q: use skip or replace", req.Op)
	}
	return op, nil
}

// binlogTargets are the subtasks the request names, or every subtask of
// the task paused at a DDL.
func binlogTargets(v *fsm.View, req *pb.BinlogRequest) ([]*pb.Subtask, error) {
	pausedAtDDL := func(st *pb.Subtask) bool {
		return st.DesiredStage == pb.Stage_PAUSED && st.GetLastError().GetBinlogPosition() != ""
	}
	var out []*pb.Subtask
	if len(req.Sources) == 0 {
		for _, st := range v.SubtasksOfTask(req.Task) {
			if pausedAtDDL(st) {
				out = append(out, st)
			}
		}
		if len(out) == 0 {
			return nil, status.Errorf(codes.FailedPrecondition,
				"no subtask of task %q is paused at a DDL (`dmctl query-status %s`); to set an operator ahead, give -s SOURCE and --position", req.Task, req.Task)
		}
		return out, nil
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(req.Sources))) {
		st, found := v.Subtasks[fsm.SubtaskKey{Task: req.Task, Source: id}]
		if !found {
			return nil, status.Errorf(codes.NotFound, "task %q has no subtask on source %q", req.Task, id)
		}
		if st.DesiredStage != pb.Stage_PAUSED && st.DesiredStage != pb.Stage_RUNNING {
			return nil, status.Errorf(codes.FailedPrecondition, "subtask of task %q on source %q is %v", req.Task, id, st.DesiredStage)
		}
		if req.Position == "" && !pausedAtDDL(st) {
			return nil, status.Errorf(codes.FailedPrecondition,
				"subtask of task %q on source %q is not paused at a DDL; give --position (the DDL's binlog position, e.g. \"(mysql-bin.000003, 1234)\") to set an operator ahead", req.Task, id)
		}
		out = append(out, st)
	}
	return out, nil
}

// optimisticSkipRefused refuses `binlog skip` for a subtask paused at an
// optimistic shard DDL in conflict: only the lock can let that shard skip
// (the sync unit would pause again with ShardSkipRefused). The error names
// the command that does.
func optimisticSkipRefused(v *fsm.View, task string, targets []*pb.Subtask) error {
	for _, st := range targets {
		if st.GetLastError().GetCode() != shardlock.CodeConflict {
			continue
		}
		lock := "LOCK_ID"
		for _, info := range v.ShardInfos {
			if info.Task == task && info.SourceId == st.SourceId && len(info.Ddls) > 0 {
				lock = shardlock.LockID(task, info.DownstreamSchema, info.DownstreamTable)
				break
			}
		}
		return status.Errorf(codes.FailedPrecondition,
			"binlog skip: the subtask of task %q on source %q waits at an optimistic shard DDL in conflict, which only its lock can skip: "+
				"`dmctl shard-ddl-lock unlock %s` makes the shards in conflict skip their DDL (the target keeps its schema), then `dmctl resume-task %s`; "+
				"or `dmctl binlog replace %s -s %s \"SQL;...\"` with a change the lock accepts. Checkpoints are kept",
			task, st.SourceId, lock, task, task, st.SourceId)
	}
	return nil
}
