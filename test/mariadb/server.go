package mariadb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// StartTimeout bounds how long a start or restart waits for the server to
// accept connections.
const StartTimeout = 60 * time.Second

// stopTimeout bounds a graceful shutdown before it becomes a SIGKILL.
const stopTimeout = 60 * time.Second

// Server is one running (or stopped) mariadbd with its own directory.
type Server struct {
	Name     string
	Host     string // always 127.0.0.1
	Port     int
	ServerID uint32
	Binlog   bool   // started as an upstream with a ROW binlog
	Dir      string // everything below lives here
	DataDir  string
	Socket   string
	ErrorLog string

	bin  string
	args []string

	mu   sync.Mutex
	proc *proc // nil when stopped
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // from Wait, valid after done
}

// StartServer creates a fresh data directory, starts mariadbd on a loopback
// port and waits (at most StartTimeout) until it accepts connections. The
// caller must Close it. On failure nothing is left behind and the error
// carries the tail of the error log.
func StartServer(ctx context.Context, opts Options) (*Server, error) {
	return startServer(ctx, opts, false)
}

// startServer is StartServer; keep leaves the directory behind on failure.
func startServer(ctx context.Context, opts Options, keep bool) (*Server, error) {
	if err := EnsureInstalled(); err != nil {
		return nil, err
	}
	bin, err := lookBin("mariadbd")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	parent := os.TempDir()
	if len(parent) > 64 { // the socket path must stay under ~107 bytes
		parent = "/tmp"
	}
	name := safeName(opts.Name)
	// Not "dmraft-*": that glob is too tempting for manual clean-ups.
	dir, err := os.MkdirTemp(parent, "mariadb-fixture-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("mariadb: %w", err)
	}
	s := &Server{
		Name:     name,
		Host:     Host,
		Binlog:   opts.Binlog,
		Dir:      dir,
		DataDir:  filepath.Join(dir, "data"),
		Socket:   filepath.Join(dir, "mariadbd.sock"),
		ErrorLog: filepath.Join(dir, "error.log"),
		bin:      bin,
	}
	fail := func(err error) (*Server, error) {
		if keep {
			return nil, fmt.Errorf("%w\n(kept %s)", err, dir)
		}
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.install(ctx); err != nil {
		return fail(err)
	}
	for attempt := 1; ; attempt++ {
		s.Port = opts.Port
		if s.Port == 0 {
			if s.Port, err = FreePort(); err != nil {
				return fail(fmt.Errorf("mariadb: free port: %w", err))
			}
		}
		s.ServerID = opts.ServerID
		if s.ServerID == 0 {
			s.ServerID = uint32(s.Port)
		}
		s.args = s.serverArgs(opts.ExtraArgs)
		err = s.launch(ctx)
		if err == nil {
			return s, nil
		}
		s.Kill()
		if opts.Port == 0 && attempt < 5 && ctx.Err() == nil && s.portTaken() {
			os.Remove(s.ErrorLog) // race lost on the port: try another one
			continue
		}
		return fail(err)
	}
}

// install runs mariadb-install-db into a fresh data directory.
func (s *Server) install(ctx context.Context) error {
	installDB, err := lookBin("mariadb-install-db")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "tmp"), 0o755); err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	initFile := filepath.Join(s.Dir, "init.sql")
	if err := os.WriteFile(initFile, []byte(initSQL()), 0o600); err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	args := append(s.commonArgs(),
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--extra-file="+initFile,
	)
	cmd := exec.CommandContext(ctx, installDB, args...)
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(s.Dir, "install.log"), out, 0o644)
	if err != nil {
		return fmt.Errorf("mariadb %s: mariadb-install-db: %v\n%s", s.Name, err, errorLines(string(out), 20))
	}
	return nil
}
