package rpc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
)

// applyStartTime puts `start-task --start-time` into t. It applies to
// incremental tasks only, and only where the target holds no sync
// checkpoint of the task yet: a checkpoint means its changes up to there
// are applied, and starting anywhere else would apply changes twice or skip
// them.
func (s *Server) applyStartTime(ctx context.Context, v *fsm.View, t *config.Task, unix int64) error {
	if unix == 0 {
		return nil
	}
	if t.TaskMode != config.ModeIncremental {
		return invalid(fmt.Errorf("--start-time applies to task-mode incremental; task %s has task-mode %s, whose sync starts where its full copy's snapshot was taken", t.Name, t.TaskMode))
	}
	if at := time.Unix(unix, 0); time.Until(at) > time.Minute {
		return invalid(fmt.Errorf("--start-time %s is in the future", at.Format(time.RFC3339)))
	}
	t.StartTimeUnix = unix
	if _, exists := v.Tasks[t.Name]; exists {
		return nil // a retry of this start-task, or a clash the caller reports
	}
	db, err := target.Open(ctx, t.TargetDatabase, s.secret, 1)
	if err != nil {
		return invalid(fmt.Errorf("--start-time: cannot look for sync checkpoints of task %s on the target: %w", t.Name, err))
	}
	defer db.Close()
	meta := target.Meta{Schema: t.MetaSchema}
	var source, pos string
	err = db.QueryRowContext(ctx, "SELECT source, position FROM "+meta.Table(checkpoint.CheckpointTable)+" WHERE task = ? LIMIT 1", t.Name).Scan(&source, &pos)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows) || (errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)):
		return nil // no checkpoint table, or no row of this task
	case err != nil:
		return invalid(fmt.Errorf("--start-time: read the sync checkpoints of task %s on the target: %w", t.Name, err))
	}
	return invalid(fmt.Errorf("--start-time: the target already holds a sync checkpoint of task %s (source %s at %s); the changes before it are applied, so starting at another time would apply changes twice or skip them. "+
		"To continue from the checkpoint, start the task without --start-time. To start over at the given time, delete the task's rows from %s, %s and %s on the target first",
		t.Name, source, pos, meta.Table(checkpoint.CheckpointTable), meta.Table(checkpoint.DDLTable), meta.Table(checkpoint.BatchTable)))
}

// keepStartTime carries the running task's --start-time over to its new
// revision (update-task has no such flag): a subtask that has no sync
// checkpoint yet must still start where the user asked.
func keepStartTime(v *fsm.View, t *config.Task) error {
	old, found := v.Tasks[t.Name]
	if !found {
		return nil
	}
	prev, err := config.TaskFromJSON(old.GetConfigJson())
	if err != nil {
		return fmt.Errorf("task %s: read the running revision: %w", t.Name, err)
	}
	t.StartTimeUnix = prev.StartTimeUnix
	return nil
}
