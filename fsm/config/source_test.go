package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSourceExample(t *testing.T) {
	s, err := ParseSource(readTestdata(t, "source.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"source-id", s.SourceID, "mysql-replica-01"},
		{"enable default", s.Enable, true},
		{"server-id", s.ServerID, uint32(101)},
		{"flavor", s.Flavor, FlavorMySQL},
		{"enable-gtid", s.EnableGTID, true},
		{"host", s.From.Host, "10.0.1.21"},
		{"port", s.From.Port, 3307},
		{"user", s.From.User, "dm_replica"},
		{"password as written", s.From.Password, "S3cr3t-Pa55"},
		{"session", s.From.Session["sql_mode"], ""},
		{"purge expires", s.Purge.Expires, int64(24)},
		{"checker backoff-max", time.Duration(s.Checker.BackoffMax), 10 * time.Minute},
		{"checker backoff-min default", time.Duration(s.Checker.BackoffMin), time.Second},
		{"checker check-enable", s.Checker.CheckEnable, true},
		{"filters", len(s.Filters), 1},
		{"filter events", strings.Join(s.Filters[0].Events, ","), "truncate table,drop table"},
		{"filter action", s.Filters[0].Action, ActionIgnore},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestParseSourceDefaults(t *testing.T) {
	s, err := ParseSource([]byte("source-id: s1\nfrom:\n  host: db1\n  user: root\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.From.Port != 3306 || s.Flavor != "" || !s.Enable || s.From.Password != "" ||
		!s.Checker.CheckEnable || time.Duration(s.Checker.BackoffRollback) != 5*time.Minute ||
		s.Purge.Interval != 3600 || s.Purge.RemainSpace != 15 || s.ServerID != 0 {
		t.Fatalf("defaults not applied: %+v", s)
	}
	s, err = ParseSource([]byte("source-id: s1\nflavor: MariaDB\nfrom: {host: db1, user: root}\n"))
	if err != nil || s.Flavor != FlavorMariaDB {
		t.Fatalf("flavor = %q, %v", s.Flavor, err)
	}
}

const secretPassword = "Sup3r-S3cret!"

func TestParseSourceErrors(t *testing.T) {
	base := "source-id: mysql-01\nfrom:\n  host: db1\n  user: root\n  password: " + secretPassword + "\n"
	tests := []struct {
		name  string
		yaml  string
		want  error
		parts []string // substrings of the message
	}{
		{"malformed yaml", "source-id: a\nfrom:\n  host: [db1\n  password: " + secretPassword + "\n",
			ErrInvalidYAML, []string{"source.yaml", "line"}},
		{"unterminated quote on the password", "source-id: a\nfrom:\n  password: \"" + secretPassword + "\n",
			ErrInvalidYAML, []string{"source.yaml"}},
		{"empty file", "# nothing\n", ErrInvalidYAML, []string{"empty"}},
		{"not a mapping", "- a\n- b\n", ErrInvalidYAML, []string{"top level must be a mapping", "line 1"}},
		{"unknown top-level field", "source-id: mysql-01\nenable-gtid: true\nform:\n  host: db1\n",
			ErrUnknownField, []string{`source.yaml: unknown field "form" at line 3 (did you mean "from"?)`}},
		{"unknown nested field", strings.Replace(base, "password:", "pasword:", 1),
			ErrUnknownField, []string{`unknown field "pasword" in "from" at line 5 (did you mean "password"?)`}},
		{"unknown field without a close name", base + "colour: blue\n",
			ErrUnknownField, []string{`unknown field "colour" at line 6`, "known fields: source-id"}},
		{"underscore instead of dash", base + "enable_gtid: true\n",
			ErrUnknownField, []string{`did you mean "enable-gtid"?`}},
		{"collation_compatible is a task field", base + "collation_compatible: strict\n",
			ErrUnknownField, []string{`"collation_compatible" at line 6`}},
		{"missing source-id", "from:\n  host: db1\n  user: root\n  password: " + secretPassword + "\n",
			ErrMissingField, []string{`missing required field "source-id"`, "mysql-replica-01"}},
		{"missing from", "source-id: a\n", ErrMissingField, []string{`missing required field "from"`}},
		{"missing host", strings.Replace(base, "  host: db1\n", "", 1),
			ErrMissingField, []string{`missing required field "from.host" at line 2`, "host name or IP address"}},
		{"missing user", strings.Replace(base, "  user: root\n", "", 1),
			ErrMissingField, []string{`"from.user" at line 2`}},
		{"bad flavor", base + "flavor: percona\n",
			ErrInvalidValue, []string{`invalid value "percona" for "flavor" at line 6`, "allowed: mysql, mariadb"}},
		{"port is not a number", base + "  port: abc\n",
			ErrInvalidValue, []string{`field "from.port" must be an integer at line 6 (got a string)`}},
		{"port out of range", base + "  port: 70000\n", ErrInvalidValue, []string{`"from.port" at line 6`}},
		{"password is a list", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: [" + secretPassword + "]\n",
			ErrInvalidValue, []string{`field "from.password" must be a single value at line 5 (got a list)`}},
		{"password is a mapping", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: {x: " + secretPassword + "}\n",
			ErrInvalidValue, []string{`"from.password"`, "got a mapping"}},
		{"server-id negative", base + "server-id: -1\n", ErrInvalidValue, []string{`"server-id" must be a non-negative integer`}},
		{"enable-gtid not a bool", base + "enable-gtid: sometimes\n", ErrInvalidValue, []string{"must be true or false"}},
		{"bad duration", base + "checker:\n  backoff-max: soon\n", ErrInvalidValue, []string{`"checker.backoff-max" must be a duration`, "line 7"}},
		{"backoff-max below min", base + "checker:\n  backoff-max: 1s\n  backoff-min: 2s\n", ErrInvalidValue, []string{"backoff-max 1s is less than"}},
		{"bad relay-binlog-name", base + "relay-binlog-name: mysql-bin\n", ErrInvalidValue, []string{`"relay-binlog-name" at line 6`}},
		{"too long source-id", strings.Replace(base, "mysql-01", strings.Repeat("x", 33), 1), ErrInvalidValue, []string{"too long", "at most 32"}},
		{"filter without action", base + "filters:\n  - schema-pattern: db\n    events: [insert]\n",
			ErrMissingField, []string{`"filters[0].action" at line 7`}},
		{"filter bad event", base + "filters:\n  - schema-pattern: db\n    events: [insrt]\n    action: Do\n",
			ErrInvalidValue, []string{`unknown event "insrt"`, `did you mean "insert"?`, "line 8"}},
		{"tls cert without key", base + "  security:\n    ssl-cert: /c.pem\n", ErrInvalidValue, []string{"only one of ssl-cert and ssl-key"}},
		{"duplicate key", base + "source-id: again\n", ErrInvalidYAML, []string{`"source-id" already defined at line 1`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSource([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; parsed %+v", s)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v; want errors.Is %v", err, tc.want)
			}
			for _, part := range tc.parts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("err = %q; want it to contain %q", err, part)
				}
			}
			if strings.Contains(err.Error(), secretPassword) {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
}

func TestParseSourceReportsEveryUnknownField(t *testing.T) {
	_, err := ParseSource([]byte("source-id: a\nfrom:\n  hots: h\n  usr: u\nenable-gtdi: true\n"))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FieldError", err)
	}
	for _, part := range []string{`"hots"`, `"usr"`, `"enable-gtdi"`, "line 3", "line 4", "line 5"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("err = %q, want %q in it", err, part)
		}
	}
	if fe.Line != 3 || fe.Field != "from.hots" {
		t.Errorf("first FieldError = %+v", fe)
	}
}

func TestSourceToProto(t *testing.T) {
	s, err := ParseSource(readTestdata(t, "source.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := s.ToProto(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%v %+v %s %#v", s, *s, *s, *s); strings.Contains(out, "S3cr3t-Pa55") || !strings.Contains(out, "******") {
		t.Fatalf("printing a Source leaks: %s", out)
	}
	if pbs.SourceId != "mysql-replica-01" || pbs.Host != "10.0.1.21" || pbs.Port != 3307 || pbs.User != "dm_replica" ||
		pbs.Flavor != "mysql" || !pbs.EnableGtid || pbs.ServerId != 101 || pbs.EnableRelay {
		t.Fatalf("record = %v", pbs)
	}
	if plain, err := Decrypt(testKey, pbs.PasswordEncrypted); err != nil || plain != "S3cr3t-Pa55" {
		t.Fatalf("password decrypts to %q, %v", plain, err)
	}
	if strings.Contains(pbs.String(), "S3cr3t-Pa55") {
		t.Fatalf("record contains the plain password")
	}
	if !strings.Contains(pbs.RawYamlMasked, "password: '******'   # plain text") ||
		!strings.Contains(pbs.RawYamlMasked, "# MySQL replica that feeds") {
		t.Fatalf("masked YAML lost its layout:\n%s", pbs.RawYamlMasked)
	}

	// An already-encrypted password is kept as written.
	enc, _ := Encrypt(testKey, "S3cr3t-Pa55")
	s2, err := ParseSource([]byte("source-id: a\nfrom:\n  host: h\n  user: u\n  password: " + enc + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pbs2, _ := s2.ToProto(testKey); pbs2.PasswordEncrypted != enc {
		t.Fatalf("encrypted password not kept: %q != %q", pbs2.PasswordEncrypted, enc)
	}

	// The executor rebuilds the full source from the record.
	back, err := SourceFromProto(pbs)
	if err != nil {
		t.Fatal(err)
	}
	if back.SourceID != s.SourceID || back.From.Port != 3307 || len(back.Filters) != 1 ||
		time.Duration(back.Checker.BackoffMax) != 10*time.Minute || back.From.Password != "" {
		t.Fatalf("SourceFromProto = %+v", back)
	}
	if p, err := back.From.PlainPassword(testKey); err != nil || p != "S3cr3t-Pa55" {
		t.Fatalf("PlainPassword = %q, %v", p, err)
	}
}

func TestRawYAMLMasked(t *testing.T) {
	tests := []struct {
		name, yaml string
		inPlace    bool // the rest of the text is kept byte for byte
	}{
		{"plain", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: hunter2x # note\n", true},
		{"single quoted", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: 'hunter2''x'\n", true},
		{"double quoted", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: \"hunter2'x\\t\" # note\n", true},
		{"flow mapping", "source-id: a\nfrom: {host: h, user: u, password: hunter2x}\n", true},
		{"block scalar", "source-id: a\nfrom:\n  host: h\n  user: u\n  password: |-\n    hunter2x\n", false},
		{"anchor", "source-id: a\npw: &pw hunter2x\nfrom:\n  host: h\n  user: u\n  password: *pw\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Source{raw: []byte(tc.yaml)}
			out := s.RawYAMLMasked()
			if strings.Contains(out, "hunter2") {
				t.Fatalf("password not masked:\n%s", out)
			}
			if !strings.Contains(out, "'******'") {
				t.Fatalf("no mask in:\n%s", out)
			}
			if tc.inPlace && len(strings.Split(out, "\n")) != len(strings.Split(tc.yaml, "\n")) {
				t.Fatalf("layout changed:\n%s", out)
			}
			if tc.name == "anchor" {
				return // the anchor field is not part of source.yaml
			}
			back, err := ParseSource([]byte(out))
			if err != nil {
				t.Fatalf("masked YAML does not parse: %v\n%s", err, out)
			}
			if back.From.Password != "******" {
				t.Fatalf("masked password = %q", back.From.Password)
			}
		})
	}
	// A Source built in code is rendered from its fields.
	s := &Source{SourceID: "a", From: DBConfig{Host: "h", User: "u", Password: "hunter2"}}
	if out := s.RawYAMLMasked(); strings.Contains(out, "hunter2") || !strings.Contains(out, "'******'") {
		t.Fatalf("rendered:\n%s", out)
	}
}
