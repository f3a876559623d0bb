package config

import (
	"cmp"
	"encoding/json"
	"strings"
)

// Normalize fills the defaults and resolves each instance's references, so
// that every Instance carries its effective BlockAllowList, Routes, Filters
// and Mydumper, Loader and Syncer configs inline. It is idempotent. It does
// not validate: references that do not resolve are skipped (ParseTask
// rejects them before).
//
// Defaults: meta-schema dm_meta, collation_compatible loose, target port
// 3306, shard-mode pessimistic for is-sharding, online-ddl on with an
// online-ddl-scheme, binlog-pos 4 with a binlog-name; mydumper threads 4,
// chunk-filesize 64 (MiB), rows 10000; loader pool-size 16, dir
// ./dumped_data, import-mode logical, on-duplicate-logical replace; syncer
// worker-count 16, batch 100, queue-size 1024, checkpoint-flush-interval 30,
// safe-mode-duration 2 x checkpoint-flush-interval.
func (t *Task) Normalize() {
	t.TaskMode = strings.ToLower(t.TaskMode)
	t.ShardMode = strings.ToLower(t.ShardMode)
	if t.ShardMode == "" && t.IsSharding {
		t.ShardMode = ShardPessimistic
	}
	t.IsSharding = t.ShardMode != ""
	t.MetaSchema = cmp.Or(t.MetaSchema, DefaultMetaSchema)
	t.CollationCompatible = cmp.Or(strings.ToLower(t.CollationCompatible), CollationLoose)
	t.OnlineDDLScheme = strings.ToLower(t.OnlineDDLScheme)
	if t.OnlineDDLScheme != "" {
		t.OnlineDDL = true
	}
	t.TargetDatabase.normalize()

	if len(t.BlockAllowList) == 0 && len(t.BlackWhiteList) > 0 {
		t.BlockAllowList = t.BlackWhiteList
	}
	t.BlackWhiteList = nil
	for name, r := range t.BlockAllowList {
		r = cmp.Or(r, &BlockAllowList{})
		r.Name, t.BlockAllowList[name] = name, r
	}
	for name, r := range t.Routes {
		r = cmp.Or(r, &RouteRule{})
		r.Name, t.Routes[name] = name, r
	}
	for name, r := range t.Filters {
		r = cmp.Or(r, &EventFilterRule{})
		r.Name, t.Filters[name] = name, r
		r.normalize()
	}
	for name, m := range t.Mydumpers {
		m = cmp.Or(m, &MydumperConfig{SkipTzUTC: true})
		m.normalize()
		t.Mydumpers[name] = m
	}
	for name, l := range t.Loaders {
		l = cmp.Or(l, &LoaderConfig{})
		l.normalize()
		t.Loaders[name] = l
	}
	for name, s := range t.Syncers {
		s = cmp.Or(s, &SyncerConfig{})
		s.normalize()
		t.Syncers[name] = s
	}
	for _, inst := range t.MySQLInstances {
		if inst != nil {
			t.resolve(inst)
		}
	}
}

// resolve fills inst's effective rules and unit configs from the task.
func (t *Task) resolve(inst *Instance) {
	inst.BlockAllowListName = cmp.Or(inst.BlockAllowListName, inst.BlackWhiteListName)
	inst.BlackWhiteListName = ""
	inst.BlockAllowList = nil
	if r := t.BlockAllowList[inst.BlockAllowListName]; inst.BlockAllowListName != "" && r != nil {
		inst.BlockAllowList = cloneJSON(r)
	}
	inst.Routes = namedRules(t.Routes, inst.RouteRules)
	inst.Filters = namedRules(t.Filters, inst.FilterRules)
	if m := inst.Meta; m != nil && m.BinlogName != "" && m.BinlogPos == 0 {
		m.BinlogPos = 4 // the first event after the binlog file header
	}

	inst.Mydumper = unitConfig(t.Mydumpers, inst.MydumperConfigName, inst.Mydumper, defaultMydumper)
	if inst.MydumperThread > 0 {
		inst.Mydumper.Threads = inst.MydumperThread
	}
	inst.Mydumper.normalize()

	inst.Loader = unitConfig(t.Loaders, inst.LoaderConfigName, inst.Loader, defaultLoader)
	if inst.LoaderThread > 0 {
		inst.Loader.PoolSize = inst.LoaderThread
	}
	inst.Loader.normalize()

	inst.Syncer = unitConfig(t.Syncers, inst.SyncerConfigName, inst.Syncer, defaultSyncer)
	if inst.SyncerThread > 0 {
		inst.Syncer.WorkerCount = inst.SyncerThread
	}
	inst.Syncer.normalize()
}

// namedRules returns deep copies of the rules an instance names, in its
// order; a name the task does not define is left out.
func namedRules[T any](rules map[string]*T, names []string) []*T {
	var out []*T
	for _, name := range names {
		if r := rules[name]; r != nil {
			out = append(out, cloneJSON(r))
		}
	}
	return out
}

// unitConfig returns the config a unit of an instance runs with: a copy of
// the task's config named name, else the instance's own (inline), else the
// defaults.
func unitConfig[T any](named map[string]*T, name string, inline *T, defaults func() *T) *T {
	if c := named[name]; name != "" && c != nil {
		cp := *c
		return &cp
	}
	if inline != nil {
		return inline
	}
	return defaults()
}

// normalize puts events in lower case and the action in DM's spelling.
func (r *EventFilterRule) normalize() {
	for i, e := range r.Events {
		r.Events[i] = strings.Join(strings.Fields(strings.ToLower(e)), " ")
	}
	for _, a := range []string{ActionDo, ActionIgnore, ActionError} {
		if strings.EqualFold(r.Action, a) {
			r.Action = a
		}
	}
}

// cloneJSON deep-copies a rule through its JSON form.
func cloneJSON[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic("config: clone: " + err.Error()) // rules are plain data; cannot fail
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic("config: clone: " + err.Error())
	}
	return out
}
