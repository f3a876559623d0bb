package syncer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor/sync/causality"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
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
	// deps (on the first change of a transaction) are the other workers'
	// commits the change waits for (causality).
	deps []causality.Dep
}

// checkpointEvery bounds how often an idle worker commits a checkpoint
// that only moved over other workers' transactions.
const checkpointEvery = time.Second

// batchLinger is how long a worker with a short batch and an empty queue
// waits for more changes before it commits. While it replays a backlog
// (its last change is more than catchUpBehind old at the source) it waits
// catchUpLinger: latency does not matter then, and fewer, larger commits
// leave more of the machine to the stream.
const (
	batchLinger   = 3 * time.Millisecond
	catchUpBehind = 2 * time.Second
	catchUpLinger = 20 * time.Millisecond
)

// lingerFor is the linger of a short batch whose last change has source
// timestamp ts.
func lingerFor(ts uint32, now time.Time) time.Duration {
	if ts != 0 && now.Sub(time.Unix(int64(ts), 0)) > catchUpBehind {
		return catchUpLinger
	}
	return batchLinger
}

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
	batch  int
	log    zerolog.Logger
	prog   *progress
	// commits goes to the committer (commit.go), which writes the batch.
	commits chan<- *commitRequest

	// floor is the stored point: markers at or below it are ignored.
	floor checkpoint.Point

	mu        sync.Mutex
	committed checkpoint.Point
	committTs uint32
	pendingTs uint32 // source time of the oldest change not yet committed; 0 when none

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

// oldestPending is the source time of the oldest change the worker holds
// uncommitted, 0 when it holds none.
func (w *worker) oldestPending() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pendingTs
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
		if err := w.commit(ctx, &commitRequest{jobs: pending, point: point, lastSeq: lastSeq}); err != nil {
			return err
		}
		w.mu.Lock()
		w.committed, w.committTs, w.pendingTs = point, ts, 0
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
			if len(pending) == 0 {
				w.mu.Lock()
				w.pendingTs = j.ts
				w.mu.Unlock()
			}
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
				linger = time.After(lingerFor(ts, time.Now()))
			}
		default:
			if err := commit(false); err != nil { // moves an idle checkpoint now and then
				fail(err)
				return
			}
		}
	}
}

// commit hands the batch r (its jobs, point and last sequence number) to
// the pipeline's committer and waits until it is committed
// (or failed).
func (w *worker) commit(ctx context.Context, r *commitRequest) error {
	r.worker, r.of, r.done = w.id, w.of, make(chan error, 1)
	select {
	case w.commits <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
