package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const grace = 10 * time.Second

var cfg = Config{RebindAfter: grace}

// viewOf builds a view by hand: nodes, then sources and bindings.
type viewOf struct{ v *fsm.View }

func newView(nodes ...string) viewOf {
	v := &fsm.View{
		Nodes: map[string]*pb.Node{}, Sources: map[string]*pb.Source{}, Bindings: map[string]*pb.Binding{},
		Tasks: map[string]*pb.Task{}, Subtasks: map[fsm.SubtaskKey]*pb.Subtask{},
	}
	for _, n := range nodes {
		v.Nodes[n] = &pb.Node{Name: n, RaftAddr: n + ":8291"}
	}
	return viewOf{v}
}

// src adds an enabled, unbound source.
func (b viewOf) src(id string, epoch uint64, lastNode string) viewOf {
	b.v.Sources[id] = &pb.Source{Config: &pb.SourceConfig{SourceId: id}, Enabled: true, Epoch: epoch, LastNode: lastNode}
	return b
}

// bound adds an enabled source bound to node at epoch.
func (b viewOf) bound(id, node string, epoch uint64) viewOf {
	b.src(id, epoch, node)
	b.v.Bindings[id] = &pb.Binding{SourceId: id, Node: node, Epoch: epoch}
	return b
}

func (b viewOf) task(name string, subtasks map[string]pb.Stage) viewOf {
	t := &pb.Task{Name: name, Revision: 3}
	for id, stage := range subtasks {
		t.SourceIds = append(t.SourceIds, id)
		b.v.Subtasks[fsm.SubtaskKey{Task: name, Source: id}] = &pb.Subtask{Task: name, SourceId: id, DesiredStage: stage, Revision: 3}
	}
	b.v.Tasks[name] = t
	return b
}

// alive lists members heard from at now.
func alive(now time.Time, names ...string) []Member {
	var ms []Member
	for _, n := range names {
		ms = append(ms, Member{Name: n, Alive: true, LastSeen: now})
	}
	return ms
}

// describe renders a command as one line, for comparisons and the recorded plan.
func describe(t testing.TB, cmd *pb.Command) string {
	t.Helper()
	switch cmd.Type {
	case pb.CommandType_BIND_SOURCE:
		c := decode(t, cmd, &pb.BindSource{})
		return fmt.Sprintf("bind %s -> %s epoch %d", c.SourceId, c.Node, c.Epoch)
	case pb.CommandType_CREATE_TASK:
		c := decode(t, cmd, &pb.CreateTask{})
		var sts []string
		for _, st := range c.Subtasks {
			sts = append(sts, fmt.Sprintf("%s/%s:%v@%d", st.Task, st.SourceId, st.DesiredStage, st.Revision))
		}
		return fmt.Sprintf("create-task %s rev %d sources %v subtasks [%s]", c.Task.Name, c.Task.Revision, c.Task.SourceIds, strings.Join(sts, " "))
	case pb.CommandType_UPDATE_TASK:
		c := decode(t, cmd, &pb.UpdateTask{})
		return fmt.Sprintf("update-task %s rev %d sources %v", c.Task.Name, c.Task.Revision, c.Task.SourceIds)
	case pb.CommandType_SET_SUBTASK_STAGE:
		c := decode(t, cmd, &pb.SetSubtaskStage{})
		return fmt.Sprintf("set-stage %s %v %v", c.Task, c.SourceIds, c.Stage)
	case pb.CommandType_REMOVE_TASK:
		return "remove-task " + decode(t, cmd, &pb.RemoveTask{}).Name
	case pb.CommandType_REMOVE_NODE:
		return "remove-node " + decode(t, cmd, &pb.RemoveNode{}).Name
	}
	t.Fatalf("describe: unexpected command %v", cmd.Type)
	return ""
}

func describeAll(t testing.TB, cmds []*pb.Command) []string {
	t.Helper()
	var out []string
	for _, c := range cmds {
		out = append(out, describe(t, c))
	}
	return out
}

func decode[T proto.Message](t testing.TB, cmd *pb.Command, body T) T {
	t.Helper()
	if err := proto.Unmarshal(cmd.Body, body); err != nil {
		t.Fatalf("decode %v: %v", cmd.Type, err)
	}
	return body
}

func fsmKey(task, source string) fsm.SubtaskKey { return fsm.SubtaskKey{Task: task, Source: source} }
