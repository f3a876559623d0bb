package rpc

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// runnerStatusTimeout bounds how long query-status waits for one node.
const runnerStatusTimeout = 2 * time.Second

// QueryStatus reports each task's desired state from the FSM and the live
// state of its runners, asked of the nodes the sources are bound to.
func (s *Server) QueryStatus(ctx context.Context, req *pb.QueryStatusRequest) (*pb.QueryStatusResponse, error) {
	return atLeaderWithView(ctx, s, func(ctx context.Context, v *fsm.View) (*pb.QueryStatusResponse, error) {
		names := v.TaskNames()
		if req.Name != "" {
			if _, found := v.Tasks[req.Name]; !found {
				return nil, status.Errorf(codes.NotFound, "task %q does not exist; `dmctl query-status` lists the tasks", req.Name)
			}
			names = []string{req.Name}
		}
		runners := s.collectRunners(ctx, v)
		resp := &pb.QueryStatusResponse{}
		for _, name := range names {
			resp.Tasks = append(resp.Tasks, taskStatus(v, name, req.Sources, runners))
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.QueryStatusResponse, error) {
		return pb.NewAdminClient(c).QueryStatus(ctx, req)
	})
}

// nodeRunners is what one node said about its runners, or why it could not.
type nodeRunners struct {
	runners map[fsm.SubtaskKey]*pb.RunnerStatus
	err     string
}

// collectRunners asks every node holding a binding for its runners, in parallel.
func (s *Server) collectRunners(ctx context.Context, v *fsm.View) map[string]*nodeRunners {
	nodes := map[string]bool{}
	for _, b := range v.Bindings {
		nodes[b.Node] = true
	}
	out := map[string]*nodeRunners{}
	type answer struct {
		node string
		nr   *nodeRunners
	}
	answers := make(chan answer, len(nodes))
	for node := range nodes {
		go func(node string) { answers <- answer{node, s.askRunners(ctx, v, node)} }(node)
	}
	for range nodes {
		a := <-answers
		out[a.node] = a.nr
	}
	return out
}

func (s *Server) askRunners(ctx context.Context, v *fsm.View, node string) *nodeRunners {
	nr := &nodeRunners{runners: map[fsm.SubtaskKey]*pb.RunnerStatus{}}
	var list []*pb.RunnerStatus
	if node == s.node.Name() {
		list = s.exec.Status("", nil)
	} else {
		rec, found := v.Nodes[node]
		if !found {
			nr.err = "node " + node + " is not a member"
			return nr
		}
		conn, err := s.conns.Get(rec.Addr)
		if err != nil {
			nr.err = err.Error()
			return nr
		}
		ctx, cancel := context.WithTimeout(ctx, runnerStatusTimeout)
		defer cancel()
		resp, err := pb.NewNodeClient(conn).RunnerStatus(ctx, &pb.RunnerStatusRequest{})
		if err != nil {
			nr.err = "node " + node + " did not answer: " + status.Convert(err).Message()
			return nr
		}
		list = resp.Runners
	}
	for _, r := range list {
		nr.runners[fsm.SubtaskKey{Task: r.Task, Source: r.SourceId}] = r
	}
	return nr
}

func taskStatus(v *fsm.View, name string, sources []string, runners map[string]*nodeRunners) *pb.TaskStatus {
	t := v.Tasks[name]
	ts := &pb.TaskStatus{Name: name, TaskMode: t.TaskMode, Revision: t.Revision}
	filter := map[string]bool{}
	for _, s := range sources {
		filter[s] = true
	}
	stages := map[string]bool{}
	for _, st := range v.SubtasksOfTask(name) {
		if len(filter) > 0 && !filter[st.SourceId] {
			continue
		}
		ss := &pb.SubtaskStatus{
			SourceId: st.SourceId, DesiredStage: stageName(st.DesiredStage), Revision: st.Revision,
			FinishedUnits: st.FinishedUnits, LastError: st.LastError,
		}
		if b, bound := v.Bindings[st.SourceId]; bound {
			ss.Worker, ss.Epoch = b.Node, b.Epoch
			if nr := runners[b.Node]; nr != nil {
				ss.Runner = nr.runners[fsm.SubtaskKey{Task: name, Source: st.SourceId}]
				ss.RunnerError = nr.err
				if ss.Runner == nil && nr.err == "" {
					ss.RunnerError = "node " + b.Node + " runs nothing for this subtask yet (starting, or fenced: no leader contact)"
				}
			}
		} else {
			ss.RunnerError = "source " + st.SourceId + " is not bound to any node: no live node to run it"
		}
		stages[ss.DesiredStage] = true
		ts.Subtasks = append(ts.Subtasks, ss)
	}
	switch {
	case len(stages) == 1:
		for s := range stages {
			ts.Stage = s
		}
	case len(stages) > 1:
		ts.Stage = "Mixed"
	}
	return ts
}

func stageName(s pb.Stage) string {
	switch s {
	case pb.Stage_RUNNING:
		return "Running"
	case pb.Stage_PAUSED:
		return "Paused"
	case pb.Stage_STOPPED:
		return "Stopped"
	case pb.Stage_FINISHED:
		return "Finished"
	}
	return "Unknown"
}

// CheckTask validates a task.yaml and the sources it names. Checks of the
// upstream and target servers come with the data units.
func (s *Server) CheckTask(ctx context.Context, req *pb.CheckTaskRequest) (*pb.CheckTaskResponse, error) {
	return atLeader(ctx, s, func(ctx context.Context) (*pb.CheckTaskResponse, error) {
		resp := &pb.CheckTaskResponse{Ok: true}
		add := func(item *pb.CheckItem) {
			if item.State == "fail" {
				resp.Ok = false
			}
			resp.Items = append(resp.Items, item)
		}
		t, err := config.ParseTask([]byte(req.TaskYaml))
		if err != nil {
			add(&pb.CheckItem{Name: "task config", State: "fail", Message: err.Error(), Fix: "correct task.yaml"})
			return resp, nil
		}
		add(&pb.CheckItem{Name: "task config", State: "pass"})
		v, err := s.freshView(ctx)
		if err != nil {
			return nil, err
		}
		rec, err := t.ToProto(s.secret)
		if err != nil {
			return nil, invalid(err)
		}
		for _, id := range rec.SourceIds {
			if _, found := v.Sources[id]; !found {
				add(&pb.CheckItem{Name: "source " + id, State: "fail", Message: "source " + id + " does not exist",
					Fix: "create it with `dmctl operate-source create source.yaml`"})
				continue
			}
			if _, bound := v.Bindings[id]; !bound {
				add(&pb.CheckItem{Name: "source " + id, State: "warn", Message: "source " + id + " is not bound to a node yet",
					Fix: "start a node (`dmnode join`) or wait for the scheduler"})
				continue
			}
			add(&pb.CheckItem{Name: "source " + id, State: "pass"})
		}
		for _, item := range s.precheckTask(ctx, t, v) {
			add(item)
		}
		if _, exists := v.Tasks[rec.Name]; exists {
			add(&pb.CheckItem{Name: "task name", State: "fail", Message: "task " + rec.Name + " already exists",
				Fix: "use `dmctl update-task` or `dmctl stop-task " + rec.Name + "` first"})
		}
		return resp, nil
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.CheckTaskResponse, error) {
		return pb.NewAdminClient(c).CheckTask(ctx, req)
	})
}
