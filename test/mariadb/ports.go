package mariadb

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
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
// uses both) right now, lies outside the ephemeral range, and was not
// returned before in this process.
func FreePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var lastErr error
	for range 500 {
		p := portLow + rand.IntN(portHigh-portLow)
		if handedOut[p] {
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
