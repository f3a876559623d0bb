package units

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dmraft/dmraft/executor"
	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/load"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

// dumpFilesUnit is task-mode dump: a consistent snapshot written as SQL
// files into <loaders.dir>/<task>.<source> on this node.
type dumpFilesUnit struct{ unitBase }

func newDumpFilesUnit(d Deps, a executor.Assignment, task *config.Task, inst *config.Instance) *dumpFilesUnit {
	return &dumpFilesUnit{newUnitBase(d, a, task, inst, UnitDump)}
}

// loaderDir resolves loaders.dir: a relative directory is below the
// node's data directory. External storage (s3://, gcs://) is refused.
func loaderDir(d Deps, task *config.Task, inst *config.Instance) (string, error) {
	dir := inst.Loader.Dir
	if dir == "" {
		dir = config.DefaultLoaderDir
	}
	if strings.Contains(dir, "://") && !strings.HasPrefix(dir, "file://") {
		return "", &executor.Error{Code: "DumpDirUnsupported", Class: "config", Message: "loaders.dir " + dir + ": external storage is not supported",
			Workaround: "set loaders.dir to a local directory (`dmctl update-task`), then `dmctl resume-task " + task.Name + "`"}
	}
	dir = strings.TrimPrefix(dir, "file://")
	if !filepath.IsAbs(dir) && d.DataDir != "" {
		dir = filepath.Join(d.DataDir, dir)
	}
	return filepath.Clean(dir), nil
}

// dumpDirName is the directory a dump task writes for one source.
func dumpDirName(task, source string) string { return task + "." + source }

// Run writes the dump directory, then proposes the dump mark. A finished
// directory of this very task (same incarnation) is kept: only the mark is
// proposed again.
func (u *dumpFilesUnit) Run(ctx context.Context) error {
	base, err := loaderDir(u.d, u.task, u.inst)
	if err != nil {
		return err
	}
	final := filepath.Join(base, dumpDirName(u.task.Name, u.inst.SourceID))
	u.prog.setStage("dumping to " + final + " on node " + u.d.Node)
	if m, err := dump.ReadManifest(final); err == nil && m != nil && m.Task == u.task.Name && m.Source == u.inst.SourceID && m.TaskCreated == u.a.Task.GetCreatedUnixMs() {
		u.log.Info().Str("dir", final).Msg("the dump directory of this task is complete already")
		u.prog.finished()
		return proposeMarks(ctx, u.d, u.a, u.task, u.inst, u.log, []unitMark{{UnitDump, m.Position}})
	}
	if _, err := os.Stat(final); err == nil {
		return &executor.Error{Code: "DumpDirExists", Class: "config", Message: "dump directory " + final + " on node " + u.d.Node + " exists and holds another dump",
			Workaround: "move or remove it, or set loaders.dir to another directory (`dmctl update-task`); then `dmctl resume-task " + u.task.Name + "`"}
	}
	started := u.d.Now()
	srcCfg, err := config.SourceFromProto(u.a.Source.GetConfig())
	if err != nil {
		return &executor.Error{Code: "ConfigInvalid", Class: "config", Message: "source record", Err: err, Workaround: "re-create the source"}
	}
	threads := max(u.inst.Mydumper.Threads, 1)
	sdb, err := dump.OpenSource(ctx, srcCfg.From, u.d.Key, threads)
	if err != nil {
		return connectError("Source", err)
	}
	defer sdb.Close()
	// Dump files keep the upstream names: routes apply when they are loaded.
	sel := dump.NewSelector(&config.Task{CaseSensitive: u.task.CaseSensitive, MetaSchema: u.task.MetaSchema},
		&config.Instance{BlockAllowList: u.inst.BlockAllowList})
	views, err := dump.ListViews(ctx, sdb, sel)
	if err != nil {
		return sourceError("list the views to dump", err)
	}
	// The tables' definitions as of the snapshot: see dump.OpenSnapshotTables.
	snap, tables, err := dump.OpenSnapshotTables(ctx, sdb, threads, srcCfg.Flavor, sel)
	if err != nil {
		return sourceError("open a consistent snapshot of the tables to dump", err)
	}
	closed := false
	defer func() {
		if !closed {
			snap.Close()
		}
	}()
	w, err := dump.NewDirWriter(final)
	if err != nil {
		return dumpDirError(u.d.Node, final, err)
	}
	if err := u.writeSchemas(ctx, snap, w, tables, views); err != nil {
		return err
	}
	var chunks []*dump.Chunk
	for _, t := range tables {
		cs, err := dump.Split(ctx, snap.Conns[0], t, int64(u.inst.Mydumper.Rows))
		if err != nil {
			return sourceError("split tables into chunks", err)
		}
		for _, c := range cs {
			u.prog.addChunk(&load.ChunkRecord{Table: t.ID(), Index: c.Index, EstRows: c.EstRows, EstBytes: c.EstBytes})
		}
		chunks = append(chunks, cs...)
	}
	u.prog.setPositions(snap.Position, snap.Position)
	u.log.Info().Int("tables", len(tables)).Int("views", len(views)).Int("chunks", len(chunks)).Str("dir", w.Partial).
		Str("position", snap.Position.String()).Msg("snapshot taken, writing the dump files")
	if err := u.writeChunks(ctx, snap, w, chunks); err != nil {
		return err
	}
	m := dump.Manifest{Task: u.task.Name, Source: u.inst.SourceID, TaskCreated: u.a.Task.GetCreatedUnixMs(), Node: u.d.Node,
		Position: snap.Position, Started: started, Finished: u.d.Now()}
	if err := w.Finish(m); err != nil {
		return dumpDirError(u.d.Node, final, err)
	}
	snap.Close()
	closed = true
	u.log.Info().Str("dir", final).Str("node", u.d.Node).Msg("dump directory complete")
	u.prog.finished()
	return proposeMarks(ctx, u.d, u.a, u.task, u.inst, u.log, []unitMark{{UnitDump, snap.Position}})
}

// writeSchemas writes the CREATE DATABASE, CREATE TABLE (as of the
// snapshot, read with the tables) and CREATE VIEW files.
func (u *dumpFilesUnit) writeSchemas(ctx context.Context, snap *dump.Snapshot, w *dump.DirWriter, tables []*dump.Table, views []*dump.View) error {
	q := snap.Conns[0]
	schemas := map[string]bool{}
	for _, t := range tables {
		schemas[t.Schema] = true
	}
	for _, v := range views {
		schemas[v.Schema] = true
	}
	names := make([]string, 0, len(schemas))
	for s := range schemas {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		var name, ddl string
		if err := q.QueryRowContext(ctx, "SHOW CREATE DATABASE "+target.QuoteIdent(s)).Scan(&name, &ddl); err != nil {
			return sourceError("read the definition of database "+s, err)
		}
		if err := w.WriteStatement(dump.SchemaCreateFile(s), ddl); err != nil {
			return dumpDirError(u.d.Node, w.Final, err)
		}
	}
	for _, t := range tables {
		if err := w.WriteStatement(dump.TableSchemaFile(t.Schema, t.Name), t.CreateSQL); err != nil {
			return dumpDirError(u.d.Node, w.Final, err)
		}
	}
	for _, v := range views {
		raw, err := dump.RawCreateView(ctx, q, v)
		if err != nil {
			return sourceError("read the view definition", err)
		}
		stmt, err := dump.StripDefiner(raw, v.Name)
		if err != nil {
			return sourceError("rewrite the view definition", err)
		}
		if err := w.WriteStatement(dump.ViewSchemaFile(v.Schema, v.Name), stmt); err != nil {
			return dumpDirError(u.d.Node, w.Final, err)
		}
	}
	return nil
}

// writeChunks writes one file per chunk, one worker per snapshot
// connection.
func (u *dumpFilesUnit) writeChunks(ctx context.Context, snap *dump.Snapshot, w *dump.DirWriter, chunks []*dump.Chunk) error {
	stmtSize := statementSize(u.inst)
	return forEachChunk(ctx, len(snap.Conns), chunks, func(ctx context.Context, worker int, c *dump.Chunk) error {
		conn := snap.Conns[worker]
		var rows, bytes int64
		err := w.WriteFile(dump.ChunkFile(c.Table.Schema, c.Table.Name, c.Index), c.Table.ID(), c.Index, func(out io.Writer) (int64, error) {
			n, err := dump.StreamChunkInto(ctx, conn, c, target.QuoteIdent(c.Table.Name), "INSERT", stmtSize, func(b dump.Batch) error {
				rows += b.Rows
				if _, err := out.Write(b.SQL); err != nil {
					return err
				}
				_, err := io.WriteString(out, ";\n")
				return err
			})
			bytes = n
			return rows, err
		})
		var re *dump.ReadError
		switch {
		case errors.As(err, &re):
			return sourceError("read chunk "+c.ID(), err)
		case err != nil:
			return dumpDirError(u.d.Node, w.Final, err)
		}
		u.prog.chunkDone(c.Table.ID(), c.Index, rows, bytes)
		return nil
	})
}

func dumpDirError(node, dir string, err error) error {
	var ee *executor.Error
	if errors.As(err, &ee) {
		return err
	}
	return &executor.Error{Code: "DumpDirWriteFailed", Class: "dump", Message: fmt.Sprintf("write the dump directory %s on node %s", dir, node), Err: err,
		Workaround: "check that the directory is writable by dmnode and the disk has space (the error above says why), then `dmctl resume-task`; the dump starts over"}
}
