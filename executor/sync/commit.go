package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/dml"
	"github.com/dmraft/dmraft/executor/target"
)

// Group commit. Workers decide what a batch holds and where their
// checkpoint moves; committers write the batches. A committer takes one
// request and every other one already waiting (up to groupBatches
// stretched batches of rows) and writes them in one target transaction: the epoch check, every
// batch's rows (merged per table by dml.BuildMerged), each worker's
// checkpoint and batch log row, then COMMIT. Each worker's batch thus
// still commits atomically with its own checkpoint, which is all the
// replay needs (doc.go); a worker has at most one request in flight, so
// its batches commit in order. Batches of different workers in one
// transaction touch no common key: causality (pipeline.place) keeps a key
// in flight on one worker at a time, so their order inside the
// transaction does not matter.
//
// With syncers.worker-count 16 on a small target, sixteen workers each
// committing a few rows make as many transactions; grouping the batches
// that are ready together cuts the transactions, round trips and
// statements without changing how changes are routed (which the replay
// depends on).

// maxCommitters bounds the target transactions in flight per subtask;
// a group holds up to groupBatches full (stretched) batches. Fewer
// committers than workers make larger groups but queue the commits a
// causality flush waits for, which stalls the reader: with 4 committers
// for 16 workers, bench-sync's steady-state heartbeat lag was p50
// 350-900 ms, p99 1-2 s, against p50 114 ms, p99 452 ms with 16 in the
// same hour (the groups still form whenever commits are slow: 20 rows
// per target transaction against 23).
const (
	maxCommitters = 16
	groupBatches  = 4
)

// committersFor is the number of committers for n workers.
func committersFor(n int) int { return max(1, min(n, maxCommitters)) }

// commitRequest is one worker batch to write.
type commitRequest struct {
	worker, of int
	jobs       []job
	point      checkpoint.Point
	done       chan error // receives the outcome (buffered)
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

// run commits groups of requests until in is closed or ctx ends.
func (c *committer) run(ctx context.Context) {
	for {
		var first *commitRequest
		var ok bool
		select {
		case first, ok = <-c.in:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		group := []*commitRequest{first}
		rows := len(first.jobs)
	more:
		for rows < c.maxRows {
			select {
			case r, ok := <-c.in:
				if !ok {
					break more
				}
				group = append(group, r)
				rows += len(r.jobs)
			default:
				break more
			}
		}
		err := c.commit(ctx, group)
		for _, r := range group {
			r.done <- err
		}
	}
}

// commit writes a group in one transaction, retrying transient errors.
func (c *committer) commit(ctx context.Context, group []*commitRequest) error {
	sort.Slice(group, func(i, j int) bool { return group[i].worker < group[j].worker })
	var changes []*dml.Change
	saves := make([]checkpoint.WorkerSave, 0, len(group))
	for _, r := range group {
		for _, j := range r.jobs {
			changes = append(changes, j.change)
		}
		saves = append(saves, checkpoint.WorkerSave{Worker: r.worker, Workers: r.of, Point: r.point, Rows: len(r.jobs)})
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
