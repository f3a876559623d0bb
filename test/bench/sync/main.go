package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

const (
	dataDB = "sbtest"
	hbDB   = "dmraft_bench"
	metaDB = "dm_meta"
)

var (
	rowsFlag     = flag.Int("rows", 1000000, "row changes in the backlog (about; counted exactly in the binlog)")
	tablesFlag   = flag.Int("tables", 4, "sysbench tables")
	sizeFlag     = flag.Int("table-size", 100000, "rows per sysbench table before the backlog")
	threadsFlag  = flag.Int("threads", 4, "sysbench threads while building the backlog")
	nodesFlag    = flag.Int("nodes", 3, "dmnode processes")
	workersFlag  = flag.Int("workers", 0, "dmraft syncer worker-count (0: the default)")
	batchFlag    = flag.Int("batch", 0, "dmraft syncer batch for the 'batch on' run (0: the default)")
	parallelFlag = flag.Int("parallel-threads", 4, "slave_parallel_threads of the parallel MariaDB replica")
	replicas     = flag.Bool("replicas", true, "replay with the MariaDB replicas too (false: dmraft only, no ratios)")
	batchOff     = flag.Bool("batch-off", true, "also replay with dmraft syncer batch: 1")
	lagFlag      = flag.Duration("lag", 30*time.Second, "steady-state lag phase (0 skips it)")
	dmnodeFlag   = flag.String("dmnode-bin", "", "run this dmnode binary instead of one built from the tree (e.g. one with a profiler)")
	timeoutFlag  = flag.Duration("replay-timeout", 30*time.Minute, "longest a single replay may take")
	profileFlag  = flag.String("cpuprofile", "", "write a CPU profile of the bound dmnode during the (a) replay to this file (nodes serve --pprof-addr on loopback)")
	profileSecs  = flag.Int("cpuprofile-seconds", 5, "length of the -cpuprofile sample, from the start of the replay")
	quickFlag    = flag.Bool("quick", false, "small run: -rows 100000 -table-size 20000 -lag 15s (unless set)")
)

func main() {
	flag.Parse()
	if *quickFlag {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rows"] {
			*rowsFlag = 100000
		}
		if !set["table-size"] {
			*sizeFlag = 20000
		}
		if !set["lag"] {
			*lagFlag = 15 * time.Second
		}
	}
	tb := &harness.ProgramTB{}
	defer tb.Close()
	b := &bench{tb: tb, ctx: context.Background()}
	b.run()
}

type bench struct {
	tb       *harness.ProgramTB
	ctx      context.Context
	src      *mariadb.Server
	dumpFile string
	start    pos
	end      pos
	backlog  counts
	genWall  time.Duration
	results  []result
	lag      *lagResult
}

type pos struct {
	File string
	Pos  uint32
}

func (p pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

func (p pos) less(q pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	return p.Pos < q.Pos
}

type counts struct {
	rows, inserts, updates, deletes, txns, events int64
	bytes                                         int64
}

type result struct {
	name      string
	wall      time.Duration
	targetCPU time.Duration
	nodeCPU   time.Duration // the dmnode that ran the sync
	otherCPU  time.Duration // the other dmnodes
	rssKB     int64
	commits   int64 // dmraft worker transactions (batch log rows)
	maxBatch  int64
	note      string
	dmraft    bool
	startup   time.Duration // start-task to the first commit
	// targetTxns counts distinct batch log timestamps: the target
	// transactions that applied rows (a group commit writes its batches'
	// log rows in one statement, so they share one timestamp).
	targetTxns int64
}

type lagResult struct {
	samples              []time.Duration
	rate                 int // sysbench transactions/s asked
	srcRows              counts
	dur                  time.Duration
	maxSecondsBehind     int64
	settle               time.Duration
	nodeCPU              time.Duration
	rssKB                int64
	sysbenchTPS          float64
	sysbenchOut          string
	targetCPU            time.Duration
	recentRpsDuringPhase []int64
}

var big = []string{"--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M", "--max-allowed-packet=64M"}

func (b *bench) run() {
	if err := mariadb.EnsureInstalled(); err != nil {
		b.tb.Fatal(err)
	}
	ensureSysbench(b.tb)
	dmnode, _, err := harness.Binaries() // build before anything is timed
	if err != nil {
		b.tb.Fatal(err)
	}
	if *dmnodeFlag != "" {
		if out, err := exec.Command("cp", *dmnodeFlag, dmnode).CombinedOutput(); err != nil {
			b.tb.Fatalf("-dmnode-bin: %v %s", err, out)
		}
	}
	b.src = b.startServer(mariadb.Options{Name: "sync-src", Binlog: true, ExtraArgs: big})
	b.buildBacklog()

	par := *parallelFlag
	if *replicas {
		b.results = append(b.results, b.replica("(b) MariaDB replica, single-threaded", 0))
		b.results = append(b.results, b.replica(fmt.Sprintf("(c) MariaDB replica, %d threads optimistic", par), par))
	}
	if *batchOff {
		b.results = append(b.results, b.dmraft("(a') dmraft, batch 1", 1, false))
	}
	b.results = append(b.results, b.dmraft(fmt.Sprintf("(a) dmraft, %d node(s), workers %s, batch %s", *nodesFlag, orDefault(*workersFlag), orDefault(*batchFlag)), *batchFlag, *lagFlag > 0))
	b.report()
}

func orDefault(v int) string {
	if v == 0 {
		return "default"
	}
	return strconv.Itoa(v)
}

// ---- source and backlog ----

func (b *bench) startServer(o mariadb.Options) *mariadb.Server {
	s, err := mariadb.StartServer(b.ctx, o)
	if err != nil {
		b.tb.Fatal(err)
	}
	b.tb.Cleanup(func() {
		if b.tb.Failed() {
			s.Kill()
			fmt.Printf("mariadb %s kept in %s; error log tail:\n%s\n", s.Name, s.Dir, s.LogTail(10))
			return
		}
		s.Close()
	})
	return s
}

func (b *bench) exec(s *mariadb.Server, stmts ...string) {
	if err := s.ExecSQL(b.ctx, stmts...); err != nil {
		b.tb.Fatal(err)
	}
}

func (b *bench) sysbench(s *mariadb.Server, args ...string) string {
	full := append([]string{"--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=" + strconv.Itoa(s.Port),
		"--mysql-user=" + mariadb.RootUser, "--mysql-password=" + mariadb.RootPassword, "--mysql-db=" + dataDB,
		"--tables=" + strconv.Itoa(*tablesFlag), "--table-size=" + strconv.Itoa(*sizeFlag)}, args[1:]...)
	full = append([]string{args[0]}, full...)
	out, err := exec.Command("sysbench", full...).CombinedOutput()
	if err != nil {
		b.tb.Fatalf("sysbench %s: %v\n%s", strings.Join(args, " "), err, lastLines(out, 15))
	}
	return string(out)
}

func (b *bench) masterPos(s *mariadb.Server) pos {
	db := openDB(b.tb, s)
	defer db.Close()
	rows, err := db.QueryContext(b.ctx, "SHOW MASTER STATUS")
	if err != nil {
		b.tb.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		b.tb.Fatal("SHOW MASTER STATUS: no row (binlog off?)")
	}
	if err := rows.Scan(ptrs...); err != nil {
		b.tb.Fatal(err)
	}
	p, _ := strconv.ParseUint(string(vals[1]), 10, 32)
	return pos{File: string(vals[0]), Pos: uint32(p)}
}

func (b *bench) buildBacklog() {
	t0 := time.Now()
	step("source: sysbench prepare (%d tables x %d rows)", *tablesFlag, *sizeFlag)
	b.exec(b.src, "CREATE DATABASE "+dataDB, "CREATE DATABASE "+hbDB,
		"CREATE TABLE "+hbDB+".heartbeat (id INT PRIMARY KEY, ts DATETIME(6) NOT NULL)",
		"INSERT INTO "+hbDB+".heartbeat VALUES (1, NOW(6))")
	b.sysbench(b.src, "oltp_write_only", "--threads="+strconv.Itoa(min(*tablesFlag, 4)), "prepare")
	b.start = b.masterPos(b.src)

	// The initial state of every target: a dump taken at the start position
	// (the source is quiet; the position is checked again after the dump).
	dir, err := os.MkdirTemp("", "bench-sync-")
	if err != nil {
		b.tb.Fatal(err)
	}
	b.tb.Cleanup(func() { os.RemoveAll(dir) })
	b.dumpFile = filepath.Join(dir, "start.sql")
	pipe := fmt.Sprintf("mysqldump %s --single-transaction --databases %s %s > %s", strings.Join(auth(b.src), " "), dataDB, hbDB, b.dumpFile)
	if out, err := exec.Command("bash", "-o", "pipefail", "-c", pipe).CombinedOutput(); err != nil {
		b.tb.Fatalf("mysqldump: %v\n%s", err, out)
	}
	if p := b.masterPos(b.src); p != b.start {
		b.tb.Fatalf("the source moved during the dump: %v -> %v", b.start, p)
	}
	fmt.Printf("start position %v, prepared in %v\n", b.start, time.Since(t0).Round(time.Second))

	// oltp_insert: 1 row change per transaction; oltp_write_only: 4
	// (update on k, update on c, delete + insert of the same id). A fifth of
	// the rows from each, plus 2% for updates that hit a deleted row.
	inserts := max(1, *rowsFlag/5)
	writes := max(1, int(float64(*rowsFlag)*4/5/4*1.02))
	threads := "--threads=" + strconv.Itoa(*threadsFlag)
	step("source: backlog of about %d row changes (oltp_insert %d events, oltp_write_only %d events, %d threads)", *rowsFlag, inserts, writes, *threadsFlag)
	t0 = time.Now()
	b.sysbench(b.src, "oltp_insert", threads, "--time=0", "--events="+strconv.Itoa(inserts), "--report-interval=0", "run")
	b.sysbench(b.src, "oltp_write_only", threads, "--time=0", "--events="+strconv.Itoa(writes), "--report-interval=0", "run")
	b.genWall = time.Since(t0)
	b.end = b.masterPos(b.src)
	b.backlog = b.countRows(b.start, b.end)
	fmt.Printf("end position %v: %d row changes (%d inserts, %d updates, %d deletes) in %d transactions, %.0f MB of binlog; written by sysbench in %v (%.0f rows/s)\n",
		b.end, b.backlog.rows, b.backlog.inserts, b.backlog.updates, b.backlog.deletes, b.backlog.txns, float64(b.backlog.bytes)/1e6,
		b.genWall.Round(100*time.Millisecond), float64(b.backlog.rows)/b.genWall.Seconds())
}

var errStop = errors.New("stop")

// countRows counts the row changes of dataDB and hbDB in the source's
// binlog files between from and to.
func (b *bench) countRows(from, to pos) counts {
	db := openDB(b.tb, b.src)
	defer db.Close()
	rows, err := db.QueryContext(b.ctx, "SHOW BINARY LOGS")
	if err != nil {
		b.tb.Fatal(err)
	}
	var files []string
	for rows.Next() {
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		if f := string(vals[0]); f >= from.File && f <= to.File {
			files = append(files, f)
		}
	}
	rows.Close()
	var c counts
	for _, f := range files {
		p := replication.NewBinlogParser()
		p.SetFlavor("mariadb")
		p.SetVerifyChecksum(false)
		off := int64(4)
		if f == from.File {
			off = int64(from.Pos)
		}
		err := p.ParseFile(filepath.Join(b.src.DataDir, f), off, func(e *replication.BinlogEvent) error {
			if f == to.File && e.Header.LogPos > to.Pos {
				return errStop
			}
			if f == from.File && e.Header.LogPos <= from.Pos {
				return nil // the format description event, read first
			}
			c.events++
			switch ev := e.Event.(type) {
			case *replication.XIDEvent:
				c.txns++
			case *replication.RowsEvent:
				s := string(ev.Table.Schema)
				if s != dataDB && s != hbDB {
					return nil
				}
				switch e.Header.EventType {
				case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
					c.inserts += int64(len(ev.Rows))
				case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
					c.deletes += int64(len(ev.Rows))
				default:
					c.updates += int64(len(ev.Rows) / 2)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) && !strings.Contains(err.Error(), errStop.Error()) {
			b.tb.Fatalf("parse binlog %s: %v", f, err)
		}
	}
	c.rows = c.inserts + c.updates + c.deletes
	c.bytes = b.binlogBytes(files, from, to)
	return c
}

func (b *bench) binlogBytes(files []string, from, to pos) int64 {
	var n int64
	for _, f := range files {
		st, err := os.Stat(filepath.Join(b.src.DataDir, f))
		if err != nil {
			continue
		}
		lo, hi := int64(0), st.Size()
		if f == from.File {
			lo = int64(from.Pos)
		}
		if f == to.File {
			hi = int64(to.Pos)
		}
		n += hi - lo
	}
	return n
}

// freshTarget starts a target server and loads the start-position dump.
func (b *bench) freshTarget(name string) *mariadb.Server {
	s := b.startServer(mariadb.Options{Name: name, ExtraArgs: big})
	t0 := time.Now()
	cmd := fmt.Sprintf("mysql %s < %s", strings.Join(auth(s), " "), b.dumpFile)
	if out, err := exec.Command("bash", "-o", "pipefail", "-c", cmd).CombinedOutput(); err != nil {
		b.tb.Fatalf("load the dump into %s: %v\n%s", name, err, out)
	}
	fmt.Printf("target %s (port %d) loaded with the start-position dump in %v\n", name, s.Port, time.Since(t0).Round(100*time.Millisecond))
	return s
}

// verify compares every table of the backlog between source and target.
func (b *bench) verify(name string, down *mariadb.Server) {
	src, dst := openDB(b.tb, b.src), openDB(b.tb, down)
	defer src.Close()
	defer dst.Close()
	tables := []string{hbDB + ".heartbeat"}
	for i := 1; i <= *tablesFlag; i++ {
		tables = append(tables, fmt.Sprintf("%s.sbtest%d", dataDB, i))
	}
	var bad []string
	for _, t := range tables {
		s, tbl, _ := strings.Cut(t, ".")
		a, err1 := mariadb.ChecksumTable(b.ctx, src, s, tbl)
		c, err2 := mariadb.ChecksumTable(b.ctx, dst, s, tbl)
		if err1 != nil || err2 != nil || a != c {
			bad = append(bad, fmt.Sprintf("%s: source %d target %d (%v %v)", t, a, c, err1, err2))
		}
	}
	if len(bad) > 0 {
		b.tb.Fatalf("%s: the target differs from the source:\n  %s", name, strings.Join(bad, "\n  "))
	}
	fmt.Printf("%s: target equals source (CHECKSUM TABLE of %d tables)\n", name, len(tables))
}

// ---- MariaDB replica ----

func (b *bench) replica(name string, threads int) result {
	step("%s", name)
	down := b.freshTarget(fmt.Sprintf("sync-replica-%d", threads))
	b.exec(down,
		"SET GLOBAL slave_parallel_threads = "+strconv.Itoa(threads),
		"SET GLOBAL slave_parallel_mode = 'optimistic'",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d, MASTER_USE_GTID=no",
			b.src.Port, mariadb.User, mariadb.Password, b.start.File, b.start.Pos))
	db := openDB(b.tb, down)
	defer db.Close()
	cpu0 := pidCPU(down.PID())
	t0 := time.Now()
	b.exec(down, "START SLAVE")
	var res sql.NullInt64
	err := db.QueryRowContext(b.ctx, "SELECT MASTER_POS_WAIT(?, ?, ?)", b.end.File, b.end.Pos, int(timeoutFlag.Seconds())).Scan(&res)
	wall := time.Since(t0)
	cpu := pidCPU(down.PID()) - cpu0
	if err != nil || !res.Valid || res.Int64 < 0 {
		b.tb.Fatalf("%s: MASTER_POS_WAIT = %v, %v; slave status: %s", name, res, err, slaveStatus(db))
	}
	b.exec(down, "STOP SLAVE")
	b.verify(name, down)
	r := result{name: name, wall: wall, targetCPU: cpu}
	fmt.Printf("%s: %v, %.0f rows/s\n", name, wall.Round(10*time.Millisecond), float64(b.backlog.rows)/wall.Seconds())
	down.Close()
	return r
}

func slaveStatus(db *sql.DB) string {
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		return "(none)"
	}
	rows.Scan(ptrs...)
	var out []string
	for i, c := range cols {
		switch c {
		case "Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error", "Relay_Master_Log_File", "Exec_Master_Log_Pos":
			out = append(out, c+"="+vals[i].String)
		}
	}
	return strings.Join(out, " ")
}

// ---- dmraft ----

type syncProgress struct {
	Stage               string `json:"stage"`
	TotalRows           int64  `json:"totalRows"`
	TotalEvents         int64  `json:"totalEvents"`
	RecentRps           int64  `json:"recentRps"`
	MasterBinlog        string `json:"masterBinlog"`
	SyncerBinlog        string `json:"syncerBinlog"`
	Synced              bool   `json:"synced"`
	SecondsBehindMaster int64  `json:"secondsBehindMaster"`
}

type subStatus struct {
	Stage    string          `json:"stage"`
	Unit     string          `json:"unit"`
	Progress json.RawMessage `json:"progress"`
	Result   *struct {
		Errors []struct {
			ErrCode, Message, Workaround string
		} `json:"errors"`
	} `json:"result"`
}

type queryStatus struct {
	Sources []struct {
		SourceStatus struct {
			Source string `json:"source"`
			Worker string `json:"worker"`
		} `json:"sourceStatus"`
		SubTaskStatus []subStatus `json:"subTaskStatus"`
	} `json:"sources"`
}

// status returns the bound node and the sync progress of task.
func status(c *harness.Cluster, task string) (worker string, st subStatus, p syncProgress, err error) {
	var q queryStatus
	if err = c.DmctlJSON(&q, "query-status", task); err != nil {
		return "", st, p, err
	}
	if len(q.Sources) != 1 || len(q.Sources[0].SubTaskStatus) != 1 {
		return "", st, p, fmt.Errorf("query-status: want one subtask, got %+v", q)
	}
	st = q.Sources[0].SubTaskStatus[0]
	if len(st.Progress) > 0 {
		_ = json.Unmarshal(st.Progress, &p)
	}
	return q.Sources[0].SourceStatus.Worker, st, p, nil
}

// parsePos reads syncerBinlog's ("mysql-bin.000001", 1234) form.
func parsePos(s string) (pos, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	var a []any
	if json.Unmarshal([]byte("["+s+"]"), &a) != nil || len(a) != 2 {
		return pos{}, false
	}
	name, _ := a[0].(string)
	n, _ := a[1].(float64)
	return pos{File: name, Pos: uint32(n)}, name != ""
}

func (b *bench) dmraft(name string, batch int, lag bool) result {
	step("%s", name)
	down := b.freshTarget(fmt.Sprintf("sync-dmraft-b%d", batch))
	nodeArgs := []string{"--log-level", "info"}
	profile := *profileFlag != "" && strings.HasPrefix(name, "(a)")
	if profile {
		nodeArgs = append(nodeArgs, "--pprof-addr", "127.0.0.1:0")
	}
	c := harness.NewCluster(b.tb, *nodesFlag, harness.Options{NodeArgs: nodeArgs})
	dir := c.Dir()
	srcYAML := fmt.Sprintf("source-id: src1\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: 127.0.0.1\n  port: %d\n  user: %s\n  password: %s\n",
		b.src.Port, mariadb.User, mariadb.Password)
	if _, err := c.Dmctl("operate-source", "create", writeFile(b.tb, dir, "source.yaml", srcYAML)); err != nil {
		b.tb.Fatal(err)
	}
	var syncer []string
	if *workersFlag > 0 {
		syncer = append(syncer, "worker-count: "+strconv.Itoa(*workersFlag))
	}
	if batch > 0 {
		syncer = append(syncer, "batch: "+strconv.Itoa(batch))
	}
	syncerLine := ""
	if len(syncer) > 0 {
		syncerLine = "    syncer: {" + strings.Join(syncer, ", ") + "}\n"
	}
	task := "bench"
	taskYAML := fmt.Sprintf(`name: %s
task-mode: incremental
target-database: {host: 127.0.0.1, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: src1
    block-allow-list: bal
    meta: {binlog-name: %s, binlog-pos: %d}
%sblock-allow-list:
  bal: {do-dbs: [%s, %s]}
`, task, down.Port, mariadb.User, mariadb.Password, b.start.File, b.start.Pos, syncerLine, dataDB, hbDB)

	nodeCPU0 := map[string]time.Duration{}
	for _, n := range c.Nodes {
		_, nodeCPU0[n.Name] = procStats(n.Addr)
	}
	tcpu0 := pidCPU(down.PID())
	t0 := time.Now()
	if _, err := c.Dmctl("start-task", writeFile(b.tb, dir, "task.yaml", taskYAML)); err != nil {
		b.tb.Fatal(err)
	}
	if profile {
		go cpuProfile(c, task, *profileFlag, *profileSecs)
	}
	// Done when the checkpoint (syncerBinlog, the lowest committed point of
	// any worker) reaches the end position: robust to a restart of the sync
	// unit (e.g. a lapsed lease on a loaded machine), which resets totalRows.
	var worker string
	var p syncProgress
	deadline := time.Now().Add(*timeoutFlag)
	for {
		var st subStatus
		var err error
		worker, st, p, err = status(c, task)
		if err == nil && st.Result != nil && len(st.Result.Errors) > 0 {
			b.tb.Fatalf("%s: subtask error: %+v", name, st.Result.Errors)
		}
		if sp, ok := parsePos(p.SyncerBinlog); err == nil && ok && !sp.less(b.end) {
			break
		}
		if time.Now().After(deadline) {
			b.tb.Fatalf("%s: not caught up within %v: %+v %v", name, *timeoutFlag, p, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	polled := time.Since(t0)
	// The batch log on the target dates each commit: the last one is the
	// catch-up time, independent of the polling interval and of the
	// checkpoint's idle-commit period.
	wall := polled
	var first, last sql.NullFloat64
	var applied sql.NullInt64
	tdb := openDB(b.tb, down)
	defer tdb.Close()
	var startup time.Duration
	if err := tdb.QueryRowContext(b.ctx, "SELECT UNIX_TIMESTAMP(MIN(committed_at)), UNIX_TIMESTAMP(MAX(committed_at)), SUM(row_count) FROM "+metaDB+".dmraft_sync_batches WHERE task = ?", task).Scan(&first, &last, &applied); err == nil && last.Valid {
		if at := time.Unix(0, int64(last.Float64*1e9)); at.After(t0) && at.Sub(t0) <= polled {
			wall = at.Sub(t0)
		}
		if at := time.Unix(0, int64(first.Float64*1e9)); at.After(t0) {
			startup = at.Sub(t0)
		}
	}
	tcpu := pidCPU(down.PID()) - tcpu0
	r := result{name: name, wall: wall, targetCPU: tcpu, dmraft: true, startup: startup}
	var commits, maxRows, txns sql.NullInt64
	if err := tdb.QueryRowContext(b.ctx, "SELECT COUNT(*), MAX(row_count), COUNT(DISTINCT committed_at) FROM "+metaDB+".dmraft_sync_batches WHERE task = ?", task).Scan(&commits, &maxRows, &txns); err == nil && commits.Int64 > 0 {
		r.commits, r.maxBatch, r.targetTxns = commits.Int64, maxRows.Int64, txns.Int64
	}
	for _, n := range c.Nodes {
		_, cpu := procStats(n.Addr)
		if n.Name == worker {
			r.nodeCPU = cpu - nodeCPU0[n.Name]
			r.rssKB = int64(n.RSSPeakKB())
		} else {
			r.otherCPU += cpu - nodeCPU0[n.Name]
		}
	}
	starts := 0
	for _, n := range c.Nodes {
		ev, _ := n.Events("runner_started")
		starts += len(ev)
	}
	var notes []string
	if applied.Valid && applied.Int64 != b.backlog.rows {
		notes = append(notes, fmt.Sprintf("batch log has %d rows, binlog %d", applied.Int64, b.backlog.rows))
	}
	if starts > 1 {
		notes = append(notes, fmt.Sprintf("the sync runner started %d times (restarts from the checkpoint; see fenced/lease events in the node logs)", starts))
	}
	r.note = strings.Join(notes, "; ")
	cp := polled
	fmt.Printf("%s: %v to apply %d rows (syncerBinlog >= end seen at %v), %.0f rows/s; bound node %s\n",
		name, wall.Round(10*time.Millisecond), applied.Int64, cp.Round(10*time.Millisecond),
		float64(b.backlog.rows)/wall.Seconds(), worker)
	b.verify(name, down)
	if lag {
		b.lag = b.lagPhase(c, task, worker, down, float64(b.backlog.rows)/wall.Seconds())
	}
	for _, n := range c.Nodes { // idle clusters and targets would share the cores with the next run
		n.Kill()
	}
	down.Close()
	return r
}

// cpuProfile samples the CPU of the node bound to task for secs seconds
// and writes the profile to file.
func cpuProfile(c *harness.Cluster, task, file string, secs int) {
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		worker, _, _, err := status(c, task)
		if err != nil || worker == "" {
			continue
		}
		for _, n := range c.Nodes {
			if ev, _ := n.Events("pprof_listening"); n.Name == worker && len(ev) > 0 {
				addr, _ = ev[len(ev)-1].Fields["addr"].(string)
			}
		}
	}
	if addr == "" {
		fmt.Println("cpuprofile: the bound node's pprof address was not found")
		return
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		fmt.Println("cpuprofile:", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	fmt.Printf("cpuprofile: %d bytes from %s to %s (%v)\n", len(data), addr, file, err)
}

// lagPhase loads the source at about half of rate (rows/s) with sysbench
// oltp_write_only while a heartbeat row is written every 100 ms, and
// samples the heartbeat's age on the target every 50 ms.
func (b *bench) lagPhase(c *harness.Cluster, task, worker string, down *mariadb.Server, rate float64) *lagResult {
	// Half of dmraft's catch-up rate, unless that is more than half of what
	// the source wrote unthrottled (sysbench cannot keep up a rate the
	// source cannot take while it is also replicated from).
	what := "half of dmraft's catch-up"
	if src := float64(b.backlog.rows) / b.genWall.Seconds(); src < rate {
		rate, what = src, "half of the source's own write rate, which is below dmraft's catch-up"
	}
	tps := max(1, int(rate/2/4))
	step("steady-state lag: sysbench oltp_write_only --rate=%d (~%d rows/s, %s) for %v", tps, tps*4, what, *lagFlag)
	l := &lagResult{rate: tps, dur: *lagFlag}
	var node *harness.Node
	for _, n := range c.Nodes {
		if n.Name == worker {
			node = n
		}
	}
	_, cpu0 := procStats(node.Addr)
	tcpu0 := pidCPU(down.PID())
	from := b.masterPos(b.src)
	srcDB, dstDB := openDB(b.tb, b.src), openDB(b.tb, down)
	defer srcDB.Close()
	defer dstDB.Close()
	ctx, cancel := context.WithCancel(b.ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(3)
	go func() { // heartbeat writer
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				srcDB.ExecContext(ctx, "UPDATE "+hbDB+".heartbeat SET ts = NOW(6) WHERE id = 1")
			}
		}
	}()
	measuring := make(chan struct{})
	go func() { // heartbeat reader on the target
		defer wg.Done()
		<-measuring
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				var us sql.NullInt64
				if err := dstDB.QueryRowContext(ctx, "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) FROM "+hbDB+".heartbeat WHERE id = 1").Scan(&us); err == nil && us.Valid {
					mu.Lock()
					l.samples = append(l.samples, time.Duration(us.Int64)*time.Microsecond)
					mu.Unlock()
				}
			}
		}
	}()
	go func() { // query-status, once a second
		defer wg.Done()
		<-measuring
		for ctx.Err() == nil {
			if _, _, p, err := status(c, task); err == nil {
				mu.Lock()
				l.maxSecondsBehind = max(l.maxSecondsBehind, p.SecondsBehindMaster)
				l.recentRpsDuringPhase = append(l.recentRpsDuringPhase, p.RecentRps)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	time.Sleep(time.Second) // let the heartbeat reach the target before sampling
	close(measuring)
	out := b.sysbench(b.src, "oltp_write_only", "--threads="+strconv.Itoa(*threadsFlag), "--time="+strconv.Itoa(int(lagFlag.Seconds())),
		"--rate="+strconv.Itoa(tps), "--report-interval=0", "run")
	cancel()
	wg.Wait()
	l.sysbenchOut = out
	if m := regexp.MustCompile(`transactions:\s+\d+\s+\(([\d.]+) per sec`).FindStringSubmatch(out); m != nil {
		l.sysbenchTPS, _ = strconv.ParseFloat(m[1], 64)
	}
	to := b.masterPos(b.src)
	l.srcRows = b.countRows(from, to)
	t0 := time.Now()
	if !harness.Eventually(120*time.Second, func() bool {
		_, _, p, err := status(c, task)
		sp, ok := parsePos(p.SyncerBinlog)
		return err == nil && ok && !sp.less(to)
	}) {
		b.tb.Fatalf("lag phase: dmraft did not reach %v", to)
	}
	l.settle = time.Since(t0)
	_, cpu1 := procStats(node.Addr)
	l.nodeCPU = cpu1 - cpu0
	l.targetCPU = pidCPU(down.PID()) - tcpu0
	l.rssKB = int64(node.RSSPeakKB())
	b.verify("after the lag phase", down)
	sort.Slice(l.samples, func(i, j int) bool { return l.samples[i] < l.samples[j] })
	return l
}

// ---- report ----

func (b *bench) report() {
	var r bytes.Buffer
	n := b.backlog
	fmt.Fprintf(&r, "\n== bench-sync: replay of one binlog backlog on %d cores (%s) ==\n", runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&r, "backlog %v .. %v: %d row changes (%d ins, %d upd, %d del), %d transactions, %.0f MB binlog; %d tables x %d rows before it\n",
		b.start, b.end, n.rows, n.inserts, n.updates, n.deletes, n.txns, float64(n.bytes)/1e6, *tablesFlag, *sizeFlag)
	fmt.Fprintf(&r, "source wrote it in %v (%.0f rows/s, sysbench %d threads)\n\n", b.genWall.Round(100*time.Millisecond), float64(n.rows)/b.genWall.Seconds(), *threadsFlag)
	var base, par float64
	for _, x := range b.results {
		switch {
		case strings.HasPrefix(x.name, "(b)"):
			base = float64(n.rows) / x.wall.Seconds()
		case strings.HasPrefix(x.name, "(c)"):
			par = float64(n.rows) / x.wall.Seconds()
		}
	}
	fmt.Fprintf(&r, "%-44s %9s %9s %8s %7s %7s %10s %11s %10s %9s\n", "replay", "wall", "rows/s", "txn/s", "/(b)", "/(c)", "target CPU", "dmnode CPU", "others CPU", "peak RSS")
	for _, x := range b.results {
		rps := float64(n.rows) / x.wall.Seconds()
		dash := func(d time.Duration) string {
			if !x.dmraft {
				return "-"
			}
			return d.Round(100 * time.Millisecond).String()
		}
		rss := "-"
		if x.rssKB > 0 {
			rss = fmt.Sprintf("%d MiB", x.rssKB/1024)
		}
		fmt.Fprintf(&r, "%-44s %9s %9.0f %8.0f %7s %7s %10s %11s %10s %9s\n", x.name, x.wall.Round(10*time.Millisecond), rps,
			float64(n.txns)/x.wall.Seconds(), ratio(rps, base), ratio(rps, par), x.targetCPU.Round(100*time.Millisecond), dash(x.nodeCPU), dash(x.otherCPU), rss)
		if x.commits > 0 {
			fmt.Fprintf(&r, "    %d worker batches, %.1f rows per batch on average (max %d), %.0f commits/s\n", x.commits,
				float64(n.rows)/float64(x.commits), x.maxBatch, float64(x.commits)/x.wall.Seconds())
		}
		if x.targetTxns > 0 {
			fmt.Fprintf(&r, "    about %d target transactions (distinct batch log timestamps), %.1f rows each\n", x.targetTxns, float64(n.rows)/float64(x.targetTxns))
		}
		if x.startup > 0 {
			fmt.Fprintf(&r, "    first commit %v after start-task (included in wall); from the first commit on: %.0f rows/s\n",
				x.startup.Round(10*time.Millisecond), float64(n.rows)/(x.wall-x.startup).Seconds())
		}
		if x.note != "" {
			fmt.Fprintf(&r, "    note: %s\n", x.note)
		}
	}
	for _, x := range b.results {
		if strings.HasPrefix(x.name, "(a)") {
			fmt.Fprintf(&r, "\ndmraft catch-up / native single-threaded: %s; / native parallel (%d threads): %s (goal >= 1.0x)\n",
				ratio(float64(n.rows)/x.wall.Seconds(), base), *parallelFlag, ratio(float64(n.rows)/x.wall.Seconds(), par))
			fmt.Fprintf(&r, "dmraft CPU per 1k rows: dmnode %.2f ms, target %.2f ms\n", ms(x.nodeCPU)/float64(n.rows)*1000, ms(x.targetCPU)/float64(n.rows)*1000)
		}
		if strings.HasPrefix(x.name, "(a')") {
			for _, y := range b.results {
				if strings.HasPrefix(y.name, "(a)") {
					fmt.Fprintf(&r, "batching on / off: %.2fx\n", x.wall.Seconds()/y.wall.Seconds())
				}
			}
		}
	}
	if l := b.lag; l != nil {
		fmt.Fprintf(&r, "\nsteady-state lag (%v, sysbench --rate=%d asked, %.0f tps done; source %d row changes = %.0f rows/s incl. heartbeat):\n",
			l.dur, l.rate, l.sysbenchTPS, l.srcRows.rows, float64(l.srcRows.rows)/l.dur.Seconds())
		if len(l.samples) > 0 {
			fmt.Fprintf(&r, "  heartbeat lag  p50 %v  p99 %v  max %v  (%d samples; includes up to 100 ms of heartbeat period) (goal p99 < 1s)\n",
				pct(l.samples, 50), pct(l.samples, 99), l.samples[len(l.samples)-1].Round(time.Millisecond), len(l.samples))
		}
		fmt.Fprintf(&r, "  query-status max secondsBehindMaster %d; recentRps samples %v\n", l.maxSecondsBehind, l.recentRpsDuringPhase)
		fmt.Fprintf(&r, "  caught up %v after the load stopped; dmnode CPU %v (%.0f%% of one core), target CPU %v; dmnode peak RSS %d MiB\n",
			l.settle.Round(10*time.Millisecond), l.nodeCPU.Round(100*time.Millisecond), 100*l.nodeCPU.Seconds()/l.dur.Seconds(),
			l.targetCPU.Round(100*time.Millisecond), l.rssKB/1024)
	}
	fmt.Print(r.String())
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(ds []time.Duration, p int) time.Duration {
	i := (len(ds)*p + 99) / 100
	if i > 0 {
		i--
	}
	return ds[i].Round(time.Millisecond)
}

// ---- helpers ----

func step(format string, args ...any) {
	fmt.Printf("\n== %s [%s]\n", fmt.Sprintf(format, args...), time.Now().Format("15:04:05"))
}

func ensureSysbench(tb *harness.ProgramTB) {
	if _, err := exec.LookPath("sysbench"); err == nil {
		return
	}
	fmt.Println("installing sysbench (apt-get)")
	cmd := exec.Command("bash", "-c", "apt-get install -y -qq sysbench || (apt-get update -qq && apt-get install -y -qq sysbench)")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("sysbench is missing and apt-get install sysbench failed: %v\n%s", err, lastLines(out, 5))
	}
}

func auth(s *mariadb.Server) []string {
	return []string{"-h127.0.0.1", "-P" + strconv.Itoa(s.Port), "-u" + mariadb.RootUser, "-p" + mariadb.RootPassword}
}

func openDB(tb *harness.ProgramTB, s *mariadb.Server) *sql.DB {
	db, err := s.Open("")
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func writeFile(tb *harness.ProgramTB, dir, name, text string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pidCPU is the user+system CPU time of a process.
func pidCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// procStats returns VmHWM (KiB) and the CPU time of the dmnode process
// listening on addr.
func procStats(addr string) (int64, time.Duration) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("dmnode")) || !bytes.Contains(b, []byte(addr+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		var rss int64
		st, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		return rss, pidCPU(pid)
	}
	return 0, 0
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
