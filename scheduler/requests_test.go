package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"

	pb "github.com/dmraft/dmraft/proto"
)

// check compares one planned request with the expected description, or the
// expected error kind and a fragment of its message.
func check(t *testing.T, got []string, err error, want []string, wantErr error, wantMsg string) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("error = %v, want kind %v", err, wantErr)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Fatalf("error %q does not mention %q", err, wantMsg)
		}
		var pe *Error
		if !errors.As(err, &pe) || (pe.Workaround == "" && wantErr != ErrAlreadyBound) {
			t.Fatalf("error %q has no workaround", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func one(t *testing.T, cmd *pb.Command) []string {
	if cmd == nil {
		return nil
	}
	return []string{describe(t, cmd)}
}

func TestPlanTransfer(t *testing.T) {
	v := newView("n1", "n2", "n3").bound("s1", "n1", 4).src("s2", 2, "n1").v
	members := append(alive(t0, "n1", "n2"), Member{Name: "n3", LastSeen: t0})
	tests := []struct {
		name, source, node string
		want               []string
		wantErr            error
		wantMsg            string
	}{
		{name: "move", source: "s1", node: "n2", want: []string{"bind s1 -> n2 epoch 5"}},
		{name: "unbound source", source: "s2", node: "n2", want: []string{"bind s2 -> n2 epoch 3"}},
		{name: "unknown source", source: "s9", node: "n2", wantErr: ErrSourceNotFound, wantMsg: "operate-source create"},
		{name: "unknown node", source: "s1", node: "n9", wantErr: ErrNodeNotFound, wantMsg: "list-member"},
		{name: "node not alive", source: "s1", node: "n3", wantErr: ErrNodeNotAlive, wantMsg: `member "n3" is not alive`},
		{name: "already bound there", source: "s1", node: "n1", wantErr: ErrAlreadyBound, wantMsg: `already bound to "n1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := PlanTransfer(v, tt.source, tt.node, members)
			check(t, one(t, cmd), err, tt.want, tt.wantErr, tt.wantMsg)
		})
	}
	t.Run("member missing from the list is not alive", func(t *testing.T) {
		_, err := PlanTransfer(v, "s1", "n2", alive(t0, "n1"))
		check(t, nil, err, nil, ErrNodeNotAlive, "n2")
	})
}

func TestPlanStartTask(t *testing.T) {
	v := newView("n1").src("s1", 0, "").src("s2", 0, "").src("s3", 0, "").task("old", map[string]pb.Stage{"s1": pb.Stage_RUNNING}).v
	task := func(name string, sources ...string) *pb.Task {
		return &pb.Task{Name: name, SourceIds: sources, TaskMode: "all", ConfigJson: []byte("{}")}
	}
	tests := []struct {
		name    string
		task    *pb.Task
		sources []string
		want    []string
		wantErr error
		wantMsg string
	}{
		{name: "all sources", task: task("t1", "s2", "s1"),
			want: []string{"create-task t1 rev 1 sources [s1 s2] subtasks [t1/s1:RUNNING@1 t1/s2:RUNNING@1]"}},
		{name: "a subset", task: task("t1", "s1", "s2", "s3"), sources: []string{"s3", "s1", "s3"},
			want: []string{"create-task t1 rev 1 sources [s1 s3] subtasks [t1/s1:RUNNING@1 t1/s3:RUNNING@1]"}},
		{name: "subset names a source outside the task", task: task("t1", "s1"), sources: []string{"s2"},
			wantErr: ErrInvalidRequest, wantMsg: `source "s2" is not one of the sources of task "t1"`},
		{name: "unknown source", task: task("t1", "s1", "s9"), wantErr: ErrSourceNotFound, wantMsg: `source "s9", which does not exist; create it with`},
		{name: "task exists", task: task("old", "s1"), wantErr: ErrTaskExists, wantMsg: "update-task"},
		{name: "no name", task: task("", "s1"), wantErr: ErrInvalidRequest, wantMsg: "no name"},
		{name: "nil task", task: nil, wantErr: ErrInvalidRequest, wantMsg: "no name"},
		{name: "no sources", task: task("t1"), wantErr: ErrInvalidRequest, wantMsg: "has no source"},
		{name: "a source twice", task: task("t1", "s1", "s1"), wantErr: ErrInvalidRequest, wantMsg: `lists source "s1" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := PlanStartTask(v, tt.task, tt.sources)
			check(t, one(t, cmd), err, tt.want, tt.wantErr, tt.wantMsg)
		})
	}
	t.Run("the caller's task is not modified", func(t *testing.T) {
		in := task("t1", "s2", "s1")
		if _, err := PlanStartTask(v, in, nil); err != nil {
			t.Fatal(err)
		}
		if in.Revision != 0 || !slices.Equal(in.SourceIds, []string{"s2", "s1"}) {
			t.Fatalf("input changed: %v", in)
		}
	})
}

func TestPlanUpdateTask(t *testing.T) {
	v := newView("n1").src("s1", 0, "").src("s2", 0, "").src("s3", 0, "").
		task("t1", map[string]pb.Stage{"s1": pb.Stage_RUNNING, "s2": pb.Stage_PAUSED}).v
	tests := []struct {
		name    string
		task    *pb.Task
		want    []string
		wantErr error
		wantMsg string
	}{
		{name: "raise the revision", task: &pb.Task{Name: "t1", SourceIds: []string{"s2", "s1"}, Revision: 99},
			want: []string{"update-task t1 rev 4 sources [s1 s2]"}},
		{name: "unknown task", task: &pb.Task{Name: "t9", SourceIds: []string{"s1"}}, wantErr: ErrTaskNotFound, wantMsg: "start-task"},
		{name: "add a source", task: &pb.Task{Name: "t1", SourceIds: []string{"s1", "s2", "s3"}},
			wantErr: ErrSourcesChanged, wantMsg: "it runs on [s1 s2], the new configuration lists [s1 s2 s3]"},
		{name: "drop a source", task: &pb.Task{Name: "t1", SourceIds: []string{"s1"}}, wantErr: ErrSourcesChanged, wantMsg: "stop the task"},
		{name: "no sources", task: &pb.Task{Name: "t1"}, wantErr: ErrInvalidRequest, wantMsg: "has no source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := PlanUpdateTask(v, tt.task)
			check(t, one(t, cmd), err, tt.want, tt.wantErr, tt.wantMsg)
		})
	}
}

func TestPlanStage(t *testing.T) {
	b := newView("n1").src("s1", 0, "").src("s2", 0, "").src("s3", 0, "").
		task("t1", map[string]pb.Stage{"s1": pb.Stage_RUNNING, "s2": pb.Stage_PAUSED, "s3": pb.Stage_FINISHED}).
		task("done", map[string]pb.Stage{"s1": pb.Stage_FINISHED})
	b.v.Subtasks[fsmKey("t1", "s1")].LastError = &pb.SubtaskError{Message: "boom"}
	tests := []struct {
		name    string
		task    string
		sources []string
		stage   pb.Stage
		want    []string
		wantErr error
		wantMsg string
	}{
		{name: "pause every running or paused subtask", task: "t1", stage: pb.Stage_PAUSED, want: []string{"set-stage t1 [s1 s2] PAUSED"}},
		{name: "resume one", task: "t1", sources: []string{"s2"}, stage: pb.Stage_RUNNING, want: []string{"set-stage t1 [s2] RUNNING"}},
		{name: "resume a running one with an error", task: "t1", sources: []string{"s1"}, stage: pb.Stage_RUNNING, want: []string{"set-stage t1 [s1] RUNNING"}},
		{name: "pause a paused one: no-op, not an error", task: "t1", sources: []string{"s2"}, stage: pb.Stage_PAUSED, want: []string{"set-stage t1 [s2] PAUSED"}},
		{name: "sources sorted and deduplicated", task: "t1", sources: []string{"s2", "s1", "s2"}, stage: pb.Stage_PAUSED, want: []string{"set-stage t1 [s1 s2] PAUSED"}},
		{name: "unknown task", task: "t9", stage: pb.Stage_PAUSED, wantErr: ErrTaskNotFound, wantMsg: "query-status"},
		{name: "no subtask on the source", task: "t1", sources: []string{"s9"}, stage: pb.Stage_PAUSED, wantErr: ErrSubtaskNotFound, wantMsg: `no subtask on source "s9"`},
		{name: "a finished subtask named", task: "t1", sources: []string{"s3"}, stage: pb.Stage_RUNNING, wantErr: ErrBadStage, wantMsg: "is FINISHED"},
		{name: "every subtask finished", task: "done", stage: pb.Stage_PAUSED, wantErr: ErrBadStage, wantMsg: "no subtask of task \"done\""},
		{name: "stopped is not a pause or resume", task: "t1", stage: pb.Stage_STOPPED, wantErr: ErrBadStage, wantMsg: "stop-task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := PlanStage(b.v, tt.task, tt.sources, tt.stage)
			check(t, one(t, cmd), err, tt.want, tt.wantErr, tt.wantMsg)
		})
	}
}

func TestPlanStopTask(t *testing.T) {
	v := newView("n1").src("s1", 0, "").task("t1", map[string]pb.Stage{"s1": pb.Stage_RUNNING}).v
	cmd, err := PlanStopTask(v, "t1")
	check(t, one(t, cmd), err, []string{"remove-task t1"}, nil, "")
	_, err = PlanStopTask(v, "t9")
	check(t, nil, err, nil, ErrTaskNotFound, `task "t9" does not exist`)
}

func TestPlanOfflineMember(t *testing.T) {
	v := newView("n1", "n2", "n3").v
	members := append(alive(t0, "n1"), Member{Name: "n2", LastSeen: t0})
	tests := []struct {
		name, node string
		want       []string
		wantErr    error
		wantMsg    string
	}{
		{name: "dead member", node: "n2", want: []string{"remove-node n2"}},
		{name: "member missing from the list", node: "n3", want: []string{"remove-node n3"}},
		{name: "alive member", node: "n1", wantErr: ErrMemberAlive, wantMsg: "stop its dmnode process first"},
		{name: "unknown member", node: "n9", wantErr: ErrNodeNotFound, wantMsg: `no member named "n9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := PlanOfflineMember(v, tt.node, members)
			check(t, describeAll(t, cmds), err, tt.want, tt.wantErr, tt.wantMsg)
		})
	}
}
