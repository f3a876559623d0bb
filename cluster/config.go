package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for a LAN. Raft's own defaults (1s) are tuned for WANs.
const (
	DefaultHeartbeatTimeout   = 500 * time.Millisecond
	DefaultElectionTimeout    = 500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 400 * time.Millisecond
	DefaultCommitTimeout      = 50 * time.Millisecond
	DefaultFenceTimeout       = 2 * time.Second
	DefaultRebindAfter        = 4 * time.Second
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultTrailingLogs       = 10240
)

// Config configures one node. Name, DataDir, Addr, RaftAddr and GossipAddr
// are required; every duration left zero gets its default.
type Config struct {
	Name       string
	DataDir    string
	Addr       string // admin gRPC address (HOST:PORT), advertised to others
	RaftAddr   string // raft transport address: bound and advertised, so not 0.0.0.0
	GossipAddr string // memberlist address (TCP and UDP)
	Bootstrap  bool   // start a new cluster with this node as its only voter

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// FenceTimeout is how long a lease lasts after the request that renewed
	// it was sent.
	FenceTimeout time.Duration
	// RebindAfter is how long the leader waits without a lease renewal from a
	// node before the scheduler may move its bindings. It must be at least
	// FenceTimeout + max(1s, FenceTimeout/2). Zero means
	// max(DefaultRebindAfter, that minimum).
	RebindAfter time.Duration

	RaftTLS   *tls.Config // optional: raft transport over TLS (both directions use it)
	GossipKey []byte      // optional memberlist encryption key (16, 24 or 32 bytes)

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64 // log entries kept after a snapshot

	Gossip GossipTuning

	// RenewLease asks the leader, at its admin address, for a lease for this
	// node (the rpc layer ends up in the leader's GrantLease) and returns the
	// leader's commit index. Without it, followers never hold a lease.
	RenewLease func(ctx context.Context, leaderAddr string) (commitIndex uint64, err error)

	// Logger carries the node's name (the caller adds the "node" field).
	Logger zerolog.Logger
}

// GossipTuning tunes memberlist; zero values get the defaults noted.
type GossipTuning struct {
	ProbeInterval  time.Duration // 300ms
	ProbeTimeout   time.Duration // 200ms
	GossipInterval time.Duration // 100ms
	PushPull       time.Duration // 5s
	SuspicionMult  int           // 3
}

// minRebindAfter returns the least RebindAfter allowed for fence.
func minRebindAfter(fence time.Duration) time.Duration {
	return fence + max(time.Second, fence/2)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, min(DefaultLeaderLeaseTimeout, c.HeartbeatTimeout))
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.FenceTimeout, DefaultFenceTimeout)
	def(&c.RebindAfter, max(DefaultRebindAfter, minRebindAfter(c.FenceTimeout)))
	def(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	g := &c.Gossip
	def(&g.ProbeInterval, 300*time.Millisecond)
	def(&g.ProbeTimeout, 200*time.Millisecond)
	def(&g.GossipInterval, 100*time.Millisecond)
	def(&g.PushPull, 5*time.Second)
	if g.SuspicionMult == 0 {
		g.SuspicionMult = 3
	}
}

func (c *Config) validate() error {
	var errs []error
	need := func(v, flag string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", flag))
		}
	}
	need(c.Name, "name")
	need(c.DataDir, "data dir")
	need(c.Addr, "admin address")
	need(c.RaftAddr, "raft address")
	need(c.GossipAddr, "gossip address")
	for _, a := range []struct{ flag, addr string }{{"admin address", c.Addr}, {"raft address", c.RaftAddr}, {"gossip address", c.GossipAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not HOST:PORT: %w", a.flag, a.addr, err))
		}
	}
	if host, _, err := net.SplitHostPort(c.RaftAddr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			errs = append(errs, fmt.Errorf("raft address %q must name a host other nodes can reach, not a wildcard", c.RaftAddr))
		}
	}
	if c.FenceTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("fence timeout %v is too short (at least 100ms)", c.FenceTimeout))
	}
	if least := minRebindAfter(c.FenceTimeout); c.RebindAfter < least {
		errs = append(errs, fmt.Errorf("rebind-after %v is too short: it must be at least fence-timeout + max(1s, fence-timeout/2) = %v, so that a node's lease has lapsed before its sources move", c.RebindAfter, least))
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("leader lease timeout %v must not exceed heartbeat timeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout))
	}
	if n := len(c.GossipKey); n != 0 && n != 16 && n != 24 && n != 32 {
		errs = append(errs, fmt.Errorf("gossip key has %d bytes; it must have 16, 24 or 32", n))
	}
	if c.Gossip.ProbeTimeout >= c.Gossip.ProbeInterval {
		errs = append(errs, fmt.Errorf("gossip probe timeout %v must be shorter than the probe interval %v", c.Gossip.ProbeTimeout, c.Gossip.ProbeInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	return nil
}
