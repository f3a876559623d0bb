package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
	"github.com/dmraft/dmraft/executor/target"
)

// jobKind says what a worker job is.
type jobKind int

const (
	jobChange   jobKind = iota + 1 // apply a change
	jobBoundary                    // every change of the worker before point is queued
	jobFlush                       // commit now and acknowledge
	jobReset                       // the coordinator stored point for every worker (after a DDL)
)

type job struct {
	kind   jobKind
	change *dml.Change
	split  bool   // part of a source transaction too large to apply atomically
	seq    uint64 // the pipeline's sequence number of a change
	point  checkpoint.Point
	ts     uint32 // source timestamp of the event
	ack    chan error
}

// checkpointEvery bounds how often an idle worker commits a checkpoint
// that only moved over other workers' transactions.
const checkpointEvery = time.Second

// batchLinger is how long a worker with a short batch and an empty queue
// waits for more changes before it commits.
const batchLinger = 3 * time.Millisecond

// Under a backlog (more jobs queued behind a full batch) a worker keeps
// taking transactions into the same commit, up to backlogBatches times its
// batch size or backlogBytes of row images: fewer, larger target
// transactions when the target is what holds the stream back. A batch of 1
// (batching off) is never stretched.
const (
	backlogBatches = 4
	backlogBytes   = 8 << 20
)

// worker applies the changes routed to it, in order, in batches.
type worker struct {
	id, of int // worker id and the routing worker count
	in     chan job
	db     *sql.DB
	store  *checkpoint.Store
	fence  target.Fence
	batch  int
	log    zerolog.Logger
	prog   *progress

	// floor is the stored point: markers at or below it are ignored.
	floor checkpoint.Point

	mu        sync.Mutex
	committed checkpoint.Point
	committTs uint32

	// committedSeq is the sequence number of the last change committed.
	committedSeq atomic.Uint64
}

func less(a, b checkpoint.Point) bool {
	if c := a.Pos.Compare(b.Pos); c != 0 {
		return c < 0
	}
	return a.Row < b.Row
}

func (w *worker) committedPoint() (checkpoint.Point, uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.committed, w.committTs
}

// run applies jobs until in is closed or an error; the error goes to fail.
func (w *worker) run(ctx context.Context, fail func(error)) {
	var pending []job // changes not yet committed
	pendingBytes := 0 // their row images' size
	point := w.floor  // the point the next commit writes
	var ts uint32
	mid := false       // inside a source transaction: no commit before its boundary
	var lastSeq uint64 // sequence number of the last change received
	lastCommit := time.Now()
	commit := func(force bool) error {
		if len(pending) == 0 && (point == w.floor || (!force && time.Since(lastCommit) < checkpointEvery)) {
			return nil
		}
		if err := w.commit(ctx, pending, point); err != nil {
			return err
		}
		w.mu.Lock()
		w.committed, w.committTs = point, ts
		w.mu.Unlock()
		w.committedSeq.Store(lastSeq)
		w.prog.addRows(int64(len(pending)))
		w.floor, pending, pendingBytes, lastCommit = point, pending[:0], 0, time.Now()
		return nil
	}
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	var linger <-chan time.Time // set while a short batch waits for more changes
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-w.in:
		case <-linger:
			linger = nil
			if mid {
				continue
			}
			if err := commit(false); err != nil {
				fail(err)
				return
			}
			continue
		case <-tick.C:
			if mid {
				continue
			}
			if err := commit(false); err != nil {
				fail(err)
				return
			}
			continue
		case <-ctx.Done():
			return
		}
		if !ok {
			if err := commit(true); err != nil {
				fail(err)
			}
			return
		}
		switch j.kind {
		case jobChange:
			pending = append(pending, j)
			pendingBytes += j.change.Size()
			point, ts = j.point, j.ts
			mid, lastSeq = !j.split, j.seq
		case jobBoundary:
			mid = false
			if less(point, j.point) {
				point, ts = j.point, j.ts
			}
		case jobFlush:
			err := commit(true)
			j.ack <- err
			if err != nil {
				fail(err)
				return
			}
			continue
		case jobReset:
			point, w.floor = j.point, j.point
			w.mu.Lock()
			w.committed, w.committTs = j.point, j.ts
			w.mu.Unlock()
			j.ack <- nil
			continue
		}
		switch {
		case mid:
		case len(pending) >= w.batch && (len(w.in) == 0 || w.batch == 1 ||
			len(pending) >= backlogBatches*w.batch || pendingBytes >= backlogBytes):
			linger = nil
			if err := commit(false); err != nil {
				fail(err)
				return
			}
		case len(w.in) > 0:
		case len(pending) > 0:
			// The queue ran dry with a short batch: wait a moment for more
			// transactions, so one target commit carries several of them.
			if linger == nil {
				linger = time.After(batchLinger)
			}
		default:
			if err := commit(false); err != nil { // moves an idle checkpoint now and then
				fail(err)
				return
			}
		}
	}
}

// commit writes the batch and the checkpoint in one transaction that starts
// with the epoch check, retrying transient errors.
func (w *worker) commit(ctx context.Context, jobs []job, p checkpoint.Point) error {
	stmts := buildStatements(jobs)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := w.tryCommit(ctx, stmts, p, len(jobs))
		if err == nil {
			return nil
		}
		if !transient(err) || attempt >= 8 || ctx.Err() != nil {
			if errors.Is(err, target.ErrFenced) || ctx.Err() != nil || transient(err) {
				return err
			}
			return w.diagnose(ctx, stmts, err)
		}
		w.log.Warn().Err(err).Int("attempt", attempt).Int("worker", w.id).Msg("transient target error, retrying the batch")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 3*time.Second)
	}
}

// buildStatements builds a batch's statements, merging changes to the
// same row where that is exact (dml.BuildMerged).
func buildStatements(jobs []job) []dml.Statement {
	cs := make([]*dml.Change, len(jobs))
	for i, j := range jobs {
		cs[i] = j.change
	}
	return dml.BuildMerged(cs)
}

// tryCommit writes one batch: BEGIN, the epoch check, the statements, the
// checkpoint and the batch log row in one multi-statement round trip (for
// a batch under dml.MaxStatementBytes), then COMMIT.
func (w *worker) tryCommit(ctx context.Context, stmts []dml.Statement, p checkpoint.Point, rows int) error {
	all := make([]string, 0, len(stmts)+2)
	for _, s := range stmts {
		all = append(all, s.SQL)
	}
	all = append(all, w.store.SaveWorkerSQL(w.id, w.of, p, rows)...)
	return w.store.Meta.WriteFenced(ctx, w.db, w.fence, all, dml.MaxStatementBytes)
}

// diagnose finds the statement the target rejects (running them one by one
// in a transaction that is rolled back) and names its row.
func (w *worker) diagnose(ctx context.Context, stmts []dml.Statement, cause error) error {
	bad := ""
	if tx, err := w.db.BeginTx(ctx, nil); err == nil {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
				bad = s.Changes[0].Describe()
				if len(s.Changes) > 1 {
					bad += fmt.Sprintf(" (or one of the %d other rows of its statement)", len(s.Changes)-1)
				}
				cause = err
				break
			}
		}
		tx.Rollback() //nolint:errcheck // diagnosis only
	}
	if bad == "" {
		bad = fmt.Sprintf("a batch of %d statements", len(stmts))
	}
	return &executor.Error{Code: "TargetRejectedRow", Class: "target",
		Message:    "the target rejected " + bad + "; its transaction and everything after it on this worker wait for the fix",
		Err:        cause,
		Workaround: "fix the target (schema, conflicting row or data type) and `dmctl resume-task`: the row is retried from the checkpoint, no later change is skipped"}
}
