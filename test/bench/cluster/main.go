package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/test/harness"
)

// dmKeepaliveTTL is DM's default worker keepalive TTL: how long DM waits
// before it moves a dead worker's source.
const dmKeepaliveTTL = 60 * time.Second

func main() {
	writes := flag.Int("writes", 500, "admin writes to time")
	rounds := flag.Int("rounds", 3, "failovers of each kind")
	fence := flag.Duration("fence-timeout", 2*time.Second, "dmnode --fence-timeout")
	rebind := flag.Duration("rebind-after", 4*time.Second, "dmnode --rebind-after")
	flag.Parse()

	tb := &harness.ProgramTB{}
	defer tb.Close()
	args := []string{"--fence-timeout", fence.String(), "--rebind-after", rebind.String()}
	c := harness.NewCluster(tb, 3, harness.Options{NodeArgs: args})

	anchor := boltdbWriteLatency(tb, *writes)
	lat := commitLatency(tb, c, *writes)
	fmt.Printf("\n== admin write commit latency (%d writes sent to the leader) ==\n", *writes)
	fmt.Printf("dmraft commit      p50 %8s  p99 %8s\n", pct(lat, 50), pct(lat, 99))
	fmt.Printf("anchor boltdb fsync p50 %8s  p99 %8s   (one durable local write, same disk, same run)\n", pct(anchor, 50), pct(anchor, 99))
	fmt.Printf("ratio commit/anchor p50 %.2fx\n", float64(pct(lat, 50))/float64(pct(anchor, 50)))

	var leaderGaps, sourceGaps []time.Duration
	for i := 0; i < *rounds; i++ {
		leaderGaps = append(leaderGaps, leaderFailover(tb, c))
		sourceGaps = append(sourceGaps, sourceFailover(tb, c, fmt.Sprintf("bench-%d", i)))
	}
	fmt.Printf("\n== failover (fence-timeout %v, rebind-after %v, %d rounds) ==\n", *fence, *rebind, *rounds)
	fmt.Printf("leader failover (kill -9 -> first write)      %s  median %v\n", list(leaderGaps), median(leaderGaps))
	fmt.Printf("source failover gap (kill -9 -> new binding)  %s  median %v\n", list(sourceGaps), median(sourceGaps))
	fmt.Printf("ratio DM keepalive TTL %v / median gap: %.1fx faster (goal: gap < 5s)\n", dmKeepaliveTTL,
		float64(dmKeepaliveTTL)/float64(median(sourceGaps)))
	var rss []string
	for _, n := range c.Nodes {
		if n.Running() {
			rss = append(rss, fmt.Sprintf("%s %d MiB", n.Name, n.RSSPeakKB()/1024))
		}
	}
	fmt.Printf("peak RSS: %s\n", strings.Join(rss, ", "))
}

func client(tb *harness.ProgramTB, addrs ...string) *rpc.Client {
	c, err := rpc.NewClient(addrs, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func leaderAddr(tb *harness.ProgramTB, c *harness.Cluster) (string, string) {
	m, err := c.ListMembers()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mem := range m.Members {
		if mem.Leader {
			return mem.Name, mem.Addr
		}
	}
	tb.Fatalf("no leader: %+v", m)
	return "", ""
}

// commitLatency times admin writes (leader-eviction marks, cleared) sent to the leader.
func commitLatency(tb *harness.ProgramTB, c *harness.Cluster, n int) []time.Duration {
	name, addr := leaderAddr(tb, c)
	cl := client(tb, addr)
	defer cl.Close()
	req := &pb.OperateLeaderRequest{Op: "cancel-evict", Node: name}
	var out []time.Duration
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := rpc.Call(ctx, cl, func(ctx context.Context, a pb.AdminClient) (*pb.OperateLeaderResponse, error) {
			return a.OperateLeader(ctx, req)
		})
		cancel()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// boltdbWriteLatency times single durable log writes in raft-boltdb.
func boltdbWriteLatency(tb *harness.ProgramTB, n int) []time.Duration {
	dir, err := os.MkdirTemp("", "bench-boltdb-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	data := make([]byte, 64)
	var out []time.Duration
	for i := 1; i <= n; i++ {
		start := time.Now()
		if err := store.StoreLog(&raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: data}); err != nil {
			tb.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// leaderFailover kills the leader and times the first write that succeeds after it.
func leaderFailover(tb *harness.ProgramTB, c *harness.Cluster) time.Duration {
	name, _ := leaderAddr(tb, c)
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	cl := client(tb, addrs...)
	defer cl.Close()
	victim := c.Node(name)
	start := time.Now()
	victim.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rpc.Call(ctx, cl, func(ctx context.Context, a pb.AdminClient) (*pb.OperateLeaderResponse, error) {
		return a.OperateLeader(ctx, &pb.OperateLeaderRequest{Op: "cancel-evict", Node: victim.Name})
	})
	gap := time.Since(start)
	if err != nil {
		tb.Fatal(err)
	}
	restart(tb, c, victim)
	return gap
}

// sourceFailover binds a fresh source to a follower, kills that node and
// times the leader's new binding (its bound time, from the FSM).
func sourceFailover(tb *harness.ProgramTB, c *harness.Cluster, id string) time.Duration {
	leader, _ := leaderAddr(tb, c)
	path := filepath.Join(c.Dir(), id+".yaml")
	yaml := fmt.Sprintf("source-id: %s\nfrom:\n  host: 127.0.0.1\n  port: 3306\n  user: root\n", id)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Dmctl("operate-source", "create", path); err != nil {
		tb.Fatal(err)
	}
	var follower string
	for _, n := range c.Nodes {
		if n.Name != leader {
			follower = n.Name
			break
		}
	}
	if _, err := c.Dmctl("transfer-source", id, follower); err != nil {
		tb.Fatal(err)
	}
	victim := c.Node(follower)
	start := time.Now()
	victim.Kill()
	var gap time.Duration
	if !harness.Eventually(60*time.Second, func() bool {
		var s struct {
			Sources []struct {
				Worker  string `json:"worker"`
				BoundMs int64  `json:"bound_unix_ms"`
			} `json:"sources"`
		}
		if c.DmctlJSON(&s, "operate-source", "show", id) != nil || len(s.Sources) != 1 {
			return false
		}
		if w := s.Sources[0].Worker; w != "" && w != victim.Name {
			gap = time.UnixMilli(s.Sources[0].BoundMs).Sub(start)
			return true
		}
		return false
	}) {
		tb.Fatalf("source %s was not rebound", id)
	}
	restart(tb, c, victim)
	return gap
}

func restart(tb *harness.ProgramTB, c *harness.Cluster, n *harness.Node) {
	if err := n.Restart(); err != nil {
		tb.Fatal(err)
	}
	c.WaitMembersAlive(len(c.Nodes), 30*time.Second)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i].Round(10 * time.Microsecond)
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50).Round(time.Millisecond) }

func list(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}
