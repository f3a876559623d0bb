package jepsen

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/test/harness"
)

// Config is one run of the suite.
type Config struct {
	Seed      int64
	Duration  time.Duration // how long faults are injected
	Nodes     int
	Workload  string        // WorkloadDefault or WorkloadShard
	ShardMode string        // the shard workload's shard-mode: pessimistic (default) or optimistic
	Faults    []string      // kinds to choose from; AllFaults when empty
	Hold      time.Duration // how long each fault stays before it is healed
	Gap       time.Duration // quiet time between faults
	Converge  time.Duration // bound for convergence after the last heal
	Report    string        // file the report is written to ("" = none)
}

// Workloads.
const (
	WorkloadDefault = "default" // one source: bank, set, keyless DML, DDL
	WorkloadShard   = "shard"   // two sources, four shard tables merged into one, ADD COLUMN on all
)

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Workload == "" {
		c.Workload = WorkloadDefault
	}
	if c.ShardMode == "" {
		c.ShardMode = "pessimistic"
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

// workload is the data side of a run: it writes to the sources during the
// faults, and at the end says how the target differs from them.
type workload interface {
	run(stop <-chan struct{}, seed int64)
	// settle finishes what the faults left half done on the sources (a
	// DDL that reached some shards only).
	settle(ctx context.Context) error
	// diff compares every table of the target with the sources.
	diff(ctx context.Context) map[string]tableDiff
	// check adds the workload's own checks and counts to the report.
	check(ctx context.Context, r *Report)
}

// Run starts a cluster, injects faults while the workloads run, heals,
// checks, and returns the report.
func Run(tb harness.TB, cfg Config) *Report {
	cfg.defaults()
	rng := rand.New(rand.NewSource(cfg.Seed))
	var (
		env  *dataEnv
		data workload
		spec *taskSpec
	)
	switch cfg.Workload {
	case WorkloadDefault:
		env = startData(tb)
	case WorkloadShard:
		if cfg.ShardMode != "pessimistic" && cfg.ShardMode != "optimistic" {
			tb.Fatalf("shard mode %q: pessimistic or optimistic", cfg.ShardMode)
		}
	default:
		tb.Fatalf("workload %q: %s or %s", cfg.Workload, WorkloadDefault, WorkloadShard)
	}
	var shard *shardWorkload
	if cfg.Workload == WorkloadShard {
		shard = startShard(tb, cfg.ShardMode)
		env = shard.env
	}
	c := harness.NewCluster(tb, cfg.Nodes, harness.Options{NodeArgs: harness.FastTimeouts})
	if shard != nil {
		spec, data = setUpShard(tb, c, shard), shard
	} else {
		spec, data = setUp(tb, c, env), newDataWorkload(env)
	}

	start := time.Now()
	nem := &nemesis{c: c, rng: rng, kinds: cfg.Faults, hold: cfg.Hold, env: env}
	pool := rpc.NewConnPool(nil)
	defer pool.Close()
	admin := &adminWorkload{c: c, clients: 3, ids: []string{"adm-0", "adm-1", "adm-2"}, timeout: 3 * time.Second, start: start, pool: pool, task: spec}

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

	r := &Report{Seed: cfg.Seed, Workload: cfg.Workload, Nodes: cfg.Nodes, Duration: faultsEnd.Sub(start), Faults: nem.counts(), Windows: nem.history()}
	if cfg.Workload == WorkloadShard {
		r.Workload += " (" + cfg.ShardMode + ")"
	}
	r.Converge, r.ConvergeErr = converge(c, env, cfg.Converge)
	r.TaskAtEnd = resumeTask(admin, spec, cfg.Converge)
	settleCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	if err := data.settle(settleCtx); err != nil {
		r.DataProblems = append(r.DataProblems, "settle the sources: "+err.Error())
	}
	cancel()
	diffs, caughtUp, equal := waitEqual(data.diff, cfg.Converge)
	r.CatchUp, r.CaughtUp = caughtUp, equal
	end := time.Now()
	checkData(r, data, env, diffs)

	r.Ops, r.OpsUnknown, r.OpsByKind = countCalls(admin), countUnknown(admin), admin.counts
	r.ErrorPauses = admin.errorPauses
	prefix := ""
	if cfg.Report != "" {
		prefix = strings.TrimSuffix(cfg.Report, filepath.Ext(cfg.Report)) + "-"
	}
	lin := checkAdminHistory(admin.ops, adminCheckTimeout, prefix)
	r.Linearizable, r.LinearizableSummary = string(lin.Result), lin.Summary()
	for _, rc := range lin.failed(porcupine.Illegal) {
		r.IllegalRecords = append(r.IllegalRecords, rc.String())
	}
	for _, rc := range lin.failed(porcupine.Unknown) {
		r.UndecidedRecords = append(r.UndecidedRecords, rc.String())
	}
	r.MaxUnavailable = admin.maxGap(faultsEnd)
	ivs, err := runnerIntervals(c, r.Windows, end)
	if err != nil {
		tb.Fatal(err)
	}
	r.RunnerIntervals = len(ivs)
	scheduled, err := schedulerEpochs(c)
	if err != nil {
		tb.Fatal(err)
	}
	r.FencingViolations, r.HandOvers = checkFencing(ivs, r.Windows, scheduled)
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

// checkData fills the data part of the report.
func checkData(r *Report, data workload, env *dataEnv, diffs map[string]tableDiff) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.DataChecked = true
	var names []string
	for t := range diffs {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		d := diffs[t]
		r.Lost += d.lost
		r.Extra += d.extra
		r.Divergent += d.divergent
		if !d.clean() {
			r.DataProblems = append(r.DataProblems, fmt.Sprintf("table %s: %s", t, d))
		}
	}
	data.check(ctx, r)
	var err error
	r.Batches, r.StaleBatches, err = checkBatchEpochs(ctx, env)
	if err != nil {
		r.DataProblems = append(r.DataProblems, "batch log: "+err.Error())
	}
}

// converge heals everything, then waits until every node is back, alive,
// one leads, and every source is bound to a live node. It returns how long
// that took.
func converge(c *harness.Cluster, env *dataEnv, bound time.Duration) (time.Duration, string) {
	start := time.Now()
	c.HealAll()
	for _, srv := range env.servers() {
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
		if err := c.DmctlJSON(&s, append([]string{"operate-source", "show"}, env.sources...)...); err != nil || len(s.Sources) != len(env.sources) {
			why = fmt.Sprintf("sources %v: %+v %v", env.sources, s, err)
			return false
		}
		for _, src := range s.Sources {
			if src.Worker == "" {
				why = fmt.Sprintf("source %s not bound", src.Source)
				return false
			}
		}
		return true
	})
	if !ok {
		return time.Since(start), "did not converge within " + bound.String() + ": " + why
	}
	return time.Since(start), ""
}

// resumeTask reads whether the admin workload left the task paused, and
// resumes it: a paused task must catch up before the data is compared.
// It says what it found and did.
func resumeTask(admin *adminWorkload, spec *taskSpec, bound time.Duration) string {
	var st adminResult
	var why string
	ok := harness.Eventually(bound, func() bool {
		node := admin.c.Nodes[0]
		conn, err := admin.pool.Get(node.Addr)
		if err != nil {
			why = err.Error()
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), admin.timeout)
		defer cancel()
		client := pb.NewAdminClient(conn)
		if st.Revision == 0 {
			// Unknown with a revision: every subtask paused on its own error.
			if st = admin.status(ctx, client, spec.name); st.Unknown && st.Revision == 0 {
				st, why = adminResult{}, "query-status failed"
				return false
			}
		}
		if _, err := client.ResumeTask(ctx, &pb.TaskOpRequest{Name: spec.name}); err != nil {
			why = "resume-task: " + err.Error()
			return false
		}
		return true
	})
	stage := "running"
	switch {
	case st.Unknown:
		stage = "paused by unit errors"
	case st.Paused:
		stage = "paused"
	}
	if !ok {
		return fmt.Sprintf("%s at revision %d; not resumed within %v: %s", stage, st.Revision, bound, why)
	}
	return fmt.Sprintf("%s at revision %d; resumed", stage, st.Revision)
}

// countCalls counts the calls in the history: a query-status is recorded
// as two reads.
func countCalls(w *adminWorkload) int {
	n := 0
	for _, op := range w.ops {
		if op.Input.(adminOp).Kind != opRevisionRead {
			n++
		}
	}
	return n
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
