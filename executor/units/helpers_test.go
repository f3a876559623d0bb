package units

import (
	"fmt"
	"strconv"

	"database/sql"
	"testing"

	"github.com/dmraft/dmraft/executor/dump"
)

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// forgetChunksFrom marks the chunks of tbl whose lower bound is at least
// min as not done and returns the smallest such bound.
func forgetChunksFrom(t *testing.T, db *sql.DB, tbl string, min int64) int64 {
	t.Helper()
	rows, err := db.Query("SELECT chunk, lower_bound FROM dm_meta.dmraft_load_chunks WHERE tbl = ?", tbl)
	if err != nil {
		t.Fatal(err)
	}
	from := int64(-1)
	var forget []int
	for rows.Next() {
		var chunk int
		var lower string
		rows.Scan(&chunk, &lower)
		b, err := dump.UnmarshalBound(lower)
		if err != nil || b == nil {
			continue
		}
		v, _ := strconv.ParseInt(string(b[0]), 10, 64)
		if v >= min {
			forget = append(forget, chunk)
			if from < 0 || v < from {
				from = v
			}
		}
	}
	rows.Close()
	if len(forget) == 0 {
		t.Fatalf("no chunk of %s starts at or after %d", tbl, min)
	}
	for _, c := range forget {
		mustExec(t, db, fmt.Sprintf("UPDATE dm_meta.dmraft_load_chunks SET done = 0 WHERE tbl = '%s' AND chunk = %d", tbl, c))
	}
	return from
}
