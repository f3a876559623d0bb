package syncer

// Shard mode and the two ways a shard table leaves the normal path of
// shard.go: `dmctl binlog skip|replace` at one of its DDLs, and DROP TABLE.
//
// # binlog skip|replace of a shard DDL
//
// The operator is keyed by the DDL event's position, as without shards
// (operator.go). When the unit reaches that event:
//
//   - The shard holds an exec operation (it executes the lock's DDL, and
//     the target rejected it): replace runs the operator's statements
//     instead of the lock's DDLs, skip runs nothing. Either way the shard
//     finishes its operation, so the lock goes on and the other shards skip
//     the DDL: the lock's DDL is replaced, or skipped, for all of them.
//   - Otherwise replace reports the operator's statements as this shard's
//     DDLs (instead of what the binlog has), and the lock decides on them:
//     the way out of "shard DDLs differ" (pessimistic: the owner's DDL) or
//     of an optimistic conflict (a change the join accepts).
//   - skip, pessimistic: the shard's own DDL never reaches the target (the
//     owner executes the lock's), so skipping it means taking part without
//     comparing it: the shard reports the lock's DDLs and then skips them.
//   - skip, optimistic, of a DDL the lock can follow: refused (the lock
//     alone decides what reaches the target, and answers skip for a shard
//     in conflict); `shard-ddl-lock unlock LOCK` does it, then
//     `resume-task`.
//   - skip of a DDL the lock never took (a statement the optimistic schema
//     model cannot follow, ShardDDLUnsupported): the event is skipped.
//   - An event that is no shard DDL (CREATE TABLE, database level, a
//     statement that does not parse) is handled as without shards.
//
// The checkpoint moves past the event only after the operation is done,
// so a crash replays the operator; reports of the same statements are
// free (shardlock.ReportInfo returns nil).
//
// # DROP TABLE / DROP DATABASE of a shard table
//
// The drop is not replicated (the merged table stays), but the table leaves
// shard-DDL coordination (shardlock.Unregister) before the checkpoint moves
// past the event. A pessimistic unit holding at another table's DDL
// (shardHold) unregisters, while it scans ahead, the dropped tables of the
// same lock that wait for no DDL: a lock that waits for a table dropped
// later in the same binlog completes.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/filter"
	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
)

// CodeShardSkipRefused pauses a subtask whose `binlog skip` names an
// optimistic shard DDL that waits in a lock.
const CodeShardSkipRefused = "ShardSkipRefused"

// operate applies the binlog operator bop to the lock DDLs texts of table t
// at ev. It returns the statements to report in their place, or done when
// the event is handled.
func (s *shardSync) operate(ctx context.Context, ev binlog.Event, t filter.TableName, texts []string, bop *pb.BinlogOperator) ([]string, bool, error) {
	p := s.p
	v := s.view()
	op, decided := shardlock.OperationFor(v, p.task, s.source, t.Schema, t.Name)
	if decided && op.Action == shardlock.ActionExec {
		return nil, true, s.actAs(ctx, ev, t, op, bop)
	}
	if bop.Op == "replace" {
		p.log.Info().Strs("ddls", texts).Strs("replacement", bop.Statements).Str("position", ev.Start.String()).
			Msg("binlog replace: reporting the replacement as this shard's DDL")
		return bop.Statements, false, nil
	}
	// skip
	if decided && op.Action == shardlock.ActionSkip {
		return nil, true, s.act(ctx, ev, t, op)
	}
	info := v.ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]
	if s.mode == shardlock.ModePessimistic {
		if ddls := s.lockDDLs(v, t); ddls != nil {
			p.log.Info().Strs("ddls", texts).Strs("lock_ddls", ddls).Str("position", ev.Start.String()).
				Msg("binlog skip: this shard takes part in the lock with the lock's DDLs and skips them")
			return ddls, false, nil
		}
		// No lock yet, or this shard owns it: its DDLs are the lock's;
		// the skip applies when its exec operation arrives.
		return texts, false, nil
	}
	// Optimistic: the lock decides whether a DDL it can follow reaches the
	// target (and keeps the shard's schema); only the lock can skip it.
	if _, err := shardlock.ReportInfo(v, p.task, s.source, t.Schema, t.Name, texts); len(info.GetDdls()) > 0 || err == nil {
		ds, dt := p.sel.Route(t.Schema, t.Name)
		lockID := shardlock.LockID(p.task, ds, dt)
		return nil, false, &executor.Error{Code: CodeShardSkipRefused, Class: "config",
			Message: fmt.Sprintf("binlog skip of the shard DDL of %s.%s at %s (%s): optimistic lock %s decides whether it reaches the target, so only the lock can skip it",
				t.Schema, t.Name, ev.Start, strings.Join(texts, "; "), lockID),
			Position: OperatorPosition(ev.Start),
			Workaround: "`dmctl shard-ddl-lock unlock " + lockID + "` makes the shards in conflict skip their DDL (the target keeps its schema), then `dmctl resume-task " + p.task +
				"`; or `dmctl binlog replace " + p.task + " -s " + s.source + " \"SQL;...\"` with a change the lock accepts. Checkpoints are kept"}
	}
	p.log.Warn().Strs("ddls", texts).Str("position", ev.Start.String()).
		Msg("binlog skip: the shard DDL is skipped; the lock never saw it, so its schema model of the table stays as before the DDL")
	return nil, true, s.finish(ctx, ev)
}

// unregisterDropped takes the tables a DROP TABLE / DROP DATABASE names out
// of shard-DDL coordination. keep, when set, picks which ones.
func (s *shardSync) unregisterDropped(ctx context.Context, d *filter.DDL, keep func(t filter.TableName, info *pb.ShardInfo) bool) error {
	if !d.Drop {
		return nil // TRUNCATE
	}
	p := s.p
	v := s.view()
	var tables []filter.TableName
	if d.DatabaseLevel {
		schema := d.Tables[0].Schema
		for _, name := range shardlock.RegisteredTables(v, p.task, s.source, schema) {
			tables = append(tables, filter.TableName{Schema: schema, Name: name})
		}
	} else {
		for _, t := range d.Tables {
			if p.sel.TableAllowed(t.Schema, t.Name) {
				tables = append(tables, t)
			}
		}
	}
	for _, t := range tables {
		if keep != nil && !keep(t, v.ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]) {
			continue
		}
		cmd := shardlock.Unregister(v, p.task, s.source, t.Schema, t.Name)
		if cmd == nil {
			continue
		}
		p.log.Info().Str("table", t.Schema+"."+t.Name).Msg("shard table dropped upstream: it leaves shard-DDL coordination")
		if err := s.proposeApplied(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// lockDDLs are the DDLs of the pessimistic lock that table t takes part
// in, nil when there is none or t owns it.
func (s *shardSync) lockDDLs(v *fsm.View, t filter.TableName) []string {
	ds, dt := s.p.sel.Route(t.Schema, t.Name)
	lock := v.ShardLocks[shardlock.LockID(s.p.task, ds, dt)]
	if lock == nil || len(lock.Ddls) == 0 || lock.Owner == shardlock.MemberKey(s.source, t.Schema, t.Name) {
		return nil
	}
	return slices.Clone(lock.Ddls)
}

// scanTexts is what a pessimistic scan ahead reports for table t at ev:
// texts, or what the subtask's binlog operator at ev makes of them (see
// operate; an exec operation cannot exist yet for a table the scan reports).
func (s *shardSync) scanTexts(ev binlog.Event, t filter.TableName, texts []string) []string {
	bop := s.p.binlogOperator(ev)
	switch {
	case bop == nil:
		return texts
	case bop.Op == "replace":
		return bop.Statements
	}
	if ddls := s.lockDDLs(s.view(), t); ddls != nil {
		return ddls
	}
	return texts
}

// scannedConflict pauses a holding unit when a table its scan reported
// meets a conflict: nothing else would show it (the unit holds at another
// table's DDL), and the lock would wait for ever. The error names that
// table's DDL position, so `binlog replace` can key an operator on it;
// after resume the scan reports the replacement.
func (s *shardSync) scannedConflict() error {
	p, h := s.p, s.hold
	v := s.view()
	for t, pos := range h.scanned {
		op, ok := shardlock.OperationFor(v, p.task, s.source, t.Schema, t.Name)
		if !ok || op.Action != "" || op.ConflictMessage == "" {
			continue
		}
		p.prog.setStage("shard DDL conflict")
		return s.conflictError(pos, t, op)
	}
	return nil
}

// unregistersAhead picks, for a scan ahead, the dropped tables that may
// leave coordination before the replay reaches their DROP: those of the
// held lock that wait for no DDL (any other waits for its DDL's operation
// first, which comes in binlog order).
func (h *shardHold) unregistersAhead(p *pipeline) func(t filter.TableName, info *pb.ShardInfo) bool {
	return func(t filter.TableName, info *pb.ShardInfo) bool {
		if t == h.table || info == nil || len(info.Ddls) > 0 {
			return false
		}
		ds, dt := p.sel.Route(t.Schema, t.Name)
		return ds == h.down[0] && dt == h.down[1]
	}
}

// skipOperator is bop when it is a skip: the only operator that still
// applies once the lock answered the statements it reported (a replace
// was reported in place of the DDL, and the lock's exec statements are
// what the target must get).
func skipOperator(bop *pb.BinlogOperator) *pb.BinlogOperator {
	if bop.GetOp() == "skip" {
		return bop
	}
	return nil
}
