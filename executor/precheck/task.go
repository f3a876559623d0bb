package precheck

import (
	"context"
	"slices"
	"time"

	"github.com/dmraft/dmraft/executor/dump"
	"github.com/dmraft/dmraft/executor/target"
	"github.com/dmraft/dmraft/fsm/config"
)

// Timeout bounds one Task run per server.
const Timeout = 15 * time.Second

// Task connects to the target and to each source of t and runs every
// check. sources maps a source id to its config (passwords encrypted with
// key or plain). Items listed in t's ignore-checking-items are skipped
// ("all" skips everything but reachability).
func Task(ctx context.Context, t *config.Task, sources map[string]*config.Source, key config.Key) []Item {
	ignoreAll := slices.Contains(t.IgnoreCheckingItems, "all")
	ignore := func(item string) bool { return ignoreAll || slices.Contains(t.IgnoreCheckingItems, item) }
	var items []Item
	switch t.TaskMode {
	case config.ModeDump:
		items = append(items, Item{"task-mode", Warn, "task-mode dump writes SQL files on the node the source is bound to, under loaders.dir (relative: below that node's --data-dir)",
			"run the load task while the source is bound to the same node, or copy the directory; task-mode full needs no files and survives failover"})
	case config.ModeLoad:
		items = append(items, Item{"task-mode", Warn, "task-mode load reads loaders.dir on the node the source is bound to; on another node the subtask pauses and names the directory",
			"check `dmctl query-status` for the node, and `dmctl transfer-source` if needed"})
	}
	if !t.HasLoad() && !t.HasSync() {
		return append(items, sourceItems(ctx, t, sources, key, ignore)...)
	}

	tctx, cancel := context.WithTimeout(ctx, Timeout)
	tdb, err := target.Open(tctx, t.TargetDatabase, key, 1)
	cancel()
	if err != nil {
		items = append(items, Item{"target connection", Fail, err.Error(),
			"check target-database host, port, user and password in task.yaml, and that the server is up"})
	} else {
		items = append(items, Item{Name: "target connection", State: Pass})
		if !ignore("target_privilege") {
			tctx, cancel := context.WithTimeout(ctx, Timeout)
			items = append(items, Target(tctx, tdb)...)
			cancel()
		}
		tdb.Close()
	}
	if t.TaskMode == config.ModeLoad {
		return items // the files are loaded; the source is not read
	}
	return append(items, sourceItems(ctx, t, sources, key, ignore)...)
}

// sourceItems checks every source of t: connection, privileges, binlog
// settings (with sync), tables without a key.
func sourceItems(ctx context.Context, t *config.Task, sources map[string]*config.Source, key config.Key, ignore func(string) bool) []Item {
	var items []Item
	for _, inst := range t.MySQLInstances {
		src := sources[inst.SourceID]
		name := "source " + inst.SourceID
		if src == nil {
			continue // the caller reports unknown sources
		}
		sctx, cancel := context.WithTimeout(ctx, Timeout)
		sdb, err := dump.OpenSource(sctx, src.From, key, 1)
		if err != nil {
			cancel()
			items = append(items, Item{name + " connection", Fail, err.Error(),
				"check from: host, port, user and password of the source (`dmctl operate-source show`), and that the server is up"})
			continue
		}
		items = append(items, Item{Name: name + " connection", State: Pass})
		if !ignore("dump_privilege") {
			items = append(items, SourcePrivileges(sctx, sdb, name, t.HasSync() && !ignore("replication_privilege"))...)
		}
		if t.HasSync() && !ignore("binlog_enable") {
			items = append(items, Binlog(sctx, sdb, name)...)
		}
		if !ignore("table_schema") {
			items = append(items, TablesWithoutKey(sctx, sdb, name, dump.NewSelector(t, inst))...)
		}
		cancel()
		sdb.Close()
	}
	return items
}
