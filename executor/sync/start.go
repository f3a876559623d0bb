package syncer

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// fullMarks returns the positions the full phase recorded: the earliest
// snapshot ("dump" mark) and the latest ("load" mark).
func (u *Unit) fullMarks() (first, last binlog.Position, ok bool) {
	for _, m := range u.a.Subtask.GetFinishedUnits() {
		p := binlog.Position{Name: m.GetPosition().GetName(), Pos: m.GetPosition().GetPos(), GTID: m.GetPosition().GetGtidSet()}
		switch m.Unit {
		case "dump":
			first, ok = p, true
		case "load":
			last = p
		}
	}
	if ok && last.IsZero() {
		last = first
	}
	return first, last, ok && u.task.HasDump()
}

// initialPosition is where a subtask without a sync checkpoint starts.
func (u *Unit) initialPosition(ctx context.Context, sdb querier, rcfg binlog.Config, first binlog.Position, fromFull bool) (binlog.Position, error) {
	if fromFull {
		if first.IsZero() && first.GTID == "" {
			return first, &executor.Error{Code: "StartPositionMissing", Class: "internal", Message: "the full phase recorded no binlog position",
				Workaround: "restart the task with a fresh full copy (`dmctl stop-task`, drop the target tables, `dmctl start-task`)"}
		}
		return first, nil
	}
	if u.task.StartTimeUnix != 0 {
		return startTimePosition(ctx, sdb, rcfg, time.Unix(u.task.StartTimeUnix, 0))
	}
	m := u.inst.Meta
	if m == nil || (m.BinlogName == "" && m.BinlogGTID == "") {
		return binlog.Position{}, &executor.Error{Code: "StartPositionMissing", Class: "config",
			Message:    "task-mode incremental needs a start position and the target has no sync checkpoint",
			Workaround: "set meta: binlog-name/binlog-pos (or binlog-gtid) for source " + u.inst.SourceID + " in task.yaml, `dmctl update-task`, then `dmctl resume-task " + u.task.Name + "`"}
	}
	pos := binlog.Position{Name: m.BinlogName, Pos: m.BinlogPos, GTID: m.BinlogGTID}
	if pos.Name != "" && pos.Pos < 4 {
		pos.Pos = 4
	}
	return pos, nil
}

// saveStart records the start position as every worker's checkpoint, in
// a fenced transaction, before the first change is applied.
func saveStart(ctx context.Context, db *sql.DB, store *checkpoint.Store, workers int, start binlog.Position) error {
	return store.Meta.InTx(ctx, db, store.Fence, func(tx *sql.Tx) error { return store.SaveAll(ctx, tx, workers, start) })
}

// loadWindows reads the snapshot position of every loaded chunk and
// returns each upstream table's earliest and latest one.
func loadWindows(ctx context.Context, db *sql.DB, meta target.Meta, f target.Fence) (map[string]window, error) {
	rows, err := db.QueryContext(ctx, "SELECT tbl, snapshot_position FROM "+meta.Table(target.ChunkTable)+
		" WHERE task = ? AND source = ? AND done = 1 AND snapshot_position IS NOT NULL", f.Task, f.Source)
	if err != nil {
		return nil, fmt.Errorf("read the full phase's chunk snapshots: %w", err)
	}
	defer rows.Close()
	out := map[string]window{}
	for rows.Next() {
		var tbl, pos string
		if err := rows.Scan(&tbl, &pos); err != nil {
			return nil, err
		}
		var p binlog.Position
		if err := json.Unmarshal([]byte(pos), &p); err != nil {
			return nil, fmt.Errorf("chunk snapshot of %s: %w", tbl, err)
		}
		w, seen := out[tbl]
		if !seen || p.Before(w.min) {
			w.min = p
		}
		if !seen || w.max.Before(p) {
			w.max = p
		}
		out[tbl] = w
	}
	return out, rows.Err()
}

// checkSource refuses a source whose binlog cannot be replicated exactly.
func checkSource(ctx context.Context, db querier, task string) error {
	var logBin, format, image string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image").Scan(&logBin, &format, &image); err != nil {
		return fmt.Errorf("read the source's binlog settings: %w", err)
	}
	resume := "`dmctl resume-task " + task + "`"
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return sourceError("BinlogDisabled", "the source has no binlog (log_bin is off)", nil, "start the source with log_bin and binlog_format=ROW, then "+resume)
	}
	if !strings.EqualFold(format, "ROW") {
		return sourceError("BinlogFormat", "the source's binlog_format is "+format+", not ROW", nil, "SET GLOBAL binlog_format=ROW (and in my.cnf) on the source, then "+resume)
	}
	if !strings.EqualFold(image, "FULL") {
		return sourceError("BinlogRowImage", "the source's binlog_row_image is "+image+", not FULL", nil, "SET GLOBAL binlog_row_image=FULL (and in my.cnf) on the source, then "+resume)
	}
	var meta string
	err := db.QueryRowContext(ctx, "SELECT @@binlog_row_metadata").Scan(&meta)
	if err == nil && !strings.EqualFold(meta, "FULL") {
		return sourceError("BinlogRowMetadata", "the source's binlog_row_metadata is "+meta+", not FULL: the binlog carries no column names", nil,
			"SET GLOBAL binlog_row_metadata=FULL (and in my.cnf) on the source, then "+resume)
	}
	return nil
}

// masterPosition is the source's current binlog end.
func masterPosition(ctx context.Context, db querier, flavor string) (binlog.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return binlog.Position{}, err
	}
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var p binlog.Position
	if rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return p, err
		}
		p.Name = vals[0].String
		n, _ := strconv.ParseUint(vals[1].String, 10, 32)
		p.Pos = uint32(n)
		if len(vals) >= 5 {
			p.GTID = vals[4].String
		}
	}
	rows.Close()
	if flavor == config.FlavorMariaDB {
		var g sql.NullString
		if db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&g) == nil {
			p.GTID = g.String
		}
	}
	return p, nil
}

// sourceClockOffset is the source's clock minus ours, read in one round
// trip and centred on it.
func sourceClockOffset(ctx context.Context, db querier, now func() time.Time) (time.Duration, error) {
	before := now()
	var micros int64
	if err := db.QueryRowContext(ctx, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)").Scan(&micros); err != nil {
		return 0, err
	}
	after := now()
	mid := before.Add(after.Sub(before) / 2)
	return time.UnixMicro(micros).Sub(mid), nil
}

// serverID is the replica id of the binlog connection: source.yaml's
// server-id, or one derived from the task and source (stable, so a new
// owner of the source replaces the old connection on the server).
func serverID(configured uint32, task, source string) uint32 {
	if configured != 0 {
		return configured
	}
	h := fnv.New32a()
	h.Write([]byte(task + "\x00" + source))
	return 1<<30 | h.Sum32()&(1<<29-1)
}

// openTarget connects the workers: target's session settings plus
// multi-statement batches.
func openTarget(ctx context.Context, db config.DBConfig, key config.Key, workers int) (*sql.DB, error) {
	c, err := target.ConnConfig(db, key, map[string]string{
		"time_zone":          "'+00:00'",
		"sql_mode":           "'" + target.SQLMode + "'",
		"foreign_key_checks": "0",
		"wait_timeout":       strconv.Itoa(int(target.WriterWaitTimeout.Seconds())),
	})
	if err != nil {
		return nil, err
	}
	c.MultiStatements = true
	c.InterpolateParams = true // one round trip for the epoch check and checkpoint statements
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", c.Addr, err)
	}
	d := sql.OpenDB(conn)
	d.SetMaxOpenConns(workers + 4)
	d.SetMaxIdleConns(workers + 4)
	d.SetConnMaxIdleTime(target.WriterWaitTimeout / 2)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to target %s as %s: %w", c.Addr, db.User, err)
	}
	return d, nil
}
