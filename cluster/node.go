package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"
	"go.etcd.io/bbolt"

	"github.com/dmraft/dmraft/fsm"
)

const (
	raftDBFile      = "raft.db"
	snapshotsRetain = 2
)

// Node is one cluster member: raft, gossip and the lease around an FSM.
type Node struct {
	cfg      Config
	log      zerolog.Logger
	leaseLog zerolog.Logger
	fsm      *fsm.FSM
	raft     *raft.Raft
	store    *raftboltdb.BoltStore
	trans    *raft.NetworkTransport
	ml       *memberlist.Memberlist

	gossip    *gossip
	lease     *Lease
	leaseKick chan struct{}
	notifyCh  chan bool

	idMu     sync.Mutex
	identity identity
	hasState bool // the data dir had raft state at Open, or Open bootstrapped

	mu          sync.Mutex // guards the leadership fields below
	leaderGen   uint64     // raised on every gain and loss of leadership
	leaderSince time.Time  // when this node became leader; zero when not leader
	leaderReady bool       // a barrier of the current term has been applied
	renewals    map[string]time.Time
	removing    map[string]struct{} // members RemoveMember is fencing out

	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error
	done         chan struct{}
}

// Open opens (or creates) the data dir, starts raft and gossip, and, with
// cfg.Bootstrap, creates a new cluster with this node as its only voter. f
// must be a new FSM; raft restores it from the data dir.
func Open(cfg Config, f *fsm.FSM) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With().Str(logComponent, "cluster").Logger()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	id, found, err := readIdentity(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if found && id.Name != cfg.Name {
		return nil, fmt.Errorf("data dir %s belongs to node %q, not %q: start it with --name %s, or use another --data-dir",
			cfg.DataDir, id.Name, cfg.Name, id.Name)
	}
	id.Name = cfg.Name

	n := &Node{
		cfg: cfg, log: log, leaseLog: cfg.Logger.With().Str(logComponent, "lease").Logger(),
		fsm: f, identity: id,
		lease:     newLease(cfg.Logger.With().Str(logComponent, "lease").Logger()),
		leaseKick: make(chan struct{}, 1),
		notifyCh:  make(chan bool, 8),
		renewals:  map[string]time.Time{},
		removing:  map[string]struct{}{},
		done:      make(chan struct{}),
	}
	var closers []func() error
	fail := func(err error) (*Node, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
		return nil, err
	}

	n.store, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.DataDir, raftDBFile),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fail(fmt.Errorf("data dir %s is in use by another process", cfg.DataDir))
	}
	if err != nil {
		return fail(fmt.Errorf("open raft store: %w", err))
	}
	closers = append(closers, n.store.Close)

	hclog := newHCLogger(cfg.Logger.With().Str(logComponent, "raft").Logger(), "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, snapshotsRetain, hclog)
	if err != nil {
		return fail(fmt.Errorf("open snapshot store: %w", err))
	}
	hasState, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return fail(fmt.Errorf("read raft state: %w", err))
	}
	n.hasState = hasState
	if cfg.Bootstrap && hasState {
		return fail(fmt.Errorf("cannot bootstrap: data dir %s already has raft state; remove --bootstrap to restart with its state, or use an empty --data-dir", cfg.DataDir))
	}
	if cfg.Bootstrap {
		n.identity.ClusterID = newClusterID()
	}
	if !found || cfg.Bootstrap {
		if err := writeIdentity(cfg.DataDir, n.identity); err != nil {
			return fail(err)
		}
	}

	n.trans, err = newTransport(&cfg, hclog)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, n.trans.Close)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Name)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NotifyCh = n.notifyCh
	rc.Logger = hclog
	rc.NoLegacyTelemetry = true
	n.raft, err = raft.NewRaft(rc, &raftFSM{fsm: f}, n.store, n.store, snaps, n.trans)
	if err != nil {
		return fail(fmt.Errorf("start raft: %w", err))
	}
	closers = append(closers, func() error { return n.raft.Shutdown().Error() })

	if cfg.Bootstrap {
		boot := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: n.trans.LocalAddr()}}}
		if err := n.raft.BootstrapCluster(boot).Error(); err != nil {
			return fail(fmt.Errorf("bootstrap cluster: %w", err))
		}
		n.hasState = true
		log.Info().Str("cluster_id", n.identity.ClusterID).Msg("bootstrapped a new cluster")
	}

	n.ml, n.gossip, err = newMemberlist(&cfg)
	if err != nil {
		return fail(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(4)
	go n.leadershipLoop(ctx)
	go n.leaseLoop(ctx)
	go n.gossipJoinLoop(ctx)
	go n.maintainLoop(ctx)
	log.Info().Str("raft_addr", cfg.RaftAddr).Str("gossip_addr", cfg.GossipAddr).Bool("restarted", hasState).Msg("node started")
	return n, nil
}

// Shutdown stops the node. graceful: a leader first hands leadership to
// another voter and gossip announces the departure; otherwise the node just
// stops, as if killed. Safe to call more than once.
func (n *Node) Shutdown(graceful bool) error {
	n.shutdownOnce.Do(func() {
		var errs []error
		if graceful && n.IsLeader() {
			if err := n.LeadershipTransfer(); err != nil && !errors.Is(err, ErrNoTransferTarget) {
				n.log.Warn().Err(err).Msg("leadership transfer before shutdown")
			}
		}
		n.cancel()
		n.lease.close()
		if graceful {
			if err := n.ml.Leave(time.Second); err != nil {
				n.log.Debug().Err(err).Msg("gossip leave")
			}
		}
		if err := n.ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("stop gossip: %w", err))
		}
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("stop raft: %w", err))
		}
		if err := n.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft transport: %w", err))
		}
		n.wg.Wait()
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft store: %w", err))
		}
		close(n.done)
		n.shutdownErr = errors.Join(errs...)
		n.log.Info().Bool("graceful", graceful).Msg("node stopped")
	})
	return n.shutdownErr
}

// Done is closed when Shutdown has finished.
func (n *Node) Done() <-chan struct{} { return n.done }

// Name returns this node's name (its raft server id).
func (n *Node) Name() string { return n.cfg.Name }

// FSM returns the replicated state machine this node applies to.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// IsLeader reports whether this node is the raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the raft leader's name and, from its node record, its admin
// address; empty strings if unknown.
func (n *Node) Leader() (name, adminAddr string) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	if rec := n.fsm.View().Nodes[string(id)]; rec != nil {
		return string(id), rec.Addr
	}
	if string(id) == n.cfg.Name {
		return n.cfg.Name, n.cfg.Addr
	}
	return string(id), ""
}

// WaitLeader waits until a leader with a known admin address exists.
func (n *Node) WaitLeader(ctx context.Context) (name, adminAddr string, err error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if name, addr := n.Leader(); addr != "" {
			return name, addr, nil
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("wait for leader: %w: %w", ErrNoLeader, ctx.Err())
		case <-n.done:
			return "", "", ErrShutdown
		case <-tick.C:
		}
	}
}

// HasState reports whether the data dir held raft state when the node was
// opened, or Open bootstrapped a cluster: the node is a member already and
// must not join again.
func (n *Node) HasState() bool { return n.hasState }

// Stats returns raft's statistics (indexes, term, state, last contact...).
func (n *Node) Stats() map[string]string { return n.raft.Stats() }
