package scheduler

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// The Plan* functions below turn one admin request into commands, or say
// why it cannot be done (an *Error). They check the view the request was
// planned on; the FSM checks again at apply time (epoch, revision, names),
// so a request that races another fails there instead. The commands carry
// NowUnixMs 0: the proposer stamps them.

const (
	fixListMember   = "see the members with `dmctl list-member`"
	fixCreateSource = "create it with `dmctl operate-source create`"
	fixQueryStatus  = "see the tasks with `dmctl query-status`"
)

// PlanTransfer moves source to node (transfer-source): BindSource with the
// source's epoch + 1. The node must be registered and alive. Transferring a
// source to the node that holds it returns an ErrAlreadyBound error and no
// command; an unbound source is simply bound there.
func PlanTransfer(v *fsm.View, sourceID, node string, members []Member) (*pb.Command, error) {
	src, found := v.Sources[sourceID]
	if !found {
		return nil, planError(ErrSourceNotFound, fixCreateSource, "source %q does not exist", sourceID)
	}
	if _, found := v.Nodes[node]; !found {
		return nil, planError(ErrNodeNotFound, fixListMember, "no member named %q", node)
	}
	if !memberAlive(members, node) {
		return nil, planError(ErrNodeNotAlive, "start its dmnode again, or pick an alive member ("+fixListMember+")",
			"member %q is not alive", node)
	}
	if b, bound := v.Bindings[sourceID]; bound && b.Node == node {
		return nil, planError(ErrAlreadyBound, "", "source %q is already bound to %q (epoch %d)", sourceID, node, b.Epoch)
	}
	return fsm.NewCommand(pb.CommandType_BIND_SOURCE,
		&pb.BindSource{SourceId: sourceID, Node: node, Epoch: src.Epoch + 1}, 0), nil
}

// PlanStartTask splits task into one subtask per source (start-task): the
// task's SourceIds, or only sources when it is not empty (each must be one
// of the task's). The stored task lists exactly the sources that got a
// subtask, sorted; it starts at revision 1 and its subtasks at RUNNING.
func PlanStartTask(v *fsm.View, task *pb.Task, sources []string) (*pb.Command, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if _, found := v.Tasks[task.Name]; found {
		return nil, planError(ErrTaskExists, "change it with `dmctl update-task`, or remove it with `dmctl stop-task "+task.Name+"` first",
			"task %q already exists", task.Name)
	}
	chosen := sortedSet(task.SourceIds)
	if len(sources) > 0 {
		for _, id := range sources {
			if !slices.Contains(chosen, id) {
				return nil, planError(ErrInvalidRequest, "add it to the task's mysql-instances, or leave it out of the source list",
					"source %q is not one of the sources of task %q %v", id, task.Name, chosen)
			}
		}
		chosen = sortedSet(sources)
	}
	for _, id := range chosen {
		if _, found := v.Sources[id]; !found {
			return nil, planError(ErrSourceNotFound, fixCreateSource, "task %q names source %q, which does not exist", task.Name, id)
		}
	}
	t := cloneTask(task)
	t.Revision, t.SourceIds = 1, chosen
	c := &pb.CreateTask{Task: t}
	for _, id := range chosen {
		c.Subtasks = append(c.Subtasks, &pb.Subtask{Task: t.Name, SourceId: id, DesiredStage: pb.Stage_RUNNING, Revision: 1})
	}
	return fsm.NewCommand(pb.CommandType_CREATE_TASK, c, 0), nil
}

// PlanUpdateTask replaces a task's configuration (update-task) with
// revision = old + 1. The sources must be exactly those the task has
// subtasks on: DM's update-task cannot add or remove sources.
func PlanUpdateTask(v *fsm.View, task *pb.Task) (*pb.Command, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	old, found := v.Tasks[task.Name]
	if !found {
		return nil, planError(ErrTaskNotFound, "start it with `dmctl start-task`", "task %q does not exist", task.Name)
	}
	var current []string
	for _, st := range v.SubtasksOfTask(task.Name) {
		current = append(current, st.SourceId)
	}
	next := sortedSet(task.SourceIds)
	if !slices.Equal(current, next) {
		return nil, planError(ErrSourcesChanged, "keep the sources as they are, or stop the task and start it again with the new sources",
			"update-task cannot change the sources of task %q: it runs on %v, the new configuration lists %v", task.Name, current, next)
	}
	t := cloneTask(task)
	t.Revision, t.SourceIds = old.Revision+1, next
	return fsm.NewCommand(pb.CommandType_UPDATE_TASK, &pb.UpdateTask{Task: t}, 0), nil
}

// PlanStage sets the desired stage of a task's subtasks (pause-task with
// PAUSED, resume-task with RUNNING) on sources, or on every subtask when
// sources is empty. A subtask must be RUNNING or PAUSED; resuming a RUNNING
// one clears its error (a retry). A transition to the stage a subtask
// already has is not an error: the command is returned anyway. With an
// empty sources list, subtasks in another stage (e.g. FINISHED) are left
// out; naming one is an error. The command always lists its sources.
func PlanStage(v *fsm.View, task string, sources []string, stage pb.Stage) (*pb.Command, error) {
	if stage != pb.Stage_RUNNING && stage != pb.Stage_PAUSED {
		return nil, planError(ErrBadStage, "use pause-task (PAUSED), resume-task (RUNNING) or stop-task",
			"cannot set task %q to stage %v", task, stage)
	}
	if _, found := v.Tasks[task]; !found {
		return nil, planError(ErrTaskNotFound, fixQueryStatus, "task %q does not exist", task)
	}
	var ids []string
	for _, id := range sortedSet(sources) {
		st, found := v.Subtasks[fsm.SubtaskKey{Task: task, Source: id}]
		if !found {
			return nil, planError(ErrSubtaskNotFound, fixQueryStatus, "task %q has no subtask on source %q", task, id)
		}
		if !switchable(st.DesiredStage) {
			return nil, planError(ErrBadStage, fixQueryStatus, "subtask of task %q on source %q is %v and cannot be set to %v",
				task, id, st.DesiredStage, stage)
		}
		ids = append(ids, id)
	}
	if len(sources) == 0 {
		for _, st := range v.SubtasksOfTask(task) {
			if switchable(st.DesiredStage) {
				ids = append(ids, st.SourceId)
			}
		}
		if len(ids) == 0 {
			return nil, planError(ErrBadStage, fixQueryStatus, "no subtask of task %q is running or paused", task)
		}
	}
	return fsm.NewCommand(pb.CommandType_SET_SUBTASK_STAGE,
		&pb.SetSubtaskStage{Task: task, SourceIds: ids, Stage: stage}, 0), nil
}

func switchable(s pb.Stage) bool { return s == pb.Stage_RUNNING || s == pb.Stage_PAUSED }

// PlanStopTask removes a task with its subtasks and shard DDL records
// (stop-task).
func PlanStopTask(v *fsm.View, task string) (*pb.Command, error) {
	if _, found := v.Tasks[task]; !found {
		return nil, planError(ErrTaskNotFound, fixQueryStatus, "task %q does not exist", task)
	}
	return fsm.NewCommand(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: task}, 0), nil
}

// PlanOfflineMember removes a node that is not alive (offline-member). The
// FSM drops its bindings; Plan binds those sources elsewhere once the node
// has been silent for RebindAfter. Removing the node from the raft
// configuration is the cluster's job.
func PlanOfflineMember(v *fsm.View, name string, members []Member) ([]*pb.Command, error) {
	if _, found := v.Nodes[name]; !found {
		return nil, planError(ErrNodeNotFound, fixListMember, "no member named %q", name)
	}
	if memberAlive(members, name) {
		return nil, planError(ErrMemberAlive, "stop its dmnode process first, then run `dmctl offline-member` again",
			"member %q is alive", name)
	}
	return []*pb.Command{fsm.NewCommand(pb.CommandType_REMOVE_NODE, &pb.RemoveNode{Name: name}, 0)}, nil
}

// memberAlive reports whether name is listed as alive (the last entry wins,
// as in Plan).
func memberAlive(members []Member, name string) bool {
	alive := false
	for _, m := range members {
		if m.Name == name {
			alive = m.Alive
		}
	}
	return alive
}

func cloneTask(t *pb.Task) *pb.Task { return proto.Clone(t).(*pb.Task) }

func checkTask(task *pb.Task) error {
	if task.GetName() == "" {
		return planError(ErrInvalidRequest, "set `name` in the task configuration", "the task has no name")
	}
	if len(task.SourceIds) == 0 {
		return planError(ErrInvalidRequest, "list its sources under `mysql-instances`", "task %q has no source", task.Name)
	}
	for i, id := range task.SourceIds {
		if id == "" {
			return planError(ErrInvalidRequest, "set `source-id` of every mysql-instance", "task %q has a source with no id", task.Name)
		}
		if slices.Contains(task.SourceIds[:i], id) {
			return planError(ErrInvalidRequest, "list each source once under `mysql-instances`", "task %q lists source %q twice", task.Name, id)
		}
	}
	return nil
}

func sortedSet(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
