package shard

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func (s *shard) insert(ctx context.Context) error {
	n := s.seq.Add(1)
	id := int64(s.no)*10_000_000 + n
	_, err := s.db.ExecContext(ctx, "INSERT INTO "+s.name()+" (id, shard, v, note) VALUES (?, ?, ?, ?)", id, s.no, n, fmt.Sprintf("row %d", n))
	return err
}

// op runs one random change on the shard: insert, update (of the extra
// columns too once they exist) or delete.
func (s *shard) op(ctx context.Context, r *rand.Rand) error {
	n := s.seq.Load()
	id := int64(s.no)*10_000_000 + 1 + r.Int63n(max(n, 1))
	switch x := r.Intn(10); {
	case x < 5:
		return s.insert(ctx)
	case x < 9:
		set := "v = v + 1"
		if c := s.cols.Load(); c >= 1 {
			set += ", c1 = v"
			if c >= 2 {
				set += ", c2 = CONCAT('c2-', v)"
			}
		}
		_, err := s.db.ExecContext(ctx, "UPDATE "+s.name()+" SET "+set+" WHERE id = ?", id)
		return err
	default:
		_, err := s.db.ExecContext(ctx, "DELETE FROM "+s.name()+" WHERE id = ?", id)
		return err
	}
}

// writers runs DML on every shard until stop is called or each shard did
// maxOps changes.
func (e *env) writers(maxOps int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, s := range e.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(s.no)))
			for i := 0; i < maxOps && ctx.Err() == nil; i++ {
				s.mu.Lock()
				if s.dropped != nil {
					s.mu.Unlock()
					return
				}
				err := s.op(ctx, r)
				s.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					failed.Store(fmt.Errorf("%s: %w", s.name(), err))
					return
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			e.t.Fatalf("writer failed: %v", err)
		}
	}
}

// alter runs a DDL on one shard; the writer of the shard sees the new
// column count from then on.
func (e *env) alter(s *shard, ddl string, cols int32) {
	e.t.Helper()
	e.t.Logf("%s: %s", s.name(), ddl)
	s.src.Exec(e.t, "ALTER TABLE "+s.name()+" "+ddl)
	if cols > 0 {
		s.cols.Store(cols)
	}
}

// addColumnEverywhere adds a column (definition "name TYPE ...") to the
// shards in order, 100 ms apart, and waits until the target has it and
// the lock is gone; cols is the column count from then on.
func (e *env) addColumnEverywhere(s []*shard, definition string, cols int32, order []int) {
	e.t.Helper()
	for _, i := range order {
		e.alter(s[i], "ADD COLUMN "+definition, cols)
		time.Sleep(100 * time.Millisecond)
	}
	name, _, _ := strings.Cut(definition, " ")
	e.waitTargetColumn(name, true, 60*time.Second)
	e.waitNoLock(60 * time.Second)
}

// drop stops the shard's writer and drops its table upstream. The rows it
// had stay on the target: shard mode does not replicate the DROP.
func (e *env) drop(s *shard) {
	e.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := rowsOf(context.Background(), s.db, s.name())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("%s: DROP TABLE (%d rows)", s.name(), len(rows))
	s.src.Exec(e.t, "DROP TABLE "+s.name())
	s.dropped = rows
}
