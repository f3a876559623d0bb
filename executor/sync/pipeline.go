package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/causality"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
	"github.com/dmraft/dmraft/executor/sync/filter"
	"github.com/dmraft/dmraft/executor/target"
	pb "github.com/dmraft/dmraft/proto"
)

// Tunables.
const (
	broadcastEvery  = 500 * time.Millisecond // how often idle workers hear of new boundaries
	maxInflightKeys = 200_000                // causality keys before committed ones are forgotten
	// maxAtomicRows is the largest source transaction applied atomically
	// on the target; a larger one is split over the workers row by row.
	maxAtomicRows = 20_000
)

// pendingChange is a row change of the current source transaction, held
// until its commit so the whole transaction goes to one worker.
type pendingChange struct {
	change *dml.Change
	idx    int // row index in the source transaction
}

var errTargetTableMissing = errors.New("target table does not exist")

// window is a table's range of snapshot positions from the full phase.
type window struct{ min, max binlog.Position }

// pipeline is one run of the sync unit: reader, coordinator, workers.
type pipeline struct {
	// operator is the subtask's `dmctl binlog` operator (operator.go); nil
	// without FSM access.
	operator func() *pb.BinlogOperator
	task     string
	db       *sql.DB
	store    *checkpoint.Store
	fence    target.Fence
	sel      *dump.Selector
	events   *filter.EventFilter
	parser   *parser.Parser
	tables   *tableCache
	log      zerolog.Logger
	prog     *progress
	safeMode bool
	batch    int

	resume   *checkpoint.Resume // nil once the replay passed every stored point
	want     int                // configured worker count
	windows  map[string]window  // upstream schema.table -> full-phase snapshots
	loadLast binlog.Position    // DDL before this may already be on the target
	tracker  *causality.Tracker
	seq      uint64 // sequence number of the last change sent to a worker
	workers  []*worker
	wg       sync.WaitGroup // the workers
	// commits is the workers' queue to the committer (commit.go).
	commits   chan *commitRequest
	committer sync.WaitGroup
	fail      func(error)
	workerCtx context.Context

	txnStart      binlog.Position
	txnTs         uint32
	rowIdx        int
	txnBuf        []pendingChange // the transaction's changes, until its commit
	txnSplit      bool            // the transaction outgrew maxAtomicRows
	touched       []bool
	lastBroadcast time.Time
	lastEnd       binlog.Position // the last transaction boundary
	broadcasted   bool            // lastEnd was sent to every worker
}

func (p *pipeline) startWorkers(n int, floors []checkpoint.Point) {
	p.workers = make([]*worker, n)
	p.touched = make([]bool, n)
	commits := make(chan *commitRequest, n)
	p.commits = commits
	c := &committer{db: p.db, store: p.store, fence: p.fence, log: p.log, in: commits,
		maxRows: groupRowsPerBatch * backlogBatches * p.batch}
	p.committer.Add(1)
	go func() {
		defer p.committer.Done()
		c.run(p.workerCtx)
	}()
	for i := range n {
		w := &worker{id: i, of: n, in: make(chan job, 4*p.batch+16),
			batch: p.batch, log: p.log, prog: p.prog, floor: floors[i], committed: floors[i], commits: commits}
		p.workers[i] = w
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run(p.workerCtx, p.fail)
		}()
	}
	ws := p.workers
	p.prog.setWorkers(func() (binlog.Position, uint32, bool) {
		var low binlog.Position
		var lowTs, pendingTs uint32
		queued := false
		for i, w := range ws {
			pt, t := w.committedPoint()
			if i == 0 || pt.Pos.Before(low) {
				low, lowTs = pt.Pos, t
			}
			if pts := w.oldestPending(); pts != 0 && (pendingTs == 0 || pts < pendingTs) {
				pendingTs = pts
			}
			queued = queued || len(w.in) > 0
		}
		// The lag is the age of the oldest change read but not committed:
		// a held change's own time; with changes still queued, the
		// committed low-water mark's; none when the workers are idle.
		switch {
		case pendingTs != 0:
			return low, pendingTs, false
		case queued:
			return low, lowTs, false
		}
		return low, 0, true
	})
}

// wait waits for the workers and the committer to end after workerCtx's end.
func (p *pipeline) wait() {
	p.wg.Wait()
	p.committer.Wait()
}

// stopWorkers closes the queues (each worker commits what it holds) and
// waits for them.
func (p *pipeline) stopWorkers() {
	for _, w := range p.workers {
		close(w.in)
	}
	p.wg.Wait()
	close(p.commits)
	p.committer.Wait()
	p.workers = nil
}

func (p *pipeline) send(ctx context.Context, w int, j job) error {
	select {
	case p.workers[w].in <- j:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// drain makes every worker commit everything it was sent, with the
// boundary at (when set) as its point, and waits for all.
func (p *pipeline) drain(ctx context.Context, at *binlog.Position) error {
	acks := make([]chan error, len(p.workers))
	for i := range p.workers {
		if at != nil {
			if err := p.send(ctx, i, job{kind: jobBoundary, point: checkpoint.Boundary(*at), ts: p.txnTs}); err != nil {
				return err
			}
		}
		acks[i] = make(chan error, 1)
		if err := p.send(ctx, i, job{kind: jobFlush, ack: acks[i]}); err != nil {
			return err
		}
	}
	for _, a := range acks {
		select {
		case err := <-a:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	p.tracker.Reset()
	return nil
}

// handle dispatches one binlog event.
func (p *pipeline) handle(ctx context.Context, ev binlog.Event) error {
	switch ev.Kind {
	case binlog.KindBegin:
		p.txnStart, p.txnTs, p.rowIdx = ev.Start, ev.Timestamp, 0
		p.txnBuf, p.txnSplit = p.txnBuf[:0], false
	case binlog.KindRows:
		return p.rows(ctx, ev)
	case binlog.KindCommit:
		return p.commit(ctx, ev.End)
	case binlog.KindQuery:
		return p.query(ctx, ev)
	case binlog.KindHeartbeat:
		return p.broadcast(ctx)
	}
	return nil
}

// broadcast tells every worker the last transaction boundary, so that
// idle workers' points follow the stream.
func (p *pipeline) broadcast(ctx context.Context) error {
	if p.lastEnd.IsZero() || p.broadcasted {
		return nil
	}
	for w := range p.workers {
		if err := p.send(ctx, w, job{kind: jobBoundary, point: checkpoint.Boundary(p.lastEnd), ts: p.txnTs}); err != nil {
			return err
		}
	}
	p.broadcasted, p.lastBroadcast = true, time.Now()
	return nil
}

func (p *pipeline) rows(ctx context.Context, ev binlog.Event) error {
	r := ev.Rows
	step := 1
	if r.Op == binlog.OpUpdate {
		step = 2
	}
	n := len(r.Rows) / step
	base := p.rowIdx
	p.rowIdx += n
	p.prog.addEvents(1)
	if !p.sel.TableAllowed(r.Schema, r.Table) {
		return nil
	}
	switch act, rule := p.events.Check(r.Schema, r.Table, []string{r.Op.String()}, false, ""); act {
	case filter.Ignore:
		return nil
	case filter.Error:
		return &executor.Error{Code: "BinlogEventFiltered", Class: "config",
			Message:    fmt.Sprintf("binlog event filter %q stops at %s on %s.%s at %s", rule.Name, r.Op, r.Schema, r.Table, p.txnStart),
			Workaround: "change the filter rule with `dmctl update-task`, then `dmctl resume-task " + p.task + "`"}
	}
	win, inWindow := p.windows[r.Schema+"."+r.Table]
	if inWindow && p.txnStart.Before(win.min) {
		return nil // every chunk of the table was read after this transaction
	}
	ts, tt := p.sel.Route(r.Schema, r.Table)
	layout, err := p.tables.layout(ctx, ts, tt, r.Columns)
	if err != nil {
		return targetError("TargetTableMismatch", fmt.Sprintf("map %s.%s (binlog %s) onto target %s.%s", r.Schema, r.Table, p.txnStart, ts, tt), err,
			"make the target table match the source (create it, or add the missing columns), then `dmctl resume-task "+p.task+"`")
	}
	safe := p.safeMode || (inWindow && p.txnStart.Before(win.max))
	for i := range n {
		idx := base + i
		c := &dml.Change{Op: r.Op, Layout: layout, Safe: safe}
		switch r.Op {
		case binlog.OpInsert:
			c.New = r.Rows[i]
		case binlog.OpDelete:
			c.Old = r.Rows[i]
		default:
			c.Old, c.New = r.Rows[2*i], r.Rows[2*i+1]
		}
		pc := pendingChange{change: c, idx: idx}
		if p.txnSplit {
			if err := p.dispatch(ctx, p.route(c), []pendingChange{pc}, true); err != nil {
				return err
			}
			continue
		}
		p.txnBuf = append(p.txnBuf, pc)
		if len(p.txnBuf) > maxAtomicRows {
			// Too large to hold: from here on, as DM does, each row goes
			// to the worker of its own key. The rule depends only on the
			// transaction, so a replay routes it the same way.
			p.txnSplit = true
			for _, b := range p.txnBuf {
				if err := p.dispatch(ctx, p.route(b.change), []pendingChange{b}, true); err != nil {
					return err
				}
			}
			p.txnBuf = p.txnBuf[:0]
		}
	}
	return nil
}

// route is the worker of change c's own key (computed only for the first
// change of a transaction, or for each change of a split one).
func (p *pipeline) route(c *dml.Change) int { return causality.Worker(c.RouteKey(), len(p.workers)) }

// dispatch sends changes of the current transaction to worker w, after the
// skip rule of the replay, with the causality dependencies on its first
// change: the committer writes them only after the earlier changes of the
// same keys on other workers (commit.go). split marks changes of a
// transaction that is not applied atomically.
func (p *pipeline) dispatch(ctx context.Context, w int, changes []pendingChange, split bool) error {
	var keys []string
	live := changes[:0:0]
	for _, pc := range changes {
		if p.resume != nil && p.resume.Skip(w, p.txnStart, pc.idx) {
			continue
		}
		live = append(live, pc)
		keys = append(keys, pc.change.ConflictKeys()...)
	}
	if len(live) == 0 {
		return nil
	}
	first := p.seq + 1
	p.seq += uint64(len(live))
	committed := func(o int) uint64 { return p.workers[o].committedSeq.Load() }
	deps := p.tracker.Place(w, p.seq, keys, committed)
	for i, pc := range live {
		j := job{kind: jobChange, change: pc.change, split: split, seq: first + uint64(i),
			point: checkpoint.Point{Pos: p.txnStart, Row: pc.idx}, ts: p.txnTs}
		if i == 0 {
			j.deps = deps
		}
		if err := p.send(ctx, w, j); err != nil {
			return err
		}
	}
	p.touched[w] = true
	return nil
}

// commit ends a source transaction at end.
func (p *pipeline) commit(ctx context.Context, end binlog.Position) error {
	// The whole transaction goes to the worker of its first change and
	// commits there in one target transaction: a reader of the target never
	// sees half of a source transaction.
	if len(p.txnBuf) > 0 {
		if err := p.dispatch(ctx, p.route(p.txnBuf[0].change), p.txnBuf, false); err != nil {
			return err
		}
		p.txnBuf = p.txnBuf[:0]
	}
	b := checkpoint.Boundary(end)
	all := time.Since(p.lastBroadcast) >= broadcastEvery
	p.lastEnd, p.broadcasted = end, all
	if all {
		p.lastBroadcast = time.Now()
	}
	for w := range p.workers {
		if p.touched[w] || all {
			if err := p.send(ctx, w, job{kind: jobBoundary, point: b, ts: p.txnTs}); err != nil {
				return err
			}
			p.touched[w] = false
		}
	}
	if p.tracker.Len() > maxInflightKeys {
		p.tracker.Forget(func(o int) uint64 { return p.workers[o].committedSeq.Load() })
		if p.tracker.Len() > maxInflightKeys/2 { // most are still in flight: wait for them
			if err := p.drain(ctx, nil); err != nil {
				return err
			}
		}
	}
	if p.resume != nil && p.resume.PassedBy(end) {
		p.resume = nil // past every stored point: nothing more to skip
		if len(p.workers) != p.want {
			return p.rebalance(ctx, end)
		}
	}
	return nil
}

// rebalance switches to the configured worker count at boundary end.
func (p *pipeline) rebalance(ctx context.Context, end binlog.Position) error {
	if err := p.drain(ctx, &end); err != nil {
		return err
	}
	p.stopWorkers()
	if err := p.inTx(ctx, func(tx *sql.Tx) error { return p.store.SaveAll(ctx, tx, p.want, end) }); err != nil {
		return err
	}
	floors := make([]checkpoint.Point, p.want)
	for i := range floors {
		floors[i] = checkpoint.Boundary(end)
	}
	p.log.Info().Int("workers", p.want).Str("position", end.String()).Msg("worker count changed at a drained boundary")
	p.startWorkers(p.want, floors)
	return nil
}

// inTx runs fn in a transaction that starts with the epoch check.
func (p *pipeline) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return p.store.Meta.InTx(ctx, p.db, p.fence, fn)
}
