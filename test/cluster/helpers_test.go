package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dmraft/dmraft/test/harness"
)

// sourceShow is the JSON of dmctl operate-source show.
type sourceShow struct {
	Sources []struct {
		Source  string `json:"source"`
		Worker  string `json:"worker"`
		Epoch   uint64 `json:"epoch"`
		BoundMs int64  `json:"bound_unix_ms"`
	} `json:"sources"`
}

type binding struct {
	worker string
	epoch  uint64
	bound  time.Time
}

func showSource(c *harness.Cluster, id string) (binding, error) {
	var s sourceShow
	if err := c.DmctlJSON(&s, "operate-source", "show", id); err != nil {
		return binding{}, err
	}
	for _, src := range s.Sources {
		if src.Source == id {
			return binding{src.Worker, src.Epoch, time.UnixMilli(src.BoundMs)}, nil
		}
	}
	return binding{}, fmt.Errorf("source %s not listed", id)
}

// waitBound waits until the source is bound to a node other than "not" (any when empty).
func waitBound(t *testing.T, c *harness.Cluster, id, not string, timeout time.Duration) binding {
	t.Helper()
	var b binding
	var err error
	if !harness.Eventually(timeout, func() bool {
		b, err = showSource(c, id)
		return err == nil && b.worker != "" && b.worker != not
	}) {
		t.Fatalf("source %s not bound (away from %q) within %v: last %+v, %v", id, not, timeout, b, err)
	}
	return b
}

// sourceYAML describes an upstream; the cluster core never connects to it.
func sourceYAML(id string, port int) string {
	return fmt.Sprintf(`source-id: %s
flavor: mariadb
enable-gtid: true
from:
  host: 127.0.0.1
  port: %d
  user: root
  password: "s3cret-pw"
`, id, port)
}

func taskYAML(name string, sources ...string) string {
	s := fmt.Sprintf(`name: %s
task-mode: all
ignore-checking-items: ["all"] # the cluster core never connects to these servers
target-database:
  host: 127.0.0.1
  port: 3306
  user: root
  password: "target-pw"
mysql-instances:
`, name)
	for _, id := range sources {
		s += fmt.Sprintf("  - source-id: %s\n", id)
	}
	return s
}

// runCmd runs a binary and returns its combined output.
func runCmd(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

type process struct{ cmd *exec.Cmd }

func (p process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// startProcess starts a binary in the background; its output goes to the test log on failure.
func startProcess(t *testing.T, bin string, args ...string) process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logPath := filepath.Join(t.TempDir(), "process.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("%s output:\n%s", bin, data)
		}
	})
	return process{cmd}
}
