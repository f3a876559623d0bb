package jepsen

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// Bank: accounts whose balances always sum to bankTotal on the source,
// in every committed transaction; every read of the target must too.
const (
	bankAccounts = 8
	bankTotal    = bankAccounts * 1000
	dataSchema   = "jepsen"
)

// dataTables are compared source against target at the end.
var dataTables = []string{"bank", "sets", "nokey", "ddl_t"}

// dataEnv is the source and target of the data workloads.
type dataEnv struct {
	up, down *mariadb.Server
	upDB     *sql.DB
	downDB   *sql.DB
}

func startData(tb harness.TB) *dataEnv {
	ctx := context.Background()
	start := func(o mariadb.Options) *mariadb.Server {
		s, err := mariadb.StartServer(ctx, o)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	if err := mariadb.EnsureInstalled(); err != nil {
		tb.Fatal(err)
	}
	e := &dataEnv{up: start(mariadb.Options{Name: "jepsen-source", Binlog: true}), down: start(mariadb.Options{Name: "jepsen-target"})}
	var err error
	if e.upDB, err = e.up.Open(""); err != nil {
		tb.Fatal(err)
	}
	if e.downDB, err = e.down.Open(""); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.upDB.Close(); e.downDB.Close() })
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
	if err := e.up.ExecSQL(ctx, stmts...); err != nil {
		tb.Fatal(err)
	}
	return e
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
	tx, err := w.env.upDB.BeginTx(ctx, nil)
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
	_, err := w.env.upDB.ExecContext(ctx, "INSERT INTO jepsen.sets VALUES (?, ?)", id, client)
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
	_, err := w.env.upDB.ExecContext(ctx, q, args...)
	w.count(err, &w.writes)
}

// ddl adds a column to ddl_t, then writes a row that uses it.
func (w *dataWorkload) ddl(_ *rand.Rand, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	col := fmt.Sprintf("c%d", i)
	_, err := w.env.upDB.ExecContext(ctx, fmt.Sprintf("ALTER TABLE jepsen.ddl_t ADD COLUMN %s INT DEFAULT %d", col, i))
	if err == nil {
		_, err = w.env.upDB.ExecContext(ctx, fmt.Sprintf("INSERT INTO jepsen.ddl_t (id, v, %s) VALUES (?, ?, ?)", col), 100+i, i, i)
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

// rowHashes returns the multiset of a table's rows (hash -> count).
func rowHashes(ctx context.Context, db *sql.DB, table string) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+dataSchema+"."+mariadb.QuoteIdent(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return cols[order[a]] < cols[order[b]] })
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := map[string]int{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var parts []string
		for _, i := range order {
			v := "NULL"
			if vals[i].Valid {
				v = fmt.Sprintf("%q", vals[i].String)
			}
			parts = append(parts, cols[i]+"="+v)
		}
		sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
		out[fmt.Sprintf("%x", sum[:8])]++
	}
	return out, rows.Err()
}

// tableDiff compares one table: rows missing on the target (lost), rows
// only on the target or more often there (duplicated or divergent).
type tableDiff struct {
	lost, extra int
	err         string
}

func diffTable(ctx context.Context, env *dataEnv, table string) tableDiff {
	src, err := rowHashes(ctx, env.upDB, table)
	if err != nil {
		return tableDiff{err: "source: " + err.Error()}
	}
	dst, err := rowHashes(ctx, env.downDB, table)
	if err != nil {
		return tableDiff{err: "target: " + err.Error()}
	}
	var d tableDiff
	for h, n := range src {
		if dst[h] < n {
			d.lost += n - dst[h]
		}
	}
	for h, n := range dst {
		if src[h] < n {
			d.extra += n - src[h]
		}
	}
	return d
}

// waitEqual polls until every data table is equal on both sides, or bound
// passes; it returns the last differences.
func waitEqual(env *dataEnv, bound time.Duration) (map[string]tableDiff, time.Duration) {
	start := time.Now()
	var last map[string]tableDiff
	harness.Eventually(bound, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		last = map[string]tableDiff{}
		equal := true
		for _, t := range dataTables {
			d := diffTable(ctx, env, t)
			last[t] = d
			equal = equal && d.lost == 0 && d.extra == 0 && d.err == ""
		}
		return equal
	})
	return last, time.Since(start)
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

// checkBatchEpochs reads the sync unit's batch log on the target: in commit
// order (its auto-increment id is taken inside the epoch-checked
// transaction) the epoch of one source never goes down.
func checkBatchEpochs(ctx context.Context, env *dataEnv) (batches int, problems []string, err error) {
	rows, err := env.downDB.QueryContext(ctx, "SELECT id, source, epoch FROM dm_meta.dmraft_sync_batches ORDER BY id")
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	maxEpoch := map[string]uint64{}
	for rows.Next() {
		var id int64
		var source string
		var epoch uint64
		if err := rows.Scan(&id, &source, &epoch); err != nil {
			return 0, nil, err
		}
		batches++
		if epoch < maxEpoch[source] {
			problems = append(problems, fmt.Sprintf("batch %d of %s committed at epoch %d after epoch %d had written", id, source, epoch, maxEpoch[source]))
		}
		if epoch > maxEpoch[source] {
			maxEpoch[source] = epoch
		}
	}
	return batches, problems, rows.Err()
}
