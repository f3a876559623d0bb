package mariadb

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Test servers and nodes listen on ports picked here, below the kernel's
// ephemeral range (32768 and up on Linux): a port handed out by the kernel
// for a listener on port 0, as before, is also where the kernel puts the
// source port of outgoing connections, and any client connection of any
// test could take it between the pick and the server's bind.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu    sync.Mutex
	handedOut = map[int]bool{}
)

// FreePort returns a loopback port that is free for TCP and UDP (memberlist
// uses both) right now, lies outside the ephemeral range, was not returned
// before in this process, and is reserved against every other test
// process on the machine for this process's lifetime (an exclusive flock
// on a file per port under the temp dir, dropped by the kernel when the
// process exits). Without the reservation a node killed by one test could
// find its port taken by a server another test process had just started,
// and fail to restart.
func FreePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var lastErr error
	for range 500 {
		p := portLow + rand.IntN(portHigh-portLow)
		if handedOut[p] || !reservePort(p) {
			continue
		}
		addr := net.JoinHostPort(Host, strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			lastErr = err
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			lastErr = err
			continue
		}
		u.Close()
		handedOut[p] = true
		return p, nil
	}
	return 0, lastErr
}

// reserved holds the port lock files of this process open (a closed file
// would drop its flock).
var reserved []*os.File

// reservePort takes port p's machine-wide lock, or reports that another
// process holds it (or that it cannot be taken).
func reservePort(p int) bool {
	dir := filepath.Join(os.TempDir(), "dmraft-test-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", p)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	reserved = append(reserved, f)
	return true
}
