package units

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

// Tunables of the full unit.
const (
	defaultStatementSize = 1 << 20         // bytes per INSERT when mydumpers.statement-size is unset
	infileBatchBytes     = 4 << 20         // bytes of rows per LOAD DATA statement
	retryBudget          = 2 * time.Minute // how long a chunk write or the epoch raise retries transient errors
	epochLockWait        = 5               // seconds RaiseEpoch waits for writers per attempt
)

// fullUnit copies every selected table: dump streamed into load.
// Its name is "load": it also dumps, streamed, and marks both units.
type fullUnit struct{ unitBase }

func newFullUnit(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance) *fullUnit {
	return &fullUnit{newUnitBase(d, a, task, inst, UnitLoad)}
}

// Run loads every chunk that is not done yet, then proposes the dump and
// load finished marks.
func (u *fullUnit) Run(ctx context.Context) error {
	return targetFull(u.task, u.run(ctx))
}

func (u *fullUnit) run(ctx context.Context) error {
	srcCfg, err := config.SourceFromProto(u.a.Source.GetConfig())
	if err != nil {
		return &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "source record", Err: err, Workaround: "re-create the source"}
	}
	// Each worker streams its chunk from its own snapshot connection into
	// its own target transaction: mydumper threads and loader pool-size
	// both bound the concurrency.
	pool := max(u.inst.Loader.PoolSize, 1)
	threads := min(max(u.inst.Mydumper.Threads, 1), pool)

	tdb, store, err := openFencedTarget(ctx, u.d, u.a, u.task, u.inst, u.log, pool)
	if err != nil {
		return err
	}
	defer tdb.Close()
	sdb, err := dump.OpenSource(ctx, srcCfg.From, u.d.Key, threads)
	if err != nil {
		return connectError("Source", err)
	}
	defer sdb.Close()
	var plan *load.Plan
	if err := retry(ctx, u.log, "read load plan", func() (err error) { plan, err = store.LoadPlan(ctx); return err }); err != nil {
		return targetError("read the chunk checkpoints", err)
	}
	if plan != nil && plan.TaskCreated != u.a.Task.GetCreatedUnixMs() {
		u.log.Info().Msg("the chunk plan belongs to an earlier task of the same name: starting a new one")
		plan = nil
	}
	// The tables' definitions come from the snapshot the chunks are read
	// from: a definition read at another point of the source's history
	// would load the rows with other columns than the target table has.
	var snap *dump.Snapshot
	defer func() {
		if snap != nil {
			snap.Close()
		}
	}()
	var tables []*dump.Table
	sel := dump.NewSelector(u.task, u.inst)
	if plan == nil || !plan.AllDone() {
		if snap, tables, err = dump.OpenSnapshotTables(ctx, sdb, threads, srcCfg.Flavor, sel); err != nil {
			return sourceError("open a consistent snapshot of the tables to copy", err)
		}
	} else if tables, err = dump.ReadTables(ctx, sdb, sel); err != nil {
		return sourceError("list the tables to copy", err)
	}
	byID := map[string]*dump.Table{}
	createDDLs := make([]string, 0, len(tables))
	for _, t := range tables {
		byID[t.ID()] = t
		ddl, err := dump.RouteCreateTable(t.CreateSQL, t)
		if err != nil {
			return sourceError("read the table definition", err)
		}
		createDDLs = append(createDDLs, ddl)
		err = retry(ctx, u.log, "create table", func() error { return store.CreateTableDeferred(ctx, t, ddl) })
		if errors.Is(err, load.ErrSchemaMismatch) && plan != nil {
			if snap != nil {
				err = u.reloadTable(ctx, store, plan, t, ddl, err)
			} else {
				// Every chunk is loaded: the table changed upstream
				// since, and the sync unit replays that DDL.
				u.log.Info().Err(err).Str("table", t.ID()).Msg("the table changed upstream after its chunks were loaded")
				err = nil
			}
		}
		if err != nil {
			if errors.Is(err, load.ErrSchemaMismatch) {
				return &executor.Error{Code: "TargetSchemaMismatch", Class: "target", Message: "create target table", Err: err,
					Workaround: "make the target table match the source table (or drop it so dmraft creates it), then `dmctl resume-task " + u.task.Name + "`"}
			}
			return targetError("create the target table", err)
		}
	}

	if err := u.registerShards(ctx, tables, createDDLs); err != nil {
		return err
	}

	var chunks []*dump.Chunk
	if plan == nil {
		plan = &load.Plan{TaskCreated: u.a.Task.GetCreatedUnixMs(), First: snap.Position, Last: snap.Position}
		for _, t := range tables {
			cs, err := dump.Split(ctx, snap.Conns[0], t, int64(u.inst.Mydumper.Rows))
			if err != nil {
				return sourceError("split tables into chunks", err)
			}
			for _, c := range cs {
				plan.Chunks = append(plan.Chunks, &load.ChunkRecord{Table: t.ID(), Index: c.Index, TargetTable: t.TargetID(),
					Lower: c.Lower, Upper: c.Upper, EstRows: c.EstRows, EstBytes: c.EstBytes})
			}
		}
		if err := retry(ctx, u.log, "save load plan", func() error { return store.SavePlan(ctx, plan) }); err != nil {
			return targetError("save the chunk plan", err)
		}
		u.log.Info().Int("tables", len(tables)).Int("chunks", len(plan.Chunks)).Str("position", plan.First.String()).Msg("snapshot taken, chunk plan saved")
	} else if snap != nil {
		plan.Last = snap.Position
		if err := retry(ctx, u.log, "record snapshot", func() error { return store.SetLastPosition(ctx, snap.Position) }); err != nil {
			return targetError("record the snapshot position", err)
		}
		u.log.Info().Str("position", snap.Position.String()).Msg("resuming the load from chunk checkpoints with a new snapshot")
	}
	for _, r := range plan.Chunks {
		t := byID[r.Table]
		if t == nil {
			return &executor.Error{Code: "SourceTableGone", Class: "source", Message: "table " + r.Table + " of the chunk plan no longer exists upstream (dropped during the dump?)",
				Workaround: "restore the table, or `dmctl stop-task` and start the task again to copy the current tables"}
		}
		u.prog.addChunk(r)
		if !r.Done {
			chunks = append(chunks, &dump.Chunk{Table: t, Index: r.Index, Lower: r.Lower, Upper: r.Upper, EstRows: r.EstRows, EstBytes: r.EstBytes})
		}
	}
	// Round-robin over tables: concurrent workers then write different
	// tables, each in ascending key order (appends, not mid-page splits).
	sort.SliceStable(chunks, func(i, j int) bool { return chunks[i].Index < chunks[j].Index })
	u.prog.setPositions(plan.First, plan.Last)
	if len(chunks) > 0 {
		conns := snap.Conns
		infile := load.InfileSupported(ctx, tdb)
		u.log.Info().Bool("load_data", infile).Msg("loading chunks")
		src := chunkSource{
			workers:    len(conns),
			pos:        snap.Position,
			insertOnly: &sync.Map{},
			produce: func(w int, c *dump.Chunk) load.Producer {
				return func(emit func(dump.Batch) error) (int64, error) {
					return dump.StreamChunk(ctx, conns[w], c, insertVerb(u.inst), statementSize(u.inst), emit)
				}
			},
			readError: func(c *dump.Chunk, err error) error { return sourceError("read chunk "+c.ID(), err) },
		}
		if infile {
			src.produceInfile = func(w int, c *dump.Chunk) load.Producer {
				return func(emit func(dump.Batch) error) (int64, error) {
					return dump.StreamChunkInfile(ctx, conns[w], c, insertVerb(u.inst), infileBatchBytes, emit)
				}
			}
		}
		if err := copyChunks(ctx, u.log, u.prog, store, chunks, src); err != nil {
			return err
		}
	}
	if snap != nil {
		snap.Close()
		snap = nil
	}
	u.prog.setStage("adding secondary indexes")
	indexStart := time.Now()
	if err := retry(ctx, u.log, "add deferred indexes", func() error { return store.AddDeferredIndexes(ctx) }); err != nil {
		return targetError("add the secondary indexes left out during the load", err)
	}
	u.log.Info().Dur("took", time.Since(indexStart)).Msg("secondary indexes added")
	u.prog.setStage("creating views")
	if err := u.copyViews(ctx, sdb, tdb); err != nil {
		return err
	}
	u.prog.finished()
	return proposeMarks(ctx, u.d, u.a, u.task, u.inst, u.log, []unitMark{{UnitDump, plan.First}, {UnitLoad, plan.Last}})
}

func connectError(side string, err error) error {
	return &executor.Error{Code: side + "Unreachable", Class: strings.ToLower(side), Message: "connect to the " + strings.ToLower(side), Err: err,
		Workaround: map[string]string{
			"Target": "check target-database (host, port, user, password) in task.yaml and that the server is up; then `dmctl update-task` or `dmctl resume-task`",
			"Source": "check the source's from: (host, port, user, password) with `dmctl operate-source show` and that the server is up; then `dmctl resume-task`",
		}[side]}
}

func targetError(what string, err error) error {
	var ee *executor.Error
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, target.ErrFenced) {
		return &executor.Error{Code: "Fenced", Class: "target", Message: what, Err: err,
			Workaround: "another node owns this source now; nothing to do"}
	}
	return &executor.Error{Code: "TargetWriteFailed", Class: "target", Message: what, Err: err,
		Workaround: "check that the target is up, writable and has space (the error above says why), then `dmctl resume-task`; loaded chunks are kept"}
}

func sourceError(what string, err error) error {
	var ee *executor.Error
	if errors.As(err, &ee) {
		return err
	}
	return &executor.Error{Code: "SourceReadFailed", Class: "source", Message: what, Err: err,
		Workaround: "check that the source is up and the tables exist (the error above says why), then `dmctl resume-task`; loaded chunks are kept"}
}

// reloadTable handles a table whose definition changed upstream between
// the snapshot its loaded chunks were read from and this run's (the
// target table lacks columns the rows now have, mismatch): the target
// table is dropped and created again from this snapshot's definition, and
// all its chunks are loaded again from this snapshot, so its definition
// and rows come from one point again. The sync unit skips the table's
// changes before that point and replays its DDL since the first snapshot
// tolerating "already done" errors. A target table that other tables are
// merged into is not dropped: mismatch is returned.
func (u *fullUnit) reloadTable(ctx context.Context, store *load.Store, plan *load.Plan, t *dump.Table, ddl string, mismatch error) error {
	shared, err := store.TargetShared(ctx, t)
	if err != nil {
		return err
	}
	if shared || u.task.ShardMode != "" {
		return mismatch
	}
	u.log.Warn().Err(mismatch).Str("table", t.ID()).Msg("the table's definition changed since its first chunks were loaded: loading it again, whole, from the new snapshot")
	if err := retry(ctx, u.log, "reset table", func() error { return store.ResetTable(ctx, t) }); err != nil {
		return err
	}
	for _, r := range plan.Chunks {
		if r.Table == t.ID() {
			r.Done = false
		}
	}
	return retry(ctx, u.log, "create table", func() error { return store.CreateTableDeferred(ctx, t, ddl) })
}
