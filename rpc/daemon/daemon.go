package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/dmraft/dmraft/cluster"
	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/units"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/scheduler"
	"github.com/dmraft/dmraft/shardlock"
)

// joinTimeout bounds how long a new node keeps asking to be admitted.
const joinTimeout = 60 * time.Second

// Run starts a node and blocks until ctx ends; then it leaves gracefully
// (handing off leadership if it has it).
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	serverTLS, clientTLS, err := cfg.TLS().Load()
	if err != nil {
		return err
	}
	gossipKey, _ := cfg.gossipKey()
	secret := config.DefaultKey
	if cfg.SecretKeyPath != "" {
		if secret, err = config.LoadKey(cfg.SecretKeyPath); err != nil {
			return err
		}
	}

	// Listen first: a port in use is the most common start-up error.
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("admin address %s: %w", cfg.Addr, err)
	}
	defer lis.Close()

	f := fsm.New()
	pool := rpc.NewConnPool(clientTLS)
	defer pool.Close()
	node, err := cluster.Open(cluster.Config{
		Name: cfg.Name, DataDir: cfg.DataDir, Addr: cfg.Addr, RaftAddr: cfg.RaftAddr, GossipAddr: cfg.GossipAddr,
		Bootstrap:        cfg.Bootstrap,
		HeartbeatTimeout: cfg.HeartbeatTimeout, ElectionTimeout: cfg.ElectionTimeout, LeaderLeaseTimeout: cfg.LeaderLeaseTimeout,
		FenceTimeout: cfg.FenceTimeout, RebindAfter: cfg.RebindAfter,
		RaftTLS: raftTLS(serverTLS, clientTLS), GossipKey: gossipKey,
		RenewLease: rpc.LeaseRenewer(cfg.Name, pool),
		Logger:     log,
	}, f)
	if err != nil {
		return err
	}
	shutdownNode := func(graceful bool) {
		if err := node.Shutdown(graceful); err != nil {
			log.Warn().Err(err).Msg("shutdown")
		}
	}

	propose := rpc.Proposer(node, pool)
	exec := executor.New(executor.Config{
		Node: cfg.Name, View: f.View, Changed: f.Changed, Lease: node.Lease(),
		Propose: propose, Logger: log,
		Units: units.NewFactory(units.Deps{Key: secret, Propose: propose, View: f.View, Logger: log, Node: cfg.Name, DataDir: cfg.DataDir}),
	})
	srv := rpc.NewServer(rpc.ServerConfig{Node: node, Executor: exec, Secret: secret, ClientTLS: clientTLS, Logger: log})
	defer srv.Close()
	var opts []grpc.ServerOption
	if serverTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(serverTLS)))
	}
	g := grpc.NewServer(opts...)
	srv.Register(g)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	defer g.Stop()

	if cfg.Join != "" {
		if err := join(ctx, cfg, node, pool, log); err != nil {
			shutdownNode(false)
			return err
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	loop := &scheduler.Loop{
		View: f.View, Changed: f.Changed, IsLeader: node.IsLeader, Now: time.Now,
		Members: func() []scheduler.Member { return schedulerMembers(node) },
		Propose: node.Propose, Config: scheduler.Config{RebindAfter: node.RebindAfter()}, Logger: log,
	}
	locks := &shardlock.Loop{View: f.View, Changed: f.Changed, Propose: node.Propose, IsLeader: node.IsLeader, Logger: log}
	done := make(chan struct{}, 3)
	go func() { loop.Run(runCtx); done <- struct{}{} }()
	go func() { locks.Run(runCtx); done <- struct{}{} }()
	go func() { exec.Run(runCtx); done <- struct{}{} }()
	log.Info().Str("name", cfg.Name).Str("addr", cfg.Addr).Str("raft-addr", cfg.RaftAddr).
		Str("gossip-addr", cfg.GossipAddr).Str("event", "node_started").Msg("node started")

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	stop()
	for i := 0; i < cap(done); i++ {
		<-done
	}
	shutdownNode(true)
	log.Info().Msg("node stopped")
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("admin server: %w", err)
	}
	return nil
}

func schedulerMembers(node *cluster.Node) []scheduler.Member {
	var out []scheduler.Member
	for _, l := range node.Liveness(time.Now()) {
		out = append(out, scheduler.Member{Name: l.Name, Alive: l.Alive, LastSeen: l.LastSeen})
	}
	return out
}

// join asks the cluster, through the member at cfg.Join, to add this node.
// A node that already has raft state is a member already and skips it.
func join(ctx context.Context, cfg Config, node *cluster.Node, pool *rpc.ConnPool, log zerolog.Logger) error {
	client, err := rpc.NewClientWithPool([]string{cfg.Join}, pool)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	if node.HasState() {
		return checkSameCluster(ctx, cfg, node, client, log)
	}
	self := &pb.Node{Name: cfg.Name, Addr: cfg.Addr, RaftAddr: cfg.RaftAddr, GossipAddr: cfg.GossipAddr}
	resp, err := rpc.CallNode(ctx, client, func(ctx context.Context, c pb.NodeClient) (*pb.JoinResponse, error) {
		return c.Join(ctx, &pb.JoinRequest{Node: self})
	})
	if err != nil {
		return fmt.Errorf("join through %s: %w", cfg.Join, err)
	}
	if err := node.SetClusterID(resp.ClusterId); err != nil {
		return err
	}
	log.Info().Str("leader", resp.Leader).Str("cluster-id", resp.ClusterId).Msg("joined the cluster")
	return nil
}

// raftTLS merges the server and client sides of mutual TLS into the one
// config the raft stream layer uses for both listening and dialing.
func raftTLS(server, client *tls.Config) *tls.Config {
	if server == nil {
		return nil
	}
	c := server.Clone()
	c.RootCAs = client.RootCAs
	return c
}

// checkSameCluster lets a node with state restart through `dmnode join`,
// but only into the cluster its data dir belongs to.
func checkSameCluster(ctx context.Context, cfg Config, node *cluster.Node, client *rpc.Client, log zerolog.Logger) error {
	resp, err := rpc.Call(ctx, client, func(ctx context.Context, a pb.AdminClient) (*pb.ListMemberResponse, error) {
		return a.ListMember(ctx, &pb.ListMemberRequest{})
	})
	if err != nil {
		return fmt.Errorf("ask %s which cluster it belongs to: %w", cfg.Join, err)
	}
	if resp.ClusterId != "" && node.ClusterID() != "" && resp.ClusterId != node.ClusterID() {
		return fmt.Errorf("data dir %s belongs to cluster %s, but %s is a member of cluster %s: use an empty --data-dir to join that cluster",
			cfg.DataDir, node.ClusterID(), cfg.Join, resp.ClusterId)
	}
	log.Info().Msg("data dir has cluster state: restarting as a member, no join needed")
	return nil
}
