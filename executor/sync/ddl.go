package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/filter"
	"github.com/dmraft/dmraft/executor/target"
)

// query handles a statement event: a DDL, or something that is skipped.
func (p *pipeline) query(ctx context.Context, ev binlog.Event) error {
	p.prog.addEvents(1)
	if filter.Skipped(ev.Query) {
		return p.commit(ctx, ev.End)
	}
	if op := p.binlogOperator(ev); op != nil { // dmctl binlog skip|replace (operator.go)
		return p.applyOperator(ctx, ev, op)
	}
	ddls, err := filter.ParseDDL(p.parser, ev.Query, ev.Schema)
	if err != nil {
		return p.ddlError("DDLUnsupported", ev, ev.Query, err)
	}
	// Already applied before the stored points (only possible for
	// workers that all stand past it): nothing to do.
	if p.resume != nil && p.allCover(ev.Start) {
		return p.commit(ctx, ev.End)
	}
	type step struct{ text, schema string }
	var steps []step
	for _, d := range ddls {
		subject := d.Tables[0]
		if d.DatabaseLevel {
			if !p.sel.SchemaAllowed(subject.Schema) {
				continue
			}
		} else if !p.sel.TableAllowed(subject.Schema, subject.Name) {
			continue
		}
		switch act, rule := p.events.Check(subject.Schema, subject.Name, d.Events, true, d.Text); act {
		case filter.Ignore:
			continue
		case filter.Error:
			return p.ddlError("BinlogEventFiltered", ev, d.Text, fmt.Errorf("binlog event filter %q stops at this DDL", rule.Name))
		}
		text, routed, err := d.Route(p.sel.Route)
		if err != nil {
			return p.ddlError("DDLUnsupported", ev, d.Text, err)
		}
		schema := ev.Schema
		if routed {
			schema = ""
		}
		steps = append(steps, step{text, schema})
	}
	if len(steps) == 0 {
		return p.commit(ctx, ev.End)
	}
	if err := p.drain(ctx, &ev.Start); err != nil {
		return err
	}
	mayHaveRun := (p.resume != nil && p.resume.PendingDDL.Compare(ev.Start) == 0 && p.resume.PendingDDL.Name != "") ||
		ev.Start.Before(p.loadLast)
	for _, s := range steps {
		p.prog.setBlocking([]string{s.text})
		if err := p.inTx(ctx, func(tx *sql.Tx) error { return p.store.SaveDDL(ctx, tx, ev.Start, s.text) }); err != nil {
			return err
		}
		err := p.execFenced(ctx, s.schema, s.text)
		if err != nil && mayHaveRun && replayTolerated[mysqlCode(err)] {
			p.log.Info().Str("ddl", s.text).Err(err).Msg("DDL replayed after a restart had already run; continuing")
			err = nil
		}
		if err != nil {
			if transient(err) || errors.Is(err, context.Canceled) {
				return err
			}
			return p.ddlError("DDLFailed", ev, s.text, err)
		}
		p.log.Info().Str("ddl", s.text).Str("position", ev.Start.String()).Msg("DDL applied")
	}
	return p.passDDL(ctx, ev)
}

// passDDL moves every worker's checkpoint past a DDL event that was
// applied, skipped or replaced: the blocking DDL is cleared, table
// schemas are read again, and the workers restart from ev's end.
func (p *pipeline) passDDL(ctx context.Context, ev binlog.Event) error {
	p.prog.setBlocking(nil)
	p.tables.clear()
	if err := p.inTx(ctx, func(tx *sql.Tx) error { return p.store.SaveAll(ctx, tx, len(p.workers), ev.End) }); err != nil {
		return err
	}
	for i := range p.workers {
		ack := make(chan error, 1)
		if err := p.send(ctx, i, job{kind: jobReset, point: checkpoint.Boundary(ev.End), ts: ev.Timestamp, ack: ack}); err != nil {
			return err
		}
		if err := <-ack; err != nil {
			return err
		}
	}
	return nil
}

func (p *pipeline) allCover(pos binlog.Position) bool {
	for w := range p.workers {
		if !p.resume.Skip(w, pos, 0) {
			return false
		}
	}
	return true
}

// execFenced runs a DDL while another transaction holds the epoch row's
// shared lock after checking it: a new owner's RaiseEpoch waits until the
// DDL is done, and a fenced owner never starts it.
func (p *pipeline) execFenced(ctx context.Context, schema, text string) error {
	lock, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer lock.Rollback() //nolint:errcheck // releases the lock
	if err := p.store.Meta.CheckEpoch(ctx, lock, p.fence); err != nil {
		return err
	}
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if schema != "" {
		if _, err := conn.ExecContext(ctx, "USE "+quoteIdent(schema)); err != nil && mysqlCode(err) != 1049 {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, text); err != nil {
		return err
	}
	return target.Commit(ctx, lock)
}

func (p *pipeline) ddlError(code string, ev binlog.Event, stmt string, err error) error {
	p.prog.setBlocking([]string{stmt})
	return &executor.Error{Code: code, Class: "target",
		Message:  fmt.Sprintf("DDL at %s (schema %q): %s", ev.Start, ev.Schema, stmt),
		Err:      err,
		Position: OperatorPosition(ev.Start),
		Workaround: "`dmctl binlog skip " + p.task + "` skips it, `dmctl binlog replace " + p.task + " \"SQL;...\"` runs these statements instead (both resume the task); or run an equivalent statement on the target by hand and skip it by adding a binlog event filter (action Ignore, sql-pattern) with `dmctl update-task`, or fix the target; then `dmctl resume-task " + p.task +
			"`. Nothing after this DDL was applied"}
}

func quoteIdent(s string) string {
	out := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			out = append(out, '`')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}
