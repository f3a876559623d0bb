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

// Bank: accounts whose balances always sum to bankTotal on the source,
// in every committed transaction; every read of the target must too.
const (
	bankAccounts = 8
	bankTotal    = bankAccounts * 1000
	dataSchema   = "jepsen"
)

// dataTables are compared source against target at the end; keyed ones
// by their id column.
var dataTables = []struct {
	name  string
	keyed bool
}{{"bank", true}, {"sets", true}, {"nokey", false}, {"ddl_t", true}}

// dataSource is the source the default workload's task runs on.
const dataSource = "jepsen-src"

// taskName is the task of every workload.
const taskName = "jepsen"

// startData starts the source and target of the default workload and
// creates its tables.
func startData(tb harness.TB) *dataEnv {
	e := startServers(tb, dataSource)
	stmts := []string{
		"CREATE DATABASE " + dataSchema,
		"CREATE TABLE jepsen.bank (id INT PRIMARY KEY, balance BIGINT NOT NULL)",
		"CREATE TABLE jepsen.sets (id BIGINT PRIMARY KEY, client INT)",
		"CREATE TABLE jepsen.nokey (k INT, v INT, note VARCHAR(20))",
		"CREATE TABLE jepsen.ddl_t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO jepsen.ddl_t VALUES (1, 1), (2, 2), (3, 3)",
	}
	for i := 0; i < bankAccounts; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO jepsen.bank VALUES (%d, %d)", i, bankTotal/bankAccounts))
	}
	if err := e.ups[0].ExecSQL(context.Background(), stmts...); err != nil {
		tb.Fatal(err)
	}
	return e
}

// setUp registers the source and a task in mode all that copies it to the
// target and then follows its binlog.
func setUp(tb harness.TB, c *harness.Cluster, env *dataEnv) *taskSpec {
	env.registerSources(tb, c)
	spec := &taskSpec{name: taskName, sources: env.sources, yaml: func(workers int) string {
		return fmt.Sprintf(`name: %s
task-mode: all
%smysql-instances:
  - source-id: %s
    block-allow-list: only
    syncer-config-name: sy
block-allow-list:
  only:
    do-dbs: ["%s"]
syncers:
  sy: {worker-count: %d}
`, taskName, env.targetYAML(), dataSource, dataSchema, workers)
	}}
	c.MustDmctl("start-task", harness.WriteFile(tb, c.Dir(), "task.yaml", spec.yaml(4)))
	return spec
}

// dataWorkload writes to the source and reads the target while faults go on.
type dataWorkload struct {
	env *dataEnv

	mu            sync.Mutex
	acked         map[int64]bool // set ids the source acknowledged
	attempted     map[int64]bool // set ids ever sent
	transfers     int
	writes        int
	failed        int
	bankReads     int
	bankViolation []string
	ddls          int
}

func newDataWorkload(env *dataEnv) *dataWorkload {
	return &dataWorkload{env: env, acked: map[int64]bool{}, attempted: map[int64]bool{}}
}

func (w *dataWorkload) run(stop <-chan struct{}, seed int64) {
	var wg sync.WaitGroup
	loop := func(id int, every time.Duration, step func(*rand.Rand, int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*31 + int64(id)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(every):
				}
				step(rng, i)
			}
		}()
	}
	loop(1, 5*time.Millisecond, w.transfer)
	loop(2, 5*time.Millisecond, w.transfer)
	loop(3, 5*time.Millisecond, func(r *rand.Rand, i int) { w.insertSet(3, int64(3_000_000+i)) })
	loop(4, 5*time.Millisecond, func(r *rand.Rand, i int) { w.insertSet(4, int64(4_000_000+i)) })
	loop(5, 10*time.Millisecond, w.keyless)
	loop(6, 7*time.Second, w.ddl)
	loop(7, 100*time.Millisecond, func(*rand.Rand, int) { w.readBank() })
	wg.Wait()
}

func (w *dataWorkload) count(err error, ok *int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failed++
		return
	}
	*ok++
}

func (w *dataWorkload) transfer(rng *rand.Rand, _ int) {
	a, b := rng.Intn(bankAccounts), rng.Intn(bankAccounts)
	if a == b {
		return
	}
	amount := 1 + rng.Intn(50)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tx, err := w.env.upDBs[0].BeginTx(ctx, nil)
	if err == nil {
		_, err = tx.ExecContext(ctx, "UPDATE jepsen.bank SET balance = balance - ? WHERE id = ?", amount, a)
		if err == nil {
			_, err = tx.ExecContext(ctx, "UPDATE jepsen.bank SET balance = balance + ? WHERE id = ?", amount, b)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	w.count(err, &w.transfers)
}

func (w *dataWorkload) insertSet(client int, id int64) {
	w.mu.Lock()
	w.attempted[id] = true
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := w.env.upDBs[0].ExecContext(ctx, "INSERT INTO jepsen.sets VALUES (?, ?)", id, client)
	if err == nil {
		w.mu.Lock()
		w.acked[id] = true
		w.mu.Unlock()
	}
	w.count(err, &w.writes)
}

// keyless changes a table without any key: inserts (with duplicates),
// single-row updates and deletes.
func (w *dataWorkload) keyless(rng *rand.Rand, _ int) {
	k := rng.Intn(20)
	var q string
	var args []any
	switch rng.Intn(4) {
	case 0, 1:
		q, args = "INSERT INTO jepsen.nokey VALUES (?, ?, ?)", []any{k, rng.Intn(3), "dup"}
	case 2:
		q, args = "UPDATE jepsen.nokey SET v = v + 1 WHERE k = ? LIMIT 1", []any{k}
	default:
		q, args = "DELETE FROM jepsen.nokey WHERE k = ? LIMIT 1", []any{k}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := w.env.upDBs[0].ExecContext(ctx, q, args...)
	w.count(err, &w.writes)
}

// ddl adds a column to ddl_t, then writes a row that uses it.
func (w *dataWorkload) ddl(_ *rand.Rand, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	col := fmt.Sprintf("c%d", i)
	_, err := w.env.upDBs[0].ExecContext(ctx, fmt.Sprintf("ALTER TABLE jepsen.ddl_t ADD COLUMN %s INT DEFAULT %d", col, i))
	if err == nil {
		_, err = w.env.upDBs[0].ExecContext(ctx, fmt.Sprintf("INSERT INTO jepsen.ddl_t (id, v, %s) VALUES (?, ?, ?)", col), 100+i, i, i)
	}
	w.count(err, &w.ddls)
}

// readBank reads the target's balances; once all accounts are there, they
// must always sum to the total.
func (w *dataWorkload) readBank() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	var sum sql.NullInt64
	if err := w.env.downDB.QueryRowContext(ctx, "SELECT COUNT(*), SUM(balance) FROM jepsen.bank").Scan(&n, &sum); err != nil || n == 0 {
		return // not copied yet, or the target is down
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bankReads++
	if n != bankAccounts || sum.Int64 != bankTotal {
		w.bankViolation = append(w.bankViolation, fmt.Sprintf("%s: target has %d accounts summing to %d (want %d, %d)",
			time.Now().Format("15:04:05.000"), n, sum.Int64, bankAccounts, bankTotal))
	}
}

// checkSet: every acknowledged id is on the target exactly once, and no id
// appears that was never sent.
func (w *dataWorkload) checkSet(ctx context.Context) (lost, unexpected int, err error) {
	rows, err := w.env.downDB.QueryContext(ctx, "SELECT id FROM jepsen.sets")
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	seen := map[int64]int{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, 0, err
		}
		seen[id]++
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.acked {
		if seen[id] != 1 {
			lost++
		}
	}
	for id := range seen {
		if !w.attempted[id] {
			unexpected++
		}
	}
	return lost, unexpected, rows.Err()
}

// diff compares every data table, source against target.
func (w *dataWorkload) diff(ctx context.Context) map[string]tableDiff {
	out := map[string]tableDiff{}
	for _, t := range dataTables {
		name := dataSchema + "." + t.name
		src, err := tableRows(ctx, w.env.upDBs[0], name, t.keyed)
		if err != nil {
			out[name] = tableDiff{err: "source: " + err.Error()}
			continue
		}
		dst, err := tableRows(ctx, w.env.downDB, name, t.keyed)
		if err != nil {
			out[name] = tableDiff{err: "target: " + err.Error()}
			continue
		}
		out[name] = diffRows(src, dst)
	}
	return out
}

// settle has nothing to finish: every statement stands on its own.
func (w *dataWorkload) settle(context.Context) error { return nil }

// check fills the set and bank parts of the report.
func (w *dataWorkload) check(ctx context.Context, r *Report) {
	lost, unexpected, err := w.checkSet(ctx)
	if err != nil {
		r.DataProblems = append(r.DataProblems, "set: "+err.Error())
	}
	r.SetChecked, r.SetLost, r.SetUnexpected = true, lost, unexpected
	if lost > 0 || unexpected > 0 {
		r.DataProblems = append(r.DataProblems, fmt.Sprintf("set: %d acknowledged ids not exactly once on the target, %d ids never sent", lost, unexpected))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r.BankChecked, r.BankReads, r.BankViolations = true, w.bankReads, w.bankViolation
	r.DataOps = fmt.Sprintf("%d transfers, %d inserts/updates/deletes, %d DDL, %d failed (faults)", w.transfers, w.writes, w.ddls, w.failed)
}
