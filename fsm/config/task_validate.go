package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CheckingItems are the names ignore-checking-items accepts (DM's).
func CheckingItems() []string {
	return []string{
		"all", "dump_privilege", "replication_privilege", "version", "server_id",
		"binlog_enable", "binlog_format", "binlog_row_image", "table_schema",
		"schema_of_shard_tables", "auto_increment_ID", "online_ddl", "binlog_db",
		"meta_position", "conn_number", "target_privilege", "empty_region",
		"region_distribution", "downstream_version", "free_space",
		"downstream_mutex_features",
	}
}

var tzOffset = regexp.MustCompile(`^[+-](0\d|1[0-4]):[0-5]\d$`)

// validate checks everything ParseTask can check without a connection.
// It fills nil map entries with empty rules so later steps can rely on them.
func (t *Task) validate(p *problems) {
	if t.Name == "" {
		p.missing("name", "a name for the task, unique in the cluster")
	}
	modes := []string{ModeFull, ModeIncremental, ModeAll, ModeDump, ModeLoad}
	switch {
	case t.TaskMode == "":
		p.missing("task-mode", "one of "+strings.Join(modes, ", "))
	case !containsFold(modes, t.TaskMode):
		p.badEnum("task-mode", t.TaskMode, modes)
	}
	shardModes := []string{ShardPessimistic, ShardOptimistic}
	if t.ShardMode != "" && !containsFold(shardModes, t.ShardMode) {
		p.badEnum("shard-mode", t.ShardMode, append(shardModes, `"" (no shard merging)`))
	}
	if t.StrictOptimisticShardMode && !strings.EqualFold(t.ShardMode, ShardOptimistic) {
		p.add(ErrInvalidValue, "strict-optimistic-shard-mode", "set shard-mode: optimistic, or remove it",
			"strict-optimistic-shard-mode needs shard-mode optimistic")
	}
	colls := []string{CollationLoose, CollationStrict}
	if t.CollationCompatible != "" && !containsFold(colls, t.CollationCompatible) {
		p.badEnum("collation_compatible", t.CollationCompatible, colls)
	}
	schemes := []string{OnlineDDLPT, OnlineDDLGhOst}
	if t.OnlineDDLScheme != "" && !containsFold(schemes, t.OnlineDDLScheme) {
		p.badEnum("online-ddl-scheme", t.OnlineDDLScheme, schemes)
	}
	for i, rule := range append(slices.Clone(t.ShadowTableRules), t.TrashTableRules...) {
		field := joinIndex("shadow-table-rules", i)
		if i >= len(t.ShadowTableRules) {
			field = joinIndex("trash-table-rules", i-len(t.ShadowTableRules))
		}
		checkRegexp(p, field, rule)
	}
	items := CheckingItems()
	for i, item := range t.IgnoreCheckingItems {
		if !slices.Contains(items, item) {
			p.badEnum(joinIndex("ignore-checking-items", i), item, items)
		}
	}
	if tz := t.Timezone; tz != "" && !strings.EqualFold(tz, "SYSTEM") && !tzOffset.MatchString(tz) {
		if _, err := time.LoadLocation(tz); err != nil {
			p.add(ErrInvalidValue, "timezone", "an IANA name such as Asia/Shanghai, an offset such as +08:00, or SYSTEM",
				"invalid value %q for %q", tz, "timezone")
		}
	}
	if p.lineOf("target-database") == 0 && t.TargetDatabase.Host == "" {
		p.missing("target-database", "the target connection: host, port, user, password")
	} else {
		t.TargetDatabase.validate(p, "target-database", "the target database")
	}
	if len(t.BlockAllowList) > 0 && len(t.BlackWhiteList) > 0 {
		p.add(ErrInvalidValue, "black-white-list", "black-white-list is the old name of block-allow-list: use only block-allow-list",
			"both block-allow-list and black-white-list are set")
	}
	t.validateRules(p)
	t.validateInstances(p)
}

// validateRules checks the global rule and config maps.
func (t *Task) validateRules(p *problems) {
	for _, lists := range []struct {
		field string
		m     map[string]*BlockAllowList
	}{{"block-allow-list", t.BlockAllowList}, {"black-white-list", t.BlackWhiteList}} {
		for _, name := range sortedKeys(lists.m) {
			if lists.m[name] == nil {
				lists.m[name] = &BlockAllowList{}
			}
			lists.m[name].validate(p, lists.field+"."+name)
		}
	}
	for _, name := range sortedKeys(t.Routes) {
		if t.Routes[name] == nil {
			t.Routes[name] = &RouteRule{}
		}
		t.Routes[name].validate(p, "routes."+name)
	}
	for _, name := range sortedKeys(t.Filters) {
		if t.Filters[name] == nil {
			t.Filters[name] = &EventFilterRule{}
		}
		t.Filters[name].validate(p, "filters."+name)
	}
	for _, name := range sortedKeys(t.Mydumpers) {
		if t.Mydumpers[name] == nil {
			t.Mydumpers[name] = &MydumperConfig{SkipTzUTC: true}
		}
		t.Mydumpers[name].validate(p, "mydumpers."+name)
	}
	for _, name := range sortedKeys(t.Loaders) {
		if t.Loaders[name] == nil {
			t.Loaders[name] = &LoaderConfig{}
		}
		t.Loaders[name].validate(p, "loaders."+name)
	}
	for _, name := range sortedKeys(t.Syncers) {
		if t.Syncers[name] == nil {
			t.Syncers[name] = &SyncerConfig{}
		}
		t.Syncers[name].validate(p, "syncers."+name)
	}
}

// validateInstances checks mysql-instances: source ids, meta, references,
// and that every global rule and config is used (as DM does).
func (t *Task) validateInstances(p *problems) {
	if len(t.MySQLInstances) == 0 {
		p.missing("mysql-instances", "a list with one entry per source: - source-id: mysql-replica-01")
		return
	}
	baField, baList := "block-allow-list", t.BlockAllowList
	if len(baList) == 0 && len(t.BlackWhiteList) > 0 {
		baField, baList = "black-white-list", t.BlackWhiteList
	}
	used := map[string]bool{}
	firstIndex := map[string]int{}
	for i, inst := range t.MySQLInstances {
		f := joinIndex("mysql-instances", i)
		if inst == nil {
			p.missing(f+".source-id", "the source-id of a source created with operate-source create")
			continue
		}
		switch j, dup := firstIndex[inst.SourceID]; {
		case inst.SourceID == "":
			p.missing(f+".source-id", "the source-id of a source created with operate-source create")
		case dup:
			p.add(ErrDuplicateSource, f+".source-id", "list each source once per task",
				"source-id %q is listed twice in mysql-instances (entries %d and %d)", inst.SourceID, j, i)
		default:
			firstIndex[inst.SourceID] = i
		}
		if m := inst.Meta; m != nil && m.BinlogName == "" && m.BinlogGTID == "" {
			p.missing(f+".meta.binlog-name", "where replication starts: binlog-name and binlog-pos, or binlog-gtid; or remove meta")
		}
		ba, bw := inst.BlockAllowListName, inst.BlackWhiteListName
		if ba != "" && bw != "" && ba != bw {
			p.add(ErrInvalidValue, f+".black-white-list", "black-white-list is the old name of block-allow-list: use only block-allow-list",
				"%s sets both block-allow-list %q and black-white-list %q", f, ba, bw)
		}
		if name := cmp.Or(ba, bw); name != "" {
			field := f + ".block-allow-list"
			if ba == "" {
				field = f + ".black-white-list"
			}
			checkRef(p, field, "block-allow-list", name, baField, sortedKeys(baList), baList[name] != nil)
		}
		checkRefList(p, f+".route-rules", "route", inst.RouteRules, "routes", sortedKeys(t.Routes), func(n string) bool { return t.Routes[n] != nil }, used)
		checkRefList(p, f+".filter-rules", "filter", inst.FilterRules, "filters", sortedKeys(t.Filters), func(n string) bool { return t.Filters[n] != nil }, used)
		t.validateUnits(p, f, inst, used)
	}
	for _, g := range []struct {
		field string
		names []string
		ref   string
	}{
		{"routes", sortedKeys(t.Routes), "route-rules"},
		{"filters", sortedKeys(t.Filters), "filter-rules"},
		{"mydumpers", sortedKeys(t.Mydumpers), "mydumper-config-name"},
		{"loaders", sortedKeys(t.Loaders), "loader-config-name"},
		{"syncers", sortedKeys(t.Syncers), "syncer-config-name"},
	} {
		for _, name := range g.names {
			if !used[g.field+"."+name] {
				p.add(ErrUnusedConfig, g.field+"."+name, fmt.Sprintf("refer to it in a mysql-instance's %s, or remove it", g.ref),
					"%q is defined but no mysql-instance uses it", g.field+"."+name)
			}
		}
	}
}

func (t *Task) validateUnits(p *problems, f string, inst *Instance, used map[string]bool) {
	units := []struct {
		unit, nameField, name, mapField string
		inline                          bool
		defined                         []string
		thread                          int
		threadField                     string
	}{
		{"mydumper", "mydumper-config-name", inst.MydumperConfigName, "mydumpers", inst.Mydumper != nil, sortedKeys(t.Mydumpers), inst.MydumperThread, "mydumper-thread"},
		{"loader", "loader-config-name", inst.LoaderConfigName, "loaders", inst.Loader != nil, sortedKeys(t.Loaders), inst.LoaderThread, "loader-thread"},
		{"syncer", "syncer-config-name", inst.SyncerConfigName, "syncers", inst.Syncer != nil, sortedKeys(t.Syncers), inst.SyncerThread, "syncer-thread"},
	}
	for _, u := range units {
		if u.name != "" {
			if u.inline {
				p.add(ErrInvalidValue, f+"."+u.unit, fmt.Sprintf("use either %s or an inline %s, not both", u.nameField, u.unit),
					"%s sets both %s and %s", f, u.nameField, u.unit)
			}
			checkRef(p, f+"."+u.nameField, u.unit+" config", u.name, u.mapField, u.defined, slices.Contains(u.defined, u.name))
			used[u.mapField+"."+u.name] = true
		}
		if u.thread < 0 {
			p.add(ErrInvalidValue, f+"."+u.threadField, "a positive number", "invalid value %d for %q", u.thread, f+"."+u.threadField)
		}
	}
	if inst.Mydumper != nil {
		inst.Mydumper.validate(p, f+".mydumper")
	}
	if inst.Loader != nil {
		inst.Loader.validate(p, f+".loader")
	}
	if inst.Syncer != nil {
		inst.Syncer.validate(p, f+".syncer")
	}
}

func checkRefList(p *problems, field, kind string, names []string, mapField string, defined []string, ok func(string) bool, used map[string]bool) {
	seen := map[string]bool{}
	for i, name := range names {
		f := joinIndex(field, i)
		if seen[name] {
			p.add(ErrInvalidValue, f, "list each name once", "%q lists %s %q twice", field, kind, name)
		}
		seen[name] = true
		checkRef(p, f, kind, name, mapField, defined, ok(name))
		used[mapField+"."+name] = true
	}
}

func checkRef(p *problems, field, kind, name, mapField string, defined []string, ok bool) {
	if ok {
		return
	}
	hint := fmt.Sprintf("define it under %q", mapField)
	if s := suggest(name, defined); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	} else if len(defined) > 0 {
		hint = fmt.Sprintf("defined under %q: %s", mapField, strings.Join(defined, ", "))
	}
	p.add(ErrUndefinedReference, field, hint, "%q refers to %s %q, which is not defined under %q", field, kind, name, mapField)
}
