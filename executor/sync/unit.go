package syncer

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/causality"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/filter"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// UnitName is the name of the sync unit in marks and status.
const UnitName = "sync"

// Deps is what the sync unit needs from its node.
type Deps struct {
	Key    config.Key // decrypts source and target passwords
	Now    func() time.Time
	Logger zerolog.Logger
	// View and Propose reach the FSM; shard mode (shard.go) needs both and
	// is off without them.
	View    func() *fsm.View
	Propose func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
}

// Unit is the sync unit of one subtask.
type Unit struct {
	d    Deps
	a    executor.Assignment
	task *config.Task
	inst *config.Instance
	log  zerolog.Logger
	prog *progress
}

// New returns the sync unit for an assignment; task is normalized and inst
// is its entry for the assignment's source.
func New(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance) *Unit {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Unit{d: d, a: a, task: task, inst: inst, prog: newProgress(d.Now),
		log: d.Logger.With().Str("component", "sync").Str("task", task.Name).Str("source", inst.SourceID).Uint64("epoch", a.Epoch).Logger()}
}

// Name is "sync".
func (u *Unit) Name() string { return UnitName }

// Progress is DM's sync status as JSON.
func (u *Unit) Progress() string { return u.prog.JSON() }

// Run replicates until ctx ends or a permanent error. Transient errors
// (source or target restarting, lost connections) restart the pipeline
// from the committed checkpoint after a backoff.
func (u *Unit) Run(ctx context.Context) error {
	wait := time.Second
	for {
		started := time.Now()
		err := u.runOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errShardResume) {
			continue
		}
		if errors.Is(err, target.ErrFenced) {
			return &executor.Error{Code: "Fenced", Class: "internal", Message: "a newer owner of the source writes to the target", Err: err,
				Workaround: "nothing to do: the source moved to another node, which continues from the checkpoint"}
		}
		if !transient(err) {
			return err
		}
		if time.Since(started) > time.Minute {
			wait = time.Second
		}
		u.prog.setStage("retrying: " + err.Error())
		u.log.Warn().Err(err).Dur("backoff", wait).Msg("sync interrupted; restarting from the checkpoint")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func (u *Unit) runOnce(ctx context.Context) error {
	srcCfg, err := config.SourceFromProto(u.a.Source.GetConfig())
	if err != nil {
		return &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "source record", Err: err, Workaround: "re-create the source"}
	}
	sdb, err := dump.OpenSource(ctx, srcCfg.From, u.d.Key, 1)
	if err != nil {
		return sourceLoginError(u.task.Name, u.inst.SourceID, srcCfg.From.User, err)
	}
	defer sdb.Close()
	flavor := srcCfg.Flavor
	if flavor == "" {
		flavor = dump.DetectFlavor(ctx, sdb)
	}
	if err := checkSource(ctx, sdb, u.task.Name); err != nil {
		return err
	}

	pw, err := srcCfg.From.PlainPassword(u.d.Key)
	if err != nil {
		return &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "decrypt the source password", Err: err, Workaround: "re-create the source with `dmctl operate-source create`"}
	}
	port := srcCfg.From.Port
	if port == 0 {
		port = config.DefaultPort
	}
	rcfg := binlog.Config{Flavor: flavor, Host: srcCfg.From.Host, Port: uint16(port), User: srcCfg.From.User, Password: pw,
		ServerID: serverID(srcCfg.ServerID, u.task.Name, u.inst.SourceID), ReportHost: reportHost(u.task.Name, u.inst.SourceID)}
	if err := checkServerID(ctx, sdb, rcfg.ServerID, rcfg.ReportHost, u.task.Name); err != nil {
		return err
	}

	workers := max(u.inst.Syncer.WorkerCount, 1)
	tdb, err := openTarget(ctx, u.task.TargetDatabase, u.d.Key, workers)
	if err != nil {
		return err
	}
	defer tdb.Close()
	meta := target.Meta{Schema: u.task.MetaSchema}.ForServer(ctx, tdb)
	fence := target.Fence{Task: u.task.Name, Source: u.inst.SourceID, Incarnation: u.a.Source.GetCreatedUnixMs(), Epoch: u.a.Epoch}
	store := &checkpoint.Store{Meta: meta, Fence: fence}
	if err := meta.Ensure(ctx, tdb); err != nil {
		return err
	}
	if err := store.Ensure(ctx, tdb); err != nil {
		return err
	}
	if err := meta.RaiseEpoch(ctx, tdb, fence, 5); err != nil {
		return err
	}
	resume, err := store.Load(ctx, tdb)
	if err != nil {
		return err
	}
	first, last, fromFull := u.fullMarks()
	if resume == nil {
		start, err := u.initialPosition(ctx, sdb, rcfg, first, fromFull)
		if err != nil {
			return err
		}
		// Every worker's row exists from the start: a worker that has not
		// committed yet when the unit restarts still has its point.
		if err := saveStart(ctx, tdb, store, workers, start); err != nil {
			return err
		}
		resume = &checkpoint.Resume{Workers: workers}
		for range workers {
			resume.Points = append(resume.Points, checkpoint.Boundary(start))
		}
	}
	var windows map[string]window
	if fromFull {
		if windows, err = loadWindows(ctx, tdb, meta, fence); err != nil {
			return err
		}
	}
	ef, err := filter.NewEventFilter(u.inst.Filters, u.task.CaseSensitive)
	if err != nil {
		return &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "binlog event filters", Err: err, Workaround: "fix filters in task.yaml and `dmctl update-task`"}
	}

	start := resume.Start()
	rcfg.Start, rcfg.UseGTID = start, srcCfg.EnableGTID && start.GTID != "" && start.Name == ""
	reader, err := binlog.OpenContext(ctx, rcfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return sourceLoginError(u.task.Name, u.inst.SourceID, srcCfg.From.User, binlogError(u.task.Name, err))
	}
	defer reader.Close()

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wctx, wcancel := context.WithCancel(pctx)
	defer wcancel()
	p := &pipeline{
		task: u.task.Name, db: tdb, store: store, fence: fence, sel: dump.NewSelector(u.task, u.inst), events: ef,
		parser: parser.New(), tables: newTableCache(tdb), log: u.log, prog: u.prog,
		safeMode: u.inst.Syncer.SafeMode, batch: max(u.inst.Syncer.Batch, 1),
		resume: resume, want: workers, windows: windows, loadLast: last, tracker: causality.New(),
		fail: func(err error) { cancel(err) }, workerCtx: wctx, operator: u.binlogOperator(),
	}
	if p.loadLast.IsZero() || !fromFull {
		p.loadLast = binlog.Position{}
	}
	p.startWorkers(resume.Workers, resume.Points)
	defer func() {
		wcancel()
		p.wait()
	}()
	shard := u.newShard(p, sdb)
	if err := shard.start(ctx, resume); err != nil {
		return err
	}
	go u.pollMaster(pctx, sdb, flavor)
	go u.pruneBatchLog(pctx, store, tdb)
	u.prog.setStage("syncing")
	u.log.Info().Str("start", start.String()).Int("workers", resume.Workers).Bool("gtid", rcfg.UseGTID).Msg("sync started")

	for {
		ev, err := reader.Next(pctx)
		if err != nil {
			if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, binlog.ErrServerIDClash) {
				// A new owner of the source connects with the same server id
				// and the server drops us: report the fence, not a clash.
				if ferr := p.inTx(ctx, func(*sql.Tx) error { return nil }); errors.Is(ferr, target.ErrFenced) {
					return ferr
				}
			}
			return binlogError(u.task.Name, err)
		}
		if err := shard.handle(pctx, p, ev); err != nil {
			if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return err
		}
	}
}

// batchLogPruneEvery is how often the batch log loses its rows older than
// an hour (kept that long for fencing checks).
const batchLogPruneEvery = 5 * time.Minute

// pruneBatchLog keeps the target's batch log from growing without bound.
func (u *Unit) pruneBatchLog(ctx context.Context, store *checkpoint.Store, db *sql.DB) {
	t := time.NewTicker(batchLogPruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := store.Prune(ctx, db); err != nil && ctx.Err() == nil {
				u.log.Warn().Err(err).Msg("prune the batch log")
			}
		}
	}
}

// pollMaster keeps the source's current binlog position for the status.
func (u *Unit) pollMaster(ctx context.Context, db querier, flavor string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		pos, err := masterPosition(ctx, db, flavor)
		u.prog.setMaster(pos, err)
		if off, err := sourceClockOffset(ctx, db, time.Now); err == nil {
			u.prog.setClockOffset(off)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
