package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

var tables = []string{"customers", "orders", "order_items", "audit_log"}

func main() {
	mode := flag.String("mode", "all", "task-mode: all (full copy, then binlog) or full")
	keep := flag.Bool("keep", false, "leave everything running until Ctrl-C")
	flag.Parse()
	tb := &harness.ProgramTB{}
	defer tb.Close()
	ctx := context.Background()

	step("MariaDB: a source with binlog and a target, on loopback")
	if err := mariadb.EnsureInstalled(); err != nil {
		tb.Fatal(err)
	}
	up := start(ctx, tb, mariadb.Options{Name: "source", Binlog: true})
	down := start(ctx, tb, mariadb.Options{Name: "target"})
	fmt.Printf("source 127.0.0.1:%d, target 127.0.0.1:%d\n", up.Port, down.Port)
	if err := up.ExecSQL(ctx, shopSchema()...); err != nil {
		tb.Fatal(err)
	}
	printCounts(ctx, tb, up, nil)

	step("dmraft: three nodes, the first bootstraps, two join")
	c := harness.NewCluster(tb, 3, harness.Options{NodeArgs: []string{"--fence-timeout", "2s", "--rebind-after", "4s"}})
	show(tb, c, "list-member")

	step("register the source and start the task (task-mode: " + *mode + ")")
	dir := c.Dir()
	src := write(tb, dir, "source.yaml", fmt.Sprintf(`source-id: shop-mariadb
flavor: mariadb
enable-gtid: true
from:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
`, up.Port, mariadb.User, mariadb.Password))
	task := write(tb, dir, "task.yaml", fmt.Sprintf(`name: shop
task-mode: %s
target-database:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %s
mysql-instances:
  - source-id: shop-mariadb
    block-allow-list: shop-only
block-allow-list:
  shop-only:
    do-dbs: ["shop"]
`, *mode, down.Port, mariadb.User, mariadb.Password))
	fmt.Printf("source.yaml and task.yaml are in %s\n", dir)
	show(tb, c, "operate-source", "create", src)
	show(tb, c, "start-task", task)

	step("full copy: live progress until the subtask is synced (or finished)")
	show(tb, c, "query-status", "shop", "--watch", "500ms")
	step("full copy: comparing the target with the source")
	waitSame(ctx, tb, c, up, down, 120*time.Second)

	if *mode == "all" {
		step("binlog replication: writing to the source, watching the target follow")
		for round := 1; round <= 3; round++ {
			writeLoad(ctx, tb, up, round)
			waitSame(ctx, tb, c, up, down, 60*time.Second)
		}
	}

	step("failover: kill -9 the node the source is bound to")
	victim := boundNode(tb, c)
	fmt.Printf("killing %s\n", victim.Name)
	killed := time.Now()
	victim.Kill()
	if *mode == "all" {
		writeLoad(ctx, tb, up, 4) // written while the source has no live owner
	}
	if !harness.Eventually(60*time.Second, func() bool { b := boundNode(tb, c); return b != nil && b != victim }) {
		tb.Fatalf("the source was not moved off %s", victim.Name)
	}
	fmt.Printf("source moved to %s %.1fs after the kill\n", boundNode(tb, c).Name, time.Since(killed).Seconds())
	show(tb, c, "operate-source", "show")
	if *mode == "all" {
		waitSame(ctx, tb, c, up, down, 60*time.Second)
	}
	show(tb, c, "query-status", "shop")

	step("restart the killed node: it rejoins with its data dir")
	if err := victim.Restart(); err != nil {
		tb.Fatal(err)
	}
	c.WaitMembersAlive(3, 30*time.Second)
	show(tb, c, "list-member")
	fmt.Println("\ndemo finished: the target equals the source, table by table.")
	if *keep {
		fmt.Printf("nodes, logs and configs: %s; dmctl: %s\nCtrl-C to stop\n", dir, strings.Join(addrs(c), ","))
		select {}
	}
}

func step(s string) { fmt.Printf("\n== %s ==\n", s) }

func start(ctx context.Context, tb *harness.ProgramTB, opts mariadb.Options) *mariadb.Server {
	s, err := mariadb.StartServer(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func write(tb *harness.ProgramTB, dir, name, text string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func show(tb *harness.ProgramTB, c *harness.Cluster, args ...string) {
	fmt.Printf("$ dmctl %s\n", strings.Join(args, " "))
	out, err := c.Dmctl(args...)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Print(out)
}

func addrs(c *harness.Cluster) []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

func boundNode(tb *harness.ProgramTB, c *harness.Cluster) *harness.Node {
	var s struct {
		Sources []struct{ Worker string } `json:"sources"`
	}
	if err := c.DmctlJSON(&s, "operate-source", "show", "shop-mariadb"); err != nil || len(s.Sources) != 1 {
		return nil
	}
	for _, n := range c.Nodes {
		if n.Name == s.Sources[0].Worker {
			return n
		}
	}
	return nil
}

// waitSame polls until every table has the same row count and checksum on
// both sides, printing the counts as they change.
func waitSame(ctx context.Context, tb *harness.ProgramTB, c *harness.Cluster, up, down *mariadb.Server, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		same, line := compare(ctx, up, down)
		if line != last {
			fmt.Println(line)
			last = line
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			out, _ := c.Dmctl("query-status", "shop")
			tb.Fatalf("the target did not catch up within %v:\n%s", timeout, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func compare(ctx context.Context, up, down *mariadb.Server) (bool, string) {
	same := true
	var parts []string
	udb, err := up.Open("")
	if err != nil {
		return false, err.Error()
	}
	defer udb.Close()
	ddb, err := down.Open("")
	if err != nil {
		return false, err.Error()
	}
	defer ddb.Close()
	for _, t := range tables {
		n1, s1, err1 := mariadb.RowChecksum(ctx, udb, "shop", t)
		n2, s2, err2 := mariadb.RowChecksum(ctx, ddb, "shop", t)
		ok := err1 == nil && err2 == nil && n1 == n2 && s1 == s2
		same = same && ok
		mark, note := "≠", ""
		if ok {
			mark = "="
		} else if n1 == n2 && err1 == nil && err2 == nil {
			note = " (same count, rows differ)"
		}
		parts = append(parts, fmt.Sprintf("%s %d%s%d%s", t, n1, mark, n2, note))
	}
	verdict := "catching up"
	if same {
		verdict = "IN SYNC"
	}
	return same, fmt.Sprintf("  source vs target rows: %s  [%s]", strings.Join(parts, "  "), verdict)
}

func printCounts(ctx context.Context, tb *harness.ProgramTB, up *mariadb.Server, _ *mariadb.Server) {
	db, err := up.Open("")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var parts []string
	for _, t := range tables {
		n, _, err := mariadb.RowChecksum(ctx, db, "shop", t)
		if err != nil {
			tb.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s %d", t, n))
	}
	fmt.Printf("sample database shop: %s rows\n", strings.Join(parts, ", "))
}
