package config

import (
	"encoding/json"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultPort is the MySQL port used when a host has none.
const DefaultPort = 3306

// DBConfig is a database connection: source.yaml's `from` and task.yaml's
// `target-database`.
type DBConfig struct {
	Host string `yaml:"host" json:"host"`
	Port int    `yaml:"port" json:"port"`
	User string `yaml:"user" json:"user"`
	// Password is as written in the YAML file: plain text or an Encrypt
	// result. It is never written to JSON; use PlainPassword to connect.
	Password string `yaml:"password" json:"-"`
	// PasswordEncrypted is the password encrypted with the cluster key, set
	// by EncryptPassword; this is the form stored in the FSM.
	PasswordEncrypted string `yaml:"-" json:"password-encrypted,omitempty"`
	// MaxAllowedPacket is deprecated in DM (the driver finds it); kept.
	MaxAllowedPacket *int `yaml:"max-allowed-packet" json:"max-allowed-packet,omitempty"`
	// Session holds session variables set on every connection.
	Session  map[string]string `yaml:"session" json:"session,omitempty"`
	Security *Security         `yaml:"security" json:"security,omitempty"`
}

// Security is the TLS set-up of a connection (file paths or base64 PEM).
type Security struct {
	SSLCA         string   `yaml:"ssl-ca" json:"ssl-ca,omitempty"`
	SSLCert       string   `yaml:"ssl-cert" json:"ssl-cert,omitempty"`
	SSLKey        string   `yaml:"ssl-key" json:"ssl-key,omitempty"`
	CertAllowedCN []string `yaml:"cert-allowed-cn" json:"cert-allowed-cn,omitempty"`
	SSLCABase64   string   `yaml:"ssl-ca-base64" json:"ssl-ca-base64,omitempty"`
	SSLCertBase64 string   `yaml:"ssl-cert-base64" json:"ssl-cert-base64,omitempty"`
	SSLKeyBase64  string   `yaml:"ssl-key-base64" json:"ssl-key-base64,omitempty"`
}

// EncryptPassword moves Password into PasswordEncrypted, encrypted with key
// (kept if it already is), and clears Password.
func (d *DBConfig) EncryptPassword(key Key) error {
	if d.Password == "" {
		return nil
	}
	enc, err := encryptPassword(key, d.Password)
	if err != nil {
		return fmt.Errorf("encrypt password of %s: %w", d.Host, err)
	}
	d.PasswordEncrypted, d.Password = enc, ""
	return nil
}

// PlainPassword returns the password in plain text, for connecting.
func (d *DBConfig) PlainPassword(key Key) (string, error) {
	if d.PasswordEncrypted != "" {
		p, err := Decrypt(key, d.PasswordEncrypted)
		if err != nil {
			return "", fmt.Errorf("password of %s: %w", d.Host, err)
		}
		return p, nil
	}
	return decryptOrPlain(key, d.Password), nil
}

// String prints the connection with its password masked.
func (d DBConfig) String() string {
	return fmt.Sprintf("%s@%s:%d (password %s)", d.User, d.Host, d.Port,
		Mask(d.Password+d.PasswordEncrypted))
}

// GoString masks the password from %#v too.
func (d DBConfig) GoString() string { return "config.DBConfig{" + d.String() + "}" }

func (d *DBConfig) clone() DBConfig {
	c := *d
	if d.MaxAllowedPacket != nil {
		v := *d.MaxAllowedPacket
		c.MaxAllowedPacket = &v
	}
	if d.Session != nil {
		c.Session = make(map[string]string, len(d.Session))
		for k, v := range d.Session {
			c.Session[k] = v
		}
	}
	if d.Security != nil {
		s := *d.Security
		s.CertAllowedCN = append([]string(nil), d.Security.CertAllowedCN...)
		c.Security = &s
	}
	return c
}

// validate checks the connection at field (e.g. "from"); what describes it.
func (d *DBConfig) validate(p *problems, field, what string) {
	if d.Host == "" {
		p.missing(field+".host", "the host name or IP address of "+what)
	}
	if d.User == "" {
		p.missing(field+".user", "the user name to connect to "+what)
	}
	if d.Port < 0 || d.Port > 65535 {
		p.add(ErrInvalidValue, field+".port", "a TCP port between 1 and 65535; default 3306",
			"invalid value %d for %q", d.Port, field+".port")
	}
	if s := d.Security; s != nil && (s.SSLCert == "") != (s.SSLKey == "") {
		p.add(ErrInvalidValue, field+".security", "set both ssl-cert and ssl-key, or neither",
			"%q has only one of ssl-cert and ssl-key", field+".security")
	}
}

func (d *DBConfig) normalize() {
	if d.Port == 0 {
		d.Port = DefaultPort
	}
}

// Duration is a time.Duration written as a string such as "5m" in YAML and
// JSON.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w: want a duration such as 5m", n.Line, ErrInvalidValue)
	}
	if d != nil {
		*d = Duration(v)
	}
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }
