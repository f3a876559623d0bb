package executor

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Log field keys.
const (
	keyTask   = "task"
	keySource = "source"
	keyEpoch  = "epoch"
	keyUnit   = "unit"
)

// Executor reconciles this node's runners with its local FSM view.
type Executor struct {
	cfg Config
	log zerolog.Logger

	mu      sync.Mutex
	runners map[fsm.SubtaskKey]*runner
	fenced  bool // the lease has lapsed and every runner was stopped
}

// New returns an executor; call Run to start reconciling.
func New(cfg Config) *Executor {
	cfg.setDefaults()
	return &Executor{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "executor").Logger(),
		runners: map[fsm.SubtaskKey]*runner{},
	}
}

// Run reconciles on every FSM change, lease change and tick until ctx ends;
// then it stops every runner.
func (e *Executor) Run(ctx context.Context) {
	defer e.stopAll("node stopping")
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	for {
		changed, leaseChanged := e.cfg.Changed(), e.cfg.Lease.Changed()
		e.Reconcile()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-leaseChanged:
		case <-tick.C:
		}
	}
}

// Reconcile closes the difference between what the FSM wants on this node
// and the runners it has. It is level-triggered and idempotent.
func (e *Executor) Reconcile() {
	if !e.cfg.Lease.Valid(e.cfg.Now()) {
		e.mu.Lock()
		wasFenced := e.fenced
		e.fenced = true
		e.mu.Unlock()
		if n := e.stopAll("lease lapsed"); n > 0 || !wasFenced {
			e.log.Warn().Int("runners", n).Str("event", "fenced").Msg("no leader contact within the fence timeout: stopped every runner")
		}
		return
	}
	e.mu.Lock()
	if e.fenced {
		e.fenced = false
		e.log.Info().Str("event", "unfenced").Msg("lease valid again")
	}
	e.mu.Unlock()

	want := e.desired(e.cfg.View())
	var stale []*runner
	e.mu.Lock()
	for key, r := range e.runners {
		if spec, ok := want[key]; !ok || spec != r.spec {
			stale = append(stale, r)
			delete(e.runners, key)
		}
	}
	e.mu.Unlock()
	stopRunners(stale)
	for _, r := range stale {
		e.log.Info().Str(keyTask, r.key.Task).Str(keySource, r.key.Source).Uint64(keyEpoch, r.spec.epoch).Str("event", "runner_stopped").Msg("runner stopped")
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for key, spec := range want {
		if _, running := e.runners[key]; !running {
			e.runners[key] = e.startRunner(key, spec)
			e.log.Info().Str(keyTask, key.Task).Str(keySource, key.Source).Uint64(keyEpoch, spec.epoch).
				Uint64("revision", spec.revision).Str("stage", spec.stage.String()).Str("event", "runner_started").Msg("runner started")
		}
	}
}

// desired lists the subtasks this node should hold a runner for.
func (e *Executor) desired(v *fsm.View) map[fsm.SubtaskKey]runSpec {
	want := map[fsm.SubtaskKey]runSpec{}
	for _, b := range v.BindingsOfNode(e.cfg.Node) {
		for _, st := range v.SubtasksOfSource(b.SourceId) {
			if st.DesiredStage != pb.Stage_RUNNING && st.DesiredStage != pb.Stage_PAUSED {
				continue
			}
			want[fsm.SubtaskKey{Task: st.Task, Source: st.SourceId}] = runSpec{epoch: b.Epoch, revision: st.Revision, stage: st.DesiredStage}
		}
	}
	return want
}

// assignment reads the current records for a runner from the local view; ok
// is false when the binding moved on from epoch or the subtask is gone.
func (e *Executor) assignment(key fsm.SubtaskKey, epoch uint64) (Assignment, bool) {
	v := e.cfg.View()
	b, bound := v.Bindings[key.Source]
	st, hasSubtask := v.Subtasks[key]
	if !bound || b.Node != e.cfg.Node || b.Epoch != epoch || !hasSubtask {
		return Assignment{}, false
	}
	return Assignment{Task: v.Tasks[key.Task], Subtask: st, Source: v.Sources[key.Source], Epoch: epoch}, true
}

// stopAll stops every runner at once and returns how many there were.
func (e *Executor) stopAll(reason string) int {
	e.mu.Lock()
	all := make([]*runner, 0, len(e.runners))
	for key, r := range e.runners {
		all = append(all, r)
		delete(e.runners, key)
	}
	e.mu.Unlock()
	stopRunners(all)
	for _, r := range all {
		e.log.Info().Str(keyTask, r.key.Task).Str(keySource, r.key.Source).Uint64(keyEpoch, r.spec.epoch).
			Str("reason", reason).Str("event", "runner_stopped").Msg("runner stopped")
	}
	return len(all)
}

// stopRunners cancels all first, then waits, so no runner outlives another's
// stop by more than its own shutdown time.
func stopRunners(rs []*runner) {
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
}

// Fenced reports whether the executor has stopped its runners for lack of a lease.
func (e *Executor) Fenced() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fenced
}

// Status returns the runners of task (all tasks when empty), filtered by
// sources when given, sorted by task and source.
func (e *Executor) Status(task string, sources []string) []*pb.RunnerStatus {
	filter := map[string]bool{}
	for _, s := range sources {
		filter[s] = true
	}
	e.mu.Lock()
	var out []*pb.RunnerStatus
	for key, r := range e.runners {
		if (task == "" || key.Task == task) && (len(filter) == 0 || filter[key.Source]) {
			out = append(out, r.status(e.cfg.Node))
		}
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Task != out[j].Task {
			return out[i].Task < out[j].Task
		}
		return out[i].SourceId < out[j].SourceId
	})
	return out
}
