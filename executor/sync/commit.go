package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/causality"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
	"github.com/dmraft/dmraft/executor/target"
)

// Group commit. Workers decide what a batch holds and where their
// checkpoint moves; the committer writes the batches. It collects the
// batches the workers hand in and writes as many as it can in one target
// transaction: the epoch check, the rows of every batch (in binlog order,
// merged per table by dml.BuildMerged), each worker's checkpoint and batch
// log row, then COMMIT. Each worker's batch thus still commits atomically
// with its own checkpoint, which is all the replay needs (doc.go); a
// worker has at most one batch in flight, so its batches commit in order.
//
// Causality: a change whose key is in flight on another worker depends on
// that worker's commit up to the earlier change (causality.Tracker.Place);
// each change carries its dependencies. A group writes a change only
// when every dependency is committed or written before it in the group: changes of one
// key then reach the target in binlog order, since the group's changes
// are written in sequence-number (binlog) order. Two groups in flight at
// once therefore share no key. A batch whose change waits for a change
// outside the group is written in parts: up to that change now, the rest
// later (pickGroup). Dependencies point to earlier changes, and a worker
// hands in what it holds when its batch is full or after a linger,
// without waiting for anything, so every batch is written eventually.
//
// Fewer, larger transactions are what a target does fastest (bench-sync
// on 2 cores: 12 ms of target CPU per 1000 rows at 350 rows per
// transaction, 33-50 ms at 5-7). The reader never waits for a commit
// unless a worker's queue is full.

// maxInflightGroups bounds the target transactions in flight per subtask:
// two let the committer build the next group while one is written.
const maxInflightGroups = 2

// groupRowsPerBatch scales the rows of one group: up to that many
// (stretched) worker batches.
const groupRowsPerBatch = 4

// commitRequest is one worker batch to write.
type commitRequest struct {
	worker, of int
	jobs       []job
	point      checkpoint.Point
	lastSeq    uint64     // sequence number of the worker's last change so far
	done       chan error // receives the outcome (buffered)

	written  int  // jobs already committed (the committer writes a batch in parts when it must)
	busy     bool // a part is being written
	finished bool // done was sent
}

// part is the piece of a request a group writes: jobs[from:to].
type part struct {
	r        *commitRequest
	from, to int
}

// jobs of the part.
func (p part) jobs() []job { return p.r.jobs[p.from:p.to] }

// lastSeq is the sequence number the worker has committed once the part is.
func (p part) lastSeq() uint64 {
	if p.to == len(p.r.jobs) {
		return p.r.lastSeq
	}
	return p.r.jobs[p.to-1].seq
}

// point is the worker's checkpoint once the part is committed: the
// request's point, or the identity of the part's last change (a part ends
// where a source transaction ends: before a change with dependencies,
// which is the first of its transaction or of a split one).
func (p part) point() checkpoint.Point {
	if p.to == len(p.r.jobs) {
		return p.r.point
	}
	return p.r.jobs[p.to-1].point
}

// committer writes commit requests in groups.
type committer struct {
	db      *sql.DB
	store   *checkpoint.Store
	fence   target.Fence
	log     zerolog.Logger
	in      <-chan *commitRequest
	maxRows int // rows of one group (a single request may exceed it)
}

type groupResult struct {
	group []part
	err   error
}

// run commits groups of requests until in is closed (and every group in
// flight is done) or ctx ends.
func (c *committer) run(ctx context.Context) {
	committed := map[int]uint64{} // per worker: sequence number committed
	var waiting []*commitRequest
	results := make(chan groupResult, maxInflightGroups)
	inflight, closed := 0, false
	for {
		for inflight < maxInflightGroups {
			group := pickGroup(waiting, committed, c.maxRows)
			if len(group) == 0 {
				break
			}
			for _, p := range group {
				p.r.busy = true
			}
			inflight++ // finishGroup clears busy
			go func() { results <- groupResult{group, c.commit(ctx, group)} }()
		}
		if closed && inflight == 0 {
			return
		}
		in := c.in
		if closed {
			in = nil
		}
		select {
		case r, ok := <-in:
			if !ok {
				closed = true
				continue
			}
			waiting = append(waiting, r)
		more:
			for {
				select {
				case r, ok := <-in:
					if !ok {
						closed = true
						break more
					}
					waiting = append(waiting, r)
				default:
					break more
				}
			}
		case res := <-results:
			inflight--
			finishGroup(res.group, res.err, committed)
			waiting = slices.DeleteFunc(waiting, func(r *commitRequest) bool { return r.finished })
		case <-ctx.Done():
			return
		}
	}
}

// finishGroup records the outcome of a group: its requests' parts are
// committed (committed moves) or failed, and each request whose last part
// is done, or that failed, hears of it.
func finishGroup(group []part, err error, committed map[int]uint64) {
	for _, p := range group {
		r := p.r
		r.busy = false
		if err != nil {
			r.finished = true
			r.done <- err
			continue
		}
		committed[r.worker] = max(committed[r.worker], p.lastSeq())
		r.written = p.to
		if p.to == len(r.jobs) {
			r.finished = true
			r.done <- nil
		}
	}
}

// pickGroup chooses what the next group writes: the waiting requests
// that are not being written, oldest first up to about maxRows, each cut
// before its first change with a dependency that is neither committed nor
// written by the group (empty parts are left out). The oldest change
// waiting can always go once what it depends on is committed, so every
// batch is written eventually.
func pickGroup(waiting []*commitRequest, committed map[int]uint64, maxRows int) []part {
	var cands []*commitRequest
	for _, r := range waiting {
		if !r.busy && !r.finished {
			cands = append(cands, r)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return firstSeq(cands[i]) < firstSeq(cands[j]) })
	in := make(map[int]*part, len(cands))
	rows := 0
	for _, r := range cands {
		n := len(r.jobs) - r.written
		if len(in) > 0 && rows+n > maxRows {
			break
		}
		in[r.worker] = &part{r: r, from: r.written, to: len(r.jobs)}
		rows += n
	}
	met := func(d causality.Dep) bool {
		if committed[d.Worker] >= d.Seq {
			return true
		}
		o, ok := in[d.Worker]
		return ok && o.to > o.from && o.lastSeq() >= d.Seq
	}
	for changed := true; changed; {
		changed = false
		for _, p := range in {
			for i := p.from; i < p.to; i++ {
				if !all(p.r.jobs[i].deps, met) {
					p.to, changed = i, true
					break
				}
			}
		}
	}
	var group []part
	for _, r := range cands {
		if p, ok := in[r.worker]; ok && (p.to > p.from || len(r.jobs) == 0) {
			group = append(group, *p)
		}
	}
	return group
}

func all(deps []causality.Dep, ok func(causality.Dep) bool) bool {
	for _, d := range deps {
		if !ok(d) {
			return false
		}
	}
	return true
}

// firstSeq is the sequence number of a request's first change not yet
// written (its last one for a request without changes).
func firstSeq(r *commitRequest) uint64 {
	if r.written < len(r.jobs) {
		return r.jobs[r.written].seq
	}
	return r.lastSeq
}

// commit writes a group in one transaction, retrying transient errors.
func (c *committer) commit(ctx context.Context, group []part) error {
	sort.Slice(group, func(i, j int) bool { return group[i].r.worker < group[j].r.worker })
	var jobs []job
	saves := make([]checkpoint.WorkerSave, 0, len(group))
	for _, p := range group {
		jobs = append(jobs, p.jobs()...)
		saves = append(saves, checkpoint.WorkerSave{Worker: p.r.worker, Workers: p.r.of, Point: p.point(), Rows: p.to - p.from})
	}
	if len(group) > 1 {
		sort.Slice(jobs, func(i, j int) bool { return jobs[i].seq < jobs[j].seq })
	}
	changes := make([]*dml.Change, len(jobs))
	for i, j := range jobs {
		changes[i] = j.change
	}
	stmts := dml.BuildMerged(changes)
	sqls := make([]string, 0, len(stmts)+2)
	for _, s := range stmts {
		sqls = append(sqls, s.SQL)
	}
	sqls = append(sqls, c.store.SaveWorkersSQL(saves)...)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.store.Meta.WriteFenced(ctx, c.db, c.fence, sqls, dml.MaxStatementBytes)
		if err == nil {
			return nil
		}
		if !transient(err) || attempt >= 8 || ctx.Err() != nil {
			if errors.Is(err, target.ErrFenced) || ctx.Err() != nil || transient(err) {
				return err
			}
			return c.diagnose(ctx, stmts, err)
		}
		c.log.Warn().Err(err).Int("attempt", attempt).Int("batches", len(group)).Msg("transient target error, retrying the batch")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 3*time.Second)
	}
}

// diagnose finds the statement the target rejects (running them one by one
// in a transaction that is rolled back) and names its row.
func (c *committer) diagnose(ctx context.Context, stmts []dml.Statement, cause error) error {
	bad := ""
	if tx, err := c.db.BeginTx(ctx, nil); err == nil {
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
