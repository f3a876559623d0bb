package mariadb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// launch starts mariadbd with s.args and waits until it is ready.
func (s *Server) launch(ctx context.Context) error {
	s.mu.Lock()
	if s.proc != nil && !s.proc.exited() {
		s.mu.Unlock()
		return fmt.Errorf("mariadb %s: already running", s.Name)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "tmp"), 0o755); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mariadb: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(s.Dir, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mariadb: %w", err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting thread exits: keep this
		// goroutine on its thread for the life of the process.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		out.Close()
		started <- err
		if err == nil {
			p.err = cmd.Wait()
		}
		close(p.done)
	}()
	if err := <-started; err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mariadb %s: starting mariadbd: %w", s.Name, err)
	}
	s.proc = p
	s.mu.Unlock()
	return s.waitReady(ctx, p)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady pings until the server answers, it exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *proc) error {
	cfg := s.Config("")
	cfg.Timeout = time.Second
	cfg.ReadTimeout = 5 * time.Second
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	// A ping must not outlive the process (something else may hold the port).
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() {
		select {
		case <-p.done:
			wcancel()
		case <-wctx.Done():
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(wctx, 5*time.Second)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("mariadb %s: mariadbd exited during startup (%v)\n%s", s.Name, p.err, s.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("mariadb %s: no connection on %s after %v (%v)\n%s", s.Name, s.Addr(), StartTimeout, err, s.LogTail(30))
		case <-tick.C:
		}
	}
}

// portTaken reports whether the last start failed because the port was busy.
func (s *Server) portTaken() bool {
	b, _ := os.ReadFile(s.ErrorLog)
	return bytes.Contains(b, []byte("Address already in use")) || bytes.Contains(b, []byte("Bind on TCP/IP port"))
}

// Stop shuts the server down gracefully (SIGTERM, SIGKILL after a minute).
// Stopping a stopped server does nothing.
func (s *Server) Stop() error { return s.signalStop(syscall.SIGTERM) }

// Kill stops the server with SIGKILL, like a crash, and waits for it to die.
func (s *Server) Kill() error { return s.signalStop(syscall.SIGKILL) }

func (s *Server) signalStop(sig syscall.Signal) error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	if sig != syscall.SIGKILL {
		p.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot shut down
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("mariadb %s: %w", s.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("mariadb %s: no shutdown after %v, killed", s.Name, stopTimeout)
	}
}

// RestartContext stops the server if it runs, then starts it again on the
// same port and data directory and waits until it accepts connections. After
// Kill this exercises crash recovery.
func (s *Server) RestartContext(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	return s.launch(ctx)
}

// Pause freezes the server with SIGSTOP: connections hang, nothing fails.
// It returns once every thread of mariadbd has stopped.
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	waitStopped(s.PID())
	return nil
}

// Resume undoes Pause with SIGCONT.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("mariadb %s: not running", s.Name)
	}
	return p.cmd.Process.Signal(sig)
}

// Running reports whether mariadbd is alive.
func (s *Server) Running() bool { return s.PID() != 0 }

// PID returns the process id of mariadbd, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Close kills the server and removes its directory. It is idempotent.
func (s *Server) Close() error {
	err := s.Kill()
	if rerr := os.RemoveAll(s.Dir); err == nil {
		err = rerr
	}
	return err
}

// LogTail returns the last n lines of the error log (and of stderr, where
// mariadbd reports bad options before it opens the log).
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.ErrorLog)
	out := "--- " + s.ErrorLog + "\n" + tail(string(b), n)
	if e, _ := os.ReadFile(filepath.Join(s.Dir, "mariadbd.out")); len(bytes.TrimSpace(e)) > 0 {
		out += "\n--- stderr\n" + tail(string(e), n)
	}
	return out
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return Host + ":" + strconv.Itoa(s.Port) }
