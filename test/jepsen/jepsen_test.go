package jepsen

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestJepsen runs the suite: JEPSEN_DURATION (default 60s) of faults with
// seed JEPSEN_SEED (default: the clock) on JEPSEN_NODES nodes (default 3)
// with workload JEPSEN_WORKLOAD (default, or shard with JEPSEN_SHARD_MODE
// pessimistic or optimistic). `make jepsen` runs it longer.
func TestJepsen(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection with dmnode processes")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the fault-injection suite cuts the network with iptables and must run as root")
	}
	cfg := Config{Seed: time.Now().UnixNano() % 1_000_000, Duration: 60 * time.Second, Report: os.Getenv("JEPSEN_REPORT")}
	if s := os.Getenv("JEPSEN_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("JEPSEN_SEED %q: %v", s, err)
		}
		cfg.Seed = seed
	}
	if d := os.Getenv("JEPSEN_DURATION"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("JEPSEN_DURATION %q: %v", d, err)
		}
		cfg.Duration = dur
	}
	if n := os.Getenv("JEPSEN_NODES"); n != "" {
		nodes, err := strconv.Atoi(n)
		if err != nil || nodes < 3 {
			t.Fatalf("JEPSEN_NODES %q: a number of nodes, at least 3", n)
		}
		cfg.Nodes = nodes
	}
	cfg.Workload, cfg.ShardMode = os.Getenv("JEPSEN_WORKLOAD"), os.Getenv("JEPSEN_SHARD_MODE")
	r := Run(t, cfg)
	t.Log("\n" + r.String())
	if !r.OK() {
		t.Fatalf("jepsen run failed; reproduce with JEPSEN_SEED=%d", r.Seed)
	}
}
