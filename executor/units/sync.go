package units

import (
	"github.com/dmraft/dmraft/executor"
	syncer "github.com/dmraft/dmraft/executor/sync"
	"github.com/dmraft/dmraft/fsm/config"
)

// newSyncUnit returns the sync unit (package executor/sync); it never
// finishes on its own.
func newSyncUnit(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance) executor.Unit {
	return syncer.New(syncer.Deps{Key: d.Key, Now: d.Now, Logger: d.Logger, View: d.View, Propose: d.Propose}, a, task, inst)
}
