package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
)

// binlogCommand is DM's `binlog skip|replace TASK` for a subtask paused at
// a DDL the target rejected (or any DDL with --position).
func binlogCommand(g *globals) *cobra.Command {
	var sources []string
	var position string
	cmd := &cobra.Command{
		Use:   "binlog skip TASK | binlog replace TASK \"SQL1;SQL2\" [-s SOURCE] [--position POS]",
		Short: "Skip the DDL a subtask is paused at, or run other statements instead, and resume it",
		Long: "binlog skip TASK skips the DDL at which the task's subtasks are paused; binlog replace TASK \"SQL;...\" runs the\n" +
			"given statements on the target instead. Both keep every checkpoint and resume the subtasks. Without -s they\n" +
			"apply to every subtask of the task that is paused at a DDL; --position (as `query-status` prints it, e.g.\n" +
			"\"(mysql-bin.000003, 1234)\") names a DDL the subtask has not reached yet.\n\n" +
			"Shard mode: at a shard DDL whose lock this shard executes (the target rejected it), replace runs the statements\n" +
			"instead and skip runs nothing, for every shard of the lock; a shard that waits in a lock reports the replacement\n" +
			"as its DDL (replace) or, pessimistic, takes part with the lock's DDL (skip). An optimistic shard in conflict is\n" +
			"skipped by `shard-ddl-lock unlock LOCK_ID` instead.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			req := &pb.BinlogRequest{Op: args[0], Task: args[1], Sources: sources, Position: position}
			switch args[0] {
			case "skip":
				if len(args) != 2 {
					return fmt.Errorf("binlog skip takes the task name only")
				}
			case "replace":
				if len(args) < 3 {
					return fmt.Errorf("binlog replace needs the statements to run instead: binlog replace %s \"SQL1;SQL2\"", args[1])
				}
				req.Statements = args[2:]
			default:
				return fmt.Errorf("binlog %q: use skip or replace", args[0])
			}
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.BinlogResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.BinlogResponse, error) {
					return a.Binlog(ctx, req)
				})
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				type sub struct {
					Source   string `json:"source"`
					Worker   string `json:"worker"`
					Position string `json:"position"`
					Result   string `json:"result"`
				}
				subs := []sub{}
				for _, r := range resp.Subtasks {
					subs = append(subs, sub{r.SourceId, r.Worker, r.Position, r.Result})
				}
				return printJSON(map[string]any{"result": true, "task": resp.Task, "op": resp.Op, "subtasks": subs})
			}
			var rows [][]string
			for _, r := range resp.Subtasks {
				rows = append(rows, []string{r.SourceId, orDash(r.Worker), r.Position, r.Result})
			}
			table([]string{"SOURCE", "WORKER", "POSITION", "RESULT"}, rows)
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&sources, "source", "s", nil, "only these sources of the task")
	cmd.Flags().StringVar(&position, "position", "", "the DDL's binlog position (default: where the subtask is paused)")
	return cmd
}
