package shard

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// rowsOf returns id -> row text of a table, with the columns that exist.
func rowsOf(ctx context.Context, db *sql.DB, table string) (map[int64]string, error) {
	cols := "id, shard, v, IFNULL(note, 'NULL')"
	var n int
	parts := strings.SplitN(table, ".", 2)
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME IN ('c1', 'c2')", parts[0], parts[1]).Scan(&n); err != nil {
		return nil, err
	}
	if n >= 1 {
		cols += ", IFNULL(c1, 'NULL')"
	}
	if n >= 2 {
		cols += ", IFNULL(c2, 'NULL')"
	}
	rows, err := db.QueryContext(ctx, "SELECT CONCAT_WS('|', "+cols+"), id FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var s string
		var id int64
		if err := rows.Scan(&s, &id); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// diff compares the target with the union of the shards and describes the
// first differences, "" when equal.
func (e *env) diff() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	union := map[int64]string{}
	fromDropped := map[int64]bool{}
	for _, s := range e.shards {
		s.mu.Lock()
		rows, err := s.dropped, error(nil)
		s.mu.Unlock()
		dropped := rows != nil
		if !dropped {
			rows, err = rowsOf(ctx, s.db, s.name())
		}
		if err != nil {
			return "", err
		}
		for id, r := range rows {
			union[id] = r
			fromDropped[id] = dropped
		}
	}
	got, err := rowsOf(ctx, e.downDB, target)
	if err != nil {
		return "", err
	}
	var bad []string
	for id, r := range union {
		if fromDropped[id] && strings.HasPrefix(got[id], r) && strings.ReplaceAll(strings.TrimPrefix(got[id], r), "|NULL", "") == "" {
			continue // a row of a dropped shard: the columns added later are NULL on the target
		}
		if got[id] != r {
			bad = append(bad, fmt.Sprintf("id %d: source %q target %q", id, r, got[id]))
		}
	}
	for id, r := range got {
		if _, ok := union[id]; !ok {
			bad = append(bad, fmt.Sprintf("id %d: only on the target %q", id, r))
		}
	}
	sort.Strings(bad)
	if len(bad) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%d rows differ (source %d rows, target %d): %s", len(bad), len(union), len(got), strings.Join(bad[:min(len(bad), 5)], "; ")), nil
}

// waitConverged waits until the target equals the union of the shards.
// The shards' checksums cannot be added up, so the union is compared row by
// row (diff); the target's checksum is only logged, as a summary.
func (e *env) waitConverged(timeout time.Duration) {
	e.t.Helper()
	var last string
	var lastErr error
	if !harness.Eventually(timeout, func() bool {
		e.failOnError()
		last, lastErr = e.diff()
		return lastErr == nil && last == ""
	}) {
		e.t.Fatalf("target %s is not the union of the shards after %v: %s %v\n%s", target, timeout, last, lastErr, e.c.MustDmctl("shard-ddl-lock", e.task))
	}
	n, sum := e.down.Checksum(e.t, "db_target", "t_target")
	e.t.Logf("target equals the union of the 4 shards: %d rows, checksum %s", n, sum)
}
