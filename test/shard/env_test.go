package shard

import (
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// shard is one upstream shard table.
type shard struct {
	no     int // 1..4, the id prefix
	src    *mariadb.Server
	source string // source id
	schema string
	table  string
	db     *sql.DB
	seq    atomic.Int64
	cols   atomic.Int32 // extra columns present upstream: 0, 1 (c1), 2 (c1, c2)
	// mu is held by the writer around each change and by drop.
	mu      sync.Mutex
	dropped map[int64]string // the rows when the table was dropped; nil while it exists
}

func (s *shard) name() string   { return s.schema + "." + s.table }
func (s *shard) member() string { return s.source + "/" + s.name() }

type env struct {
	t *testing.T
	c *harness.Cluster
	// paused: subtask errors are expected (a test drives a way out), so
	// the wait helpers do not fail on them.
	paused atomic.Bool
	up     [2]*mariadb.Server
	down   *mariadb.Server
	downDB *sql.DB
	shards []*shard
	task   string
}

const (
	initialRows = 300
	target      = "db_target.t_target"
)

func newEnv(t *testing.T, task string) *env {
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up1", Binlog: true}, mariadb.Options{Name: "up2", Binlog: true}, mariadb.Options{Name: "down"})
	e := &env{t: t, up: [2]*mariadb.Server{srv[0], srv[1]}, down: srv[2], task: task}
	e.downDB = e.down.DB(t)
	e.c = harness.NewCluster(t, 3, harness.Options{NodeArgs: harness.FastTimeouts})
	no := 0
	for i, up := range e.up {
		schema := fmt.Sprintf("shard_db_%d", i+1)
		up.Exec(t, "CREATE DATABASE "+schema)
		for j := 1; j <= 2; j++ {
			no++
			s := &shard{no: no, src: up, source: fmt.Sprintf("src%d", i+1), schema: schema, table: fmt.Sprintf("t_%d", j), db: up.DB(t)}
			up.Exec(t, fmt.Sprintf("CREATE TABLE %s (id BIGINT NOT NULL PRIMARY KEY, shard INT NOT NULL, v INT NOT NULL, note VARCHAR(64)) ENGINE=InnoDB", s.name()))
			for k := 0; k < initialRows; k++ {
				s.insert(t.Context())
			}
			e.shards = append(e.shards, s)
		}
	}
	return e
}

// startSyncing starts the environment and task in shard mode, the writers
// on every shard (stop them with stopWriters), and waits until both
// subtasks run the sync unit.
func startSyncing(t *testing.T, task, mode string) (e *env, stopWriters func()) {
	e = newEnv(t, task)
	e.start(mode)
	stopWriters = e.writers(4000)
	e.waitSyncing(90 * time.Second)
	return e, stopWriters
}

// start creates both sources and starts the task in shard mode.
func (e *env) start(mode string) {
	for i, up := range e.up {
		y := up.SourceYAML(fmt.Sprintf("src%d", i+1))
		e.c.MustDmctl("operate-source", "create", harness.WriteFile(e.t, e.t.TempDir(), fmt.Sprintf("s%d.yaml", i+1), y))
	}
	task := fmt.Sprintf(`name: %s
task-mode: all
shard-mode: %s
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    route-rules: [tables, schemas]
    syncer-config-name: sy
  - source-id: src2
    block-allow-list: bal
    route-rules: [tables, schemas]
    syncer-config-name: sy
block-allow-list:
  bal:
    do-dbs: ["~^shard_db_"]
routes:
  tables: {schema-pattern: "shard_db_*", table-pattern: "t_*", target-schema: db_target, target-table: t_target}
  schemas: {schema-pattern: "shard_db_*", target-schema: db_target}
syncers:
  sy: {worker-count: 4, batch: 50}
`, e.task, mode, e.down.Port, mariadb.User, mariadb.Password)
	e.c.MustDmctl("start-task", harness.WriteFile(e.t, e.t.TempDir(), "task.yaml", task))
}
