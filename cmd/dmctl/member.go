package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
)

// memberJSON is one member in `list-member -o json`.
type memberJSON struct {
	Name        string   `json:"name"`
	Addr        string   `json:"addr"`
	RaftAddr    string   `json:"raft_addr"`
	GossipAddr  string   `json:"gossip_addr"`
	State       string   `json:"state"`
	Voter       bool     `json:"voter"`
	Leader      bool     `json:"leader"`
	EvictLeader bool     `json:"evict_leader"`
	Sources     []string `json:"sources"`
}

func listMemberCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list-member",
		Short: "List the nodes: liveness (alive/suspect/dead), voter, leader, bound sources",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.ListMemberResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.ListMemberResponse, error) {
					return a.ListMember(ctx, &pb.ListMemberRequest{})
				})
			})
			if err != nil {
				return err
			}
			members := []memberJSON{}
			var rows [][]string
			for _, m := range resp.Members {
				members = append(members, memberJSON{m.Name, m.Addr, m.RaftAddr, m.GossipAddr, m.State, m.Voter, m.Leader,
					m.EvictLeader, append([]string{}, m.Sources...)})
				role := "follower"
				if m.Leader {
					role = "leader"
				}
				if !m.Voter {
					role = "non-voter"
				}
				if m.EvictLeader {
					role += " (evicted)"
				}
				rows = append(rows, []string{m.Name, m.Addr, m.State, role, orDash(strings.Join(m.Sources, ","))})
			}
			if g.output == "json" {
				return printJSON(map[string]any{"result": true, "leader": resp.Leader, "members": members})
			}
			table([]string{"NAME", "ADDR", "STATE", "ROLE", "SOURCES"}, rows)
			return nil
		},
	}
}

func offlineMemberCommand(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "offline-member --name NAME",
		Short: "Remove a dead node from the cluster; its sources move to live nodes",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if name == "" {
				return fmt.Errorf("offline-member needs --name NAME (see `dmctl list-member`)")
			}
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.OfflineMemberResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.OfflineMemberResponse, error) {
					return a.OfflineMember(ctx, &pb.OfflineMemberRequest{Name: name})
				})
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(map[string]any{"result": true, "name": name, "unbound_sources": append([]string{}, resp.UnboundSources...)})
			}
			fmt.Printf("member %s removed; sources to rebind: %s\n", name, orDash(strings.Join(resp.UnboundSources, ",")))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name of the member to remove")
	return cmd
}

func transferSourceCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer-source SOURCE NODE",
		Short: "Bind a source to another node (its epoch goes up; the old node stops writing for it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.TransferSourceResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.TransferSourceResponse, error) {
					return a.TransferSource(ctx, &pb.TransferSourceRequest{SourceId: args[0], Node: args[1]})
				})
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(map[string]any{"result": true, "source": resp.SourceId, "worker": resp.Node, "epoch": resp.Epoch})
			}
			fmt.Printf("source %s is bound to %s at epoch %d\n", resp.SourceId, resp.Node, resp.Epoch)
			return nil
		},
	}
}

func operateLeaderCommand(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "operate-leader evict|cancel-evict",
		Short: "Keep a node (default: the one dmctl talks to) from holding leadership, or allow it again",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.OperateLeaderResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.OperateLeaderResponse, error) {
					return a.OperateLeader(ctx, &pb.OperateLeaderRequest{Op: args[0], Node: name})
				})
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(map[string]any{"result": true, "node": resp.Node, "op": args[0], "leader": resp.Leader})
			}
			fmt.Printf("%s: %s (leader now %s)\n", args[0], resp.Node, orDash(resp.Leader))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "node to evict (default: the node at --addr)")
	return cmd
}
