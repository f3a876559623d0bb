package full

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// TestBenchFull compares dmraft's full copy with mysqldump | mysql and
// mydumper + myloader on the same data and the same target, in one run.
// It runs only with DMRAFT_BENCH_FULL=1 (make bench-full); DMRAFT_BENCH_ROWS
// (default 1000000) and DMRAFT_BENCH_TABLES (default 4) size the data.
func TestBenchFull(t *testing.T) {
	if os.Getenv("DMRAFT_BENCH_FULL") == "" {
		t.Skip("set DMRAFT_BENCH_FULL=1 (make bench-full)")
	}
	rows := envInt("DMRAFT_BENCH_ROWS", 1000000)
	tables := envInt("DMRAFT_BENCH_TABLES", 4)
	big := []string{"--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M", "--max-allowed-packet=64M"}
	srv := mariadb.StartMany(t, mariadb.Options{Name: "bench-up", Binlog: true, ExtraArgs: big}, mariadb.Options{Name: "bench-down", ExtraArgs: big})
	up, down := srv[0], srv[1]

	start := time.Now()
	stmts := []string{"CREATE DATABASE sbtest"}
	for i := 1; i <= tables; i++ {
		stmts = append(stmts, sysbenchTable("sbtest", fmt.Sprintf("sbtest%d", i), rows)...)
	}
	up.Exec(t, stmts...)
	for i := 1; i <= tables; i++ {
		up.Exec(t, fmt.Sprintf("ANALYZE TABLE sbtest.sbtest%d", i))
	}
	var dataBytes int64
	up.DB(t).QueryRow("SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'").Scan(&dataBytes)
	total := int64(rows * tables)
	t.Logf("generated %d tables x %d rows (%.0f MB of InnoDB data) in %v", tables, rows, float64(dataBytes)/1e6, time.Since(start).Round(time.Second))

	type result struct {
		name string
		wall time.Duration
		rss  int64
		cpu  time.Duration
		// CPU time of the source and target servers during the run: less
		// sensitive than wall time to other load on the machine.
		upCPU, downCPU time.Duration
	}
	var results []result
	reset := func() { down.Exec(t, "DROP DATABASE IF EXISTS sbtest", "DROP DATABASE IF EXISTS dm_meta") }
	verify := func(name string) {
		for i := 1; i <= tables; i++ {
			tb := fmt.Sprintf("sbtest%d", i)
			if a, b := up.ChecksumTable(t, "sbtest", tb), down.ChecksumTable(t, "sbtest", tb); a != b {
				t.Errorf("%s: sbtest.%s differs (checksum %d vs %d)", name, tb, a, b)
			}
		}
	}

	// dmraft: a one-node cluster, task-mode full, defaults (4 threads, pool 16).
	reset()
	c := harness.NewCluster(t, 1, harness.Options{})
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	task := fmt.Sprintf("name: bench\ntask-mode: full\ntarget-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}\nmysql-instances:\n  - source-id: src1\n    block-allow-list: bal\n    loader: {on-duplicate-logical: %s}\nblock-allow-list:\n  bal: {do-dbs: [sbtest]}\n",
		down.Port, mariadb.User, mariadb.Password, cmpOr(os.Getenv("DMRAFT_BENCH_ON_DUPLICATE"), "replace"))
	up0, down0 := pidCPU(up.PID()), pidCPU(down.PID())
	start = time.Now()
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "bench.yaml", task))
	waitFinished(t, c, "bench", 60*time.Minute)
	wall := time.Since(start)
	rss, cpu := procStats(c.Nodes[0].Addr)
	if logText, err := os.ReadFile(c.Nodes[0].LogPath); err == nil {
		for _, line := range strings.Split(string(logText), "\n") {
			if strings.Contains(line, "secondary indexes added") {
				var entry struct {
					Took float64 `json:"took"`
				}
				json.Unmarshal([]byte(line), &entry) //nolint:errcheck // best effort
				t.Logf("dmraft: the deferred secondary indexes took %.1f s of the %v", entry.Took/1000, wall.Round(100*time.Millisecond))
			}
		}
	}
	results = append(results, result{"dmraft full", wall, rss, cpu, pidCPU(up.PID()) - up0, pidCPU(down.PID()) - down0})
	verify("dmraft")

	// mysqldump | mysql
	reset()
	auth := func(s *mariadb.Server) []string {
		return []string{"-h127.0.0.1", "-P" + strconv.Itoa(s.Port), "-u" + mariadb.RootUser, "-p" + mariadb.RootPassword}
	}
	up0, down0 = pidCPU(up.PID()), pidCPU(down.PID())
	start = time.Now()
	pipe := fmt.Sprintf("mysqldump %s --single-transaction --databases sbtest | mysql %s", strings.Join(auth(up), " "), strings.Join(auth(down), " "))
	if out, err := exec.Command("bash", "-o", "pipefail", "-c", pipe).CombinedOutput(); err != nil {
		t.Fatalf("mysqldump | mysql: %v\n%s", err, out)
	}
	results = append(results, result{"mysqldump | mysql", time.Since(start), 0, 0, pidCPU(up.PID()) - up0, pidCPU(down.PID()) - down0})
	verify("mysqldump")

	// mydumper + myloader
	if _, err := exec.LookPath("mydumper"); err != nil {
		if out, err := exec.Command("apt-get", "install", "-y", "mydumper").CombinedOutput(); err != nil {
			t.Logf("mydumper not available (%v): %s", err, lastLines(out, 3))
		}
	}
	if _, err := exec.LookPath("mydumper"); err == nil {
		reset()
		dir := filepath.Join(t.TempDir(), "dump")
		up0, down0 = pidCPU(up.PID()), pidCPU(down.PID())
		start = time.Now()
		dumpArgs := []string{"-h", "127.0.0.1", "-P", strconv.Itoa(up.Port), "-u", mariadb.RootUser, "-p", mariadb.RootPassword, "-B", "sbtest", "-o", dir, "-t", "4", "-r", "100000"}
		if out, err := exec.Command("mydumper", dumpArgs...).CombinedOutput(); err != nil {
			t.Fatalf("mydumper: %v\n%s", err, lastLines(out, 10))
		}
		loadArgs := []string{"-h", "127.0.0.1", "-P", strconv.Itoa(down.Port), "-u", mariadb.RootUser, "-p", mariadb.RootPassword, "-d", dir, "-t", "4", "-o"}
		if out, err := exec.Command("myloader", loadArgs...).CombinedOutput(); err != nil {
			t.Fatalf("myloader: %v\n%s", err, lastLines(out, 10))
		}
		results = append(results, result{"mydumper + myloader", time.Since(start), 0, 0, pidCPU(up.PID()) - up0, pidCPU(down.PID()) - down0})
		verify("mydumper")
	}

	var report bytes.Buffer
	fmt.Fprintf(&report, "\nfull copy of %d rows, %.0f MB (InnoDB data_length) on %d cores\n", total, float64(dataBytes)/1e6, numCPU())
	fmt.Fprintf(&report, "%-22s %10s %10s %12s %14s %12s %10s %10s %10s\n", "tool", "wall", "MB/s", "rows/s", "dmraft speedup", "peak RSS", "CPU", "src CPU", "tgt CPU")
	for _, r := range results {
		rss := "-"
		if r.rss > 0 {
			rss = fmt.Sprintf("%d MB", r.rss/1024)
		}
		cpu := "-"
		if r.cpu > 0 {
			cpu = r.cpu.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(&report, "%-22s %10s %10.1f %12.0f %13.2fx %12s %10s %10s %10s\n", r.name, r.wall.Round(100*time.Millisecond),
			float64(dataBytes)/1e6/r.wall.Seconds(), float64(total)/r.wall.Seconds(), r.wall.Seconds()/results[0].wall.Seconds(), rss, cpu,
			r.upCPU.Round(100*time.Millisecond), r.downCPU.Round(100*time.Millisecond))
	}
	t.Log(report.String())
	fmt.Println(report.String())
}

// sysbenchTable is sysbench's oltp table, filled like `sysbench prepare`
// (k random, c and pad random digit groups), generated server side.
func sysbenchTable(db, name string, rows int) []string {
	t := Quote(db) + "." + Quote(name)
	stmts := []string{"CREATE TABLE " + t + " (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_1 (k)) ENGINE=InnoDB"}
	const batch = 200000
	for lo := 1; lo <= rows; lo += batch {
		hi := min(lo+batch-1, rows)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (id, k, c, pad) SELECT seq, FLOOR(RAND(seq) * %d), "+
			"CONCAT_WS('-', LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0')), "+
			"CONCAT_WS('-', LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0'), LPAD(FLOOR(RAND()*1e11), 11, '0')) "+
			"FROM %s.seq_%d_to_%d", t, rows, Quote(db), lo, hi))
	}
	return stmts
}

// procStats returns VmHWM (KiB) and the CPU time (user+system) of the
// dmnode process listening on addr.
func procStats(addr string) (int64, time.Duration) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("dmnode")) || !bytes.Contains(b, []byte(addr)) {
			continue
		}
		var rss int64
		st, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		var cpu time.Duration
		stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				stt, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ = 100
			}
		}
		return rss, cpu
	}
	return 0, 0
}

// pidCPU returns the CPU time (user+system) of process pid so far.
func pidCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) <= 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
