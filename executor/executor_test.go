package executor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// fakeLease is a lease the test switches on and off.
type fakeLease struct {
	mu      sync.Mutex
	valid   bool
	changed chan struct{}
}

func newFakeLease(valid bool) *fakeLease {
	return &fakeLease{valid: valid, changed: make(chan struct{})}
}

func (l *fakeLease) Valid(time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.valid
}

func (l *fakeLease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *fakeLease) set(v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.valid = v
	close(l.changed)
	l.changed = make(chan struct{})
}

// harness is one node's executor over a real FSM that the test writes to.
type harness struct {
	t     *testing.T
	f     *fsm.FSM
	lease *fakeLease
	ex    *Executor

	mu    sync.Mutex
	index uint64
}

func newHarness(t *testing.T, units UnitFactory) *harness {
	h := &harness{t: t, f: fsm.New(), lease: newFakeLease(true)}
	h.ex = New(Config{
		Node: "n1", View: h.f.View, Changed: h.f.Changed, Lease: h.lease, Units: units,
		Propose: func(_ context.Context, cmd *pb.Command) (*pb.ApplyResult, error) { return h.apply(cmd), nil },
		Tick:    20 * time.Millisecond, Logger: zerolog.Nop(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.ex.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.must(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: &pb.Node{Name: "n1", RaftAddr: "r1"}})
	h.must(pb.CommandType_REGISTER_NODE, &pb.RegisterNode{Node: &pb.Node{Name: "n2", RaftAddr: "r2"}})
	h.must(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "s1"}})
	return h
}

func (h *harness) apply(cmd *pb.Command) *pb.ApplyResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.index++
	return h.f.Apply(h.index, fsm.Encode(cmd))
}

func (h *harness) must(t pb.CommandType, body proto.Message) {
	h.t.Helper()
	if res := h.apply(fsm.NewCommand(t, body, 1)); res.Code != "" {
		h.t.Fatalf("%v: %s", t, res.Message)
	}
}

func (h *harness) bind(node string, epoch uint64) {
	h.must(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s1", Node: node, Epoch: epoch})
}

func (h *harness) createTask(name string) {
	h.must(pb.CommandType_CREATE_TASK, &pb.CreateTask{
		Task:     &pb.Task{Name: name, SourceIds: []string{"s1"}, TaskMode: "all"},
		Subtasks: []*pb.Subtask{{SourceId: "s1"}},
	})
}

// waitFor polls cond until it holds or fails the test after 5 s.
func (h *harness) waitFor(what string, cond func([]*pb.RunnerStatus) bool) []*pb.RunnerStatus {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := h.ex.Status("", nil)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; runners: %v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func oneRunner(stage string, epoch, revision uint64) func([]*pb.RunnerStatus) bool {
	return func(st []*pb.RunnerStatus) bool {
		return len(st) == 1 && st[0].Stage == stage && st[0].Epoch == epoch && st[0].Revision == revision
	}
}

func none(st []*pb.RunnerStatus) bool { return len(st) == 0 }

func TestRunnerLifecycleFollowsTheFSM(t *testing.T) {
	h := newHarness(t, nil)
	h.createTask("t1")
	h.waitFor("no runner while the source is unbound", none)

	h.bind("n1", 1)
	st := h.waitFor("runner started", oneRunner(StateRunning, 1, 1))
	if st[0].Unit != "" || st[0].UnitDetail != noUnitDetail {
		t.Fatalf("the empty unit slot must be reported as such, got unit=%q detail=%q", st[0].Unit, st[0].UnitDetail)
	}

	h.must(pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_PAUSED})
	h.waitFor("paused", oneRunner(StatePaused, 1, 1))
	h.must(pb.CommandType_SET_SUBTASK_STAGE, &pb.SetSubtaskStage{Task: "t1", Stage: pb.Stage_RUNNING})
	h.waitFor("resumed", oneRunner(StateRunning, 1, 1))

	h.must(pb.CommandType_UPDATE_TASK, &pb.UpdateTask{Task: &pb.Task{Name: "t1", Revision: 2, SourceIds: []string{"s1"}}})
	h.waitFor("restarted on the new revision", oneRunner(StateRunning, 1, 2))

	h.bind("n2", 2)
	h.waitFor("stopped after the source moved away", none)
	h.bind("n1", 3)
	h.waitFor("restarted with the new epoch", oneRunner(StateRunning, 3, 2))

	h.must(pb.CommandType_REMOVE_TASK, &pb.RemoveTask{Name: "t1"})
	h.waitFor("stopped after stop-task", none)
}

// blockingUnit runs until cancelled and counts how many are running.
type blockingUnit struct{ running *atomic.Int32 }

func (u blockingUnit) Name() string     { return "sync" }
func (u blockingUnit) Progress() string { return `{"synced":false}` }
func (u blockingUnit) Run(ctx context.Context) error {
	u.running.Add(1)
	defer u.running.Add(-1)
	<-ctx.Done()
	return nil
}

func TestLeaseLapseStopsEveryRunnerAtOnce(t *testing.T) {
	var running atomic.Int32
	h := newHarness(t, func(Assignment) (Unit, error) { return blockingUnit{&running}, nil })
	h.must(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: &pb.SourceConfig{SourceId: "s2"}})
	h.must(pb.CommandType_BIND_SOURCE, &pb.BindSource{SourceId: "s2", Node: "n1", Epoch: 1})
	h.bind("n1", 1)
	h.must(pb.CommandType_CREATE_TASK, &pb.CreateTask{
		Task:     &pb.Task{Name: "t1", SourceIds: []string{"s1", "s2"}},
		Subtasks: []*pb.Subtask{{SourceId: "s1"}, {SourceId: "s2"}},
	})
	h.waitFor("two runners", func(st []*pb.RunnerStatus) bool { return len(st) == 2 && st[0].Unit == "sync" && st[1].Unit == "sync" })

	h.lease.set(false)
	h.waitFor("fenced", none)
	if n := running.Load(); n != 0 {
		t.Fatalf("%d units still running after the lease lapsed", n)
	}
	if !h.ex.Fenced() {
		t.Fatal("executor does not report itself fenced")
	}
	h.ex.Reconcile() // a reconcile without lease must not start anything
	if len(h.ex.Status("", nil)) != 0 {
		t.Fatal("runner started without a lease")
	}

	h.lease.set(true)
	h.waitFor("runners back with the lease", func(st []*pb.RunnerStatus) bool { return len(st) == 2 })
}

// finishingUnit finishes at once; the factory picks units from the marks.
type finishingUnit struct{ name string }

func (u finishingUnit) Name() string                { return u.name }
func (u finishingUnit) Progress() string            { return "" }
func (u finishingUnit) Run(_ context.Context) error { return nil }

func TestUnitsRunInSequenceAndErrorsPause(t *testing.T) {
	var h *harness
	factory := func(a Assignment) (Unit, error) {
		done := map[string]bool{}
		for _, m := range a.Subtask.FinishedUnits {
			done[m.Unit] = true
		}
		for _, name := range []string{"dump", "load"} {
			if !done[name] {
				return &markingUnit{finishingUnit{name}, h, a}, nil
			}
		}
		return nil, &Error{Code: "SyncUnavailable", Class: "config", Message: "sync is not available", Workaround: "use task-mode full"}
	}
	h = newHarness(t, factory)
	h.createTask("t1")
	h.bind("n1", 1)
	h.waitFor("error reported", func(st []*pb.RunnerStatus) bool { return len(st) == 1 && st[0].Stage == StatePaused })

	st := h.f.View().Subtasks[fsm.SubtaskKey{Task: "t1", Source: "s1"}]
	if len(st.FinishedUnits) != 2 || st.FinishedUnits[0].Unit != "dump" || st.FinishedUnits[1].Unit != "load" {
		t.Fatalf("finished units = %v, want dump then load", st.FinishedUnits)
	}
	if st.DesiredStage != pb.Stage_PAUSED || st.LastError.GetCode() != "SyncUnavailable" || st.LastError.Workaround == "" {
		t.Fatalf("subtask after a unit error: stage %v error %v", st.DesiredStage, st.LastError)
	}
}

// markingUnit records its finish in the FSM, as the real units do.
type markingUnit struct {
	finishingUnit
	h *harness
	a Assignment
}

func (u *markingUnit) Run(context.Context) error {
	res := u.h.apply(fsm.NewCommand(pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{
		Task: u.a.Subtask.Task, SourceId: u.a.Subtask.SourceId, Epoch: u.a.Epoch, Mark: &pb.UnitMark{Unit: u.name},
	}, 1))
	if res.Code != "" {
		return errors.New(res.Message)
	}
	return nil
}
