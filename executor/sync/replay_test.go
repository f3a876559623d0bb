package syncer

import (
	"context"
	"testing"

	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/causality"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestReplayMidSplitTransaction: the keyless table's worker stopped inside
// a source transaction too large to apply atomically (its point is (T2,
// row 99)), while the other workers stand before the transaction T1 just
// before it. The replay starts at T1; the end of T1 is the start of T2,
// and the skipping must go on through T2: the 100 committed rows of T2 are
// not applied again. (test/sync's TestKillMidTransaction found this: the
// replay stopped skipping at the end of T1 and doubled the rows.)
func TestReplayMidSplitTransaction(t *testing.T) {
	servers := mariadb.StartMany(t, mariadb.Options{Binlog: true}, mariadb.Options{})
	up, down := servers[0], servers[1]
	setup(t, up, false)
	setup(t, down, true)
	udb, ddb := up.DB(t), down.DB(t)
	file, p1 := masterPos(t, udb)
	exec(t, udb, "INSERT INTO app.items (id, code, qty) VALUES (1, 't1', 1)")
	_, p2 := masterPos(t, udb)
	const rows = maxAtomicRows + 5000
	exec(t, udb, "BEGIN", "INSERT INTO app.nokey (a, b) SELECT seq % 10, 'h' FROM app.seq_1_to_25000", "COMMIT")
	if rows != 25000 {
		t.Fatalf("adjust the transaction to %d rows", rows)
	}
	// What the stopped owner committed: rows 0..99 of T2, on worker kw.
	exec(t, ddb, "INSERT INTO app.nokey (a, b) SELECT seq % 10, 'h' FROM app.seq_1_to_100")
	ctx := context.Background()
	meta := target.Meta{Schema: "dm_meta"}
	store := &checkpoint.Store{Meta: meta, Fence: target.Fence{Task: "t1", Source: "src1", Incarnation: 2000, Epoch: 1}}
	if err := meta.Ensure(ctx, ddb); err != nil {
		t.Fatal(err)
	}
	if err := store.Ensure(ctx, ddb); err != nil {
		t.Fatal(err)
	}
	kw := causality.Worker("app.nokey", 4)
	tx, err := ddb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		pt := checkpoint.Boundary(binlog.Position{Name: file, Pos: p1})
		if w == kw {
			pt = checkpoint.Point{Pos: binlog.Position{Name: file, Pos: p2}, Row: 99}
		}
		if err := store.SaveWorker(ctx, tx, w, 4, pt, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	a, task := incremental(t, up, down, file, p1, 4, 1)
	start(t, a, task)
	converge(t, up, down, [][2]string{{"app.nokey", "app.nokey"}, {"app.items", "app.items"}})
}
