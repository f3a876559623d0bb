package syncer

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// # Binlog operators (`dmctl binlog skip|replace TASK`)
//
// A DDL the target rejects pauses the subtask with an executor.Error whose
// Position is OperatorPosition of the DDL event. `dmctl binlog` records a
// pb.BinlogOperator with that position in the subtask's FSM record and
// resumes the subtask. When the sync unit reaches the DDL event at that
// position it skips the event (skip) or runs the operator's statements
// instead (replace), on the same path as a DDL: workers drained, the
// statement saved as the pending DDL, run under the epoch lock, replay
// tolerance after a crash, then every worker's point moved past the event.
//
// The operator is left in the FSM after use: it is keyed by the position of
// one event, which the checkpoint has passed, so it cannot match again; a
// crash before the checkpoint moved replays it, as wanted. The next `dmctl
// binlog` for the subtask replaces it.
//
// Shard mode consults the operator at its own DDL path, so that the shard
// lock's bookkeeping stays consistent (shard_operator.go).

// OperatorPosition is the position of a DDL event as operators name it:
// binlog file and offset of its start, without the GTID set.
func OperatorPosition(pos binlog.Position) string {
	return binlog.Position{Name: pos.Name, Pos: pos.Pos}.String()
}

// binlogOperator returns the subtask's operator when it applies to ev.
func (p *pipeline) binlogOperator(ev binlog.Event) *pb.BinlogOperator {
	if p.operator == nil {
		return nil
	}
	op := p.operator()
	if op == nil {
		return nil
	}
	want, _, _ := strings.Cut(strings.TrimSpace(op.Position), " gtid ")
	if want != OperatorPosition(ev.Start) {
		return nil
	}
	return op
}

// applyOperator skips the DDL event ev or replaces it by the operator's
// statements (compare pipeline.query).
func (p *pipeline) applyOperator(ctx context.Context, ev binlog.Event, op *pb.BinlogOperator) error {
	if p.resume != nil && p.allCover(ev.Start) {
		return p.commit(ctx, ev.End)
	}
	if err := p.drain(ctx, &ev.Start); err != nil {
		return err
	}
	mayHaveRun := (p.resume != nil && p.resume.PendingDDL.Compare(ev.Start) == 0 && p.resume.PendingDDL.Name != "") ||
		ev.Start.Before(p.loadLast)
	switch op.Op {
	case "replace":
		for _, text := range op.Statements {
			p.prog.setBlocking([]string{text})
			if err := p.inTx(ctx, func(tx *sql.Tx) error { return p.store.SaveDDL(ctx, tx, ev.Start, text) }); err != nil {
				return err
			}
			err := p.execFenced(ctx, ev.Schema, text)
			if err != nil && mayHaveRun && replayTolerated[mysqlCode(err)] {
				p.log.Info().Str("ddl", text).Err(err).Msg("replacement DDL replayed after a restart had already run; continuing")
				err = nil
			}
			if err != nil {
				if transient(err) || errors.Is(err, context.Canceled) {
					return err
				}
				return p.ddlError("DDLFailed", ev, text, err)
			}
			p.log.Info().Str("ddl", text).Str("replaces", ev.Query).Str("position", ev.Start.String()).Msg("binlog replace: DDL applied")
		}
	default: // skip; FSM validation admits nothing else
		p.log.Info().Str("ddl", ev.Query).Str("position", ev.Start.String()).Msg("binlog skip: DDL skipped")
	}
	return p.passDDL(ctx, ev)
}

// binlogOperator reads the subtask's operator from the local FSM view; nil
// without FSM access.
func (u *Unit) binlogOperator() func() *pb.BinlogOperator {
	if u.d.View == nil {
		return nil
	}
	key := fsm.SubtaskKey{Task: u.task.Name, Source: u.inst.SourceID}
	return func() *pb.BinlogOperator { return u.d.View().Subtasks[key].GetBinlogOperator() }
}
