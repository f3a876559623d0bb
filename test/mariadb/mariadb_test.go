package mariadb_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmraft/dmraft/test/mariadb"
)

const itemsDDL = `CREATE TABLE shop.items (
	id INT PRIMARY KEY,
	name VARCHAR(64) NULL,
	price DECIMAL(10,2) NOT NULL,
	note TEXT,
	raw VARBINARY(16),
	created DATETIME(6),
	ratio DOUBLE
)`

// fillItems inserts n rows, some with NULLs, empty strings and non-ASCII.
func fillItems(t *testing.T, s *mariadb.Server, from, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO shop.items VALUES ")
	for i := from; i < from+n; i++ {
		if i > from {
			b.WriteString(",")
		}
		name := fmt.Sprintf("'item-%d-é漢'", i)
		switch i % 7 {
		case 0:
			name = "NULL"
		case 1:
			name = "''"
		}
		fmt.Fprintf(&b, "(%d,%s,%d.%02d,REPEAT('n',%d),UNHEX('%04x'),'2024-01-02 03:04:05.%06d',%d/7)",
			i, name, i*3, i%100, i%13, i, i, i)
	}
	s.Exec(t, b.String())
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

func variable(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var n, v string
	if err := db.QueryRow("SHOW VARIABLES LIKE '"+name+"'").Scan(&n, &v); err != nil {
		t.Fatalf("SHOW VARIABLES LIKE %q: %v", name, err)
	}
	return v
}

func masterStatus(t *testing.T, db *sql.DB) (string, int64) {
	t.Helper()
	var file, doDB, ignoreDB string
	var pos int64
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	return file, pos
}

// copyItems copies shop.items from src to dst by plain SQL, in reverse order.
func copyItems(t *testing.T, src, dst *sql.DB, table string) {
	t.Helper()
	rows, err := src.Query("SELECT id, name, price, note, raw, created, ratio FROM shop.items ORDER BY id DESC")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ins := "INSERT INTO shop." + table + " (id, name, price, note, raw, created, ratio) VALUES (?,?,?,?,?,?,?)"
	for rows.Next() {
		v := make([]any, 7)
		p := make([]any, 7)
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		if _, err := dst.Exec(ins, v...); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestUpstreamAndTarget(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	srv := mariadb.StartMany(t, mariadb.Options{Name: "up", Binlog: true}, mariadb.Options{Name: "down"})
	t.Logf("started upstream+target concurrently in %v", time.Since(t0))
	up, down := srv[0], srv[1]
	if up.Host != "127.0.0.1" || up.Port == down.Port || up.ServerID == down.ServerID {
		t.Fatalf("bad servers: %+v %+v", up, down)
	}
	upDB, downDB := up.DB(t), down.DB(t)

	up.Exec(t, "CREATE DATABASE shop", itemsDDL)
	fillItems(t, up, 0, 300)

	file, pos := masterStatus(t, upDB)
	if file == "" || pos <= 4 {
		t.Fatalf("SHOW MASTER STATUS = %q, %d", file, pos)
	}
	gtid := queryString(t, upDB, "SELECT @@gtid_current_pos")
	if want := fmt.Sprintf("0-%d-", up.ServerID); !strings.HasPrefix(gtid, want) {
		t.Fatalf("@@gtid_current_pos = %q, want prefix %q", gtid, want)
	}
	for name, want := range map[string]string{
		"binlog_row_metadata": "FULL", "binlog_format": "ROW", "binlog_row_image": "FULL",
		"log_bin": "ON", "log_slave_updates": "ON", "gtid_strict_mode": "ON",
		"bind_address": "127.0.0.1", "performance_schema": "OFF",
	} {
		if got := variable(t, upDB, name); got != want {
			t.Errorf("upstream %s = %q, want %q", name, got, want)
		}
	}
	if got := variable(t, downDB, "log_bin"); got != "OFF" {
		t.Errorf("target log_bin = %q, want OFF", got)
	}

	// The dmraft user can read the binlog coordinates and has ALL.
	cfg := up.Config("")
	cfg.User, cfg.Passwd = mariadb.User, mariadb.Password
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	userDB := sql.OpenDB(c)
	defer userDB.Close()
	if f, _ := masterStatus(t, userDB); f != file {
		t.Errorf("dmraft user sees binlog %q, want %q", f, file)
	}
	if g := queryString(t, userDB, "SHOW GRANTS"); !strings.Contains(g, "ALL PRIVILEGES ON *.*") {
		t.Errorf("dmraft grants: %s", g)
	}

	// Copy by plain SQL, in another order and into another column order.
	down.Exec(t, "CREATE DATABASE shop", itemsDDL,
		`CREATE TABLE shop.items2 (ratio DOUBLE, created DATETIME(6), raw VARBINARY(16),
			note TEXT, price DECIMAL(10,2) NOT NULL, name VARCHAR(64) NULL, id INT PRIMARY KEY)`)
	copyItems(t, upDB, downDB, "items")
	copyItems(t, upDB, downDB, "items2")

	n1, sum1 := up.Checksum(t, "shop", "items")
	n2, sum2 := down.Checksum(t, "shop", "items")
	n3, sum3 := down.Checksum(t, "shop", "items2")
	if n1 != 300 || n2 != n1 || n3 != n1 || sum2 != sum1 || sum3 != sum1 {
		t.Fatalf("checksums differ: up %d %s, down %d %s, reordered %d %s", n1, sum1, n2, sum2, n3, sum3)
	}
	if a, b := up.ChecksumTable(t, "shop", "items"), down.ChecksumTable(t, "shop", "items"); a != b {
		t.Fatalf("CHECKSUM TABLE differs: %d vs %d", a, b)
	}

	// A changed row, and NULL versus '', change the digest.
	down.Exec(t, "UPDATE shop.items SET name = NULL WHERE id = 1")
	if _, s := down.Checksum(t, "shop", "items"); s == sum1 {
		t.Fatal("checksum did not change after NULL replaced ''")
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	s := mariadb.Start(t, mariadb.Options{Binlog: true})
	t.Logf("single server start: %v", time.Since(t0))
	s.Exec(t, "CREATE DATABASE shop", itemsDDL)
	fillItems(t, s, 0, 100)
	n, sum := s.Checksum(t, "shop", "items")
	gtid := queryString(t, s.DB(t), "SELECT @@gtid_binlog_pos")
	port, pid := s.Port, s.PID()

	t0 = time.Now()
	s.Restart(t)
	t.Logf("graceful restart: %v", time.Since(t0))
	if s.Port != port || s.PID() == pid || !s.Running() {
		t.Fatalf("after restart: port %d (was %d), pid %d (was %d)", s.Port, port, s.PID(), pid)
	}
	if n2, sum2 := s.Checksum(t, "shop", "items"); n2 != n || sum2 != sum {
		t.Fatalf("data changed across restart: %d %s -> %d %s", n, sum, n2, sum2)
	}
	if g := queryString(t, s.DB(t), "SELECT @@gtid_binlog_pos"); g != gtid {
		t.Fatalf("gtid_binlog_pos %q -> %q", gtid, g)
	}
}

func TestKillRestartRecovers(t *testing.T) {
	t.Parallel()
	s := mariadb.Start(t, mariadb.Options{Binlog: true})
	s.Exec(t, "CREATE DATABASE shop", itemsDDL)
	for i := 0; i < 5; i++ {
		fillItems(t, s, i*50, 50)
	}
	n, sum := s.Checksum(t, "shop", "items")
	gtid := queryString(t, s.DB(t), "SELECT @@gtid_binlog_pos")

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	if err := s.ExecSQL(context.Background(), "SELECT 1"); err == nil {
		t.Fatal("killed server answered")
	}
	t0 := time.Now()
	s.Restart(t)
	t.Logf("restart after SIGKILL (crash recovery): %v", time.Since(t0))
	if n2, sum2 := s.Checksum(t, "shop", "items"); n2 != n || sum2 != sum {
		t.Fatalf("committed data lost: %d %s -> %d %s", n, sum, n2, sum2)
	}
	if g := queryString(t, s.DB(t), "SELECT @@gtid_binlog_pos"); g != gtid {
		t.Fatalf("gtid_binlog_pos %q -> %q", gtid, g)
	}
	fillItems(t, s, 1000, 10) // writable again
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := mariadb.Start(t, mariadb.Options{})
	db := s.DB(t)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("paused server answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT 1").Scan(new(int)); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	// Stop must also work on a paused server.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil || s.Running() {
		t.Fatalf("Stop on paused server: %v", err)
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	s, err := mariadb.StartServer(context.Background(), mariadb.Options{ExtraArgs: []string{"--no-such-option=1"}})
	if err == nil {
		s.Close()
		t.Fatal("started with a bad option")
	}
	if !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("error lacks the log tail: %v", err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Fatalf("failure took %v to report", d)
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s, err := mariadb.StartServer(context.Background(), mariadb.Options{Port: port})
	if err == nil {
		s.Close()
		t.Fatal("started on a busy port")
	}
	// The fixture retries on another port when it sees this message.
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestServerAPI(t *testing.T) {
	if err := mariadb.EnsureInstalled(); err != nil { // idempotent
		t.Fatal(err)
	}
	p, err := mariadb.FreePort()
	if err != nil || p <= 0 {
		t.Fatalf("FreePort = %d, %v", p, err)
	}
	s := &mariadb.Server{Host: mariadb.Host, Port: p}
	if got, want := s.DSN("db"), fmt.Sprintf("root:dmraft@tcp(127.0.0.1:%d)/db?timeout=10s", p); got != want {
		t.Fatalf("DSN = %q, want %q", got, want)
	}
}
