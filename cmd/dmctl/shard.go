package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/rpc"
	"github.com/dmraft/dmraft/shardlock"
)

func shardDDLLockCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "shard-ddl-lock [TASK] | shard-ddl-lock unlock LOCK_ID [--force-remove]",
		Short: "Show shard-DDL locks (owner, synced and unsynced shards), or unlock a stuck one keeping every checkpoint",
		Args:  cobra.MaximumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			req := &pb.ShardDDLLockRequest{Op: "show"}
			switch {
			case len(args) >= 1 && args[0] == "unlock":
				if len(args) != 2 {
					return fmt.Errorf("shard-ddl-lock unlock needs the lock id (see `dmctl shard-ddl-lock`)")
				}
				req = &pb.ShardDDLLockRequest{Op: "unlock", LockId: args[1], ForceRemove: force}
			case len(args) == 1:
				req.Task = args[0]
			case len(args) == 2:
				return fmt.Errorf("shard-ddl-lock takes one task name, or `unlock LOCK_ID`")
			}
			resp, err := call(g, func(ctx context.Context, c *rpc.Client) (*pb.ShardDDLLockResponse, error) {
				return rpc.Call(ctx, c, func(ctx context.Context, a pb.AdminClient) (*pb.ShardDDLLockResponse, error) {
					return a.ShardDDLLock(ctx, req)
				})
			})
			if err != nil {
				return err
			}
			var locks []shardlock.LockStatus
			if err := json.Unmarshal(resp.LocksJson, &locks); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(map[string]any{"result": true, "locks": locks})
			}
			var rows [][]string
			for _, l := range locks {
				state := "waiting"
				switch {
				case l.Conflict != "":
					state = "conflict: " + l.Conflict
				case l.Resolved:
					state = "resolved"
				case l.Ready:
					state = "ready"
				}
				rows = append(rows, []string{l.ID, l.Mode, orDash(l.Owner), strings.Join(l.Synced, ","), orDash(strings.Join(l.Unsynced, ",")), state})
			}
			table([]string{"LOCK", "MODE", "OWNER", "SYNCED", "UNSYNCED", "STATE"}, rows)
			if len(locks) == 0 {
				fmt.Fprintln(os.Stderr, "no shard-DDL locks")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force-remove", false, "unlock: let every waiting shard skip the DDL and remove the lock")
	return cmd
}
