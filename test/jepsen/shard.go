package jepsen

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// The shard workload: two sources, two shard tables on each, merged by
// routes into one target table; DML on every shard and, now and then, the
// same ADD COLUMN on all of them (a shard-DDL lock, pessimistic or
// optimistic).
const (
	shardTarget      = "db_target.t_target"
	shardInitialRows = 50
	shardIDSpan      = 1_000_000_000 // ids of shard n are n*span + seq
)

// shardSources are the source ids of the shard workload.
var shardSources = []string{"jepsen-src1", "jepsen-src2"}

// shardTable is one upstream shard table.
type shardTable struct {
	no   int // 1..4, the id prefix
	db   *sql.DB
	name string // schema.table on its source
	next int64  // the next id's sequence number; only its writer touches it
}

func (s *shardTable) id(seq int64) int64 { return int64(s.no)*shardIDSpan + seq }

// shardWorkload writes to every shard during the faults.
type shardWorkload struct {
	env    *dataEnv
	mode   string // pessimistic | optimistic
	shards []*shardTable

	mu      sync.Mutex
	writes  int
	failed  int
	ddls    int // ADD COLUMN statements that took effect on a shard
	started int // DDL rounds started; settle finishes them all
}

// startShard starts two sources with two shard tables each, and the target.
func startShard(tb harness.TB, mode string) *shardWorkload {
	env := startServers(tb, shardSources...)
	w := &shardWorkload{env: env, mode: mode}
	ctx := context.Background()
	for i := range env.ups {
		schema := fmt.Sprintf("shard_db_%d", i+1)
		stmts := []string{"CREATE DATABASE " + schema}
		for j := 1; j <= 2; j++ {
			s := &shardTable{no: len(w.shards) + 1, db: env.upDBs[i], name: fmt.Sprintf("%s.t_%d", schema, j)}
			stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s (id BIGINT NOT NULL PRIMARY KEY, shard INT NOT NULL, v INT NOT NULL, note VARCHAR(32))", s.name))
			for ; s.next < shardInitialRows; s.next++ {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, 0, 'initial')", s.name, s.id(s.next), s.no))
			}
			w.shards = append(w.shards, s)
		}
		if err := env.ups[i].ExecSQL(ctx, stmts...); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// setUpShard registers both sources and starts the merging task.
func setUpShard(tb harness.TB, c *harness.Cluster, w *shardWorkload) *taskSpec {
	w.env.registerSources(tb, c)
	spec := &taskSpec{name: taskName, sources: w.env.sources, yaml: func(workers int) string {
		text := fmt.Sprintf("name: %s\ntask-mode: all\nshard-mode: %s\n%smysql-instances:\n", taskName, w.mode, w.env.targetYAML())
		for _, id := range w.env.sources {
			text += fmt.Sprintf("  - source-id: %s\n    block-allow-list: bal\n    route-rules: [tables, schemas]\n    syncer-config-name: sy\n", id)
		}
		return text + fmt.Sprintf(`block-allow-list:
  bal:
    do-dbs: ["~^shard_db_"]
routes:
  tables: {schema-pattern: "shard_db_*", table-pattern: "t_*", target-schema: db_target, target-table: t_target}
  schemas: {schema-pattern: "shard_db_*", target-schema: db_target}
syncers:
  sy: {worker-count: %d, batch: 50}
`, workers)
	}}
	c.MustDmctl("start-task", harness.WriteFile(tb, c.Dir(), "task.yaml", spec.yaml(4)))
	return spec
}

func (w *shardWorkload) run(stop <-chan struct{}, seed int64) {
	var wg sync.WaitGroup
	for _, s := range w.shards {
		wg.Add(1)
		go func(s *shardTable) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*37 + int64(s.no)))
			for {
				select {
				case <-stop:
					return
				case <-time.After(8 * time.Millisecond):
				}
				w.dml(rng, s)
			}
		}(s)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Second):
			}
			w.mu.Lock()
			w.started++
			round := w.started
			w.mu.Unlock()
			// Every shard gets the column; a failure (a fault) is retried
			// until the run stops, and settle finishes the rest.
			for _, s := range w.shards {
				for w.addColumn(s, round) != nil {
					select {
					case <-stop:
						return
					case <-time.After(500 * time.Millisecond):
					}
				}
			}
		}
	}()
	wg.Wait()
}

// dml inserts, updates or deletes one row of a shard.
func (w *shardWorkload) dml(rng *rand.Rand, s *shardTable) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var err error
	switch r := rng.Intn(10); {
	case r < 6:
		_, err = s.db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (id, shard, v, note) VALUES (?, ?, ?, 'dml')", s.name), s.id(s.next), s.no, rng.Intn(1000))
		s.next++ // an id is never sent twice, whatever the answer was
	case r < 9:
		_, err = s.db.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET v = v + 1, note = 'updated' WHERE id = ?", s.name), s.id(rng.Int63n(s.next)))
	default:
		_, err = s.db.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE id = ?", s.name), s.id(rng.Int63n(s.next)))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failed++
		return
	}
	w.writes++
}

// addColumn adds column c<round> to a shard unless it has it already (an
// ALTER whose answer was lost may have run).
func (w *shardWorkload) addColumn(s *shardTable, round int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	col := fmt.Sprintf("c%d", round)
	var n int
	schema, table := splitName(s.name)
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?", schema, table, col).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s INT DEFAULT %d", s.name, col, round)); err != nil {
		return err
	}
	w.mu.Lock()
	w.ddls++
	w.mu.Unlock()
	return nil
}

// settle finishes every DDL round that started: all shards end with the
// same columns, or the shard-DDL lock could never resolve.
func (w *shardWorkload) settle(ctx context.Context) error {
	w.mu.Lock()
	rounds := w.started
	w.mu.Unlock()
	for round := 1; round <= rounds; round++ {
		for _, s := range w.shards {
			var err error
			if !harness.Eventually(time.Minute, func() bool { err = w.addColumn(s, round); return err == nil || ctx.Err() != nil }) || ctx.Err() != nil {
				return fmt.Errorf("add column c%d to %s: %v", round, s.name, err)
			}
		}
	}
	return nil
}

// diff compares the target table with the union of the shards by id.
func (w *shardWorkload) diff(ctx context.Context) map[string]tableDiff {
	union := map[string][]string{}
	for _, s := range w.shards {
		rows, err := tableRows(ctx, s.db, s.name, true)
		if err != nil {
			return map[string]tableDiff{shardTarget: {err: s.name + ": " + err.Error()}}
		}
		for id, r := range rows {
			union[id] = append(union[id], r...)
		}
	}
	got, err := tableRows(ctx, w.env.downDB, shardTarget, true)
	if err != nil {
		return map[string]tableDiff{shardTarget: {err: "target: " + err.Error()}}
	}
	return map[string]tableDiff{shardTarget: diffRows(union, got)}
}

// check fills the shard workload's part of the report.
func (w *shardWorkload) check(_ context.Context, r *Report) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.DataOps = fmt.Sprintf("%d inserts/updates/deletes on %d shards of %d sources, %d ADD COLUMN (%d rounds, %s), %d failed (faults)",
		w.writes, len(w.shards), len(w.env.ups), w.ddls, w.started, w.mode, w.failed)
}

func splitName(name string) (schema, table string) {
	for i := range name {
		if name[i] == '.' {
			return name[:i], name[i+1:]
		}
	}
	return "", name
}
