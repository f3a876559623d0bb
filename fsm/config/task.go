package config

import (
	"gopkg.in/yaml.v3"
)

const taskFile = "task.yaml"

// Task modes: which units a subtask runs.
const (
	ModeAll         = "all"         // dump, load, then sync
	ModeFull        = "full"        // dump and load
	ModeIncremental = "incremental" // sync from meta (or the checkpoint)
	ModeDump        = "dump"        // dump to files only
	ModeLoad        = "load"        // load files only
)

// Shard DDL modes. An empty shard-mode means the task merges no shards.
const (
	ShardPessimistic = "pessimistic"
	ShardOptimistic  = "optimistic"
)

// Online DDL schemes (DM's deprecated online-ddl-scheme).
const (
	OnlineDDLPT    = "pt"
	OnlineDDLGhOst = "gh-ost"
)

// Values of collation_compatible.
const (
	CollationLoose  = "loose"
	CollationStrict = "strict"
)

// Task is a parsed DM task.yaml. After Normalize every Instance carries its
// effective rules and unit configs inline; the global maps stay for
// reference. Stored in the FSM as JSON (see JSON, ToProto).
type Task struct {
	Name      string `yaml:"name" json:"name"`
	TaskMode  string `yaml:"task-mode" json:"task-mode"`
	ShardMode string `yaml:"shard-mode" json:"shard-mode,omitempty"`
	// IsSharding is DM's older switch: true means shard-mode pessimistic.
	IsSharding                bool     `yaml:"is-sharding" json:"is-sharding,omitempty"`
	StrictOptimisticShardMode bool     `yaml:"strict-optimistic-shard-mode" json:"strict-optimistic-shard-mode,omitempty"`
	MetaSchema                string   `yaml:"meta-schema" json:"meta-schema"`
	CaseSensitive             bool     `yaml:"case-sensitive" json:"case-sensitive"`
	CollationCompatible       string   `yaml:"collation_compatible" json:"collation_compatible"`
	OnlineDDL                 bool     `yaml:"online-ddl" json:"online-ddl"` // default true
	OnlineDDLScheme           string   `yaml:"online-ddl-scheme" json:"online-ddl-scheme,omitempty"`
	ShadowTableRules          []string `yaml:"shadow-table-rules" json:"shadow-table-rules,omitempty"`
	TrashTableRules           []string `yaml:"trash-table-rules" json:"trash-table-rules,omitempty"`
	IgnoreCheckingItems       []string `yaml:"ignore-checking-items" json:"ignore-checking-items,omitempty"`
	CleanDumpFile             bool     `yaml:"clean-dump-file" json:"clean-dump-file"` // default true
	Timezone                  string   `yaml:"timezone" json:"timezone,omitempty"`
	// StartTimeUnix is `dmctl start-task --start-time` (seconds since the
	// epoch): where an incremental task without a sync checkpoint starts
	// reading the binlog. It is not a task.yaml field.
	StartTimeUnix int64 `yaml:"-" json:"start-time-unix,omitempty"`

	TargetDatabase DBConfig    `yaml:"target-database" json:"target-database"`
	MySQLInstances []*Instance `yaml:"mysql-instances" json:"mysql-instances"`

	BlockAllowList map[string]*BlockAllowList `yaml:"block-allow-list" json:"block-allow-list,omitempty"`
	// BlackWhiteList is DM's old name of BlockAllowList; Normalize moves it.
	BlackWhiteList map[string]*BlockAllowList  `yaml:"black-white-list" json:"black-white-list,omitempty"`
	Routes         map[string]*RouteRule       `yaml:"routes" json:"routes,omitempty"`
	Filters        map[string]*EventFilterRule `yaml:"filters" json:"filters,omitempty"`
	Mydumpers      map[string]*MydumperConfig  `yaml:"mydumpers" json:"mydumpers,omitempty"`
	Loaders        map[string]*LoaderConfig    `yaml:"loaders" json:"loaders,omitempty"`
	Syncers        map[string]*SyncerConfig    `yaml:"syncers" json:"syncers,omitempty"`

	// Deprecated in DM and without effect; accepted so old files still parse.
	EnableHeartbeat         bool `yaml:"enable-heartbeat" json:"-"`
	HeartbeatUpdateInterval int  `yaml:"heartbeat-update-interval" json:"-"`
	HeartbeatReportInterval int  `yaml:"heartbeat-report-interval" json:"-"`
	EnableANSIQuotes        bool `yaml:"ansi-quotes" json:"-"`
	Experimental            struct {
		AsyncCheckpointFlush bool `yaml:"async-checkpoint-flush"`
	} `yaml:"experimental" json:"-"`
}

// Instance is one mysql-instances entry: the part of the task for one
// source. The fields below "effective" are filled by Normalize.
type Instance struct {
	SourceID           string   `yaml:"source-id" json:"source-id"`
	Meta               *Meta    `yaml:"meta" json:"meta,omitempty"`
	BlockAllowListName string   `yaml:"block-allow-list" json:"block-allow-list,omitempty"`
	BlackWhiteListName string   `yaml:"black-white-list" json:"black-white-list,omitempty"` // old name; Normalize moves it
	RouteRules         []string `yaml:"route-rules" json:"route-rules,omitempty"`
	FilterRules        []string `yaml:"filter-rules" json:"filter-rules,omitempty"`

	// A unit's config is named (…-config-name, from the global map) or
	// inline (mydumper/loader/syncer), not both; …-thread overrides its
	// threads, pool-size or worker-count. After Normalize the inline field
	// holds the effective config.
	MydumperConfigName string          `yaml:"mydumper-config-name" json:"mydumper-config-name,omitempty"`
	Mydumper           *MydumperConfig `yaml:"mydumper" json:"mydumper,omitempty"`
	MydumperThread     int             `yaml:"mydumper-thread" json:"mydumper-thread,omitempty"`
	LoaderConfigName   string          `yaml:"loader-config-name" json:"loader-config-name,omitempty"`
	Loader             *LoaderConfig   `yaml:"loader" json:"loader,omitempty"`
	LoaderThread       int             `yaml:"loader-thread" json:"loader-thread,omitempty"`
	SyncerConfigName   string          `yaml:"syncer-config-name" json:"syncer-config-name,omitempty"`
	Syncer             *SyncerConfig   `yaml:"syncer" json:"syncer,omitempty"`
	SyncerThread       int             `yaml:"syncer-thread" json:"syncer-thread,omitempty"`

	// Effective rules, resolved from the names above by Normalize, in the
	// order the names are listed. A nil BlockAllowList allows everything.
	BlockAllowList *BlockAllowList    `yaml:"-" json:"effective-block-allow-list,omitempty"`
	Routes         []*RouteRule       `yaml:"-" json:"effective-routes,omitempty"`
	Filters        []*EventFilterRule `yaml:"-" json:"effective-filters,omitempty"`
}

// Meta is where incremental replication starts when there is no
// checkpoint yet: binlog-name and binlog-pos, or binlog-gtid.
type Meta struct {
	BinlogName string `yaml:"binlog-name" json:"binlog-name,omitempty"`
	BinlogPos  uint32 `yaml:"binlog-pos" json:"binlog-pos,omitempty"` // default 4 with a binlog-name
	BinlogGTID string `yaml:"binlog-gtid" json:"binlog-gtid,omitempty"`
}

func (*Task) unsupportedFields() map[string]string {
	return map[string]string{
		"column-mappings":   "column mapping is deprecated in DM too; use extract-table, extract-schema or extract-source in routes",
		"expression-filter": "expression filters are not implemented; use filters or block-allow-list",
		"validators":        "continuous data validation is not implemented",
		"mariadb2tidb":      "MariaDB-to-TiDB schema conversion is not implemented",
		"remove-meta":       "deprecated in DM; use start-task --remove-meta",
	}
}

func (*Instance) unsupportedFields() map[string]string {
	return map[string]string{
		"column-mapping-rules":  "column mapping is deprecated in DM too; use extract-table, extract-schema or extract-source in routes",
		"expression-filters":    "expression filters are not implemented; use filter-rules or block-allow-list",
		"validator-config-name": "continuous data validation is not implemented",
	}
}

// UnmarshalYAML fills DM's defaults for the fields the YAML leaves out.
func (t *Task) UnmarshalYAML(n *yaml.Node) error {
	type plain Task
	p := plain{OnlineDDL: true, CleanDumpFile: true}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = Task(p)
	return nil
}

// ParseTask parses and validates a DM task.yaml and returns it normalized
// (see Normalize). Every problem is reported with its field and line; see
// the Err* sentinels. The target password is kept as written (plain text or
// encrypted) until EncryptPasswords or ToProto.
func ParseTask(yamlText []byte) (*Task, error) {
	t := &Task{OnlineDDL: true, CleanDumpFile: true}
	lines, err := decodeYAML(taskFile, yamlText, t)
	if err != nil {
		return nil, err
	}
	p := newProblems(taskFile, lines)
	t.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	t.Normalize()
	return t, nil
}

// SourceIDs returns the source ids of the task in mysql-instances order.
func (t *Task) SourceIDs() []string {
	ids := make([]string, 0, len(t.MySQLInstances))
	for _, inst := range t.MySQLInstances {
		if inst != nil {
			ids = append(ids, inst.SourceID)
		}
	}
	return ids
}

// Instance returns the task's part for sourceID, or nil. After Normalize
// it carries the effective rules and unit configs.
func (t *Task) Instance(sourceID string) *Instance {
	for _, inst := range t.MySQLInstances {
		if inst != nil && inst.SourceID == sourceID {
			return inst
		}
	}
	return nil
}

// HasDump, HasLoad and HasSync tell which units the task mode runs.
func (t *Task) HasDump() bool {
	return t.TaskMode == ModeAll || t.TaskMode == ModeFull || t.TaskMode == ModeDump
}

// HasLoad reports whether the task mode runs the load unit.
func (t *Task) HasLoad() bool {
	return t.TaskMode == ModeAll || t.TaskMode == ModeFull || t.TaskMode == ModeLoad
}

// HasSync reports whether the task mode runs the sync unit.
func (t *Task) HasSync() bool { return t.TaskMode == ModeAll || t.TaskMode == ModeIncremental }

// Units returns the units the task mode runs, in order: dump, load, sync.
func (t *Task) Units() []string {
	var units []string
	if t.HasDump() {
		units = append(units, "dump")
	}
	if t.HasLoad() {
		units = append(units, "load")
	}
	if t.HasSync() {
		units = append(units, "sync")
	}
	return units
}
