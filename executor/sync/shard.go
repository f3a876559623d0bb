package syncer

// Shard mode: the sync unit's side of shard-DDL coordination (package
// shardlock; protocol in shardlock/DESIGN.md). Everything here runs only
// when the task sets shard-mode; a task without it never reaches this file.
//
// # Merging shards
//
// Routes send many upstream tables (of this source and of others) to one
// target table. DML needs nothing special: rows are mapped onto the target
// table by column name, and conflict keys are computed on the target table,
// so two shard tables of one source that write the same target key are
// ordered by the causality check like two writes of one table. Across
// sources there is no ordering: each source has its own sync unit and
// workers. As in DM, the shards' keys must be globally unique (a key that
// two shards of different sources both write ends up with whichever write
// commits last on the target). Load creates the merged table once (CREATE
// TABLE of an existing identical table is accepted) and every shard's rows
// go into it.
//
// # DDL of a shard table
//
// Every table-level DDL of a selected table goes through the lock, except
// CREATE TABLE (run with "already exists" tolerated: the merged table is
// created by the first shard; the new table is registered with its CREATE
// statement) and DROP TABLE / TRUNCATE TABLE / DROP DATABASE, which are not
// replicated in shard mode (as DM: one shard must not drop or empty the
// merged table); a dropped shard table leaves shard-DDL coordination
// (shard_operator.go). Database-level CREATE/ALTER run as usual.
//
// At a lock DDL at position P (start of the event): drain every worker to
// the boundary P, record "table T reported DDLs D at P" in the meta schema
// (shard pending table), ReportInfo, propose, wait for the local view to
// apply it and for OperationFor:
//
//   - exec: run op.Ddls on the target (fenced, with the usual "may have
//     run" tolerance), skip: nothing; then move every worker's point past
//     the event (checkpoint) and MarkDone.
//   - no action + conflict message: pause the subtask with that message.
//
// Optimistic mode answers at once: the unit waits in place. Pessimistic
// mode answers only when every shard arrived; the other shards of the same
// lock in this very source are later in the same binlog, so waiting in
// place would deadlock. The unit instead holds: it stops applying anything
// (every worker stands at P, nothing after P is dispatched) and scans ahead
// in the binlog, only to report the lock DDLs of the other shard tables of
// this source routed to the same table. When T's operation appears the
// pipeline restarts from the checkpoint P (errShardResume); the replay
// reaches T's DDL, finds the operation, and continues. Trade-off: a shard
// of this source that reaches the DDL after T in the binlog has its DML
// between the two DDLs applied after the target's DDL ran (DM re-syncs in
// the other order). Columns added on the target are filled with their
// default, so ADD COLUMN / ADD INDEX / widening are exact; a DROP COLUMN
// leaves such rows unmappable (the subtask pauses with TargetTableMismatch).
//
// # Restarts
//
// At every start the unit registers all its selected tables (idempotent),
// and for each of its infos still holding DDLs whose pending record says P
// while every worker's point is past P it proposes MarkDone (the DDL was
// handled and checkpointed, the MarkDone was lost). Otherwise the replay
// reaches the DDL again, and ReportInfo of the same DDLs is a no-op.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/sync/binlog"
	"github.com/dmraft/dmraft/executor/sync/checkpoint"
	"github.com/dmraft/dmraft/executor/sync/filter"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
	"github.com/dmraft/dmraft/shardlock"
)

// ShardPendingTable records, per shard table, the position of the DDLs it
// last reported.
const ShardPendingTable = "dmraft_shard_pending"

// Tunables of shard mode.
const (
	shardPoll        = 50 * time.Millisecond // view polling while waiting for an operation
	shardHoldAfter   = time.Second           // pessimistic: wait in place this long before holding and scanning
	shardCheckEvery  = 100 * time.Millisecond
	shardProposeWait = 2 * time.Minute // how long a proposal retries (leader elections)
)

// errShardResume ends a pipeline run that held at a pessimistic shard DDL
// whose operation has arrived: the unit restarts at once from the
// checkpoint, which stands right before that DDL.
var errShardResume = errors.New("shard DDL operation arrived: resume from the checkpoint before it")

// shardSync is the shard-mode path of one pipeline run.
type shardSync struct {
	p       *pipeline
	mode    string
	source  string
	view    func() *fsm.View
	propose func(ctx context.Context, cmd *pb.Command) (*pb.ApplyResult, error)
	sdb     *sql.DB // the source, for SHOW CREATE TABLE
	hold    *shardHold
}

// shardHold is a pessimistic DDL waiting for its operation while the
// binlog is scanned for the other shards of the same lock.
type shardHold struct {
	table    filter.TableName // upstream
	down     [2]string
	pos      binlog.Position
	reported map[string]bool // upstream schema.table reported during the scan
	// scanned are the tables the scan reported, with the position of
	// their DDL: one that meets a conflict pauses the subtask there.
	scanned   map[filter.TableName]binlog.Position
	lastCheck time.Time
}

// newShard returns the shard path for a run, nil when the task merges no
// shards (or the node gave no FSM access, as in unit tests).
func (u *Unit) newShard(p *pipeline, sdb *sql.DB) *shardSync {
	if u.task.ShardMode == "" || u.d.View == nil || u.d.Propose == nil {
		return nil
	}
	return &shardSync{p: p, mode: u.task.ShardMode, source: u.inst.SourceID, view: u.d.View, propose: u.d.Propose, sdb: sdb}
}

// handle dispatches one event: DDL and the hold are the shard path's,
// everything else is the pipeline's.
func (s *shardSync) handle(ctx context.Context, p *pipeline, ev binlog.Event) error {
	switch {
	case s == nil:
		return p.handle(ctx, ev)
	case s.hold != nil:
		return s.scan(ctx, ev)
	case ev.Kind == binlog.KindQuery:
		return s.query(ctx, ev)
	}
	return p.handle(ctx, ev)
}

// start registers the source's tables and finishes operations whose DDL the
// checkpoint already passed.
func (s *shardSync) start(ctx context.Context, resume *checkpoint.Resume) error {
	if s == nil {
		return nil
	}
	p := s.p
	if _, err := p.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+p.store.Meta.Table(ShardPendingTable)+` (
  task VARCHAR(128) NOT NULL,
  source VARCHAR(64) NOT NULL,
  tbl VARCHAR(200) NOT NULL,
  position TEXT NOT NULL,
  ddls LONGTEXT NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (task, source, tbl)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return fmt.Errorf("create %s: %w", ShardPendingTable, err)
	}
	tables, err := dump.ListTables(ctx, s.sdb, p.sel)
	if err != nil {
		return fmt.Errorf("list the shard tables to register: %w", err)
	}
	reg := make([]shardlock.Table, 0, len(tables))
	for _, t := range tables {
		st := shardlock.Table{UpSchema: t.Schema, UpTable: t.Name, DownSchema: t.TargetSchema, DownTable: t.TargetName}
		if s.mode == shardlock.ModeOptimistic {
			if _, known := s.view().ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]; !known {
				if st.CreateTable, err = dump.ShowCreateTable(ctx, s.sdb, t); err != nil {
					return fmt.Errorf("read the definition of shard table %s: %w", t.ID(), err)
				}
			}
		}
		reg = append(reg, st)
	}
	if err := s.register(ctx, reg); err != nil {
		return err
	}
	// Infos still waiting at DDLs the checkpoint already passed.
	pending, err := s.pendingRecords(ctx)
	if err != nil {
		return err
	}
	v := s.view()
	for key, info := range v.ShardInfos {
		if info.Task != p.task || info.SourceId != s.source || info.UpstreamTable == "" || len(info.Ddls) == 0 {
			continue
		}
		rec, found := pending[info.UpstreamSchema+"."+info.UpstreamTable]
		if !found || !slices.Equal(rec.ddls, info.Ddls) || !rec.pos.Before(resume.Start()) {
			continue
		}
		if op, ok := shardlock.OperationFor(v, p.task, s.source, info.UpstreamSchema, info.UpstreamTable); !ok || op.Action == "" {
			// Handled DDLs had an exec or skip operation; without one the
			// info is not what this checkpoint handled: leave it to the lock
			// (`dmctl shard-ddl-lock` shows it) instead of failing every start.
			p.log.Warn().Str("table", key).Str("ddl_position", rec.pos.String()).
				Msg("shard DDL passed by the checkpoint still pending, without an exec or skip operation")
			continue
		}
		p.log.Info().Str("table", key).Str("ddl_position", rec.pos.String()).Msg("shard DDL was handled before the restart; marking it done")
		if err := s.markDone(ctx, info.UpstreamSchema, info.UpstreamTable); err != nil {
			return err
		}
	}
	return nil
}

type pendingRecord struct {
	pos  binlog.Position
	ddls []string
}

func (s *shardSync) pendingRecords(ctx context.Context) (map[string]pendingRecord, error) {
	p := s.p
	rows, err := p.db.QueryContext(ctx, "SELECT tbl, position, ddls FROM "+p.store.Meta.Table(ShardPendingTable)+" WHERE task = ? AND source = ?",
		p.task, s.source)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ShardPendingTable, err)
	}
	defer rows.Close()
	out := map[string]pendingRecord{}
	for rows.Next() {
		var tbl, pos, ddls string
		if err := rows.Scan(&tbl, &pos, &ddls); err != nil {
			return nil, err
		}
		var r pendingRecord
		if json.Unmarshal([]byte(pos), &r.pos) != nil || json.Unmarshal([]byte(ddls), &r.ddls) != nil {
			continue
		}
		out[tbl] = r
	}
	return out, rows.Err()
}

func (s *shardSync) savePending(ctx context.Context, t filter.TableName, pos binlog.Position, ddls []string) error {
	p := s.p
	b, _ := json.Marshal(pos)
	d, _ := json.Marshal(ddls)
	return p.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO "+p.store.Meta.Table(ShardPendingTable)+" (task, source, tbl, position, ddls, epoch) VALUES (?, ?, ?, ?, ?, ?)"+
			" ON DUPLICATE KEY UPDATE position = VALUES(position), ddls = VALUES(ddls), epoch = VALUES(epoch)",
			p.task, s.source, t.Schema+"."+t.Name, string(b), string(d), p.fence.Epoch)
		return err
	})
}

// shardStep is one statement of a DDL event in shard mode.
type shardStep struct {
	d      *filter.DDL
	text   string // routed
	schema string // default schema to run it in ("" when routed)
	kind   int
}

const (
	stepRun  = iota // run as in a task without shards
	stepSkip        // not replicated in shard mode
	stepLock        // coordinated through the shard lock
)

// query handles a statement event in shard mode (compare pipeline.query).
func (s *shardSync) query(ctx context.Context, ev binlog.Event) error {
	p := s.p
	p.prog.addEvents(1)
	if filter.Skipped(ev.Query) {
		return p.commit(ctx, ev.End)
	}
	bop := p.binlogOperator(ev) // dmctl binlog skip|replace (operator.go)
	steps, err := s.steps(ev)
	if err != nil {
		if bop != nil {
			return p.applyOperator(ctx, ev, bop) // a DDL shard mode cannot take: as without shards
		}
		return err
	}
	if p.resume != nil && p.allCover(ev.Start) {
		return p.commit(ctx, ev.End)
	}
	if len(steps) == 0 {
		return p.commit(ctx, ev.End)
	}
	var lock []shardStep
	var subject *filter.TableName
	for _, st := range steps {
		if st.kind != stepLock {
			continue
		}
		t := st.d.Tables[0]
		if subject != nil && *subject != t {
			return p.ddlError("ShardDDLUnsupported", ev, ev.Query, errors.New("one statement changes several shard tables; shard mode coordinates one table per DDL"))
		}
		subject = &t
		lock = append(lock, st)
	}
	if bop != nil && len(lock) == 0 {
		return p.applyOperator(ctx, ev, bop) // not a shard DDL (CREATE TABLE, database level): as without shards
	}
	if err := p.drain(ctx, &ev.Start); err != nil {
		return err
	}
	for _, st := range steps {
		switch st.kind {
		case stepSkip:
			p.log.Info().Str("ddl", st.text).Str("position", ev.Start.String()).Msg("shard mode: DROP/TRUNCATE of a shard is not replicated")
			if err := s.unregisterDropped(ctx, st.d, nil); err != nil {
				return err
			}
		case stepRun:
			if err := s.exec(ctx, ev, st.schema, st.text, true); err != nil {
				return err
			}
			if !st.d.DatabaseLevel {
				if err := s.registerCreated(ctx, st); err != nil {
					return err
				}
			}
		}
	}
	if len(lock) == 0 {
		return s.finish(ctx, ev)
	}
	texts := make([]string, len(lock))
	for i, st := range lock {
		texts[i] = st.text
	}
	if bop != nil {
		var done bool
		if texts, done, err = s.operate(ctx, ev, *subject, texts, bop); done || err != nil {
			return err
		}
	}
	op, err := s.report(ctx, ev, *subject, texts)
	if err != nil || op == nil {
		return err // op nil: held, the scan goes on with the next event
	}
	return s.actAs(ctx, ev, *subject, op, skipOperator(bop))
}

// steps filters, routes and classifies the statements of a DDL event.
func (s *shardSync) steps(ev binlog.Event) ([]shardStep, error) {
	p := s.p
	ddls, err := filter.ParseDDL(p.parser, ev.Query, ev.Schema)
	if err != nil {
		return nil, p.ddlError("DDLUnsupported", ev, ev.Query, err)
	}
	var out []shardStep
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
			return nil, p.ddlError("BinlogEventFiltered", ev, d.Text, fmt.Errorf("binlog event filter %q stops at this DDL", rule.Name))
		}
		text, routed, err := d.Route(p.sel.Route)
		if err != nil {
			return nil, p.ddlError("DDLUnsupported", ev, d.Text, err)
		}
		st := shardStep{d: d, text: text, schema: ev.Schema, kind: stepLock}
		if routed {
			st.schema = ""
		}
		switch {
		case d.Drop || d.Events[0] == "truncate table":
			st.kind = stepSkip
		case d.DatabaseLevel || d.Events[0] == "create table":
			st.kind = stepRun
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *shardSync) mayHaveRun(ev binlog.Event) bool {
	p := s.p
	return (p.resume != nil && p.resume.PendingDDL.Compare(ev.Start) == 0 && p.resume.PendingDDL.Name != "") || ev.Start.Before(p.loadLast)
}

// exec runs one statement on the target, recorded as the pending DDL at
// the event. exists tolerates "already exists" (CREATE of the merged table
// by a second shard) besides the replay tolerance.
func (s *shardSync) exec(ctx context.Context, ev binlog.Event, schema, text string, exists bool) error {
	p := s.p
	p.prog.setBlocking([]string{text})
	if err := p.inTx(ctx, func(tx *sql.Tx) error { return p.store.SaveDDL(ctx, tx, ev.Start, text) }); err != nil {
		return err
	}
	err := p.execFenced(ctx, schema, text)
	code := mysqlCode(err)
	switch {
	case err == nil:
	case exists && (code == 1050 || code == 1007):
		p.log.Info().Str("ddl", text).Err(err).Msg("shard mode: the merged table or database exists already")
		err = nil
	case s.mayHaveRun(ev) && replayTolerated[code]:
		p.log.Info().Str("ddl", text).Err(err).Msg("DDL replayed after a restart had already run; continuing")
		err = nil
	}
	if err != nil {
		if transient(err) || errors.Is(err, context.Canceled) {
			return err
		}
		return p.ddlError("DDLFailed", ev, text, err)
	}
	p.log.Info().Str("ddl", text).Str("position", ev.Start.String()).Msg("DDL applied")
	return nil
}

// finish moves every worker's point past the event.
func (s *shardSync) finish(ctx context.Context, ev binlog.Event) error {
	return s.p.passDDL(ctx, ev)
}

// registerCreated registers a table created in the binlog, with the CREATE
// statement as its schema when the model can read it.
func (s *shardSync) registerCreated(ctx context.Context, st shardStep) error {
	p := s.p
	t := st.d.Tables[0]
	ds, dt := p.sel.Route(t.Schema, t.Name)
	reg := shardlock.Table{UpSchema: t.Schema, UpTable: t.Name, DownSchema: ds, DownTable: dt}
	if _, err := shardlock.ParseCreateTable(st.d.Text); err == nil && len(st.d.Tables) == 1 {
		reg.CreateTable = st.d.Text
	}
	return s.register(ctx, []shardlock.Table{reg})
}

func (s *shardSync) register(ctx context.Context, tables []shardlock.Table) error {
	cmds, err := shardlock.Register(s.view(), s.p.task, s.source, tables)
	if err != nil {
		return &executor.Error{Code: "ShardRegisterFailed", Class: "config", Message: "register the shard tables", Err: err,
			Workaround: "check the tables' definitions upstream; then `dmctl resume-task " + s.p.task + "`"}
	}
	for _, c := range cmds {
		if err := s.proposeApplied(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// report records and reports the lock DDLs of table t at the event and
// returns its operation, or nil when the unit now holds (pessimistic).
func (s *shardSync) report(ctx context.Context, ev binlog.Event, t filter.TableName, texts []string) (*pb.ShardOperation, error) {
	p := s.p
	p.prog.setBlocking(texts)
	if _, found := s.view().ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]; !found {
		// Not listed at the start (created since, outside the binlog we read).
		ds, dt := p.sel.Route(t.Schema, t.Name)
		if err := s.register(ctx, []shardlock.Table{{UpSchema: t.Schema, UpTable: t.Name, DownSchema: ds, DownTable: dt}}); err != nil {
			return nil, err
		}
	}
	if err := s.reportOne(ctx, t, ev.Start, texts); err != nil {
		return nil, p.ddlError("ShardDDLUnsupported", ev, strings.Join(texts, "; "), err)
	}
	deadline := time.Now().Add(shardHoldAfter)
	for {
		if op, ok := shardlock.OperationFor(s.view(), p.task, s.source, t.Schema, t.Name); ok {
			return op, nil
		}
		if s.mode == shardlock.ModePessimistic && time.Now().After(deadline) {
			ds, dt := p.sel.Route(t.Schema, t.Name)
			s.hold = &shardHold{table: t, down: [2]string{ds, dt}, pos: ev.Start, reported: map[string]bool{},
				scanned: map[filter.TableName]binlog.Position{}, lastCheck: time.Now()}
			p.prog.setStage("waiting for the shard DDL lock " + shardlock.LockID(p.task, ds, dt))
			p.log.Info().Str("table", t.Schema+"."+t.Name).Str("position", ev.Start.String()).
				Msg("pessimistic shard DDL: holding, scanning ahead for the other shards of this source")
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(shardPoll):
		}
	}
}

// reportOne records the position and proposes ReportInfo (nil when the same
// DDLs already wait). A ReportInfo error (a DDL the optimistic model cannot
// follow) is returned as is.
func (s *shardSync) reportOne(ctx context.Context, t filter.TableName, pos binlog.Position, texts []string) error {
	cmd, err := shardlock.ReportInfo(s.view(), s.p.task, s.source, t.Schema, t.Name, texts)
	if err != nil {
		return err
	}
	if err := s.savePending(ctx, t, pos, texts); err != nil {
		return err
	}
	if cmd == nil {
		return nil
	}
	s.p.log.Info().Str("table", t.Schema+"."+t.Name).Strs("ddls", texts).Str("position", pos.String()).Msg("shard DDL reported")
	return s.proposeApplied(ctx, cmd)
}

// act carries out an operation at its DDL event.
func (s *shardSync) act(ctx context.Context, ev binlog.Event, t filter.TableName, op *pb.ShardOperation) error {
	return s.actAs(ctx, ev, t, op, nil)
}

// actAs is act; a binlog operator bop (when not nil) stands in for the
// exec: skip runs nothing, replace runs its statements instead.
func (s *shardSync) actAs(ctx context.Context, ev binlog.Event, t filter.TableName, op *pb.ShardOperation, bop *pb.BinlogOperator) error {
	p := s.p
	if op.Action == "" {
		p.prog.setStage("shard DDL conflict")
		return s.conflictError(ev.Start, t, op)
	}
	if op.Action == shardlock.ActionExec {
		info := s.view().ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]
		ddls := op.Ddls
		switch bop.GetOp() {
		case "skip":
			ddls = nil
			p.log.Info().Strs("ddls", op.Ddls).Str("position", ev.Start.String()).Msg("binlog skip: this shard executes the lock's DDL; it is not run on the target, the lock goes on")
		case "replace":
			ddls = bop.Statements
			p.log.Info().Strs("ddls", op.Ddls).Strs("replacement", ddls).Str("position", ev.Start.String()).Msg("binlog replace: the lock's DDL is replaced on the target")
		}
		for _, ddl := range ddls {
			if err := s.exec(ctx, ev, info.GetDownstreamSchema(), ddl, false); err != nil {
				return err
			}
		}
	} else {
		p.log.Info().Str("table", t.Schema+"."+t.Name).Str("position", ev.Start.String()).Msg("shard DDL skipped: the lock handles it")
		if err := s.waitExecuted(ctx, op.LockId, t); err != nil {
			return err
		}
	}
	if err := s.finish(ctx, ev); err != nil {
		return err
	}
	if err := s.markDone(ctx, t.Schema, t.Name); err != nil {
		return err
	}
	p.prog.setStage("syncing")
	return nil
}

// conflictError pauses the subtask at the DDL of t at pos, whose operation
// carries a conflict.
func (s *shardSync) conflictError(pos binlog.Position, t filter.TableName, op *pb.ShardOperation) error {
	p := s.p
	return &executor.Error{Code: shardlock.CodeConflict, Class: "target",
		Message:  fmt.Sprintf("shard DDL of %s.%s at %s: %s", t.Schema, t.Name, pos, op.ConflictMessage),
		Position: OperatorPosition(pos),
		Workaround: "see `dmctl shard-ddl-lock " + p.task + "`; `dmctl binlog replace " + p.task + " -s " + s.source + " \"SQL;...\"` reports these statements " +
			"instead of this shard's DDL (e.g. the DDL the other shards reached), or `dmctl shard-ddl-lock unlock " + op.LockId + "` lets the lock go on without this shard's DDL " +
			"(then `dmctl resume-task " + p.task + "`). Checkpoints are kept"}
}

// waitExecuted waits until no shard of the lock still has an exec
// operation to run. A skip means "the target has it or will have it": in
// optimistic mode the first shard's exec and the next shard's skip are
// decided together, and this shard's rows after its DDL (with the new
// column) must not reach the target before the DDL does.
func (s *shardSync) waitExecuted(ctx context.Context, lockID string, self filter.TableName) error {
	p := s.p
	logged := false
	for {
		v := s.view()
		var pending string
		for _, op := range v.ShardOperations {
			if op.LockId != lockID || op.Action != shardlock.ActionExec || (op.SourceId == s.source && op.UpstreamSchema == self.Schema && op.UpstreamTable == self.Name) {
				continue
			}
			info := v.ShardInfos[fsm.ShardInfoKey(p.task, op.SourceId, op.UpstreamSchema, op.UpstreamTable)]
			if info != nil && len(info.Ddls) > 0 && info.Revision == op.Revision && info.DoneRevision < op.Revision {
				pending = shardlock.MemberKey(op.SourceId, op.UpstreamSchema, op.UpstreamTable)
				break
			}
		}
		if pending == "" {
			return nil
		}
		if !logged {
			logged = true
			p.prog.setStage("waiting for " + pending + " to execute the shard DDL")
			p.log.Info().Str("executor", pending).Msg("shard DDL skipped; waiting until the shard that executes it is done")
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(shardPoll):
		}
	}
}

func (s *shardSync) markDone(ctx context.Context, schema, table string) error {
	cmd, err := shardlock.MarkDone(s.view(), s.p.task, s.source, schema, table)
	if err != nil {
		return fmt.Errorf("shard DDL of %s.%s done: %w", schema, table, err)
	}
	return s.proposeApplied(ctx, cmd)
}

// scan handles an event while holding: nothing is applied; lock DDLs of the
// other shard tables of this source in the same lock are reported, and
// when the held table's operation arrives the run ends with errShardResume.
func (s *shardSync) scan(ctx context.Context, ev binlog.Event) error {
	p, h := s.p, s.hold
	if ev.Kind == binlog.KindQuery && !filter.Skipped(ev.Query) {
		steps, err := s.steps(ev)
		if err == nil {
			for _, st := range steps {
				t := st.d.Tables[0]
				if st.kind == stepSkip {
					if err := s.unregisterDropped(ctx, st.d, h.unregistersAhead(p)); err != nil {
						p.log.Warn().Err(err).Str("ddl", st.text).Msg("scan ahead: cannot unregister the dropped shard table; the replay will")
					}
					continue
				}
				if st.kind != stepLock || t == h.table || h.reported[t.Schema+"."+t.Name] {
					continue
				}
				if ds, dt := p.sel.Route(t.Schema, t.Name); ds != h.down[0] || dt != h.down[1] {
					continue
				}
				h.reported[t.Schema+"."+t.Name] = true
				info := s.view().ShardInfos[fsm.ShardInfoKey(p.task, s.source, t.Schema, t.Name)]
				if info == nil {
					continue // unknown: the replay registers it
				}
				// Its first lock DDL after the hold: reported again when it
				// waits already (nil unless a binlog replace changed it).
				var texts []string
				for _, o := range steps {
					if o.kind == stepLock && o.d.Tables[0] == t {
						texts = append(texts, o.text)
					}
				}
				texts = s.scanTexts(ev, t, texts)
				if err := s.reportOne(ctx, t, ev.Start, texts); err != nil {
					p.log.Warn().Err(err).Str("table", t.Schema+"."+t.Name).Msg("scan ahead: cannot report the shard DDL; the replay will")
					continue
				}
				h.scanned[t] = ev.Start
			}
		}
	}
	if ev.Kind != binlog.KindHeartbeat && time.Since(h.lastCheck) < shardCheckEvery {
		return nil
	}
	h.lastCheck = time.Now()
	if err := s.scannedConflict(); err != nil {
		return err
	}
	if _, ok := shardlock.OperationFor(s.view(), p.task, s.source, h.table.Schema, h.table.Name); ok {
		p.log.Info().Str("table", h.table.Schema+"."+h.table.Name).Str("position", h.pos.String()).Msg("shard DDL operation arrived; resuming from the DDL")
		return errShardResume
	}
	return nil
}

// proposeApplied proposes cmd, retrying failed proposals (elections), and
// waits until the local view has applied it.
func (s *shardSync) proposeApplied(ctx context.Context, cmd *pb.Command) error {
	deadline := time.Now().Add(shardProposeWait)
	wait := 100 * time.Millisecond
	for {
		cmd.NowUnixMs = time.Now().UnixMilli()
		res, err := s.propose(ctx, cmd)
		switch res.GetCode() {
		case fsm.CodeShardInfoChanged:
			// Computed from a view that has moved on (this very proposal,
			// retried after it was applied): transient, the unit starts again
			// from the checkpoint with the current view.
			return fmt.Errorf("%s: %w", cmd.Type, fsm.ResultError(res))
		case fsm.CodeStaleEpoch:
			return fmt.Errorf("%w: %s refused: %s", target.ErrFenced, cmd.Type, res.GetMessage())
		}
		if err == nil && res.GetCode() != "" {
			return &executor.Error{Code: "ShardProposeRejected", Class: "internal",
				Message:    fmt.Sprintf("%s rejected: %s: %s", cmd.Type, res.GetCode(), res.GetMessage()),
				Workaround: "check `dmctl shard-ddl-lock " + s.p.task + "` and `dmctl query-status`; then `dmctl resume-task " + s.p.task + "`"}
		}
		if err == nil {
			for s.view().Index < res.GetIndex() {
				select {
				case <-ctx.Done():
					return context.Cause(ctx)
				case <-time.After(10 * time.Millisecond):
				}
			}
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("propose %s: %w", cmd.Type, err)
		}
		s.p.log.Warn().Err(err).Str("type", cmd.Type.String()).Msg("shard proposal failed; retrying")
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
