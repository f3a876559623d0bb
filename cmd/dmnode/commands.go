package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/dmraft/dmraft/rpc/daemon"
)

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "dmnode",
		Short:         "dmnode runs one node of a dmraft cluster",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(startCommand(), joinCommand())
	return root
}

func startCommand() *cobra.Command {
	var o nodeOptions
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run a node in the foreground (--bootstrap creates a new cluster; without it a node restarts with its data dir)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Flags()) },
	}
	o.bind(cmd.Flags())
	cmd.Flags().BoolVar(&o.cfg.Bootstrap, "bootstrap", false, "create a new one-node cluster (only on an empty data dir)")
	return cmd
}

func joinCommand() *cobra.Command {
	var o nodeOptions
	cmd := &cobra.Command{
		Use:   "join PEER_ADDR",
		Short: "Start a node and ask the cluster, through any member's admin address, to add it as a voter",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cfg.Join = args[0]
			return o.run(cmd.Flags())
		},
	}
	o.bind(cmd.Flags())
	return cmd
}

// nodeOptions are what start and join read from their flags and --config.
type nodeOptions struct {
	cfg        daemon.Config
	configFile string
	pprofAddr  string
}

func (o *nodeOptions) bind(fs *pflag.FlagSet) {
	bindFlags(fs, &o.cfg, &o.configFile)
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof) on this loopback host:port; empty: off")
}

// run reads the --config file into the flags not given and runs the node
// until it is stopped.
func (o *nodeOptions) run(fs *pflag.FlagSet) error {
	if err := applyConfigFile(fs, o.configFile, &o.cfg); err != nil {
		return err
	}
	return run(o.cfg, o.pprofAddr)
}

func bindFlags(fs *pflag.FlagSet, cfg *daemon.Config, configFile *string) {
	fs.StringVar(configFile, "config", "", "YAML file with any of these flags as keys (flags given on the command line win)")
	fs.StringVar(&cfg.Name, "name", "", "unique node name (required)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the raft log, snapshots and identity (required)")
	fs.StringVar(&cfg.Addr, "addr", daemon.DefaultAddr, "admin gRPC address (dmctl and other nodes connect here)")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", daemon.DefaultRaftAddr, "raft transport address")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", daemon.DefaultGossipAddr, "memberlist gossip address (TCP and UDP)")
	fs.DurationVar(&cfg.FenceTimeout, "fence-timeout", 2*time.Second, "stop every runner after this long without leader contact")
	fs.DurationVar(&cfg.RebindAfter, "rebind-after", 4*time.Second, "move a silent node's sources after this long (must exceed fence-timeout by a margin)")
	fs.DurationVar(&cfg.HeartbeatTimeout, "raft-heartbeat-timeout", 0, "raft heartbeat timeout (0: default)")
	fs.DurationVar(&cfg.ElectionTimeout, "raft-election-timeout", 0, "raft election timeout (0: default)")
	fs.DurationVar(&cfg.LeaderLeaseTimeout, "raft-leader-lease-timeout", 0, "raft leader lease timeout (0: default)")
	fs.StringVar(&cfg.SSLCA, "ssl-ca", "", "CA certificate (PEM) for mutual TLS of gRPC and raft")
	fs.StringVar(&cfg.SSLCert, "ssl-cert", "", "this node's certificate (PEM)")
	fs.StringVar(&cfg.SSLKey, "ssl-key", "", "this node's private key (PEM)")
	fs.StringVar(&cfg.GossipKey, "gossip-key", "", "memberlist encryption key, hex (16, 24 or 32 bytes)")
	fs.StringVar(&cfg.SecretKeyPath, "secret-key-path", "", "file with the 64-hex-character key that encrypts passwords (same on every node; default: the built-in key)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFile, "log-file", "", "also write JSON logs to this file")
}

// applyConfigFile reads the --config file into cfg for every flag that was
// not given on the command line.
func applyConfigFile(fs *pflag.FlagSet, path string, cfg *daemon.Config) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read --config: %w", err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	for key, node := range raw {
		f := fs.Lookup(key)
		if f == nil || key == "config" {
			return fmt.Errorf("--config %s line %d: unknown key %q (the keys are the flag names of `dmnode start --help`)", path, node.Line, key)
		}
		if f.Changed {
			continue
		}
		if err := fs.Set(key, node.Value); err != nil {
			return fmt.Errorf("--config %s line %d: %s: %w", path, node.Line, key, err)
		}
	}
	return nil
}

func run(cfg daemon.Config, pprofAddr string) error {
	log, closeLog, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	if pprofAddr != "" {
		stopPprof, err := startPprof(pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := daemon.Run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("dmnode failed")
		return err
	}
	return nil
}

func newLogger(cfg daemon.Config) (zerolog.Logger, func(), error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Nop(), nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", cfg.LogLevel)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	var w io.Writer = os.Stderr
	closeFn := func() {}
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return zerolog.Nop(), nil, fmt.Errorf("--log-file: %w", err)
		}
		w = zerolog.MultiLevelWriter(os.Stderr, f)
		closeFn = func() { _ = f.Close() }
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("node", cfg.Name).Logger(), closeFn, nil
}
