package units

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// Unit names, as in the finished-unit marks.
const (
	UnitDump = "dump"
	UnitLoad = "load"
	UnitSync = "sync"
)

// Deps is what the units need from their node.
type Deps struct {
	Key     config.Key // decrypts source and target passwords
	Propose func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	// View, when set, lets a unit wait until its finished mark is applied
	// locally, so the runner does not start it again.
	View   func() *fsm.View
	Now    func() time.Time
	Logger zerolog.Logger
	// Node is this node's name and DataDir its data directory: a relative
	// loaders.dir of task-mode dump or load is below DataDir.
	Node    string
	DataDir string
}

// NewFactory returns the executor's UnitFactory.
func NewFactory(d Deps) executor.UnitFactory {
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Logger = d.Logger.With().Str("component", "units").Logger()
	return func(a executor.Assignment) (executor.Unit, error) { return next(fenced(d, a), a) }
}

// fenced makes every command a unit proposes carry the binding it runs
// under: the FSM refuses it once the source is bound at another epoch, so
// a proposal from a node that lost the source (paused, partitioned, or
// delivered late by the network) changes nothing.
func fenced(d Deps, a executor.Assignment) Deps {
	propose, source := d.Propose, a.Source.GetConfig().GetSourceId()
	if propose == nil || a.Epoch == 0 || source == "" {
		return d
	}
	d.Propose = func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error) {
		cmd.FenceSource, cmd.FenceEpoch = source, a.Epoch
		return propose(ctx, cmd)
	}
	return d
}

func next(d Deps, a executor.Assignment) (executor.Unit, error) {
	if a.Task == nil || a.Source == nil || a.Subtask == nil {
		return nil, &executor.Error{Code: "ConfigMissing", Class: "internal", Message: "the subtask's task or source record is missing",
			Workaround: "check `dmctl operate-source show` and `dmctl query-status`"}
	}
	task, err := config.TaskFromJSON(a.Task.ConfigJson)
	if err != nil {
		return nil, &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "decode the task configuration", Err: err,
			Workaround: "update the task with `dmctl update-task task.yaml`"}
	}
	task.Normalize()
	srcID := a.Source.GetConfig().GetSourceId()
	inst := task.Instance(srcID)
	if inst == nil {
		return nil, &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "task " + task.Name + " has no mysql-instances entry for source " + srcID,
			Workaround: "add the source to task.yaml and `dmctl update-task`"}
	}
	finished := map[string]bool{}
	for _, m := range a.Subtask.FinishedUnits {
		finished[m.Unit] = true
	}
	switch task.TaskMode {
	case config.ModeFull, config.ModeAll:
		if !finished[UnitLoad] {
			return newFullUnit(d, a, task, inst), nil
		}
		if task.TaskMode == config.ModeFull {
			return nil, nil
		}
		return newSyncUnit(d, a, task, inst), nil
	case config.ModeIncremental:
		return newSyncUnit(d, a, task, inst), nil
	case config.ModeDump:
		if finished[UnitDump] {
			return nil, nil
		}
		return newDumpFilesUnit(d, a, task, inst), nil
	case config.ModeLoad:
		if finished[UnitLoad] {
			return nil, nil
		}
		return newLoadFilesUnit(d, a, task, inst), nil
	default:
		return nil, &executor.Error{Code: "TaskModeUnsupported", Class: "config", Message: "task-mode " + task.TaskMode + " is unknown",
			Workaround: "use task-mode all, full, incremental, dump or load; `dmctl stop-task` then start it again with the new mode"}
	}
}
