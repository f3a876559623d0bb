package units

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// openFencedTarget connects to the task's target, creates the meta schema
// and raises this binding's epoch there; nothing is written before.
func openFencedTarget(ctx context.Context, d Deps, a executor.Assignment, task *config.Task, inst *config.Instance, log zerolog.Logger, pool int) (*sql.DB, *load.Store, error) {
	return openFencedTargetAs(ctx, d, a, task, inst, log, pool, task.TargetDatabase)
}

// openFencedTargetAs is openFencedTarget with the connection settings db.
func openFencedTargetAs(ctx context.Context, d Deps, a executor.Assignment, task *config.Task, inst *config.Instance, log zerolog.Logger, pool int, db config.DBConfig) (*sql.DB, *load.Store, error) {
	tdb, err := target.Open(ctx, db, d.Key, pool)
	if err != nil {
		return nil, nil, connectError("Target", err)
	}
	meta := target.Meta{Schema: task.MetaSchema}.ForServer(ctx, tdb)
	fence := target.Fence{Task: task.Name, Source: inst.SourceID, Incarnation: a.Source.GetCreatedUnixMs(), Epoch: a.Epoch}
	if err := retry(ctx, log, "create meta schema", func() error { return meta.Ensure(ctx, tdb) }); err != nil {
		tdb.Close()
		return nil, nil, targetError("create the meta schema "+meta.Schema, err)
	}
	if err := retry(ctx, log, "raise epoch", func() error { return meta.RaiseEpoch(ctx, tdb, fence, epochLockWait) }); err != nil {
		tdb.Close()
		return nil, nil, targetError("raise the fencing epoch", err)
	}
	log.Info().Msg("epoch raised on the target")
	return tdb, &load.Store{DB: tdb, Meta: meta, Fence: fence}, nil
}

// insertVerb is the statement loaders.on-duplicate-logical asks for.
func insertVerb(inst *config.Instance) string {
	switch inst.Loader.OnDuplicateLogical {
	case config.OnDuplicateError:
		return "INSERT"
	case config.OnDuplicateIgnore:
		return "INSERT IGNORE"
	}
	return "REPLACE"
}

// statementSize is mydumpers.statement-size or the default.
func statementSize(inst *config.Instance) int {
	if n := int(inst.Mydumper.StatementSize); n > 0 {
		return n
	}
	return defaultStatementSize
}

// chunkSource says where the chunks' statements come from.
type chunkSource struct {
	workers int
	pos     dump.Position // recorded in each chunk checkpoint
	// produce returns the producer of chunk c on worker w (0 <= w < workers).
	produce func(w int, c *dump.Chunk) load.Producer
	// produceInfile, when set, is the LOAD DATA producer, used for tables
	// dump.Infileable accepts until a chunk of theirs does not load
	// exactly (load.ErrInfileInexact): that chunk and the table's later
	// ones are loaded by produce, with INSERT, and recorded in insertOnly.
	produceInfile func(w int, c *dump.Chunk) load.Producer
	insertOnly    *sync.Map
	// readError turns a failure of the producer (not of the target) into
	// the error that pauses the subtask.
	readError func(c *dump.Chunk, err error) error
}

// producer picks LOAD DATA or INSERT for chunk c.
func (s chunkSource) producer(w int, c *dump.Chunk) load.Producer {
	if s.produceInfile != nil && dump.Infileable(c.Table) {
		if _, no := s.insertOnly.Load(c.Table.ID()); !no {
			return s.produceInfile(w, c)
		}
	}
	return s.produce(w, c)
}

// copyChunks loads chunks on src.workers workers: each writes a chunk in
// one target transaction, streamed (one statement in flight), so memory
// stays at a few statements per worker whatever the chunk size.
func copyChunks(ctx context.Context, log zerolog.Logger, prog *progress, store *load.Store, chunks []*dump.Chunk, src chunkSource) error {
	return forEachChunk(ctx, src.workers, chunks, func(ctx context.Context, w int, c *dump.Chunk) error {
		var rows, bytes int64
		write := func() error {
			return retry(ctx, log, "load chunk "+c.ID(), func() (err error) {
				rows, bytes, err = store.WriteChunk(ctx, c, src.pos, src.producer(w, c))
				return err
			})
		}
		err := write()
		if errors.Is(err, load.ErrInfileInexact) {
			log.Warn().Err(err).Str("table", c.Table.ID()).Msg("LOAD DATA was not exact; loading this table's chunks with INSERT")
			src.insertOnly.Store(c.Table.ID(), true)
			err = write()
		}
		var re *dump.ReadError
		switch {
		case errors.Is(err, load.ErrChunkAlreadyLoaded):
			// A retried commit had succeeded before its connection
			// dropped; this attempt rolled back. Nothing is missing.
			return nil
		case errors.As(err, &re):
			return src.readError(c, err)
		case err != nil:
			return targetError("load chunk "+c.ID()+" into "+c.Table.TargetID(), err)
		}
		prog.chunkDone(c.Table.ID(), c.Index, rows, bytes)
		return nil
	})
}

// forEachChunk runs fn for every chunk on workers goroutines (worker w
// gets index w). The first error stops the feeding and the other workers'
// context, and is returned.
func forEachChunk(ctx context.Context, workers int, chunks []*dump.Chunk, fn func(ctx context.Context, w int, c *dump.Chunk) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan *dump.Chunk)
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range todo {
				if err := fn(ctx, w, c); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for _, c := range chunks {
		select {
		case todo <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	return context.Cause(ctx)
}

// unitMark is a finished-unit mark to propose.
type unitMark struct {
	unit string
	pos  dump.Position
}

// proposeMarks proposes the finished marks in order, then waits until the
// last one is applied locally (so the runner does not start the unit
// again).
func proposeMarks(ctx context.Context, d Deps, a executor.Assignment, task *config.Task, inst *config.Instance, log zerolog.Logger, marks []unitMark) error {
	for _, m := range marks {
		cmd := fsm.NewCommand(pb.CommandType_MARK_UNIT_FINISHED, &pb.MarkUnitFinished{
			Task: task.Name, SourceId: inst.SourceID, Epoch: a.Epoch,
			Mark: &pb.UnitMark{Unit: m.unit, Position: &pb.BinlogPosition{Name: m.pos.Name, Pos: m.pos.Pos, GtidSet: m.pos.GTID}},
		}, d.Now().UnixMilli())
		err := retry(ctx, log, "mark "+m.unit+" finished", func() error {
			res, err := d.Propose(ctx, cmd)
			if err != nil {
				return err
			}
			if res.GetCode() != "" {
				return &executor.Error{Code: res.GetCode(), Class: "internal", Message: "mark " + m.unit + " finished: " + res.GetMessage(),
					Workaround: "the source moved to another node, which continues; nothing to do"}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, m := range marks {
		log.Info().Str("unit", m.unit).Str("position", m.pos.String()).Msg("unit finished")
	}
	if d.View == nil || len(marks) == 0 {
		return nil
	}
	last := marks[len(marks)-1].unit
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st := d.View().Subtasks[fsm.SubtaskKey{Task: task.Name, Source: inst.SourceID}]
		for _, m := range st.GetFinishedUnits() {
			if m.Unit == last {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
