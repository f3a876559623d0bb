package jepsen

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// Config is one run of the suite.
type Config struct {
	Seed     int64
	Duration time.Duration // how long faults are injected
	Nodes    int
	Faults   []string      // kinds to choose from; AllFaults when empty
	Hold     time.Duration // how long each fault stays before it is healed
	Gap      time.Duration // quiet time between faults
	Converge time.Duration // bound for convergence after the last heal
	Report   string        // file the report is written to ("" = none)
}

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if len(c.Faults) == 0 {
		c.Faults = AllFaults
	}
	if c.Hold == 0 {
		c.Hold = 4 * time.Second // longer than rebind-after (2s in the suite)
	}
	if c.Gap == 0 {
		c.Gap = 2 * time.Second
	}
	if c.Converge == 0 {
		c.Converge = 30 * time.Second
	}
}

// dataSource is the source the task runs on; its binding moves under faults.
const dataSource = "jepsen-src"

// Run starts a cluster, injects faults while the workloads run, heals,
// checks, and returns the report.
func Run(tb harness.TB, cfg Config) *Report {
	cfg.defaults()
	rng := rand.New(rand.NewSource(cfg.Seed))
	env := startData(tb)
	c := harness.NewCluster(tb, cfg.Nodes, harness.Options{NodeArgs: harness.FastTimeouts})
	setUp(tb, c, env)
	data := newDataWorkload(env)

	start := time.Now()
	nem := &nemesis{c: c, rng: rng, kinds: cfg.Faults, hold: cfg.Hold, source: dataSource, env: env}
	pool := rpc.NewConnPool(nil)
	defer pool.Close()
	admin := &adminWorkload{c: c, clients: 3, ids: []string{"adm-0", "adm-1", "adm-2"}, timeout: 3 * time.Second, start: start, pool: pool}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); nem.run(stop, cfg.Gap) }()
	go func() { defer wg.Done(); admin.run(stop, cfg.Seed) }()
	go func() { defer wg.Done(); data.run(stop, cfg.Seed) }()
	time.Sleep(cfg.Duration)
	close(stop)
	wg.Wait()
	faultsEnd := time.Now()

	r := &Report{Seed: cfg.Seed, Duration: faultsEnd.Sub(start), Faults: nem.counts(), Windows: nem.history()}
	r.Converge, r.ConvergeErr = converge(c, env, cfg.Converge)
	diffs, caughtUp := waitEqual(env, cfg.Converge)
	r.CatchUp = caughtUp
	end := time.Now()
	checkData(tb, r, data, env, diffs)

	r.Ops, r.OpsUnknown = len(admin.ops), countUnknown(admin)
	r.Linearizable = string(checkLinearizable(admin.ops, time.Minute))
	r.MaxUnavailable = admin.maxGap(faultsEnd)
	ivs, err := runnerIntervals(c, r.Windows, end)
	if err != nil {
		tb.Fatal(err)
	}
	r.RunnerIntervals = len(ivs)
	r.FencingViolations = checkFencing(ivs, r.Windows)
	for _, w := range r.Windows {
		if w.Err != "" {
			r.NemesisErrors = append(r.NemesisErrors, w.String()+": "+w.Err)
		}
	}
	if cfg.Report != "" {
		_ = os.MkdirAll(filepath.Dir(cfg.Report), 0o755)
		_ = os.WriteFile(cfg.Report, []byte(r.String()), 0o644)
	}
	return r
}

// setUp registers the source and a task in mode all that copies it to the
// target and then follows its binlog.
func setUp(tb harness.TB, c *harness.Cluster, env *dataEnv) {
	dir := c.Dir()
	src := filepath.Join(dir, "source.yaml")
	task := filepath.Join(dir, "task.yaml")
	write := func(p, text string) {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write(src, fmt.Sprintf("source-id: %s\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
		dataSource, env.up.Port, mariadb.User, mariadb.Password))
	write(task, fmt.Sprintf(`name: jepsen
task-mode: all
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: %s
    block-allow-list: only
block-allow-list:
  only:
    do-dbs: ["%s"]
`, env.down.Port, mariadb.User, mariadb.Password, dataSource, dataSchema))
	for _, args := range [][]string{{"operate-source", "create", src}, {"start-task", task}} {
		if _, err := c.Dmctl(args...); err != nil {
			tb.Fatal(err)
		}
	}
}

// checkData fills the data part of the report.
func checkData(tb harness.TB, r *Report, data *dataWorkload, env *dataEnv, diffs map[string]tableDiff) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.DataChecked = true
	for _, t := range dataTables {
		d := diffs[t]
		r.Lost += d.lost
		r.Extra += d.extra
		if d.lost > 0 || d.extra > 0 || d.err != "" {
			r.DataProblems = append(r.DataProblems, fmt.Sprintf("table %s: %d rows missing on the target, %d rows only on the target %s", t, d.lost, d.extra, d.err))
		}
	}
	lost, unexpected, err := data.checkSet(ctx)
	if err != nil {
		r.DataProblems = append(r.DataProblems, "set: "+err.Error())
	}
	r.SetLost, r.SetUnexpected = lost, unexpected
	if lost > 0 || unexpected > 0 {
		r.DataProblems = append(r.DataProblems, fmt.Sprintf("set: %d acknowledged ids not exactly once on the target, %d ids never sent", lost, unexpected))
	}
	r.BankReads, r.BankViolations = data.bankReads, data.bankViolation
	r.Batches, r.StaleBatches, err = checkBatchEpochs(ctx, env)
	if err != nil {
		r.DataProblems = append(r.DataProblems, "batch log: "+err.Error())
	}
	data.mu.Lock()
	r.DataOps = fmt.Sprintf("%d transfers, %d inserts/updates/deletes, %d DDL, %d failed (faults)", data.transfers, data.writes, data.ddls, data.failed)
	data.mu.Unlock()
}

// converge waits until every node is back, alive, one leads, and the data
// source is bound to a live node; it returns how long that took.
func converge(c *harness.Cluster, env *dataEnv, bound time.Duration) (time.Duration, string) {
	start := time.Now()
	c.HealAll()
	for _, srv := range []*mariadb.Server{env.up, env.down} {
		if !srv.Running() {
			if err := srv.RestartContext(context.Background()); err != nil {
				return 0, err.Error()
			}
		}
	}
	for _, n := range c.Nodes {
		n.Resume()
		if !n.Running() {
			if err := n.Restart(); err != nil {
				return 0, err.Error()
			}
		}
	}
	var why string
	ok := harness.Eventually(bound, func() bool {
		m, err := c.ListMembers()
		if err != nil {
			why = err.Error()
			return false
		}
		alive := 0
		for _, mem := range m.Members {
			if mem.State == "alive" && mem.Voter {
				alive++
			}
		}
		if m.Leader == "" || alive != len(c.Nodes) {
			why = fmt.Sprintf("leader %q, %d of %d voters alive", m.Leader, alive, len(c.Nodes))
			return false
		}
		var s struct {
			Sources []struct{ Source, Worker string } `json:"sources"`
		}
		if err := c.DmctlJSON(&s, "operate-source", "show", dataSource); err != nil || len(s.Sources) != 1 || s.Sources[0].Worker == "" {
			why = fmt.Sprintf("source %s not bound: %+v %v", dataSource, s, err)
			return false
		}
		return true
	})
	if !ok {
		return time.Since(start), "did not converge within " + bound.String() + ": " + why
	}
	return time.Since(start), ""
}

func countUnknown(w *adminWorkload) int {
	n := 0
	for _, op := range w.ops {
		if op.Output.(adminResult).Unknown {
			n++
		}
	}
	return n
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
