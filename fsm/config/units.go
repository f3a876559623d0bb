package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults that Normalize fills in (DM's, except DefaultChunkRows: dmraft
// always splits tables into primary-key chunks of this many rows).
const (
	DefaultMetaSchema              = "dm_meta"
	DefaultMydumperThreads         = 4
	DefaultChunkFilesize           = "64" // MiB
	DefaultChunkRows               = 10000
	DefaultLoaderPoolSize          = 16
	DefaultLoaderDir               = "./dumped_data"
	DefaultSyncerWorkerCount       = 16
	DefaultSyncerBatch             = 100
	DefaultSyncerQueueSize         = 1024
	DefaultCheckpointFlushInterval = 30 // seconds
)

// Load modes and duplicate handling of the loader.
const (
	ImportModeLogical   = "logical"
	OnDuplicateReplace  = "replace"
	OnDuplicateError    = "error"
	OnDuplicateIgnore   = "ignore"
	importModePhysical  = "physical"
	onDuplicatePhysNone = "none"
)

// MydumperConfig is the dump unit's config (DM's mydumpers).
type MydumperConfig struct {
	Threads       int    `yaml:"threads" json:"threads"`
	ChunkFilesize string `yaml:"chunk-filesize" json:"chunk-filesize"` // MiB, or with a unit: 64M, 1G
	Rows          uint64 `yaml:"rows" json:"rows"`                     // rows per chunk
	StatementSize uint64 `yaml:"statement-size" json:"statement-size,omitempty"`
	Where         string `yaml:"where" json:"where,omitempty"`
	SkipTzUTC     bool   `yaml:"skip-tz-utc" json:"skip-tz-utc"` // default true
	ExtraArgs     string `yaml:"extra-args" json:"extra-args,omitempty"`
	// MydumperPath is accepted for DM compatibility; dmraft dumps itself.
	MydumperPath string `yaml:"mydumper-path" json:"-"`
}

// UnmarshalYAML fills DM's defaults for the fields the YAML leaves out.
func (m *MydumperConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain MydumperConfig
	p := plain{SkipTzUTC: true}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*m = MydumperConfig(p)
	return nil
}

// ChunkFilesizeBytes returns ChunkFilesize in bytes (0 if it is empty).
func (m *MydumperConfig) ChunkFilesizeBytes() uint64 {
	n, _ := parseSize(m.ChunkFilesize)
	return n
}

func (m *MydumperConfig) validate(p *problems, field string) {
	if m.Threads < 0 {
		p.add(ErrInvalidValue, field+".threads", "a positive number; 0 means 4", "invalid value %d for %q", m.Threads, field+".threads")
	}
	if _, err := parseSize(m.ChunkFilesize); err != nil {
		p.add(ErrInvalidValue, field+".chunk-filesize", "a size in MiB such as 64, or with a unit: 64M, 1G",
			"invalid value %q for %q", m.ChunkFilesize, field+".chunk-filesize")
	}
}

func (m *MydumperConfig) normalize() {
	if m.Threads == 0 {
		m.Threads = DefaultMydumperThreads
	}
	if m.ChunkFilesize == "" {
		m.ChunkFilesize = DefaultChunkFilesize
	}
	if m.Rows == 0 {
		m.Rows = DefaultChunkRows
	}
}

func defaultMydumper() *MydumperConfig {
	m := &MydumperConfig{SkipTzUTC: true}
	m.normalize()
	return m
}

// LoaderConfig is the load unit's config (DM's loaders). The *-physical
// fields, pd-addr and friends are accepted for DM compatibility and unused:
// dmraft loads with SQL.
type LoaderConfig struct {
	PoolSize           int    `yaml:"pool-size" json:"pool-size"`
	Dir                string `yaml:"dir" json:"dir"`
	ImportMode         string `yaml:"import-mode" json:"import-mode"`                   // logical (sql, loader: aliases)
	OnDuplicateLogical string `yaml:"on-duplicate-logical" json:"on-duplicate-logical"` // replace | error | ignore
	// OnDuplicate is DM's deprecated name of OnDuplicateLogical.
	OnDuplicate         string `yaml:"on-duplicate" json:"on-duplicate,omitempty"`
	OnDuplicatePhysical string `yaml:"on-duplicate-physical" json:"-"`
	SortingDirPhysical  string `yaml:"sorting-dir-physical" json:"-"`
	DiskQuotaPhysical   string `yaml:"disk-quota-physical" json:"-"`
	ChecksumPhysical    string `yaml:"checksum-physical" json:"-"`
	Analyze             string `yaml:"analyze" json:"-"`
	RangeConcurrency    int    `yaml:"range-concurrency" json:"-"`
	CompressKVPairs     string `yaml:"compress-kv-pairs" json:"-"`
	PDAddr              string `yaml:"pd-addr" json:"-"`
}

func (l *LoaderConfig) validate(p *problems, field string) {
	if l.PoolSize < 0 {
		p.add(ErrInvalidValue, field+".pool-size", "a positive number; 0 means 16", "invalid value %d for %q", l.PoolSize, field+".pool-size")
	}
	switch strings.ToLower(l.ImportMode) {
	case "", ImportModeLogical, "sql", "loader":
	case importModePhysical:
		p.add(ErrInvalidValue, field+".import-mode", "dmraft loads with SQL: use logical",
			"import-mode %q needs TiDB Lightning and is not supported", l.ImportMode)
	default:
		p.badEnum(field+".import-mode", l.ImportMode, []string{ImportModeLogical, "sql", "loader"})
	}
	dups := []string{OnDuplicateReplace, OnDuplicateError, OnDuplicateIgnore}
	for _, f := range []struct{ name, v string }{{"on-duplicate-logical", l.OnDuplicateLogical}, {"on-duplicate", l.OnDuplicate}} {
		if f.v != "" && !containsFold(dups, f.v) {
			p.badEnum(field+"."+f.name, f.v, dups)
		}
	}
	if l.OnDuplicatePhysical != "" && !containsFold([]string{onDuplicatePhysNone, "manual"}, l.OnDuplicatePhysical) {
		p.badEnum(field+".on-duplicate-physical", l.OnDuplicatePhysical, []string{onDuplicatePhysNone, "manual"})
	}
}

func (l *LoaderConfig) normalize() {
	if l.PoolSize == 0 {
		l.PoolSize = DefaultLoaderPoolSize
	}
	if l.Dir == "" {
		l.Dir = DefaultLoaderDir
	}
	l.ImportMode = ImportModeLogical // sql and loader are DM's old names of it
	if l.OnDuplicateLogical == "" {
		l.OnDuplicateLogical = l.OnDuplicate
	}
	l.OnDuplicateLogical = strings.ToLower(l.OnDuplicateLogical)
	if l.OnDuplicateLogical == "" {
		l.OnDuplicateLogical = OnDuplicateReplace
	}
}

func defaultLoader() *LoaderConfig {
	l := &LoaderConfig{}
	l.normalize()
	return l
}

// SyncerConfig is the sync unit's config (DM's syncers).
type SyncerConfig struct {
	WorkerCount             int    `yaml:"worker-count" json:"worker-count"`
	Batch                   int    `yaml:"batch" json:"batch"`
	QueueSize               int    `yaml:"queue-size" json:"queue-size"`
	CheckpointFlushInterval int    `yaml:"checkpoint-flush-interval" json:"checkpoint-flush-interval"` // seconds
	SafeMode                bool   `yaml:"safe-mode" json:"safe-mode"`
	SafeModeDuration        string `yaml:"safe-mode-duration" json:"safe-mode-duration"` // default 2 x checkpoint-flush-interval
	Compact                 bool   `yaml:"compact" json:"compact"`
	MultipleRows            bool   `yaml:"multiple-rows" json:"multiple-rows"`
	// Deprecated in DM and without effect; accepted so old files still parse.
	EnableANSIQuotes bool   `yaml:"enable-ansi-quotes" json:"-"`
	MetaFile         string `yaml:"meta-file" json:"-"`
	MaxRetry         int    `yaml:"max-retry" json:"-"`
	AutoFixGTID      bool   `yaml:"auto-fix-gtid" json:"-"`
	EnableGTID       bool   `yaml:"enable-gtid" json:"-"`
	DisableDetect    bool   `yaml:"disable-detect" json:"-"`
}

// SafeModeDurationValue returns SafeModeDuration parsed (0 if invalid).
func (s *SyncerConfig) SafeModeDurationValue() time.Duration {
	d, _ := time.ParseDuration(s.SafeModeDuration)
	return d
}

func (s *SyncerConfig) validate(p *problems, field string) {
	for _, f := range []struct {
		name string
		v    int
	}{{"worker-count", s.WorkerCount}, {"batch", s.Batch}, {"queue-size", s.QueueSize}, {"checkpoint-flush-interval", s.CheckpointFlushInterval}} {
		if f.v < 0 {
			p.add(ErrInvalidValue, field+"."+f.name, "a positive number; 0 means the default", "invalid value %d for %q", f.v, field+"."+f.name)
		}
	}
	if s.SafeModeDuration == "" {
		return
	}
	d, err := time.ParseDuration(s.SafeModeDuration)
	switch {
	case err != nil || d < 0:
		p.add(ErrInvalidValue, field+".safe-mode-duration", "a duration such as 60s or 5m",
			"invalid value %q for %q", s.SafeModeDuration, field+".safe-mode-duration")
	case d == 0 && s.SafeMode:
		p.add(ErrInvalidValue, field+".safe-mode-duration", "remove it, or set safe-mode: false",
			"%q is 0 while safe-mode is true", field+".safe-mode-duration")
	}
}

func (s *SyncerConfig) normalize() {
	if s.WorkerCount == 0 {
		s.WorkerCount = DefaultSyncerWorkerCount
	}
	if s.Batch == 0 {
		s.Batch = DefaultSyncerBatch
	}
	if s.QueueSize == 0 {
		s.QueueSize = DefaultSyncerQueueSize
	}
	if s.CheckpointFlushInterval == 0 {
		s.CheckpointFlushInterval = DefaultCheckpointFlushInterval
	}
	if s.SafeModeDuration == "" {
		s.SafeModeDuration = strconv.Itoa(2*s.CheckpointFlushInterval) + "s"
	}
}

func defaultSyncer() *SyncerConfig {
	s := &SyncerConfig{}
	s.normalize()
	return s
}

// parseSize parses a size: a plain number is MiB (DM's chunk-filesize), or
// a number with a unit K, M, G or T (optionally followed by B or iB).
func parseSize(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := uint64(1 << 20)
	if u, ok := strings.CutSuffix(t, "B"); ok {
		t, mult = strings.TrimSuffix(u, "I"), 1
	}
	if i := strings.IndexAny(t, "KMGT"); i >= 0 && i == len(t)-1 {
		mult = map[byte]uint64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}[t[i]]
		t = strings.TrimSpace(t[:i])
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("size %q: %w", s, ErrInvalidValue)
	}
	return n * mult, nil
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}
