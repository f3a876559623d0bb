package rpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/dmraft/dmraft/proto"
)

// retryPause is the pause between two attempts while no leader answers.
const retryPause = 200 * time.Millisecond

// Client calls the Admin service of a cluster through any of several node
// addresses. It fails over between them and retries NotLeader, so an
// election is invisible to the caller except as latency.
type Client struct {
	addrs []string
	pool  *ConnPool

	mu   sync.Mutex
	next int // index of the address to try first
}

// NewClient returns a client for the comma-separated or listed addresses.
func NewClient(addrs []string, clientTLS *tls.Config) (*Client, error) {
	var clean []string
	for _, a := range addrs {
		for _, part := range strings.Split(a, ",") {
			if part = strings.TrimSpace(part); part != "" {
				clean = append(clean, part)
			}
		}
	}
	if len(clean) == 0 {
		return nil, fmt.Errorf("no node address: pass --addr HOST:PORT[,HOST:PORT...]")
	}
	return &Client{addrs: clean, pool: NewConnPool(clientTLS)}, nil
}

// NewClientWithPool returns a client that shares pool's connections.
func NewClientWithPool(addrs []string, pool *ConnPool) (*Client, error) {
	c, err := NewClient(addrs, nil)
	if err != nil {
		return nil, err
	}
	c.pool = pool
	return c, nil
}

// Close releases the connections.
func (c *Client) Close() { c.pool.Close() }

// Call runs fn against one node after another until one answers with
// something other than "unavailable" or ctx ends.
func Call[Resp any](ctx context.Context, c *Client, fn func(context.Context, pb.AdminClient) (Resp, error)) (Resp, error) {
	return callWith(ctx, c, pb.NewAdminClient, fn)
}

// CallNode is Call for the Node service.
func CallNode[Resp any](ctx context.Context, c *Client, fn func(context.Context, pb.NodeClient) (Resp, error)) (Resp, error) {
	return callWith(ctx, c, pb.NewNodeClient, fn)
}

func callWith[Svc, Resp any](ctx context.Context, c *Client, newSvc func(grpc.ClientConnInterface) Svc, fn func(context.Context, Svc) (Resp, error)) (Resp, error) {
	var zero Resp
	var last error
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		i := c.next % len(c.addrs)
		c.mu.Unlock()
		addr := c.addrs[i]
		conn, err := c.pool.Get(addr)
		if err == nil {
			attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout(ctx))
			var resp Resp
			resp, err = fn(attemptCtx, newSvc(conn))
			cancel()
			if err == nil || !retryable(err) {
				return resp, err
			}
		}
		last = fmt.Errorf("%s: %s", addr, status.Convert(err).Message())
		c.mu.Lock()
		if !IsNotLeader(err) || len(c.addrs) > 1 && attempt%2 == 1 {
			c.next = i + 1 // try the next address
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return zero, fmt.Errorf("no node of %s answered in time (last error: %v); check that the nodes run and a quorum of them is up", strings.Join(c.addrs, ","), last)
		case <-time.After(retryPause):
		}
	}
}

// attemptTimeout gives one node a share of the remaining time, so a hung
// node does not use up the whole deadline.
func attemptTimeout(ctx context.Context) time.Duration {
	d := 10 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < d {
			d = left
		}
	}
	return d
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable:
		return true
	case codes.DeadlineExceeded:
		return true // that attempt's share ran out; another node may answer
	}
	return false
}
