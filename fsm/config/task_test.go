package config

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func parseExampleTask(t *testing.T) *Task {
	t.Helper()
	task, err := ParseTask(readTestdata(t, "task.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestParseTaskExample(t *testing.T) {
	task := parseExampleTask(t)
	i1, i2 := task.Instance("mysql-replica-01"), task.Instance("mysql-replica-02")
	if i1 == nil || i2 == nil || task.Instance("nope") != nil {
		t.Fatalf("Instance lookup: %v %v", i1, i2)
	}
	routeNames := func(in *Instance) (names []string) {
		for _, r := range in.Routes {
			names = append(names, r.Name+"->"+r.TargetSchema+"."+r.TargetTable)
		}
		return names
	}
	filterNames := func(in *Instance) (names []string) {
		for _, r := range in.Filters {
			names = append(names, r.Name+":"+r.Action)
		}
		return names
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", task.Name, "shard-orders"},
		{"task-mode", task.TaskMode, ModeAll},
		{"units", task.Units(), []string{"dump", "load", "sync"}},
		{"shard-mode", task.ShardMode, ShardPessimistic},
		{"timezone", task.Timezone, "+08:00"},
		{"ignore-checking-items", task.IgnoreCheckingItems, []string{"auto_increment_ID"}},
		{"target", task.TargetDatabase.Host + ":" + strconv.Itoa(task.TargetDatabase.Port), "10.0.2.30:4000"},
		{"target session", task.TargetDatabase.Session, map[string]string{"tidb_txn_mode": "optimistic"}},
		{"source ids", task.SourceIDs(), []string{"mysql-replica-01", "mysql-replica-02"}},
		{"meta 1", *i1.Meta, Meta{BinlogName: "mysql-bin.000003", BinlogPos: 194}},
		{"meta 2", i2.Meta.BinlogGTID, "3ccc475b-2343-11e7-be21-6c0b84d59f30:1-14"},
		{"block-allow-list 1", i1.BlockAllowList.Name + " " + strings.Join(i1.BlockAllowList.DoDBs, ","), "orders-only ~^store_[0-9]+"},
		{"ignore-tables 1", *i1.BlockAllowList.IgnoreTables[0], TableRef{Schema: "store_01", Table: "orders_tmp"}},
		{"routes 1 in listed order", routeNames(i1), []string{"orders-route->store.orders", "store-route->store."}},
		{"route extract", *i1.Routes[0].ExtractTable, TableExtract{TableRegexp: "orders_(.*)", TargetColumn: "c_table"}},
		{"filters 1", filterNames(i1), []string{"no-truncate:Ignore"}},
		{"filters 2, action normalized", filterNames(i2), []string{"no-truncate:Ignore", "no-drop-store:Ignore"}},
		{"mydumper 1 from global", *i1.Mydumper, MydumperConfig{Threads: 6, ChunkFilesize: "128", Rows: 50000, SkipTzUTC: true, ExtraArgs: "--consistency auto"}},
		{"mydumper 2 default + mydumper-thread", *i2.Mydumper, MydumperConfig{Threads: 8, ChunkFilesize: "64", Rows: 10000, SkipTzUTC: true}},
		{"loader 1 from global, on-duplicate alias", [3]any{i1.Loader.PoolSize, i1.Loader.OnDuplicateLogical, i1.Loader.ImportMode}, [3]any{24, "error", "logical"}},
		{"loader 2 inline, sql is logical", [3]any{i2.Loader.PoolSize, i2.Loader.OnDuplicateLogical, i2.Loader.ImportMode}, [3]any{32, "replace", "logical"}},
		{"syncer 1 from global", [4]any{i1.Syncer.WorkerCount, i1.Syncer.Batch, i1.Syncer.Compact, i1.Syncer.SafeModeDuration}, [4]any{24, 200, true, "60s"}},
		{"syncer 2 syncer-thread", [2]any{i2.Syncer.WorkerCount, i2.Syncer.Batch}, [2]any{32, 200}},
		{"global syncer untouched by syncer-thread", task.Syncers["global"].WorkerCount, 24},
		{"chunk-filesize bytes", i1.Mydumper.ChunkFilesizeBytes(), uint64(128 << 20)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
	// Instances own their effective configs: changing one leaves the others.
	i1.Syncer.Batch = 1
	i1.Routes[0].TargetTable = "x"
	if i2.Syncer.Batch != 200 || task.Syncers["global"].Batch != 200 || task.Routes["orders-route"].TargetTable != "orders" {
		t.Fatal("effective configs share memory")
	}
}

const minimalTask = `name: t1
task-mode: incremental
target-database:
  host: tidb
  user: root
  password: "` + secretPassword + `"
mysql-instances:
  - source-id: s1
    meta:
      binlog-name: mysql-bin.000001
`

func TestNormalizeDefaults(t *testing.T) {
	task, err := ParseTask([]byte(minimalTask))
	if err != nil {
		t.Fatal(err)
	}
	inst := task.Instance("s1")
	checks := []struct {
		name      string
		got, want any
	}{
		{"meta-schema", task.MetaSchema, "dm_meta"},
		{"target port", task.TargetDatabase.Port, 3306},
		{"online-ddl", task.OnlineDDL, true},
		{"clean-dump-file", task.CleanDumpFile, true},
		{"collation_compatible", task.CollationCompatible, CollationLoose},
		{"shard-mode", task.ShardMode, ""},
		{"units", task.Units(), []string{"sync"}},
		{"binlog-pos", inst.Meta.BinlogPos, uint32(4)},
		{"no block-allow-list", inst.BlockAllowList == nil && inst.Routes == nil && inst.Filters == nil, true},
		{"mydumper", *inst.Mydumper, MydumperConfig{Threads: 4, ChunkFilesize: "64", Rows: 10000, SkipTzUTC: true}},
		{"loader", *inst.Loader, LoaderConfig{PoolSize: 16, Dir: "./dumped_data", ImportMode: "logical", OnDuplicateLogical: "replace"}},
		{"syncer", *inst.Syncer, SyncerConfig{WorkerCount: 16, Batch: 100, QueueSize: 1024, CheckpointFlushInterval: 30, SafeModeDuration: "60s"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
	before := storedJSON(t, task)
	task.Normalize()
	if after := storedJSON(t, task); before != after {
		t.Fatalf("Normalize is not idempotent:\n%s\n%s", before, after)
	}
}

func TestNormalizeLegacyNames(t *testing.T) {
	y := minimalTask + `    black-white-list: bw
is-sharding: true
online-ddl: false
online-ddl-scheme: gh-ost
black-white-list:
  bw:
    do-dbs: [db1]
`
	task, err := ParseTask([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	inst := task.Instance("s1")
	if task.ShardMode != ShardPessimistic || !task.OnlineDDL || task.BlackWhiteList != nil ||
		task.BlockAllowList["bw"] == nil || inst.BlockAllowListName != "bw" || inst.BlackWhiteListName != "" ||
		inst.BlockAllowList == nil || inst.BlockAllowList.DoDBs[0] != "db1" {
		t.Fatalf("legacy names not normalized: %+v %+v", task, inst)
	}
}

func TestParseTaskErrors(t *testing.T) {
	example := string(readTestdata(t, "task.yaml"))
	replace := func(old, new string) string {
		if !strings.Contains(example, old) {
			t.Fatalf("testdata/task.yaml has no %q", old)
		}
		return strings.Replace(example, old, new, 1)
	}
	tests := []struct {
		name  string
		yaml  string
		want  error
		parts []string
	}{
		{"malformed yaml", replace(`  password: "T4rget-Pa55"`, `  password: "T4rget-Pa55`), ErrInvalidYAML, []string{"task.yaml: invalid YAML", "line"}},
		{"bad indentation", minimalTask + "  - source-id: s2\n   meta: x\n", ErrInvalidYAML, []string{"line 7"}},
		{"unknown top-level field", replace("task-mode: all", "task_mode: all"), ErrUnknownField,
			[]string{`unknown field "task_mode" at line 3 (did you mean "task-mode"?)`}},
		{"unknown field in a route", replace(`    schema-pattern: "store_*"
    table-pattern: "orders_*"
    target-schema`, `    schema-patern: "store_*"
    table-pattern: "orders_*"
    target-schema`), ErrUnknownField, []string{`unknown field "schema-patern" in "routes.orders-route" at line 58 (did you mean "schema-pattern"?)`}},
		{"unknown field in an instance", replace("    syncer-thread: 32", "    syncer-threads: 32"), ErrUnknownField,
			[]string{`"syncer-threads" in "mysql-instances[1]" at line 44`, `did you mean "syncer-thread"?`}},
		{"unknown field in target", replace(`  port: 4000`, `  prot: 4000`), ErrUnknownField, []string{`"prot" in "target-database" at line 15`}},
		{"unsupported DM field", example + "column-mappings:\n  c1: {}\n", ErrUnsupportedField,
			[]string{`field "column-mappings" is not supported by dmraft at line 105`, "extract-table"}},
		{"unsupported instance field", replace("    mydumper-thread: 8", "    expression-filters: [e1]"), ErrUnsupportedField,
			[]string{`"expression-filters" in "mysql-instances[1]" is not supported`}},
		{"missing name", strings.Replace(minimalTask, "name: t1\n", "", 1), ErrMissingField, []string{`missing required field "name"`}},
		{"missing task-mode", strings.Replace(minimalTask, "task-mode: incremental\n", "", 1), ErrMissingField,
			[]string{`missing required field "task-mode" (one of full, incremental, all, dump, load)`}},
		{"bad task-mode", replace("task-mode: all", "task-mode: everything"), ErrInvalidValue,
			[]string{`invalid value "everything" for "task-mode" at line 3 (allowed: full, incremental, all, dump, load)`}},
		{"bad shard-mode", replace("shard-mode: pessimistic", "shard-mode: hopeful"), ErrInvalidValue, []string{`"shard-mode" at line 4`, "pessimistic, optimistic"}},
		{"strict optimistic without optimistic", example + "strict-optimistic-shard-mode: true\n", ErrInvalidValue, []string{"needs shard-mode optimistic"}},
		{"bad collation", replace("collation_compatible: loose", "collation_compatible: lax"), ErrInvalidValue, []string{"allowed: loose, strict"}},
		{"bad online-ddl-scheme", example + "online-ddl-scheme: lhm\n", ErrInvalidValue, []string{"allowed: pt, gh-ost"}},
		{"bad checking item", replace(`["auto_increment_ID"]`, `["auto_increment_id"]`), ErrInvalidValue, []string{`"ignore-checking-items[0]" at line 10`}},
		{"bad timezone", replace(`timezone: "+08:00"`, `timezone: "Mars/Olympus"`), ErrInvalidValue, []string{`"timezone" at line 9`, "Asia/Shanghai"}},
		{"missing target-database", "name: t1\ntask-mode: all\nmysql-instances:\n  - source-id: s1\n", ErrMissingField, []string{`missing required field "target-database"`}},
		{"missing target host", replace(`  host: "10.0.2.30"`+"\n", ""), ErrMissingField, []string{`"target-database.host" at line 13`}},
		{"target port type", replace("  port: 4000", "  port: four"), ErrInvalidValue, []string{`"target-database.port" must be an integer at line 15`}},
		{"missing mysql-instances", "name: t\ntask-mode: all\ntarget-database: {host: h, user: u}\n", ErrMissingField, []string{`"mysql-instances"`}},
		{"missing source-id", replace(`  - source-id: "mysql-replica-02"`, `  - source-i: "mysql-replica-02"`), ErrUnknownField, []string{`did you mean "source-id"?`}},
		{"empty source-id", replace(`  - source-id: "mysql-replica-02"`, `  - source-id: ""`), ErrMissingField, []string{`"mysql-instances[1].source-id" at line 33`, "operate-source"}},
		{"duplicate source-id", replace(`"mysql-replica-02"`, `"mysql-replica-01"`), ErrDuplicateSource,
			[]string{`source-id "mysql-replica-01" is listed twice in mysql-instances (entries 0 and 1) at line 33`}},
		{"undefined route", replace(`route-rules: ["orders-route", "store-route"]
    filter-rules: ["no-truncate"]`, `route-rules: ["orders-route", "store-rout"]
    filter-rules: ["no-truncate"]`), ErrUndefinedReference,
			[]string{`"mysql-instances[0].route-rules[1]" refers to route "store-rout", which is not defined under "routes" at line 27 (did you mean "store-route"?)`}},
		{"undefined filter", replace(`filter-rules: ["no-truncate"]`, `filter-rules: ["no-truncate", "zzz"]`), ErrUndefinedReference,
			[]string{`refers to filter "zzz"`, "defined under \"filters\": no-drop-store, no-truncate"}},
		{"undefined block-allow-list", replace(`    block-allow-list: "orders-only"
    route-rules: ["orders-route", "store-route"]
    filter-rules: ["no-truncate", "no-drop-store"]`, `    block-allow-list: "all-orders"
    route-rules: ["orders-route", "store-route"]
    filter-rules: ["no-truncate", "no-drop-store"]`), ErrUndefinedReference, []string{`block-allow-list "all-orders"`, "line 36"}},
		{"undefined syncer config", replace(`    syncer-config-name: "global"
    syncer-thread`, `    syncer-config-name: "fast"
    syncer-thread`), ErrUndefinedReference, []string{`syncer config "fast"`, `"syncers"`}},
		{"named and inline config", replace("    mydumper-thread: 8", "    mydumper-config-name: global\n    mydumper:\n      threads: 2"), ErrInvalidValue,
			[]string{"sets both mydumper-config-name and mydumper"}},
		{"unused route", replace("routes:\n", "routes:\n  spare:\n    schema-pattern: a\n    target-schema: b\n"), ErrUnusedConfig,
			[]string{`"routes.spare" is defined but no mysql-instance uses it at line 57`}},
		{"route listed twice", replace(`route-rules: ["orders-route", "store-route"]
    filter-rules: ["no-truncate"]`, `route-rules: ["orders-route", "orders-route"]
    filter-rules: ["no-truncate"]`), ErrInvalidValue, []string{`lists route "orders-route" twice`}},
		{"route missing target-schema", replace(`    target-schema: "store"
    target-table: "orders"`, `    target-table: "orders"`), ErrMissingField, []string{`"routes.orders-route.target-schema" at line 57`}},
		{"bad regexp", replace(`do-dbs: ["~^store_[0-9]+"]`, `do-dbs: ["~^store_[0-9+"]`), ErrInvalidValue, []string{`"block-allow-list.orders-only.do-dbs[0]"`, "regular expression"}},
		{"bad filter action", replace("    action: ignore", "    action: Skip"), ErrInvalidValue, []string{"allowed: Do, Ignore, Error"}},
		{"bad filter event", replace(`events: ["drop database"]`, `events: ["drop databse"]`), ErrInvalidValue, []string{`did you mean "drop database"?`}},
		{"physical import", replace("      import-mode: sql", "      import-mode: physical"), ErrInvalidValue, []string{"TiDB Lightning", "line 42"}},
		{"bad on-duplicate", replace("    on-duplicate: error", "    on-duplicate: overwrite"), ErrInvalidValue, []string{"allowed: replace, error, ignore"}},
		{"safe mode for 0s", replace("    safe-mode: false", "    safe-mode: true\n    safe-mode-duration: 0s"), ErrInvalidValue, []string{"is 0 while safe-mode is true"}},
		{"bad chunk-filesize", replace("    chunk-filesize: 128", "    chunk-filesize: big"), ErrInvalidValue, []string{`"mydumpers.global.chunk-filesize"`}},
		{"meta without position", replace(`      binlog-gtid: "3ccc475b-2343-11e7-be21-6c0b84d59f30:1-14"`, `      binlog-pos: 4`), ErrMissingField, []string{`"mysql-instances[1].meta.binlog-name"`}},
		{"thread is not a number", replace("    syncer-thread: 32", "    syncer-thread: many"), ErrInvalidValue, []string{"must be an integer"}},
		{"route-rules not a list", replace(`route-rules: ["orders-route", "store-route"]
    filter-rules: ["no-truncate"]`, `route-rules: orders-route
    filter-rules: ["no-truncate"]`), ErrInvalidValue, []string{`"mysql-instances[0].route-rules" must be a list`}},
		{"both block-allow-list and black-white-list", example + "black-white-list:\n  x: {do-dbs: [a]}\n", ErrInvalidValue, []string{"use only block-allow-list"}},
		{"duplicate key", example + "name: again\n", ErrInvalidYAML, []string{`"name" already defined`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, err := ParseTask([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; parsed %+v", task)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v; want errors.Is %v", err, tc.want)
			}
			for _, part := range tc.parts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("err = %q\nwant it to contain %q", err, part)
				}
			}
			for _, pw := range []string{secretPassword, "T4rget-Pa55"} {
				if strings.Contains(err.Error(), pw) {
					t.Errorf("error contains the password: %v", err)
				}
			}
		})
	}
}

// storedJSON is the JSON a task would be stored as, for comparisons.
func storedJSON(t *testing.T, task *Task) string {
	t.Helper()
	c := task.clone()
	if err := c.EncryptPasswords(testKey); err != nil {
		t.Fatal(err)
	}
	b, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDefaultTrueFieldsCanBeTurnedOff(t *testing.T) {
	y := minimalTask + `    mydumper:
      skip-tz-utc: false
online-ddl: false
clean-dump-file: false
`
	task, err := ParseTask([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if task.OnlineDDL || task.CleanDumpFile || task.Instance("s1").Mydumper.SkipTzUTC {
		t.Fatalf("explicit false overridden: online-ddl %v clean-dump-file %v skip-tz-utc %v",
			task.OnlineDDL, task.CleanDumpFile, task.Instance("s1").Mydumper.SkipTzUTC)
	}
	if task.Instance("s1").Mydumper.Threads != DefaultMydumperThreads {
		t.Fatal("inline mydumper not normalized")
	}
}
