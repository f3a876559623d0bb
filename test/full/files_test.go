package full

import (
	"encoding/json"
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

// fileTaskYAML is TaskYAML in another task-mode with loaders.dir set;
// mydumper and loader are the other fields of md and ld.
func fileTaskYAML(name, mode, dir string, down *mariadb.Server, mydumper, loader string) string {
	y := TaskYAML(name, down.Port, mydumper, loader+", dir: '"+dir+"'", "")
	out := strings.Replace(y, "task-mode: full", "task-mode: "+mode, 1)
	if out == y {
		panic("TaskYAML has no task-mode: full line")
	}
	return out
}

// waitUnit waits until unit is in the subtask's finished marks.
func waitUnit(t *testing.T, c *harness.Cluster, task, unit string, timeout time.Duration) subStatus {
	t.Helper()
	var st subStatus
	var err error
	ok := harness.Eventually(timeout, func() bool {
		_, _, st, err = status(c, task)
		if err == nil && st.Result != nil && len(st.Result.Errors) > 0 {
			t.Fatalf("subtask error: %+v", st.Result.Errors)
		}
		for _, u := range st.FinishedUnits {
			if u == unit {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("task %s: unit %s not finished within %v: %+v %v", task, unit, timeout, st, err)
	}
	return st
}

// waitError waits until the subtask reports an error and returns it.
func waitError(t *testing.T, c *harness.Cluster, task string, timeout time.Duration) (code, message, workaround string) {
	t.Helper()
	if !harness.Eventually(timeout, func() bool {
		_, _, st, err := status(c, task)
		if err != nil || st.Result == nil || len(st.Result.Errors) == 0 {
			return false
		}
		e := st.Result.Errors[0]
		code, message, workaround = e.ErrCode, e.Message, e.Workaround
		return true
	}) {
		t.Fatalf("task %s reported no error within %v", task, timeout)
	}
	return code, message, workaround
}

// TestDumpThenLoadFiles: task-mode dump writes a mydumper-style directory
// below the bound node's data directory (loaders.dir is relative); a load
// task on another node pauses naming the directory and the node, having
// loaded nothing; moved back to the node with the files and resumed, it
// loads them (routes and filters applied, views created) and the target
// equals the source. The mysql client loads a dumped file too.
func TestDumpThenLoadFiles(t *testing.T) {
	c, up, down := startAll(t)
	seed(t, up, 20000)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))

	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "dump.yaml", fileTaskYAML("dumpt", "dump", "./dumps", down, "threads: 2, rows: 3000", "pool-size: 3")))
	waitUnit(t, c, "dumpt", "dump", 90*time.Second)
	owner, _, _, err := status(c, "dumpt")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(c.Node(owner).DataDir, "dumps", "dumpt.src1")
	checkDumpDir(t, up, dir)
	if entries, err := os.ReadDir(dir); err == nil {
		t.Logf("%s holds %d files", dir, len(entries))
	}

	// The mysql client loads a dumped table (every type) into a scratch schema.
	client := func(db, file string) {
		t.Helper()
		cmd := exec.Command("mysql", "-h127.0.0.1", "-P"+strconv.Itoa(down.Port), "-u"+mariadb.RootUser, "-p"+mariadb.RootPassword, db)
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mysql %s < %s: %v\n%s", db, file, err, out)
		}
	}
	down.Exec(t, "CREATE DATABASE scratch")
	client("scratch", "app.types-schema.sql")
	client("scratch", "app.types.00000.sql")
	n1, s1 := up.Checksum(t, "app", "types")
	n2, s2 := down.Checksum(t, "scratch", "types")
	if n1 != n2 || s1 != s2 {
		t.Errorf("mysql client load of app.types: source %d rows %s, target %d rows %s", n1, s1, n2, s2)
	}
	down.Exec(t, "DROP DATABASE scratch")

	// Load on another node: the directory is not there.
	var other string
	for _, n := range c.Nodes {
		if n.Name != owner {
			other = n.Name
			break
		}
	}
	c.MustDmctl("transfer-source", "src1", other)
	if !harness.Eventually(30*time.Second, func() bool { w, _, _, err := status(c, "dumpt"); return err == nil && w == other }) {
		t.Fatalf("src1 did not move to %s", other)
	}
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "load.yaml", fileTaskYAML("loadt", "load", "./dumps/dumpt.src1", down, "threads: 2, rows: 3000", "pool-size: 3")))
	code, msg, fix := waitError(t, c, "loadt", 60*time.Second)
	wantPath := filepath.Join(c.Node(other).DataDir, "dumps", "dumpt.src1")
	t.Logf("load on %s: %s: %s", other, code, msg)
	if code != "DumpDirMissing" || !strings.Contains(msg, wantPath) || !strings.Contains(msg, other) || !strings.Contains(fix, "transfer-source") {
		t.Errorf("load on a node without the files: %s: %s (%s); want the path %s and the node %s", code, msg, fix, wantPath, other)
	}
	var tables int
	down.DB(t).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('app', 'app_two', 'other')").Scan(&tables)
	if tables != 0 {
		t.Errorf("the failed load created %d tables on the target; want nothing loaded", tables)
	}

	// Back on the node with the files, resume: everything loads.
	c.MustDmctl("transfer-source", "src1", owner)
	if !harness.Eventually(30*time.Second, func() bool { w, _, _, err := status(c, "loadt"); return err == nil && w == owner }) {
		t.Fatalf("src1 did not move back to %s", owner)
	}
	c.MustDmctl("resume-task", "loadt")
	waitFinished(t, c, "loadt", 90*time.Second)
	checkCopy(t, up, down)
	var chunks, done int
	down.DB(t).QueryRow("SELECT COUNT(*), SUM(done) FROM dm_meta.dmraft_load_chunks WHERE task = 'loadt'").Scan(&chunks, &done)
	if chunks == 0 || chunks != done {
		t.Errorf("chunk checkpoints of the load: %d done of %d", done, chunks)
	}

	// A directory written by mydumper loads too.
	if _, err := exec.LookPath("mydumper"); err != nil {
		t.Log("mydumper is not installed: its directory is not tried")
		return
	}
	my := filepath.Join(c.Node(owner).DataDir, "mydumper-out") // readable by the node's uid
	out, err := exec.Command("mydumper", "-h", "127.0.0.1", "-P", strconv.Itoa(up.Port), "-u", mariadb.RootUser, "-p", mariadb.RootPassword,
		"--regex", `^(app\.|app_two\.|skipme\.)`, "-o", my, "-t", "2", "-r", "5000").CombinedOutput()
	if err != nil {
		t.Fatalf("mydumper: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", my).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	down.Exec(t, "DROP DATABASE app", "DROP DATABASE app_two", "DROP DATABASE other")
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "loadmy.yaml", fileTaskYAML("loadmy", "load", my, down, "threads: 2, rows: 3000", "pool-size: 3")))
	waitFinished(t, c, "loadmy", 90*time.Second)
	checkCopy(t, up, down)
}

// checkDumpDir checks the layout and the metadata of a finished dump.
func checkDumpDir(t *testing.T, up *mariadb.Server, dir string) {
	t.Helper()
	if _, err := os.Stat(dir + ".partial"); err == nil {
		t.Errorf("%s.partial is left behind", dir)
	}
	for _, f := range []string{"metadata", "dmraft-manifest.json", "app-schema-create.sql", "app_two-schema-create.sql",
		"app.bulk-schema.sql", "app.bulk.00000.sql", "app.bulk.00006.sql", "app.types.00000.sql", "app.nokey.00000.sql",
		"app.routed-schema.sql", "app_two.comp-schema.sql", "app.v_bulk-schema-view.sql", "app.v_routed-schema-view.sql"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("dump file missing: %v", err)
		}
	}
	for _, f := range []string{"app.secret-schema.sql", "skipme-schema-create.sql", "skipme.v-schema-view.sql"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was dumped but the block-allow-list leaves it out", f)
		}
	}
	meta, err := os.ReadFile(filepath.Join(dir, "metadata"))
	if err != nil {
		t.Fatal(err)
	}
	var file, gtid string
	var pos int64
	if err := up.DB(t).QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	rows, err := up.DB(t).Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(cols); i++ {
		vals[i] = new(any)
	}
	for rows.Next() {
		rows.Scan(vals...)
	}
	rows.Close()
	want := "SHOW MASTER STATUS:\n\tLog: " + file + "\n\tPos: " + strconv.FormatInt(pos, 10) + "\n\tGTID:" + gtid + "\n"
	if !strings.Contains(string(meta), want) {
		t.Errorf("metadata:\n%s\nwant the block\n%s", meta, want)
	}
	view, _ := os.ReadFile(filepath.Join(dir, "app.v_routed-schema-view.sql"))
	if strings.Contains(string(view), "nobody") || !strings.Contains(string(view), "`app`.`routed`") {
		t.Errorf("view file keeps the DEFINER or lost the upstream table name:\n%s", view)
	}
}

// TestDumpFilesFailover: kill -9 the node writing a dump; the node that
// takes the source over dumps again into its own directory; the killed
// node's unfinished directory never gets the final name. The same task
// started again does not overwrite it. A load of the new directory (by an
// absolute path every node reads) moved to another node mid-way resumes
// from the per-file checkpoints and equals the source.
func TestDumpFilesFailover(t *testing.T) {
	c, up, down := startAll(t)
	seed(t, up, 150000)
	c.MustDmctl("operate-source", "create", harness.WriteFile(t, t.TempDir(), "s.yaml", up.SourceYAML("src1")))
	y := fileTaskYAML("dumpfo", "dump", "./dumps", down, "threads: 1, rows: 1000", "pool-size: 3")
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "dump.yaml", y))
	var victim string
	if !harness.Eventually(60*time.Second, func() bool {
		w, _, st, err := status(c, "dumpfo")
		var p loadProgress
		if err != nil || st.Unit != "dump" || json.Unmarshal(st.Progress, &p) != nil {
			return false
		}
		victim = w
		return p.FinishedRows > 10000
	}) {
		t.Fatal("the dump did not start")
	}
	_, _, st, _ := status(c, "dumpfo")
	if len(st.FinishedUnits) > 0 {
		t.Fatal("the dump finished before the kill: make the dataset larger")
	}
	c.Node(victim).Kill()
	st = waitUnit(t, c, "dumpfo", "dump", 120*time.Second)
	owner, _, _, _ := status(c, "dumpfo")
	if owner == victim {
		t.Fatalf("the source is still on the killed node %s", victim)
	}
	killed := filepath.Join(c.Node(victim).DataDir, "dumps", "dumpfo.src1")
	if _, err := os.Stat(killed); err == nil {
		t.Errorf("the killed node's unfinished dump has the final name %s", killed)
	}
	if _, err := os.Stat(killed + ".partial"); err != nil {
		t.Errorf("the killed node left no partial directory: %v", err)
	}
	dir := filepath.Join(c.Node(owner).DataDir, "dumps", "dumpfo.src1")
	checkDumpDir(t, up, dir)
	manifest, _ := os.ReadFile(filepath.Join(dir, "dmraft-manifest.json"))
	if !strings.Contains(string(manifest), `"node": "`+owner+`"`) {
		t.Errorf("the manifest does not name %s:\n%.300s", owner, manifest)
	}
	// The same task started again finds the earlier dump in its way: it
	// pauses naming the directory instead of overwriting it.
	c.MustDmctl("stop-task", "dumpfo")
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "dump2.yaml", y))
	code, msg, _ := waitError(t, c, "dumpfo", 60*time.Second)
	if code != "DumpDirExists" || !strings.Contains(msg, dir) {
		t.Errorf("a second dump into the same directory: %s: %s; want DumpDirExists naming %s", code, msg, dir)
	}
	c.MustDmctl("stop-task", "dumpfo")

	// Load the directory by its absolute path (readable by every node's
	// uid); move the source to the third node mid-load: it resumes from the
	// file checkpoints.
	if out, err := exec.Command("chmod", "-R", "a+rX", filepath.Join(c.Node(owner).DataDir, "dumps")).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	ly := fileTaskYAML("loadfo", "load", dir, down, "threads: 1, rows: 1000", "pool-size: 1")
	c.MustDmctl("start-task", harness.WriteFile(t, t.TempDir(), "load.yaml", ly))
	waitRows(t, c, "loadfo", 10000)
	var third string
	for _, n := range c.Nodes {
		if n.Name != owner && n.Name != victim {
			third = n.Name
		}
	}
	_, _, st, _ = status(c, "loadfo")
	if finished(st) {
		t.Fatal("the load finished before the move: make the dataset larger")
	}
	c.MustDmctl("transfer-source", "src1", third)
	waitFinished(t, c, "loadfo", 120*time.Second)
	if w, _, _, _ := status(c, "loadfo"); w != third {
		t.Errorf("loadfo finished on %s, want %s", w, third)
	}
	checkCopy(t, up, down)
	var epochs int
	down.DB(t).QueryRow("SELECT COUNT(DISTINCT epoch) FROM dm_meta.dmraft_load_chunks WHERE task = 'loadfo' AND done = 1").Scan(&epochs)
	if epochs < 2 {
		t.Errorf("the file chunks were loaded under %d epoch(s); want the first owner's kept and the rest loaded after the move", epochs)
	}
}
