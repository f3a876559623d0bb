package binlog

import (
	"context"
	"net"
	"sync"
	"time"
)

// deadlineSlack is how much earlier than asked a read deadline may fall.
const deadlineSlack = time.Second

// lazyDeadlineConn moves its read deadline later only when the new one is
// more than deadlineSlack past the current one. go-mysql sets a read
// deadline (now + ReadTimeout) before every packet; each call re-arms a
// runtime timer, a tenth of dmnode's CPU in a binlog catch-up. A deadline
// that is up to a second early keeps the timeout's meaning (a silent
// source is given up after 9 to 10 s instead of 10). Earlier deadlines
// (go-mysql's Close sets one 100 ms ahead) apply at once.
type lazyDeadlineConn struct {
	net.Conn
	mu   sync.Mutex
	read time.Time // the deadline in force; zero: none
}

func (c *lazyDeadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.IsZero() && !c.read.IsZero() && t.After(c.read) && t.Sub(c.read) < deadlineSlack {
		return nil
	}
	c.read = t
	return c.Conn.SetReadDeadline(t)
}

func (c *lazyDeadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.read = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// lazyDeadlineDialer dials with d and wraps the connection.
func lazyDeadlineDialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &lazyDeadlineConn{Conn: conn}, nil
	}
}
