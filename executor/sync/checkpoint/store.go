package checkpoint

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/target"
)

// Meta tables of the sync unit.
const (
	CheckpointTable = "dmraft_sync_checkpoints"
	DDLTable        = "dmraft_sync_ddl"
	BatchTable      = "dmraft_sync_batches"
)

// Store reads and writes the sync unit's meta rows of one subtask.
type Store struct {
	Meta  target.Meta
	Fence target.Fence
}

// Ensure creates the sync meta tables when they are missing (the meta
// schema itself comes from target.Meta.Ensure).
func (s *Store) Ensure(ctx context.Context, db *sql.DB) error {
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS " + s.Meta.Table(CheckpointTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  worker INT NOT NULL,
  workers INT NOT NULL,
  position TEXT NOT NULL,
  row_idx INT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (task, source, worker)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		"CREATE TABLE IF NOT EXISTS " + s.Meta.Table(DDLTable) + ` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  position TEXT NOT NULL,
  statement LONGTEXT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (task, source)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		"CREATE TABLE IF NOT EXISTS " + s.Meta.Table(BatchTable) + ` (
  id BIGINT NOT NULL AUTO_INCREMENT,
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  worker INT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  row_count INT NOT NULL,
  position TEXT NOT NULL,
  committed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY (task, source, committed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create sync meta tables in %s: %w", s.Meta.Schema, err)
		}
	}
	return nil
}

// Load returns the stored state, or nil when the subtask has no sync
// checkpoint yet.
func (s *Store) Load(ctx context.Context, db *sql.DB) (*Resume, error) {
	rows, err := db.QueryContext(ctx, "SELECT worker, workers, position, row_idx FROM "+s.Meta.Table(CheckpointTable)+
		" WHERE task = ? AND source = ? ORDER BY worker", s.Fence.Task, s.Fence.Source)
	if err != nil {
		return nil, fmt.Errorf("read sync checkpoints: %w", err)
	}
	defer rows.Close()
	r := &Resume{}
	byWorker := map[int]Point{}
	for rows.Next() {
		var w, workers, row int
		var pos string
		if err := rows.Scan(&w, &workers, &pos, &row); err != nil {
			return nil, fmt.Errorf("read sync checkpoints: %w", err)
		}
		var p binlog.Position
		if err := json.Unmarshal([]byte(pos), &p); err != nil {
			return nil, fmt.Errorf("read sync checkpoint of worker %d: %w", w, err)
		}
		byWorker[w] = Point{Pos: p, Row: row}
		r.Workers = workers
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync checkpoints: %w", err)
	}
	if len(byWorker) == 0 {
		return nil, nil
	}
	for w := 0; w < r.Workers; w++ {
		p, ok := byWorker[w]
		if !ok {
			return nil, fmt.Errorf("sync checkpoint of worker %d of %d is missing in %s", w, r.Workers, s.Meta.Table(CheckpointTable))
		}
		r.Points = append(r.Points, p)
	}
	var ddl string
	err = db.QueryRowContext(ctx, "SELECT position FROM "+s.Meta.Table(DDLTable)+" WHERE task = ? AND source = ?",
		s.Fence.Task, s.Fence.Source).Scan(&ddl)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read pending DDL: %w", err)
	default:
		if err := json.Unmarshal([]byte(ddl), &r.PendingDDL); err != nil {
			return nil, fmt.Errorf("read pending DDL: %w", err)
		}
	}
	return r, nil
}

// SaveWorker records worker w's point and a batch log row, inside tx
// (which already passed the epoch check).
func (s *Store) SaveWorker(ctx context.Context, tx *sql.Tx, w, workers int, p Point, rows int) error {
	for _, q := range s.SaveWorkerSQL(w, workers, p, rows) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("write sync checkpoint: %w", err)
		}
	}
	return nil
}

// SaveWorkerSQL is what SaveWorker executes, as literal statements for a
// multi-statement batch (target.Meta.WriteFenced).
func (s *Store) SaveWorkerSQL(w, workers int, p Point, rows int) []string {
	return s.SaveWorkersSQL([]WorkerSave{{Worker: w, Workers: workers, Point: p, Rows: rows}})
}

// WorkerSave is one worker's batch in a group commit: its new point and
// the rows the batch applied.
type WorkerSave struct {
	Worker, Workers int
	Point           Point
	Rows            int
}

// SaveWorkersSQL returns the literal statements that record several
// workers' batches in one transaction: one multi-row upsert of their
// points and one multi-row insert into the batch log (a row per batch
// that applied rows, with the epoch it was written under, which the
// fencing checker reads).
func (s *Store) SaveWorkersSQL(saves []WorkerSave) []string {
	task, source := target.QuoteString(s.Fence.Task), target.QuoteString(s.Fence.Source)
	epoch := strconv.FormatUint(s.Fence.Epoch, 10)
	var points, logs strings.Builder
	for _, w := range saves {
		pos, _ := json.Marshal(w.Point.Pos)
		posLit := target.QuoteString(string(pos))
		if points.Len() > 0 {
			points.WriteByte(',')
		}
		points.WriteString("(" + task + "," + source + "," + strconv.Itoa(w.Worker) + "," + strconv.Itoa(w.Workers) + "," +
			posLit + "," + strconv.Itoa(w.Point.Row) + "," + epoch + ")")
		if w.Rows > 0 {
			if logs.Len() > 0 {
				logs.WriteByte(',')
			}
			logs.WriteString("(" + task + "," + source + "," + strconv.Itoa(w.Worker) + "," + epoch + "," + strconv.Itoa(w.Rows) + "," + posLit + ")")
		}
	}
	out := []string{"INSERT INTO " + s.Meta.Table(CheckpointTable) + " (task, source, worker, workers, position, row_idx, epoch) VALUES " +
		points.String() + " ON DUPLICATE KEY UPDATE workers = VALUES(workers), position = VALUES(position), row_idx = VALUES(row_idx), epoch = VALUES(epoch)"}
	if logs.Len() > 0 {
		out = append(out, "INSERT INTO "+s.Meta.Table(BatchTable)+" (task, source, worker, epoch, row_count, position) VALUES "+logs.String())
	}
	return out
}

// SaveAll sets every worker of a new worker count to the boundary p and
// removes rows of workers beyond it, inside tx.
func (s *Store) SaveAll(ctx context.Context, tx *sql.Tx, workers int, p binlog.Position) error {
	for w := 0; w < workers; w++ {
		if err := s.SaveWorker(ctx, tx, w, workers, Boundary(p), 0); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(CheckpointTable)+" WHERE task = ? AND source = ? AND worker >= ?",
		s.Fence.Task, s.Fence.Source, workers); err != nil {
		return fmt.Errorf("write sync checkpoint: %w", err)
	}
	return nil
}

// SaveDDL records that the DDL at pos is about to run, inside tx.
func (s *Store) SaveDDL(ctx context.Context, tx *sql.Tx, pos binlog.Position, stmt string) error {
	b, _ := json.Marshal(pos)
	_, err := tx.ExecContext(ctx, "INSERT INTO "+s.Meta.Table(DDLTable)+" (task, source, position, statement, epoch) VALUES (?, ?, ?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE position = VALUES(position), statement = VALUES(statement), epoch = VALUES(epoch)",
		s.Fence.Task, s.Fence.Source, string(b), stmt, s.Fence.Epoch)
	if err != nil {
		return fmt.Errorf("record pending DDL: %w", err)
	}
	return nil
}

// Prune drops batch log rows older than an hour.
func (s *Store) Prune(ctx context.Context, db *sql.DB) error {
	for {
		res, err := db.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(BatchTable)+
			" WHERE task = ? AND source = ? AND committed_at < CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR LIMIT 10000", s.Fence.Task, s.Fence.Source)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n < 10000 {
			return nil
		}
	}
}
