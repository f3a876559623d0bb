package units

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
)

// copyViews creates the selected upstream views on the target, routed and
// without DEFINER, after every table is loaded.
func (u *fullUnit) copyViews(ctx context.Context, sdb, tdb *sql.DB) error {
	sel := dump.NewSelector(u.task, u.inst)
	views, err := dump.ListViews(ctx, sdb, sel)
	if err != nil {
		return sourceError("list the views to copy", err)
	}
	ddls := make([]load.ViewDDL, 0, len(views))
	for _, v := range views {
		raw, err := dump.RawCreateView(ctx, sdb, v)
		if err != nil {
			return sourceError("read the view definition", err)
		}
		stmt, err := dump.CreateViewSQL(raw, v, sel.Route)
		if err != nil {
			return sourceError("rewrite the view definition", err)
		}
		ddls = append(ddls, load.ViewDDL{Source: v.ID(), Target: v.TargetID(), Schema: v.TargetSchema, SQL: stmt})
	}
	return u.createViews(ctx, tdb, ddls)
}

func (u *fullUnit) createViews(ctx context.Context, tdb *sql.DB, ddls []load.ViewDDL) error {
	return createViews(ctx, u.task.Name, u.log, tdb, ddls)
}

// createViews creates ddls on the target, retrying transient errors; a
// view the target rejects pauses the subtask with the view named.
func createViews(ctx context.Context, task string, log zerolog.Logger, tdb *sql.DB, ddls []load.ViewDDL) error {
	if len(ddls) == 0 {
		return nil
	}
	err := retry(ctx, log, "create views", func() error { return load.CreateViews(ctx, tdb, ddls) })
	if errors.Is(err, load.ErrViewFailed) {
		return &executor.Error{Code: "TargetViewFailed", Class: "target", Message: "create the views on the target", Err: err,
			Workaround: "a view usually fails because it selects from a table the block-allow-list leaves out: add that table, or leave the view out with ignore-tables; then `dmctl update-task` / `dmctl resume-task " + task + "` (loaded chunks are kept)"}
	}
	if err != nil {
		return targetError("create the views", err)
	}
	log.Info().Int("views", len(ddls)).Msg("views created")
	return nil
}
