package syncer

import (
	"context"
	"testing"

	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestPruneBatchLog: rows of the batch log older than an hour go, newer
// ones and other sources' rows stay.
func TestPruneBatchLog(t *testing.T) {
	down := mariadb.Start(t, mariadb.Options{})
	db := down.DB(t)
	ctx := context.Background()
	meta := target.Meta{Schema: "dm_meta"}
	down.Exec(t, "CREATE DATABASE dm_meta")
	store := &checkpoint.Store{Meta: meta, Fence: target.Fence{Task: "t1", Source: "src1", Epoch: 1}}
	if err := store.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	down.Exec(t,
		"INSERT INTO dm_meta.dmraft_sync_batches (task, source, worker, epoch, row_count, position, committed_at) SELECT 't1', 'src1', 0, 1, 1, 'p', NOW(3) - INTERVAL 2 HOUR FROM dm_meta.seq_1_to_25000",
		"INSERT INTO dm_meta.dmraft_sync_batches (task, source, worker, epoch, row_count, position, committed_at) VALUES ('t1', 'src1', 0, 1, 1, 'p', NOW(3)), ('t1', 'other', 0, 1, 1, 'p', NOW(3) - INTERVAL 2 HOUR)")
	if err := store.Prune(ctx, db); err != nil {
		t.Fatal(err)
	}
	var left, other int
	if err := db.QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_sync_batches WHERE source = 'src1'").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM dm_meta.dmraft_sync_batches WHERE source = 'other'").Scan(&other); err != nil {
		t.Fatal(err)
	}
	if left != 1 || other != 1 {
		t.Fatalf("after prune: %d rows of src1 (want the 1 recent), %d of the other source (want 1)", left, other)
	}
}
