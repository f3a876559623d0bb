package syncsuite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/full"
	"github.com/dmraft/dmraft/test/mariadb"
)

// seedSQL creates database app on the source: every column type (types),
// a keyed table with a unique key (items), a bulk table that makes the full
// phase last a few seconds (bulk), a keyless table with duplicate rows
// (nokey) and a table for large transactions (big).
func seedSQL(bulkRows int) []string {
	stmts := []string{"CREATE DATABASE app"}
	stmts = append(stmts, full.TypesTable("app")...)
	stmts = append(stmts,
		"SET SESSION sql_mode = DEFAULT",
		"CREATE TABLE app.items (id BIGINT NOT NULL PRIMARY KEY, code VARCHAR(40) NOT NULL, qty INT, note VARCHAR(200), UNIQUE KEY uk_code (code)) DEFAULT CHARSET=utf8mb4",
		"INSERT INTO app.items SELECT seq, CONCAT('c', seq), seq % 97, IF(seq % 5 = 0, NULL, CONCAT('note ', seq, ' é')) FROM app.seq_1_to_2000",
		"CREATE TABLE app.bulk (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, note VARCHAR(64) NULL, KEY (k)) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO app.bulk SELECT seq, seq %% 1000, CONCAT('c-', seq, '-', REPEAT('x', 100)), IF(seq %% 7 = 0, NULL, CONCAT('n', seq)) FROM app.seq_1_to_%d", bulkRows),
		"CREATE TABLE app.nokey (a INT, b VARCHAR(20), c DOUBLE, d DECIMAL(10,3)) ENGINE=InnoDB",
		"INSERT INTO app.nokey SELECT seq % 10, IF(seq % 3 = 0, NULL, CONCAT('v', seq % 5)), seq / 7, (seq % 4) / 3 FROM app.seq_1_to_3000",
		"CREATE TABLE app.big (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40)) ENGINE=InnoDB",
		"CREATE TABLE app.side (id INT NOT NULL PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO app.side SELECT seq, CONCAT('s', seq) FROM app.seq_1_to_3000",
	)
	return stmts
}

// typeCols are the writable columns of app.types (not the generated ones).
const typeCols = "ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec_full, dec_small, f, d, fp, c, vc, tx, l1, l1t, asc_c, bin, vbin, bl, mbl, tbl, lbl, dt, dtm, dtm6, ts, ts6, tm, tm6, yr, js, en, st, b1, b8, b64"

// workload writes to database app of the source, one transaction after
// another, until stopped or maxRounds rounds are done. Each round mixes
// inserts, updates (also of primary and unique keys, moving a row onto a
// key another row just left), deletes, every column type and the keyless
// table; some rounds run a transaction of thousands of rows. After
// startDDL it runs the DDL steps (add/drop column, add index, create,
// rename and drop table), one per round, and adapts its statements.
type workload struct {
	t      *testing.T
	up     *mariadb.Server
	strict bool // an error fails the test (false while servers restart)

	rnd       *rand.Rand
	items     []int64 // live ids of app.items
	nextID    int64
	typeIDs   []int64
	nextType  int64
	ddlStep   int
	bigRounds int

	round    atomic.Int64
	errs     atomic.Int64
	ddl      atomic.Bool // startDDL was called
	ddlDone  atomic.Bool // every DDL step ran
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	lastErr  atomic.Value
}

func newWorkload(t *testing.T, up *mariadb.Server, seed int64) *workload {
	w := &workload{t: t, up: up, strict: true, rnd: rand.New(rand.NewSource(seed)), nextID: 1_000_000, nextType: 1000,
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := int64(1); i <= 2000; i++ {
		w.items = append(w.items, i)
	}
	for i := int64(1); i <= full.TypesTableIDs; i++ {
		w.typeIDs = append(w.typeIDs, i)
	}
	return w
}

// start runs rounds in the background, pausing pause between them.
func (w *workload) start(maxRounds int, pause time.Duration) {
	go func() {
		defer close(w.done)
		db, err := w.up.Open("")
		if err != nil {
			w.t.Error(err)
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		for r := 0; r < maxRounds; r++ {
			select {
			case <-w.stop:
				return
			default:
			}
			if err := w.runRound(db); err != nil {
				w.errs.Add(1)
				w.lastErr.Store(err.Error())
				if w.strict {
					w.t.Errorf("workload round %d: %v", r, err)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			w.round.Add(1)
			if pause > 0 {
				time.Sleep(pause)
			}
		}
	}()
}

// halt stops the workload and waits for its current round.
func (w *workload) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	w.t.Logf("workload: %d rounds, %d failed (last error: %v)", w.round.Load(), w.errs.Load(), w.lastErr.Load())
}

// waitRounds waits until n more rounds than now have run.
func (w *workload) waitRounds(n int64, timeout time.Duration) {
	w.t.Helper()
	target := w.round.Load() + n
	deadline := time.Now().Add(timeout)
	for w.round.Load() < target {
		select {
		case <-w.done:
			w.t.Fatalf("the workload ended after %d rounds, before %d", w.round.Load(), target)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the workload ran %d rounds in %v, want %d", w.round.Load(), timeout, target)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *workload) pick() (int64, int) {
	i := w.rnd.Intn(len(w.items))
	return w.items[i], i
}

// tx runs stmts in one transaction.
func tx(ctx context.Context, db *sql.DB, stmts ...string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = '', time_zone = '+00:00'"); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck
			return fmt.Errorf("%.200s: %w", s, err)
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

func (w *workload) runRound(db *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := w.round.Load()
	extra := w.ddlStep >= 1 // items has column extra

	// items: inserts and updates in one transaction.
	var s []string
	var vals []string
	for range 5 {
		id := w.nextID
		w.nextID++
		w.items = append(w.items, id)
		if extra {
			vals = append(vals, fmt.Sprintf("(%d, 'c%d', %d, 'ins %d', 'x%d')", id, id, w.rnd.Intn(1000), r, r))
		} else {
			vals = append(vals, fmt.Sprintf("(%d, 'c%d', %d, 'ins %d')", id, id, w.rnd.Intn(1000), r))
		}
	}
	s = append(s, "INSERT INTO app.items VALUES "+strings.Join(vals, ", "))
	for range 3 {
		id, _ := w.pick()
		s = append(s, fmt.Sprintf("UPDATE app.items SET qty = qty + %d, note = CONCAT(IFNULL(note, ''), '+') WHERE id = %d", 1+w.rnd.Intn(9), id))
	}
	if err := tx(ctx, db, s...); err != nil {
		return err
	}

	// items: primary-key change, then another row moves onto the freed key
	// (in one transaction), a unique-key change, deletes.
	a, ai := w.pick()
	b, bi := w.pick()
	if a != b {
		n := w.nextID
		w.nextID++
		err := tx(ctx, db,
			fmt.Sprintf("UPDATE app.items SET id = %d WHERE id = %d", n, a),
			fmt.Sprintf("UPDATE app.items SET id = %d, qty = -qty WHERE id = %d", a, b))
		if err != nil {
			return err
		}
		w.items[ai], w.items[bi] = n, a
	}
	c, _ := w.pick()
	if err := tx(ctx, db, fmt.Sprintf("UPDATE app.items SET code = 'r%d-%d' WHERE id = %d", r, c, c)); err != nil {
		return err
	}
	d, di := w.pick()
	if err := tx(ctx, db, fmt.Sprintf("DELETE FROM app.items WHERE id = %d", d)); err != nil {
		return err
	}
	w.items = append(w.items[:di], w.items[di+1:]...)

	// bulk: updates, a delete, an insert (the full phase copies it).
	s = s[:0]
	note := "note = CONCAT('u', k), "
	if w.ddlStep > 2 { // bulk.note was dropped
		note = ""
	}
	for range 4 {
		s = append(s, fmt.Sprintf("UPDATE app.bulk SET %sk = k + 1 WHERE id = %d", note, 1+w.rnd.Intn(50000)))
	}
	s = append(s, fmt.Sprintf("DELETE FROM app.bulk WHERE id = %d", 1+w.rnd.Intn(50000)))
	if w.ddlStep > 2 {
		s = append(s, fmt.Sprintf("INSERT INTO app.bulk (id, k, c) VALUES (%d, %d, 'new') ON DUPLICATE KEY UPDATE k = k + 1", 1_000_000+r, r))
	} else {
		s = append(s, fmt.Sprintf("INSERT INTO app.bulk VALUES (%d, %d, 'new', NULL) ON DUPLICATE KEY UPDATE k = k + 1", 1_000_000+r, r))
	}
	if err := tx(ctx, db, s...); err != nil {
		return err
	}

	// nokey: duplicates in, one of them out, an update of one duplicate.
	x := w.rnd.Intn(10)
	nk := fmt.Sprintf("(%d, 'v%d', %d / 7, 0.5)", x, x%5, x)
	if w.ddlStep > 5 { // nokey has column e
		nk = fmt.Sprintf("(%d, 'v%d', %d / 7, 0.5, %d)", x, x%5, x, r)
	}
	if err := tx(ctx, db,
		"INSERT INTO app.nokey VALUES "+nk+", "+nk+", "+nk,
		fmt.Sprintf("DELETE FROM app.nokey WHERE a = %d LIMIT 1", w.rnd.Intn(10)),
		fmt.Sprintf("UPDATE app.nokey SET d = d + 1 WHERE a = %d LIMIT 2", w.rnd.Intn(10))); err != nil {
		return err
	}

	// types: copies of the edge rows, a key change of a row with every
	// type, updates of text, JSON and bits, a delete.
	if r%3 == 0 {
		src := w.typeIDs[w.rnd.Intn(len(w.typeIDs))]
		n := w.nextType
		w.nextType++
		s = []string{fmt.Sprintf("INSERT INTO app.types (id, %s) SELECT %d, %s FROM app.types WHERE id = %d", typeCols, n, typeCols, src)}
		old := w.typeIDs[w.rnd.Intn(len(w.typeIDs))]
		moved := w.nextType
		w.nextType++
		s = append(s, fmt.Sprintf("UPDATE app.types SET id = %d, vc = CONCAT(IFNULL(vc, ''), 'é'), js = JSON_SET(IFNULL(js, '{}'), '$.r', %d), b8 = b8 ^ 1, tiu = IFNULL(tiu, 0) DIV 2 WHERE id = %d", moved, r, old))
		if err := tx(ctx, db, s...); err != nil {
			return err
		}
		for i, id := range w.typeIDs {
			if id == old {
				w.typeIDs[i] = moved
			}
		}
		w.typeIDs = append(w.typeIDs, n)
		if len(w.typeIDs) > 8 {
			k := w.rnd.Intn(len(w.typeIDs))
			if err := tx(ctx, db, fmt.Sprintf("DELETE FROM app.types WHERE id = %d", w.typeIDs[k])); err != nil {
				return err
			}
			w.typeIDs = append(w.typeIDs[:k], w.typeIDs[k+1:]...)
		}
	}

	// big: a transaction of several thousand rows now and then.
	if r%15 == 5 {
		w.bigRounds++
		var err error
		switch w.bigRounds % 3 {
		case 1:
			// The first one is larger than what the sync unit applies
			// atomically (20k rows): it is split over the workers.
			base, n := w.bigRounds*100000, 6000
			if w.bigRounds == 1 {
				n = 25000
			}
			err = tx(ctx, db, fmt.Sprintf("INSERT INTO app.big SELECT %d + seq, seq, CONCAT('big ', seq) FROM app.seq_1_to_%d", base, n))
		case 2:
			err = tx(ctx, db, "UPDATE app.big SET v = v + 1, s = CONCAT(s, '.')", "DELETE FROM app.big WHERE v % 3 = 0")
		default:
			err = tx(ctx, db, "DELETE FROM app.big WHERE id % 2 = 0", "UPDATE app.big SET id = id + 5 WHERE id % 10 = 1")
		}
		if err != nil {
			return err
		}
	}

	if w.ddl.Load() && !w.ddlDone.Load() {
		if err := w.ddlRound(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// ddlRound runs the next DDL step (and DML on the tables it creates).
func (w *workload) ddlRound(ctx context.Context, db *sql.DB) error {
	steps := [][]string{
		{"ALTER TABLE app.items ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'dflt'"},
		{"ALTER TABLE app.items ADD INDEX idx_qty (qty)"},
		{"ALTER TABLE app.bulk DROP COLUMN note"},
		{"CREATE TABLE app.fresh (id INT PRIMARY KEY, v VARCHAR(20), t DATETIME(3))",
			"INSERT INTO app.fresh SELECT seq, CONCAT('f', seq), '2024-05-05 10:00:00.123' FROM app.seq_1_to_300",
			"CREATE TABLE app.doomed (id INT PRIMARY KEY)", "INSERT INTO app.doomed VALUES (1), (2)"},
		{"UPDATE app.fresh SET v = 'upd' WHERE id % 3 = 0", "RENAME TABLE app.fresh TO app.fresh2",
			"INSERT INTO app.fresh2 VALUES (1000, 'after rename', NULL)", "DELETE FROM app.fresh2 WHERE id % 5 = 0"},
		{"ALTER TABLE app.nokey ADD COLUMN e INT NULL", "DROP TABLE app.doomed",
			"ALTER TABLE app.items DROP INDEX idx_qty"},
	}
	if w.ddlStep >= len(steps) {
		w.ddlDone.Store(true)
		return nil
	}
	for _, s := range steps[w.ddlStep] {
		if err := tx(ctx, db, s); err != nil {
			return err
		}
	}
	w.ddlStep++
	if w.ddlStep == len(steps) {
		w.ddlDone.Store(true)
	}
	return nil
}
