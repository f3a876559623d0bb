package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
)

// sourceJSON is one source in `operate-source` JSON output.
type sourceJSON struct {
	Source  string   `json:"source"`
	Worker  string   `json:"worker"`
	Epoch   uint64   `json:"epoch"`
	Enabled bool     `json:"enabled"`
	Result  string   `json:"result,omitempty"`
	Host    string   `json:"host"`
	Port    int32    `json:"port"`
	Flavor  string   `json:"flavor"`
	Tasks   []string `json:"tasks"`
	BoundMs int64    `json:"bound_unix_ms,omitempty"`
}

func operateSourceCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "operate-source create|stop|show [source.yaml... | SOURCE_ID...]",
		Short: "Create sources from source.yaml files, stop (remove) them, or show them with their bound node and epoch",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			req := &pb.OperateSourceRequest{Op: args[0]}
			switch args[0] {
			case "create":
				if len(args) < 2 {
					return fmt.Errorf("operate-source create needs at least one source.yaml file")
				}
				for _, path := range args[1:] {
					data, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					req.Configs = append(req.Configs, string(data))
				}
			case "stop", "show":
				for _, arg := range args[1:] {
					id, err := sourceIDOf(arg)
					if err != nil {
						return err
					}
					req.SourceIds = append(req.SourceIds, id)
				}
			default:
				return fmt.Errorf("operate-source %q: use create, stop or show", args[0])
			}
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.OperateSourceResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.OperateSourceResponse, error) {
					return a.OperateSource(ctx, req)
				})
			})
			if err != nil {
				return err
			}
			return printSources(g, resp.Sources)
		},
	}
}

// sourceIDOf accepts a source id or, as DM does, the source.yaml it was created from.
func sourceIDOf(arg string) (string, error) {
	return nameOrFile(arg, func(data []byte) (string, error) {
		src, err := config.ParseSource(data)
		if err != nil {
			return "", err
		}
		return src.SourceID, nil
	})
}

// nameOrFile returns arg itself, or, when it names a YAML file, the name
// that parse finds in it.
func nameOrFile(arg string, parse func([]byte) (string, error)) (string, error) {
	if !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") {
		return arg, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return "", err
	}
	name, err := parse(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", arg, err)
	}
	return name, nil
}

func printSources(g *globals, sources []*pb.SourceStatus) error {
	out := []sourceJSON{}
	for _, s := range sources {
		out = append(out, sourceJSON{Source: s.SourceId, Worker: s.Worker, Epoch: s.Epoch, Enabled: s.Enabled,
			Result: s.Result, Host: s.Host, Port: s.Port, Flavor: s.Flavor, Tasks: append([]string{}, s.Tasks...), BoundMs: s.BoundUnixMs})
	}
	if g.output == "json" {
		return printJSON(map[string]any{"result": true, "sources": out})
	}
	var rows [][]string
	for _, s := range out {
		rows = append(rows, []string{s.Source, orDash(s.Worker), fmt.Sprint(s.Epoch), fmt.Sprintf("%s:%d", s.Host, s.Port),
			orDash(s.Flavor), orDash(strings.Join(s.Tasks, ",")), orDash(s.Result)})
	}
	table([]string{"SOURCE", "WORKER", "EPOCH", "UPSTREAM", "FLAVOR", "TASKS", "RESULT"}, rows)
	return nil
}

func encryptCommand() *cobra.Command {
	var keyPath string
	cmd := &cobra.Command{
		Use:   "encrypt PLAINTEXT",
		Short: "Encrypt a password for source.yaml / task.yaml, as DM's dmctl encrypt does",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			key := config.DefaultKey
			if keyPath != "" {
				var err error
				if key, err = config.LoadKey(keyPath); err != nil {
					return err
				}
			}
			enc, err := config.Encrypt(key, args[0])
			if err != nil {
				return err
			}
			fmt.Println(enc)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "secret-key-path", "", "file with the nodes' 64-hex-character key (default: the built-in key)")
	return cmd
}
