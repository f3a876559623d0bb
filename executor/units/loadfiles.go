package units

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

// loadFilesUnit is task-mode load: a dump directory on this node (written
// by task-mode dump or by mydumper) loaded into the target with the same
// chunk checkpoints and fencing as the streamed full copy.
type loadFilesUnit struct{ unitBase }

func newLoadFilesUnit(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance) *loadFilesUnit {
	return &loadFilesUnit{newUnitBase(d, a, task, inst, UnitLoad)}
}

// findDumpDir returns the directory to load: loaders.dir itself when it
// holds a metadata file, else loaders.dir/<task>.<source>.
func (u *loadFilesUnit) findDumpDir() (*load.DumpDir, error) {
	base, err := loaderDir(u.d, u.task, u.inst)
	if err != nil {
		return nil, err
	}
	candidates := []string{base, filepath.Join(base, dumpDirName(u.task.Name, u.inst.SourceID))}
	for _, dir := range candidates {
		d, err := load.OpenDumpDir(dir)
		if err == nil {
			return d, nil
		}
		if errors.Is(err, load.ErrDumpDirDamaged) {
			return nil, &executor.Error{Code: "DumpDirDamaged", Class: "dump", Message: "dump directory on node " + u.d.Node, Err: err,
				Workaround: "restore the files or dump again (task-mode dump), then `dmctl resume-task " + u.task.Name + "`; nothing was loaded"}
		}
		if !errors.Is(err, load.ErrDumpDirMissing) {
			return nil, &executor.Error{Code: "DumpDirUnreadable", Class: "dump", Message: "read the dump directory on node " + u.d.Node, Err: err,
				Workaround: "check the directory and its files, then `dmctl resume-task " + u.task.Name + "`"}
		}
	}
	unfinished := ""
	for _, dir := range candidates {
		if _, err := os.Stat(dir + dump.PartialSuffix); err == nil {
			unfinished = "; " + dir + dump.PartialSuffix + " is an unfinished dump"
		}
	}
	return nil, &executor.Error{Code: "DumpDirMissing", Class: "dump",
		Message: fmt.Sprintf("no dump directory (with a metadata file) at %s or %s on node %s%s", candidates[0], candidates[1], u.d.Node, unfinished),
		Workaround: "dump files stay on the node that wrote them (see its log, or the node in dmraft-manifest.json): move the source there with " +
			"`dmctl transfer-source " + u.inst.SourceID + " NODE`, or copy the directory to this node, or fix loaders.dir with `dmctl update-task`; then `dmctl resume-task " + u.task.Name + "`. Nothing was loaded"}
}

// Run loads every chunk file that is not done yet, creates the views and
// proposes the load mark with the dump's snapshot position.
func (u *loadFilesUnit) Run(ctx context.Context) error {
	return targetFull(u.task, u.run(ctx))
}

func (u *loadFilesUnit) run(ctx context.Context) error {
	dir, err := u.findDumpDir()
	if err != nil {
		return err
	}
	u.log.Info().Str("dir", dir.Path).Str("position", dir.Position.String()).Int("tables", len(dir.Tables)).Msg("loading a dump directory")
	pool := max(u.inst.Loader.PoolSize, 1)
	// mydumper writes strings as raw bytes after SET NAMES binary; dmraft's
	// files are exact under any character set.
	tcfg := u.task.TargetDatabase
	tcfg.Session = maps.Clone(tcfg.Session)
	if tcfg.Session == nil {
		tcfg.Session = map[string]string{}
	}
	tcfg.Session["character_set_client"], tcfg.Session["character_set_connection"] = "binary", "binary"
	tdb, store, err := openFencedTargetAs(ctx, u.d, u.a, u.task, u.inst, u.log, pool, tcfg)
	if err != nil {
		return err
	}
	defer tdb.Close()

	sel := dump.NewSelector(u.task, u.inst)
	byID := map[string]*dump.Table{}
	files := map[string]string{} // chunk id -> path
	var tables []*dump.Table
	for _, ft := range dir.Tables {
		if !sel.TableAllowed(ft.Schema, ft.Name) {
			continue
		}
		t := &dump.Table{Schema: ft.Schema, Name: ft.Name}
		t.TargetSchema, t.TargetName = sel.Route(ft.Schema, ft.Name)
		if ft.SchemaFile == "" {
			return &executor.Error{Code: "DumpDirDamaged", Class: "dump", Message: "table " + t.ID() + " has data files but no " + dump.TableSchemaFile(t.Schema, t.Name) + " in " + dir.Path,
				Workaround: "dump again, or leave the table out with the block-allow-list; then `dmctl resume-task " + u.task.Name + "`"}
		}
		ddl, err := load.ReadCreateStatement(filepath.Join(dir.Path, ft.SchemaFile))
		if err != nil {
			return &executor.Error{Code: "DumpDirUnreadable", Class: "dump", Message: "read a table definition on node " + u.d.Node, Err: err,
				Workaround: "check the file, then `dmctl resume-task " + u.task.Name + "`"}
		}
		t.Columns = load.ColumnsOf(ddl)
		if err := u.createSchema(ctx, tdb, dir, t); err != nil {
			return err
		}
		create, err := dump.RouteCreateTable(ddl, t)
		if err != nil {
			return &executor.Error{Code: "DumpDirUnreadable", Class: "dump", Message: "table definition in " + ft.SchemaFile, Err: err,
				Workaround: "the file must hold SHOW CREATE TABLE's statement; fix it, then `dmctl resume-task " + u.task.Name + "`"}
		}
		if err := retry(ctx, u.log, "create table", func() error { return store.CreateTableDeferred(ctx, t, create) }); err != nil {
			if errors.Is(err, load.ErrSchemaMismatch) {
				return &executor.Error{Code: "TargetSchemaMismatch", Class: "target", Message: "create target table", Err: err,
					Workaround: "make the target table match the dumped table (or drop it so dmraft creates it), then `dmctl resume-task " + u.task.Name + "`"}
			}
			return targetError("create the target table", err)
		}
		byID[t.ID()] = t
		tables = append(tables, t)
		for _, c := range ft.Chunks {
			files[fmt.Sprintf("%s#%d", t.ID(), c.Index)] = filepath.Join(dir.Path, c.File)
		}
	}

	plan, err := u.plan(ctx, store, dir, tables)
	if err != nil {
		return err
	}
	var chunks []*dump.Chunk
	for _, r := range plan.Chunks {
		t := byID[r.Table]
		if t == nil || files[fmt.Sprintf("%s#%d", r.Table, r.Index)] == "" {
			return &executor.Error{Code: "DumpDirChanged", Class: "dump", Message: fmt.Sprintf("chunk %s#%d of the load plan has no file in %s on node %s", r.Table, r.Index, dir.Path, u.d.Node),
				Workaround: "load from the directory the task started with (loaders.dir), or `dmctl stop-task` and start the task again to load this directory from the start"}
		}
		u.prog.addChunk(r)
		if !r.Done {
			chunks = append(chunks, &dump.Chunk{Table: t, Index: r.Index, EstRows: r.EstRows, EstBytes: r.EstBytes})
		}
	}
	sort.SliceStable(chunks, func(i, j int) bool { return chunks[i].Index < chunks[j].Index })
	u.prog.setPositions(plan.First, plan.Last)
	verb := insertVerb(u.inst)
	src := chunkSource{
		workers: min(pool, max(len(chunks), 1)),
		pos:     dir.Position,
		produce: func(_ int, c *dump.Chunk) load.Producer {
			return fileProducer(files[c.ID()], verb, target.QuoteTable(c.Table.TargetSchema, c.Table.TargetName))
		},
		readError: func(c *dump.Chunk, err error) error {
			return &executor.Error{Code: "DumpFileUnreadable", Class: "dump", Message: "load chunk " + c.ID() + " on node " + u.d.Node, Err: err,
				Workaround: "check the file (the error names it); its transaction was rolled back, loaded chunks are kept; then `dmctl resume-task " + u.task.Name + "`"}
		},
	}
	if len(chunks) > 0 {
		if err := copyChunks(ctx, u.log, u.prog, store, chunks, src); err != nil {
			return err
		}
	}
	u.prog.setStage("adding secondary indexes")
	indexStart := time.Now()
	if err := retry(ctx, u.log, "add deferred indexes", func() error { return store.AddDeferredIndexes(ctx) }); err != nil {
		return targetError("add the secondary indexes left out during the load", err)
	}
	u.log.Info().Dur("took", time.Since(indexStart)).Msg("secondary indexes added")
	u.prog.setStage("creating views")
	if err := u.createViews(ctx, dir, sel, tdb); err != nil {
		return err
	}
	u.prog.finished()
	return proposeMarks(ctx, u.d, u.a, u.task, u.inst, u.log, []unitMark{{UnitLoad, dir.Position}})
}

// plan returns the stored chunk plan of this task incarnation, or saves a
// new one with one chunk per data file.
func (u *loadFilesUnit) plan(ctx context.Context, store *load.Store, dir *load.DumpDir, tables []*dump.Table) (*load.Plan, error) {
	var plan *load.Plan
	if err := retry(ctx, u.log, "read load plan", func() (err error) { plan, err = store.LoadPlan(ctx); return err }); err != nil {
		return nil, targetError("read the chunk checkpoints", err)
	}
	if plan != nil && plan.TaskCreated == u.a.Task.GetCreatedUnixMs() {
		return plan, nil
	}
	selected := map[string]*dump.Table{}
	for _, t := range tables {
		selected[t.ID()] = t
	}
	plan = &load.Plan{TaskCreated: u.a.Task.GetCreatedUnixMs(), First: dir.Position, Last: dir.Position}
	for _, ft := range dir.Tables {
		t := selected[ft.ID()]
		if t == nil {
			continue
		}
		for _, c := range ft.Chunks {
			plan.Chunks = append(plan.Chunks, &load.ChunkRecord{Table: t.ID(), Index: c.Index, TargetTable: t.TargetID(), EstRows: c.Rows, EstBytes: c.Bytes})
		}
	}
	if err := retry(ctx, u.log, "save load plan", func() error { return store.SavePlan(ctx, plan) }); err != nil {
		return nil, targetError("save the chunk plan", err)
	}
	u.log.Info().Int("chunks", len(plan.Chunks)).Str("dir", dir.Path).Msg("chunk plan saved: one chunk per data file")
	return plan, nil
}

var createDatabaseHead = regexp.MustCompile("(?is)^\\s*CREATE\\s+(?:DATABASE|SCHEMA)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:`(?:[^`]|``)+`|[\\w$]+)")

// createSchema creates t's target schema with the options of the dumped
// CREATE DATABASE (character set, collation) when there is one.
func (u *loadFilesUnit) createSchema(ctx context.Context, tdb *sql.DB, dir *load.DumpDir, t *dump.Table) error {
	stmt := "CREATE DATABASE IF NOT EXISTS " + target.QuoteIdent(t.TargetSchema)
	if f := dir.Schemas[t.Schema]; f != "" {
		ddl, err := load.ReadCreateStatement(filepath.Join(dir.Path, f))
		if loc := createDatabaseHead.FindStringIndex(ddl); err == nil && loc != nil {
			stmt += ddl[loc[1]:]
		}
	}
	err := retry(ctx, u.log, "create schema", func() error { _, err := tdb.ExecContext(ctx, stmt); return err })
	if err != nil {
		return targetError("create schema "+t.TargetSchema, err)
	}
	return nil
}

// createViews creates the dumped views that the block-allow-list selects,
// routed.
func (u *loadFilesUnit) createViews(ctx context.Context, dir *load.DumpDir, sel *dump.Selector, tdb *sql.DB) error {
	var ddls []load.ViewDDL
	for _, fv := range dir.Views {
		if !sel.TableAllowed(fv.Schema, fv.Name) {
			continue
		}
		v := &dump.View{Schema: fv.Schema, Name: fv.Name}
		v.TargetSchema, v.TargetName = sel.Route(v.Schema, v.Name)
		raw, err := load.ReadCreateStatement(filepath.Join(dir.Path, fv.File))
		if err != nil {
			return &executor.Error{Code: "DumpDirUnreadable", Class: "dump", Message: "read a view definition on node " + u.d.Node, Err: err,
				Workaround: "check the file, then `dmctl resume-task " + u.task.Name + "`"}
		}
		stmt, err := dump.CreateViewSQL(raw, v, sel.Route)
		if err != nil {
			return &executor.Error{Code: "DumpDirUnreadable", Class: "dump", Message: "view definition in " + fv.File, Err: err,
				Workaround: "fix the file, or leave the view out with ignore-tables; then `dmctl resume-task " + u.task.Name + "`"}
		}
		ddls = append(ddls, load.ViewDDL{Source: v.ID(), Target: v.TargetID(), Schema: v.TargetSchema, SQL: stmt})
	}
	return createViews(ctx, u.task.Name, u.log, tdb, ddls)
}

// fileProducer streams a data file's INSERT statements, re-aimed at the
// target table with verb; SET and comment statements are skipped (the
// writer sessions have the settings).
func fileProducer(path, verb, into string) load.Producer {
	return func(emit func(dump.Batch) error) (int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return 0, &dump.ReadError{Err: err}
		}
		defer f.Close()
		var n int64
		var emitErr error
		err = load.ReadStatements(f, func(stmt []byte) error {
			if !load.IsDataStatement(stmt) {
				if sessionStatement(stmt) {
					return nil
				}
				return &dump.ReadError{Err: fmt.Errorf("%s: unexpected statement in a data file: %.80q", path, stmt)}
			}
			sql, rows, err := load.RewriteInsert(stmt, verb, into)
			if err != nil {
				return &dump.ReadError{Err: fmt.Errorf("%s: %w", path, err)}
			}
			n += int64(len(sql))
			if emitErr = emit(dump.Batch{SQL: sql, Rows: rows}); emitErr != nil {
				return emitErr
			}
			return nil
		})
		var re *dump.ReadError
		switch {
		case err == nil, emitErr != nil && errors.Is(err, emitErr), errors.As(err, &re):
			return n, err
		}
		return n, &dump.ReadError{Err: fmt.Errorf("read %s: %w", path, err)}
	}
}

// sessionStatement reports a statement that only sets session state or is
// a comment: /*!40101 SET ... */, SET ..., USE ...
func sessionStatement(stmt []byte) bool {
	s := bytes.ToUpper(bytes.TrimSpace(stmt))
	return bytes.HasPrefix(s, []byte("/*")) || bytes.HasPrefix(s, []byte("SET ")) || bytes.HasPrefix(s, []byte("USE "))
}
