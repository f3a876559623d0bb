package rpc

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/scheduler"
)

// parseTask parses and normalizes a task.yaml into its FSM record; edit,
// when set, changes the parsed task first.
func (s *Server) parseTask(text string, edit func(*config.Task) error) (*pb.Task, error) {
	t, err := config.ParseTask([]byte(text))
	if err != nil {
		return nil, invalid(err)
	}
	if edit != nil {
		if err := edit(t); err != nil {
			return nil, err
		}
	}
	rec, err := t.ToProto(s.secret)
	if err != nil {
		return nil, invalid(err)
	}
	return rec, nil
}

// StartTask creates a task and its subtasks.
func (s *Server) StartTask(ctx context.Context, req *pb.StartTaskRequest) (*pb.TaskResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.TaskResponse, error) {
		task, err := s.parseTask(req.TaskYaml, func(t *config.Task) error { return s.applyStartTime(ctx, v, t, req.StartTimeUnix) })
		if err != nil {
			return nil, err
		}
		// The same task.yaml again (a retry after a lost answer) is no error.
		if old, found := v.Tasks[task.Name]; found && bytes.Equal(old.ConfigJson, task.ConfigJson) && len(req.Sources) == 0 {
			return taskResponse(v, task.Name, "exists (unchanged)"), nil
		}
		if err := s.refuseOnPrecheck(ctx, req.TaskYaml, v); err != nil {
			return nil, err
		}
		cmd, err := scheduler.PlanStartTask(v, task, req.Sources)
		if err != nil {
			return nil, err
		}
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
		return taskResponse(s.node.FSM().View(), task.Name, "started"), nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.TaskResponse, error) {
		return pb.NewAdminClient(c).StartTask(ctx, req)
	})
}

// UpdateTask raises a task's revision with a new configuration.
func (s *Server) UpdateTask(ctx context.Context, req *pb.StartTaskRequest) (*pb.TaskResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.TaskResponse, error) {
		task, err := s.parseTask(req.TaskYaml, func(t *config.Task) error { return keepStartTime(v, t) })
		if err != nil {
			return nil, err
		}
		cmd, err := scheduler.PlanUpdateTask(v, task)
		if err != nil {
			return nil, err
		}
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
		return taskResponse(s.node.FSM().View(), task.Name, "updated"), nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.TaskResponse, error) {
		return pb.NewAdminClient(c).UpdateTask(ctx, req)
	})
}

// StopTask removes a task and its subtasks; their runners stop.
func (s *Server) StopTask(ctx context.Context, req *pb.TaskOpRequest) (*pb.TaskResponse, error) {
	return s.taskOp(ctx, req, "stopped", func(v *fsm.View) (*pb.Command, error) {
		if len(req.Sources) > 0 {
			return nil, invalid(fmt.Errorf("stop-task stops the whole task; to stop one source's part use `pause-task -s SOURCE %s`", req.Name))
		}
		return scheduler.PlanStopTask(v, req.Name)
	}, func(ctx context.Context, c pb.AdminClient) (*pb.TaskResponse, error) { return c.StopTask(ctx, req) })
}

// PauseTask pauses subtasks.
func (s *Server) PauseTask(ctx context.Context, req *pb.TaskOpRequest) (*pb.TaskResponse, error) {
	return s.taskOp(ctx, req, "paused", func(v *fsm.View) (*pb.Command, error) {
		return scheduler.PlanStage(v, req.Name, req.Sources, pb.Stage_PAUSED)
	}, func(ctx context.Context, c pb.AdminClient) (*pb.TaskResponse, error) { return c.PauseTask(ctx, req) })
}

// ResumeTask resumes subtasks and clears their errors.
func (s *Server) ResumeTask(ctx context.Context, req *pb.TaskOpRequest) (*pb.TaskResponse, error) {
	return s.taskOp(ctx, req, "resumed", func(v *fsm.View) (*pb.Command, error) {
		return scheduler.PlanStage(v, req.Name, req.Sources, pb.Stage_RUNNING)
	}, func(ctx context.Context, c pb.AdminClient) (*pb.TaskResponse, error) { return c.ResumeTask(ctx, req) })
}

func (s *Server) taskOp(ctx context.Context, req *pb.TaskOpRequest, result string,
	plan func(*fsm.View) (*pb.Command, error),
	remote func(context.Context, pb.AdminClient) (*pb.TaskResponse, error)) (*pb.TaskResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.TaskResponse, error) {
		resp := taskResponse(v, req.Name, result)
		cmd, err := plan(v)
		if err != nil {
			return nil, err
		}
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
		if result != "stopped" {
			resp = taskResponse(s.node.FSM().View(), req.Name, result)
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.TaskResponse, error) {
		return remote(ctx, pb.NewAdminClient(c))
	})
}

func taskResponse(v *fsm.View, name, result string) *pb.TaskResponse {
	resp := &pb.TaskResponse{Name: name}
	if t, found := v.Tasks[name]; found {
		resp.Revision = t.Revision
	}
	for _, st := range v.SubtasksOfTask(name) {
		r := &pb.SubtaskResult{SourceId: st.SourceId, Result: result}
		if b, bound := v.Bindings[st.SourceId]; bound {
			r.Worker = b.Node
		}
		resp.Subtasks = append(resp.Subtasks, r)
	}
	return resp
}
