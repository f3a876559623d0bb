package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dmraft/dmraft/test/mariadb"
)

// Node is one dmnode process.
type Node struct {
	Name       string
	Addr       string
	RaftAddr   string
	GossipAddr string
	DataDir    string
	LogPath    string
	UID        int // the uid the process runs under; 0 when the harness is not root

	cluster *Cluster
	cmd     *exec.Cmd
	exited  chan struct{}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	p, err := mariadb.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(mariadb.Host, strconv.Itoa(p)), nil
}

func newNode(c *Cluster, i int) (*Node, error) {
	n := &Node{Name: fmt.Sprintf("node%d", i+1), cluster: c}
	var err error
	for _, p := range []*string{&n.Addr, &n.RaftAddr, &n.GossipAddr} {
		if *p, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	n.DataDir = filepath.Join(c.dir, n.Name)
	n.LogPath = filepath.Join(c.dir, n.Name+".log")
	if os.Geteuid() == 0 {
		n.UID = baseUID + c.id*10 + i
	}
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return nil, err
	}
	if n.UID != 0 {
		if err := os.Chown(n.DataDir, n.UID, n.UID); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// baseUID is the first uid nodes run under; each node has its own so that
// Isolate can drop its traffic with an iptables owner match.
const baseUID = 42000

func (n *Node) args(sub string, extra ...string) []string {
	a := []string{sub}
	a = append(a, extra...)
	a = append(a, "--name", n.Name, "--data-dir", n.DataDir, "--addr", n.Addr,
		"--raft-addr", n.RaftAddr, "--gossip-addr", n.GossipAddr, "--log-level", "debug")
	return append(a, n.cluster.opts.NodeArgs...)
}

// start runs the process with args; its stderr (JSON logs) goes to LogPath.
func (n *Node) start(args []string) error {
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.cluster.dmnode, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if n.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(n.UID), Gid: uint32(n.UID)}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(n.exited)
	}()
	return nil
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

func (n *Node) signal(sig syscall.Signal) {
	if n.Running() {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (n *Node) Kill() {
	n.signal(syscall.SIGKILL)
	n.wait(10 * time.Second)
}

// Stop sends SIGTERM (graceful leave) and waits up to 20 s, then kills.
func (n *Node) Stop() {
	n.signal(syscall.SIGTERM)
	if !n.wait(20 * time.Second) {
		n.Kill()
	}
}

// Pause freezes the process (SIGSTOP); Resume thaws it.
func (n *Node) Pause()  { n.signal(syscall.SIGSTOP) }
func (n *Node) Resume() { n.signal(syscall.SIGCONT) }

func (n *Node) wait(d time.Duration) bool {
	if n.cmd == nil {
		return true
	}
	select {
	case <-n.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Restart starts the node again from its data dir.
func (n *Node) Restart() error {
	if n.Running() {
		return fmt.Errorf("%s is still running", n.Name)
	}
	return n.start(n.args("start"))
}

// LogEvent is one JSON log line of a node.
type LogEvent struct {
	Time    time.Time
	Level   string
	Message string
	Fields  map[string]any
}

// Events returns the log lines of n whose "event" field equals event.
func (n *Node) Events(event string) ([]LogEvent, error) {
	return n.logLines(`"event":"` + event + `"`)
}

// Messages returns the log lines whose message is message, in order.
func (n *Node) Messages(message string) ([]LogEvent, error) {
	return n.logLines(`"message":"` + message + `"`)
}

// logLines returns the log lines that contain needle, decoded.
func (n *Node) logLines(needle string) ([]LogEvent, error) {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []LogEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), needle) {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		ev := LogEvent{Fields: m}
		ev.Level, _ = m["level"].(string)
		ev.Message, _ = m["message"].(string)
		if ts, ok := m["time"].(string); ok {
			ev.Time, _ = time.Parse(time.RFC3339Nano, ts)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// LogTail returns the last lines of the node's log, for failure messages.
func (n *Node) LogTail(lines int) string {
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// PID returns the process id, or 0 when the node is not running.
func (n *Node) PID() int {
	if !n.Running() {
		return 0
	}
	return n.cmd.Process.Pid
}
