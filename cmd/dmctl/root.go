package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"

	"github.com/dmraft/dmraft/rpc"
)

// globals are the flags every command shares.
type globals struct {
	addr    string
	output  string
	timeout time.Duration
	tls     rpc.TLSFiles
}

func rootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "dmctl",
		Short:         "dmctl administers a dmraft cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("-o %q: use table or json", g.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	def := os.Getenv("DMCTL_ADDR")
	if def == "" {
		def = "127.0.0.1:8261"
	}
	pf.StringVar(&g.addr, "addr", def, "admin address(es) of any node(s), comma-separated; dmctl fails over between them (env DMCTL_ADDR)")
	pf.StringVar(&g.addr, "master-addr", def, "alias of --addr, as in DM")
	pf.StringVarP(&g.output, "output", "o", "table", "table or json")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "give up after this long (elections and failover are retried within it)")
	pf.StringVar(&g.tls.CA, "ssl-ca", "", "CA certificate for mutual TLS")
	pf.StringVar(&g.tls.Cert, "ssl-cert", "", "client certificate for mutual TLS")
	pf.StringVar(&g.tls.Key, "ssl-key", "", "client key for mutual TLS")

	root.AddCommand(
		operateSourceCommand(g), startTaskCommand(g), updateTaskCommand(g), stopTaskCommand(g),
		pauseTaskCommand(g), resumeTaskCommand(g), queryStatusCommand(g), checkTaskCommand(g),
		listMemberCommand(g), offlineMemberCommand(g), transferSourceCommand(g), operateLeaderCommand(g),
		shardDDLLockCommand(g), binlogCommand(g), encryptCommand(),
	)
	return root
}

// call connects to the cluster and runs fn with the command's deadline.
func call[Resp any](g *globals, fn func(context.Context, *rpc.Client) (Resp, error)) (Resp, error) {
	var zero Resp
	_, clientTLS, err := g.tls.Load()
	if err != nil {
		return zero, err
	}
	c, err := rpc.NewClient([]string{g.addr}, clientTLS)
	if err != nil {
		return zero, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	resp, err := fn(ctx, c)
	if err != nil {
		if s, ok := status.FromError(err); ok {
			return zero, fmt.Errorf("%s", s.Message())
		}
		return zero, err
	}
	return resp, nil
}
