package syncer

import (
	"context"
	"fmt"
	"time"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
)

// startTimePosition resolves `start-task --start-time`: the first binlog
// transaction of the source at or after at. The answer depends only on the
// binlog, so a subtask that fails over before its first checkpoint
// resolves it again to the same place (unless the files were purged).
func startTimePosition(ctx context.Context, sdb querier, rcfg binlog.Config, at time.Time) (binlog.Position, error) {
	files, err := binaryLogs(ctx, sdb)
	if err != nil {
		return binlog.Position{}, fmt.Errorf("list the source's binlog files for --start-time: %w", err)
	}
	end, err := masterPosition(ctx, sdb, rcfg.Flavor)
	if err != nil {
		return binlog.Position{}, fmt.Errorf("read the source's binlog end for --start-time: %w", err)
	}
	pos, err := binlog.PositionAt(ctx, rcfg, files, binlog.Position{Name: end.Name, Pos: end.Pos}, at)
	if err != nil {
		return binlog.Position{}, &executor.Error{Code: "StartTimeUnresolved", Class: "source",
			Message:    fmt.Sprintf("find the binlog position of --start-time %s", at.UTC().Format(time.DateTime)),
			Err:        err,
			Workaround: "check that the source keeps binlogs that old (SHOW BINARY LOGS), then resume the task"}
	}
	return pos, nil
}

// binaryLogs lists the source's binlog files, oldest first.
func binaryLogs(ctx context.Context, db querier) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var files []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(cols); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	return files, rows.Err()
}
