package units

import (
	"context"
	"time"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/shardlock"
)

// registerShards registers a shard-mode task's tables of this source before
// the dump (shardlock.Register): the source's marker tells the leader that
// its tables are listed, so a pessimistic lock of another source that is
// already syncing cannot be decided without them. ddls are the tables'
// SHOW CREATE TABLE, in the order of tables. The sync unit registers again
// at every start.
func (u *fullUnit) registerShards(ctx context.Context, tables []*dump.Table, ddls []string) error {
	if u.task.ShardMode == "" || u.d.View == nil || u.d.Propose == nil {
		return nil
	}
	reg := make([]shardlock.Table, len(tables))
	for i, t := range tables {
		reg[i] = shardlock.Table{UpSchema: t.Schema, UpTable: t.Name, DownSchema: t.TargetSchema, DownTable: t.TargetName}
		if u.task.ShardMode == shardlock.ModeOptimistic {
			reg[i].CreateTable = ddls[i]
		}
	}
	// Each attempt computes the commands from the current view: Register
	// leaves out what is in already, and a conditional put refused because
	// the info changed since it was read (a retried proposal that had been
	// applied) is transient.
	return retry(ctx, u.log, "register shard tables", func() error {
		cmds, err := shardlock.Register(u.d.View(), u.task.Name, u.inst.SourceID, reg)
		if err != nil {
			return &executor.Error{Code: "ShardRegisterFailed", Class: "config", Message: "register the shard tables", Err: err,
				Workaround: "check the tables' definitions upstream; then `dmctl resume-task " + u.task.Name + "`"}
		}
		for _, c := range cmds {
			c.NowUnixMs = u.d.Now().UnixMilli()
			res, err := u.d.Propose(ctx, c)
			if err != nil {
				return err
			}
			// Also when refused: the next attempt reads the view that refused it.
			for u.d.View().Index < res.GetIndex() && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			if res.GetCode() == fsm.CodeShardInfoChanged {
				return fsm.ResultError(res)
			}
			if res.GetCode() != "" {
				return &executor.Error{Code: res.GetCode(), Class: "internal", Message: "register shard tables: " + res.GetMessage(),
					Workaround: "check `dmctl query-status`; then `dmctl resume-task " + u.task.Name + "`"}
			}
		}
		return nil
	})
}
