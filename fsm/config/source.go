package config

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	pb "github.com/dmraft/dmraft/proto"
)

const sourceFile = "source.yaml"

// MaxSourceIDLength is DM's limit on the length of a source-id.
const MaxSourceIDLength = 32

// Flavors of upstream servers. An empty flavor is detected on connect.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Source is a parsed DM source.yaml: one upstream MySQL or MariaDB server.
type Source struct {
	SourceID        string             `yaml:"source-id" json:"source-id"`
	Enable          bool               `yaml:"enable" json:"enable"` // default true: start its tasks
	Flavor          string             `yaml:"flavor" json:"flavor,omitempty"`
	ServerID        uint32             `yaml:"server-id" json:"server-id,omitempty"` // 0: choose one
	EnableGTID      bool               `yaml:"enable-gtid" json:"enable-gtid"`
	EnableRelay     bool               `yaml:"enable-relay" json:"enable-relay"`
	RelayBinlogName string             `yaml:"relay-binlog-name" json:"relay-binlog-name,omitempty"`
	RelayBinlogGTID string             `yaml:"relay-binlog-gtid" json:"relay-binlog-gtid,omitempty"`
	RelayDir        string             `yaml:"relay-dir" json:"relay-dir,omitempty"`
	CaseSensitive   bool               `yaml:"case-sensitive" json:"case-sensitive"`
	From            DBConfig           `yaml:"from" json:"from"`
	Purge           PurgeConfig        `yaml:"purge" json:"purge"`
	Checker         CheckerConfig      `yaml:"checker" json:"checker"`
	Filters         []*EventFilterRule `yaml:"filters" json:"filters,omitempty"`
	// Charset of the connection; deprecated in DM, kept.
	Charset string `yaml:"charset" json:"charset,omitempty"`
	// Deprecated in DM and without effect; accepted so old files still parse.
	MetaDir     string         `yaml:"meta-dir" json:"-"`
	AutoFixGTID bool           `yaml:"auto-fix-gtid" json:"-"`
	Tracer      map[string]any `yaml:"tracer" json:"-"`

	raw []byte // the submitted YAML, for RawYAMLMasked
}

// PurgeConfig is DM's relay log purge strategy.
type PurgeConfig struct {
	Interval    int64 `yaml:"interval" json:"interval"`         // seconds between checks
	Expires     int64 `yaml:"expires" json:"expires"`           // hours; 0: never by age
	RemainSpace int64 `yaml:"remain-space" json:"remain-space"` // GB
}

// CheckerConfig is DM's automatic resume of paused tasks (backoff).
type CheckerConfig struct {
	CheckEnable     bool     `yaml:"check-enable" json:"check-enable"`
	BackoffRollback Duration `yaml:"backoff-rollback" json:"backoff-rollback"`
	BackoffMax      Duration `yaml:"backoff-max" json:"backoff-max"`
	BackoffMin      Duration `yaml:"backoff-min" json:"backoff-min"`
	CheckInterval   Duration `yaml:"check-interval" json:"check-interval"`
	BackoffJitter   bool     `yaml:"backoff-jitter" json:"backoff-jitter"`
	BackoffFactor   float64  `yaml:"backoff-factor" json:"backoff-factor"`
}

// defaultSource is what a source.yaml that sets nothing means (DM's values).
func defaultSource() Source {
	return Source{
		Enable: true,
		Purge:  PurgeConfig{Interval: 3600, RemainSpace: 15},
		Checker: CheckerConfig{
			CheckEnable:     true,
			BackoffRollback: Duration(5 * time.Minute),
			BackoffMax:      Duration(5 * time.Minute),
			BackoffMin:      Duration(time.Second),
			CheckInterval:   Duration(5 * time.Second),
			BackoffJitter:   true,
			BackoffFactor:   2,
		},
	}
}

// UnmarshalYAML fills DM's defaults for the fields the YAML leaves out.
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	type plain Source
	p := plain(defaultSource())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = Source(p)
	return nil
}

// String describes the source without its password or raw YAML.
func (s Source) String() string { return "source " + s.SourceID + " (" + s.From.String() + ")" }

// GoString hides the password and raw YAML from %#v too.
func (s Source) GoString() string { return "config.Source{" + s.String() + "}" }

// ParseSource parses, validates and normalizes a DM source.yaml. Every
// problem is reported with its field and line; see the Err* sentinels.
func ParseSource(yamlText []byte) (*Source, error) {
	s := defaultSource()
	lines, err := decodeYAML(sourceFile, yamlText, &s)
	if err != nil {
		return nil, err
	}
	p := newProblems(sourceFile, lines)
	s.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	s.normalize()
	s.raw = bytes.Clone(yamlText)
	return &s, nil
}

func (s *Source) validate(p *problems) {
	switch {
	case s.SourceID == "":
		p.missing("source-id", "a unique name for this upstream, e.g. mysql-replica-01")
	case len(s.SourceID) > MaxSourceIDLength:
		p.add(ErrInvalidValue, "source-id", fmt.Sprintf("at most %d characters", MaxSourceIDLength),
			"source-id %q is too long", s.SourceID)
	}
	flavors := []string{FlavorMySQL, FlavorMariaDB}
	if s.Flavor != "" && !containsFold(flavors, s.Flavor) {
		p.badEnum("flavor", s.Flavor, append(flavors, `"" (detect on connect)`))
	}
	if name := s.RelayBinlogName; name != "" {
		base, seq, ok := strings.Cut(name, ".")
		if !ok || base == "" || seq == "" || strings.Trim(seq, "0123456789") != "" {
			p.add(ErrInvalidValue, "relay-binlog-name", "a binlog file name such as mysql-bin.000001",
				"invalid value %q for %q", name, "relay-binlog-name")
		}
	}
	if s.From.Host == "" && s.From.User == "" && p.lineOf("from") == 0 {
		p.missing("from", "the upstream connection: host, port, user, password")
	} else {
		s.From.validate(p, "from", "the upstream MySQL/MariaDB server")
	}
	for i, f := range s.Filters {
		if f == nil {
			p.missing(joinIndex("filters", i), "a filter rule: schema-pattern, table-pattern, events, action")
			continue
		}
		f.validate(p, joinIndex("filters", i))
	}
	if s.Checker.BackoffMax < s.Checker.BackoffMin {
		p.add(ErrInvalidValue, "checker.backoff-max", "make backoff-max at least backoff-min",
			"checker.backoff-max %s is less than checker.backoff-min %s", s.Checker.BackoffMax, s.Checker.BackoffMin)
	}
}

func (s *Source) normalize() {
	s.Flavor = strings.ToLower(s.Flavor)
	s.From.normalize()
	s.AutoFixGTID = false // deprecated in DM, forced off there too
}

// ToProto converts the source to its FSM record: the password encrypted with
// secret (kept if it already is), the YAML kept with the password masked.
func (s *Source) ToProto(secret Key) (*pb.SourceConfig, error) {
	enc := s.From.PasswordEncrypted
	if s.From.Password != "" {
		var err error
		if enc, err = encryptPassword(secret, s.From.Password); err != nil {
			return nil, fmt.Errorf("source %s: %w", s.SourceID, err)
		}
	}
	return &pb.SourceConfig{
		SourceId:          s.SourceID,
		Host:              s.From.Host,
		Port:              int32(s.From.Port),
		User:              s.From.User,
		PasswordEncrypted: enc,
		Flavor:            s.Flavor,
		EnableGtid:        s.EnableGTID,
		ServerId:          s.ServerID,
		EnableRelay:       s.EnableRelay,
		RawYamlMasked:     s.RawYAMLMasked(),
	}, nil
}

// SourceFromProto rebuilds a Source from its FSM record (for the executor):
// it re-parses the masked YAML for the fields the record lacks (filters,
// TLS, checker) and takes the record's fields, the password in
// From.PasswordEncrypted (see DBConfig.PlainPassword).
func SourceFromProto(cfg *pb.SourceConfig) (*Source, error) {
	s := defaultSource()
	if cfg.GetRawYamlMasked() != "" {
		parsed, err := ParseSource([]byte(cfg.GetRawYamlMasked()))
		if err != nil {
			return nil, fmt.Errorf("source %s from record: %w", cfg.GetSourceId(), err)
		}
		s = *parsed
	}
	s.SourceID = cfg.GetSourceId()
	s.From.Host, s.From.Port, s.From.User = cfg.GetHost(), int(cfg.GetPort()), cfg.GetUser()
	s.From.Password, s.From.PasswordEncrypted = "", cfg.GetPasswordEncrypted()
	s.Flavor, s.EnableGTID, s.ServerID, s.EnableRelay = cfg.GetFlavor(), cfg.GetEnableGtid(), cfg.GetServerId(), cfg.GetEnableRelay()
	s.From.normalize()
	return &s, nil
}

// RawYAMLMasked returns the submitted source.yaml with from.password
// replaced by "******", comments and layout kept. A Source not built by
// ParseSource is rendered from its fields instead.
func (s *Source) RawYAMLMasked() string {
	if len(s.raw) > 0 {
		if out, err := maskYAMLPassword(s.raw, "from", "password"); err == nil {
			return out
		}
	}
	c := *s
	c.From = s.From.clone()
	c.From.Password = Mask(s.From.Password + s.From.PasswordEncrypted)
	type plain Source // without UnmarshalYAML, and Duration renders as text
	out, err := yaml.Marshal((*plain)(&c))
	if err != nil {
		return ""
	}
	return string(out)
}
