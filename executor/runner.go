package executor

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// Runner states reported in query-status.
const (
	StateRunning  = "Running"
	StatePaused   = "Paused"
	StateFinished = "Finished"
	StateError    = "Error"
)

// noUnitDetail is reported when this build has no data unit for the slot.
const noUnitDetail = "no data unit runs: this build has none for the subtask's task-mode; the runner holds its binding and epoch and moves no data"

// runSpec is what the FSM wants for one subtask on this node. A runner is
// restarted whenever its spec changes.
type runSpec struct {
	epoch    uint64
	revision uint64
	stage    pb.Stage
}

// runner runs the units of one subtask on this node.
type runner struct {
	key     fsm.SubtaskKey
	spec    runSpec
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time

	mu     sync.Mutex
	state  string
	unit   Unit
	detail string
	err    *pb.SubtaskError
}

func (e *Executor) startRunner(key fsm.SubtaskKey, spec runSpec) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{key: key, spec: spec, cancel: cancel, done: make(chan struct{}), started: e.cfg.Now()}
	log := e.log.With().Str(keyTask, key.Task).Str(keySource, key.Source).Uint64(keyEpoch, spec.epoch).Logger()
	if spec.stage == pb.Stage_PAUSED {
		r.state = StatePaused
		close(r.done)
		return r
	}
	r.state = StateRunning
	go func() {
		defer close(r.done)
		r.run(ctx, e, log)
	}()
	return r
}

// run executes units one after another until none is left, one fails, or
// ctx is cancelled.
func (r *runner) run(ctx context.Context, e *Executor, log zerolog.Logger) {
	for ctx.Err() == nil {
		a, ok := e.assignment(r.key, r.spec.epoch)
		if !ok {
			return // the reconciler is about to stop us
		}
		if e.cfg.Units == nil {
			r.set(StateRunning, nil, noUnitDetail, nil)
			<-ctx.Done()
			return
		}
		unit, err := e.cfg.Units(a)
		if err != nil {
			r.fail(ctx, e, log, "", err)
			return
		}
		if unit == nil {
			r.set(StateFinished, nil, "every unit of the task-mode has finished", nil)
			<-ctx.Done()
			return
		}
		r.set(StateRunning, unit, "", nil)
		log.Info().Str(keyUnit, unit.Name()).Msg("unit started")
		if err := unit.Run(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.fail(ctx, e, log, unit.Name(), err)
			return
		}
		log.Info().Str(keyUnit, unit.Name()).Msg("unit finished")
	}
}

// fail records a unit error in the FSM and pauses the subtask, so that it
// survives failover and resume-task retries it.
func (r *runner) fail(ctx context.Context, e *Executor, log zerolog.Logger, unit string, err error) {
	se := subtaskError(r.key.Task, unit, err)
	r.set(StateError, nil, "", se)
	log.Error().Str(keyUnit, unit).Str("code", se.Code).Msg(se.Message)
	cmd := fsm.NewCommand(pb.CommandType_REPORT_SUBTASK_ERROR, &pb.ReportSubtaskError{
		Task: r.key.Task, SourceId: r.key.Source, Error: se, Pause: true, Epoch: r.spec.epoch,
	}, e.cfg.Now().UnixMilli())
	if _, perr := e.cfg.Propose(ctx, cmd); perr != nil {
		log.Warn().Err(perr).Msg("report subtask error")
	}
}

func (r *runner) set(state string, unit Unit, detail string, err *pb.SubtaskError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.unit, r.detail, r.err = state, unit, detail, err
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func (r *runner) status(node string) *pb.RunnerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &pb.RunnerStatus{
		Task: r.key.Task, SourceId: r.key.Source, Node: node,
		Epoch: r.spec.epoch, Revision: r.spec.revision,
		Stage: r.state, UnitDetail: r.detail, Error: r.err,
		StartedUnixMs: r.started.UnixMilli(),
	}
	if r.unit != nil {
		st.Unit = r.unit.Name()
		st.ProgressJson = r.unit.Progress()
	}
	return st
}
