package units

import (
	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/fsm/config"
)

// unitBase is what the full, dump-files and load-files units share: their
// inputs, a logger naming the subtask, and the progress query-status shows.
type unitBase struct {
	name string
	d    Deps
	a    executor.Assignment
	task *config.Task
	inst *config.Instance
	log  zerolog.Logger
	prog *progress
}

func newUnitBase(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance, name string) unitBase {
	return unitBase{name: name, d: d, a: a, task: task, inst: inst, prog: newProgress(d.Now),
		log: d.Logger.With().Str("task", task.Name).Str("source", inst.SourceID).Uint64("epoch", a.Epoch).Str("unit", name).Logger()}
}

// Name is the unit's name in query-status and in the finished marks.
func (u *unitBase) Name() string { return u.name }

// Progress is the unit's status JSON.
func (u *unitBase) Progress() string { return u.prog.JSON() }
