package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/target"
)

// Plan is the chunk plan of one subtask, kept in the meta schema so that a
// new owner loads exactly the chunks that are missing.
type Plan struct {
	TaskCreated int64         // the task record's created_unix_ms: a re-created task starts a new plan
	First       dump.Position // the snapshot of the first run: sync must start here
	Last        dump.Position // the latest snapshot any chunk was read from
	Chunks      []*ChunkRecord
}

// ChunkRecord is one row of the chunk table.
type ChunkRecord struct {
	Table        string // upstream schema.table
	Index        int
	TargetTable  string
	Lower, Upper dump.Bound
	EstRows      int64
	EstBytes     int64
	Done         bool
	Epoch        uint64
	Rows, Bytes  int64
}

// Store reads and writes plans in a meta schema; every write checks Fence.
type Store struct {
	DB    *sql.DB
	Meta  target.Meta
	Fence target.Fence
}

// LoadPlan returns the stored plan, or nil when there is none.
func (s *Store) LoadPlan(ctx context.Context) (*Plan, error) {
	p := &Plan{}
	var first, last string
	err := s.DB.QueryRowContext(ctx, "SELECT task_created, first_position, last_position FROM "+s.Meta.Table(target.PlanTable)+" WHERE task = ? AND source = ?",
		s.Fence.Task, s.Fence.Source).Scan(&p.TaskCreated, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read load plan: %w", err)
	}
	if err := json.Unmarshal([]byte(first), &p.First); err != nil {
		return nil, fmt.Errorf("read load plan: first position: %w", err)
	}
	if err := json.Unmarshal([]byte(last), &p.Last); err != nil {
		return nil, fmt.Errorf("read load plan: last position: %w", err)
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT tbl, chunk, target_table, lower_bound, upper_bound, est_rows, est_bytes, done, epoch, row_count, byte_count FROM "+
		s.Meta.Table(target.ChunkTable)+" WHERE task = ? AND source = ? ORDER BY tbl, chunk", s.Fence.Task, s.Fence.Source)
	if err != nil {
		return nil, fmt.Errorf("read chunk checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c := &ChunkRecord{}
		var lower, upper string
		if err := rows.Scan(&c.Table, &c.Index, &c.TargetTable, &lower, &upper, &c.EstRows, &c.EstBytes, &c.Done, &c.Epoch, &c.Rows, &c.Bytes); err != nil {
			return nil, fmt.Errorf("read chunk checkpoints: %w", err)
		}
		if c.Lower, err = dump.UnmarshalBound(lower); err != nil {
			return nil, err
		}
		if c.Upper, err = dump.UnmarshalBound(upper); err != nil {
			return nil, err
		}
		p.Chunks = append(p.Chunks, c)
	}
	return p, rows.Err()
}

// SavePlan replaces the subtask's plan and chunk rows in one transaction.
func (s *Store) SavePlan(ctx context.Context, p *Plan) error {
	first, _ := json.Marshal(p.First)
	last, _ := json.Marshal(p.Last)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, tbl := range []string{target.PlanTable, target.ChunkTable} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(tbl)+" WHERE task = ? AND source = ?", s.Fence.Task, s.Fence.Source); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.Meta.Table(target.PlanTable)+" (task, source, task_created, first_position, last_position, epoch) VALUES (?, ?, ?, ?, ?, ?)",
			s.Fence.Task, s.Fence.Source, p.TaskCreated, string(first), string(last), s.Fence.Epoch); err != nil {
			return err
		}
		const perStmt = 200
		for i := 0; i < len(p.Chunks); i += perStmt {
			batch := p.Chunks[i:min(i+perStmt, len(p.Chunks))]
			var b strings.Builder
			args := make([]any, 0, len(batch)*9)
			b.WriteString("INSERT INTO " + s.Meta.Table(target.ChunkTable) + " (task, source, tbl, chunk, target_table, lower_bound, upper_bound, est_rows, est_bytes) VALUES ")
			for j, c := range batch {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, s.Fence.Task, s.Fence.Source, c.Table, c.Index, c.TargetTable, dump.MarshalBound(c.Lower), dump.MarshalBound(c.Upper), c.EstRows, c.EstBytes)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetLastPosition records the snapshot that this run reads from.
func (s *Store) SetLastPosition(ctx context.Context, pos dump.Position) error {
	last, _ := json.Marshal(pos)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE "+s.Meta.Table(target.PlanTable)+" SET last_position = ?, epoch = ? WHERE task = ? AND source = ?",
			string(last), s.Fence.Epoch, s.Fence.Task, s.Fence.Source)
		return err
	})
}

// ErrChunkAlreadyLoaded means the chunk's checkpoint was already done when
// this transaction tried to finish it; the transaction was rolled back.
var ErrChunkAlreadyLoaded = errors.New("chunk already loaded")

// errWriterFailed stops the producer after a failed statement.
var errWriterFailed = errors.New("the chunk's target transaction failed")

// Producer streams a chunk's statements into emit and returns their bytes.
type Producer func(emit func(dump.Batch) error) (int64, error)

// WriteChunk loads one chunk in one transaction: the epoch check, its
// INSERT statements as produce streams them (read and write overlap, one
// statement in flight), and its checkpoint row (done, epoch, counts,
// snapshot). Either all of it commits or none. It returns the rows and
// bytes written.
func (s *Store) WriteChunk(ctx context.Context, c *dump.Chunk, pos dump.Position, produce Producer) (rows, bytes int64, err error) {
	posJSON, _ := json.Marshal(pos)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var isDone bool
		if err := tx.QueryRowContext(ctx, "SELECT done FROM "+s.Meta.Table(target.ChunkTable)+" WHERE task = ? AND source = ? AND tbl = ? AND chunk = ? FOR UPDATE",
			s.Fence.Task, s.Fence.Source, c.Table.ID(), c.Index).Scan(&isDone); err != nil {
			return fmt.Errorf("chunk checkpoint of %s: %w", c.ID(), err)
		}
		if isDone {
			return fmt.Errorf("chunk %s: %w", c.ID(), ErrChunkAlreadyLoaded)
		}
		ch := make(chan dump.Batch, 1)
		var failed atomic.Bool
		var perr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(ch)
			bytes, perr = produce(func(b dump.Batch) error {
				if failed.Load() {
					return errWriterFailed
				}
				ch <- b
				return nil
			})
		}()
		var werr error
		rows = 0
		for b := range ch {
			if werr != nil {
				continue
			}
			if b.Infile != nil {
				werr = execInfile(ctx, tx, b, c.Table.TargetID())
			} else if _, err := tx.ExecContext(ctx, string(b.SQL)); err != nil {
				werr = fmt.Errorf("insert into %s: %w", c.Table.TargetID(), err)
			}
			if werr != nil {
				failed.Store(true)
				continue
			}
			rows += b.Rows
		}
		<-done
		if werr != nil {
			return werr
		}
		if perr != nil {
			return perr
		}
		res, err := tx.ExecContext(ctx, "UPDATE "+s.Meta.Table(target.ChunkTable)+
			" SET done = 1, epoch = ?, row_count = ?, byte_count = ?, snapshot_position = ?, finished_at = CURRENT_TIMESTAMP(3) WHERE task = ? AND source = ? AND tbl = ? AND chunk = ? AND done = 0",
			s.Fence.Epoch, rows, bytes, string(posJSON), s.Fence.Task, s.Fence.Source, c.Table.ID(), c.Index)
		if err != nil {
			return fmt.Errorf("chunk checkpoint: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("chunk %s: %w", c.ID(), ErrChunkAlreadyLoaded)
		}
		return nil
	})
	return rows, bytes, err
}

// inTx runs fn in a transaction that starts with the epoch check.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.Meta.InTx(ctx, s.DB, s.Fence, fn)
}

// AllDone reports whether every chunk of the plan is loaded.
func (p *Plan) AllDone() bool {
	for _, c := range p.Chunks {
		if !c.Done {
			return false
		}
	}
	return true
}

// ResetTable forgets every loaded chunk of t and drops its target table,
// so that t is created and loaded again, whole, from the current snapshot:
// for a table whose definition changed after its first chunks were
// loaded (the rows of the current snapshot would not fit the target
// table). The chunks are forgotten first, in one fenced transaction with
// the table's deferred indexes, so a crash in between only repeats this;
// the DROP runs while the epoch row is locked (a newer owner waits).
func (s *Store) ResetTable(ctx context.Context, t *dump.Table) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE "+s.Meta.Table(target.ChunkTable)+
			" SET done = 0, row_count = 0, byte_count = 0, snapshot_position = NULL, finished_at = NULL WHERE task = ? AND source = ? AND tbl = ?",
			s.Fence.Task, s.Fence.Source, t.ID()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM "+s.Meta.Table(target.IndexTable)+" WHERE task = ? AND source = ? AND target_schema = ? AND target_table = ?",
			s.Fence.Task, s.Fence.Source, t.TargetSchema, t.TargetName)
		return err
	})
	if err != nil {
		return fmt.Errorf("forget the loaded chunks of %s: %w", t.ID(), err)
	}
	err = s.inTx(ctx, func(*sql.Tx) error {
		_, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+target.QuoteTable(t.TargetSchema, t.TargetName))
		return err
	})
	if err != nil {
		return fmt.Errorf("drop target table %s to load it again: %w", t.TargetID(), err)
	}
	return nil
}

// TargetShared reports whether chunks of another table, of any source of
// the task, load into t's target table (a merge): such a table is never
// dropped by ResetTable's callers.
func (s *Store) TargetShared(ctx context.Context, t *dump.Table) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.Meta.Table(target.ChunkTable)+
		" WHERE task = ? AND target_table = ? AND NOT (source = ? AND tbl = ?)", s.Fence.Task, t.TargetID(), s.Fence.Source, t.ID()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up other tables loaded into %s: %w", t.TargetID(), err)
	}
	return n > 0, nil
}
