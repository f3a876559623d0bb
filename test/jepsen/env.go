package jepsen

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// dataEnv is the MariaDB side of a run: one server per source and the
// target, with the source ids they are registered under.
type dataEnv struct {
	ups     []*mariadb.Server // the source servers, one per source id
	upDBs   []*sql.DB
	sources []string // source ids, in the order of ups
	down    *mariadb.Server
	downDB  *sql.DB
}

// startServers starts one source server per id (ROW binlog, GTID) and the
// target, each stopped when the test ends.
func startServers(tb harness.TB, sources ...string) *dataEnv {
	ctx := context.Background()
	if err := mariadb.EnsureInstalled(); err != nil {
		tb.Fatal(err)
	}
	start := func(o mariadb.Options) (*mariadb.Server, *sql.DB) {
		s, err := mariadb.StartServer(ctx, o)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		db, err := s.Open("")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return s, db
	}
	e := &dataEnv{sources: sources}
	for _, id := range sources {
		s, db := start(mariadb.Options{Name: id, Binlog: true})
		e.ups, e.upDBs = append(e.ups, s), append(e.upDBs, db)
	}
	e.down, e.downDB = start(mariadb.Options{Name: "jepsen-target"})
	return e
}

// servers is every MariaDB server of the run.
func (e *dataEnv) servers() []*mariadb.Server {
	return append(append([]*mariadb.Server{}, e.ups...), e.down)
}

// registerSources creates every source in the cluster.
func (e *dataEnv) registerSources(tb harness.TB, c *harness.Cluster) {
	for i, id := range e.sources {
		p := harness.WriteFile(tb, c.Dir(), id+".yaml", fmt.Sprintf("source-id: %s\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
			id, e.ups[i].Port, mariadb.User, mariadb.Password))
		c.MustDmctl("operate-source", "create", p)
	}
}

// targetDSN is the task.yaml block naming the target.
func (e *dataEnv) targetYAML() string {
	return fmt.Sprintf("target-database:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n", e.down.Port, mariadb.User, mariadb.Password)
}

// tableRows reads a table as key -> row texts. With keyed, the key is the
// id column and each key has one row; without, the key is the row's hash
// (a multiset of rows, for tables without a primary key). Columns are
// compared by name, so their order does not matter.
func tableRows(ctx context.Context, db *sql.DB, table string, keyed bool) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	order := make([]int, len(cols))
	idCol := -1
	for i := range order {
		order[i] = i
		if cols[i] == "id" {
			idCol = i
		}
	}
	if keyed && idCol < 0 {
		return nil, fmt.Errorf("table %s has no id column", table)
	}
	sort.Slice(order, func(a, b int) bool { return cols[order[a]] < cols[order[b]] })
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := map[string][]string{}
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
		text := strings.Join(parts, ",")
		var key string
		if keyed {
			key = vals[idCol].String
		} else {
			sum := sha256.Sum256([]byte(text))
			key = fmt.Sprintf("%x", sum[:8])
		}
		out[key] = append(out[key], text)
	}
	return out, rows.Err()
}

// tableDiff compares one table: rows missing on the target (lost), rows
// only on the target or more often there (duplicated), rows whose key is
// on both sides with different values (divergent; keyed tables only).
type tableDiff struct {
	lost, extra, divergent int
	examples               []string
	err                    string
}

func (d tableDiff) clean() bool {
	return d.lost == 0 && d.extra == 0 && d.divergent == 0 && d.err == ""
}

func (d tableDiff) String() string {
	s := fmt.Sprintf("%d lost, %d duplicated or only on the target, %d divergent", d.lost, d.extra, d.divergent)
	if d.err != "" {
		s += " (" + d.err + ")"
	}
	if len(d.examples) > 0 {
		s += "; e.g. " + strings.Join(d.examples, "; ")
	}
	return s
}

// diffRows compares the source's rows with the target's.
func diffRows(src, dst map[string][]string) tableDiff {
	var d tableDiff
	example := func(format string, args ...any) {
		if len(d.examples) < 3 {
			d.examples = append(d.examples, fmt.Sprintf(format, args...))
		}
	}
	for k, want := range src {
		got := dst[k]
		switch {
		case len(got) < len(want):
			d.lost += len(want) - len(got)
			example("lost %s", want[0])
		case len(want) == 1 && len(got) == 1 && want[0] != got[0]:
			d.divergent++
			example("source %s, target %s", want[0], got[0])
		}
		if len(got) > len(want) {
			d.extra += len(got) - len(want)
			example("%d copies on the target of %s", len(got), got[0])
		}
	}
	for k, got := range dst {
		if _, ok := src[k]; !ok {
			d.extra += len(got)
			example("only on the target: %s", got[0])
		}
	}
	return d
}

// waitEqual polls diff until every table is equal on both sides, or bound
// passes; it returns the last differences and how long it waited.
func waitEqual(diff func(context.Context) map[string]tableDiff, bound time.Duration) (map[string]tableDiff, time.Duration, bool) {
	start := time.Now()
	var last map[string]tableDiff
	equal := harness.Eventually(bound, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		last = diff(ctx)
		for _, d := range last {
			if !d.clean() {
				return false
			}
		}
		return true
	})
	return last, time.Since(start), equal
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
