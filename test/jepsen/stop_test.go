package jepsen

import (
	"math/rand"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// TestIsolatedRunnerStopsPromptly isolates the node that runs the source
// while the workloads write, several times: its runner must stop within
// the fence timeout plus a second, whatever the sync unit was doing (found
// by the suite: a COMMIT waiting for a target it could not reach, and a
// binlog dial to an unreachable source, each held a fenced runner for
// seconds). On failure the node's goroutines are dumped into its log.
func TestIsolatedRunnerStopsPromptly(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection with dmnode processes")
	}
	if os.Geteuid() != 0 {
		t.Fatal("isolating a node needs root (iptables)")
	}
	env := startData(t)
	c := harness.NewCluster(t, 3, harness.Options{NodeArgs: harness.FastTimeouts})
	setUp(t, c, env)
	data := newDataWorkload(env)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { data.run(stop, 1); close(done) }()
	defer func() { close(stop); <-done }()
	time.Sleep(4 * time.Second)
	nem := &nemesis{c: c, env: env, rng: rand.New(rand.NewSource(1))}
	const bound = 2 * time.Second // fence-timeout (1s) + 1s
	for round := 0; round < 4; round++ {
		var victim *harness.Node
		if !harness.Eventually(20*time.Second, func() bool { victim = nem.pick("bound"); return victim != nil }) {
			t.Fatal("the source is bound to no node")
		}
		time.Sleep(time.Duration(round) * 400 * time.Millisecond) // hit the unit in different states
		at := time.Now()
		c.Isolate(victim)
		stopped := harness.Eventually(bound, func() bool {
			evs, err := victim.Events("runner_stopped")
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Time.After(at) {
					return true
				}
			}
			return false
		})
		if !stopped {
			_ = syscall.Kill(victim.PID(), syscall.SIGQUIT)
			time.Sleep(500 * time.Millisecond)
			c.Heal(victim)
			t.Fatalf("round %d: %s still runs the source %v after it was cut off (goroutines in %s)", round, victim.Name, bound, victim.LogPath)
		}
		c.Heal(victim)
		time.Sleep(4 * time.Second) // the source settles on some node again
	}
}
