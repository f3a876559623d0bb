package mariadb

import (
	"context"
	"database/sql"
	"sync"
	"testing"
)

// Start starts a server for the test (see StartServer) and fails the test
// if it does not come up. Cleanup kills the server and removes its
// directory, or keeps it and logs where it is when the test failed (a
// failed start keeps it too).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Name == "" {
		opts.Name = t.Name()
	}
	s, err := startServer(context.Background(), opts, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cleanup(t) })
	return s
}

// StartMany starts one server per Options concurrently, which saves a
// second or so per extra server.
func StartMany(t testing.TB, opts ...Options) []*Server {
	t.Helper()
	out := make([]*Server, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		if o.Name == "" {
			o.Name = t.Name()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = startServer(context.Background(), o, true)
		}()
	}
	wg.Wait()
	for _, s := range out {
		if s != nil {
			t.Cleanup(func() { s.cleanup(t) })
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (s *Server) cleanup(t testing.TB) {
	if !t.Failed() {
		s.Close()
		return
	}
	s.Kill()
	t.Logf("mariadb %s: test failed, keeping %s (port %d); error log tail:\n%s", s.Name, s.Dir, s.Port, s.LogTail(20))
}

// DB returns a root pool without a default database, closed at cleanup.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := s.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs the statements in order on one connection (see ExecSQL).
func (s *Server) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	if err := s.ExecSQL(context.Background(), stmts...); err != nil {
		t.Fatal(err)
	}
}

// Restart restarts the server on the same port and data dir (see
// RestartContext).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.RestartContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Checksum returns the row count and order-independent digest of db.table
// (see RowChecksum).
func (s *Server) Checksum(t testing.TB, db, table string) (rows int64, sum string) {
	t.Helper()
	pool, err := s.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, sum, err = RowChecksum(context.Background(), pool, db, table)
	if err != nil {
		t.Fatalf("mariadb %s: %v", s.Name, err)
	}
	return rows, sum
}

// ChecksumTable returns CHECKSUM TABLE db.table EXTENDED (see ChecksumTable).
func (s *Server) ChecksumTable(t testing.TB, db, table string) int64 {
	t.Helper()
	pool, err := s.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sum, err := ChecksumTable(context.Background(), pool, db, table)
	if err != nil {
		t.Fatalf("mariadb %s: %v", s.Name, err)
	}
	return sum
}
