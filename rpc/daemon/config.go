package daemon

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/dmraft/dmraft/rpc"
)

// Defaults of DESIGN.md.
const (
	DefaultAddr       = "127.0.0.1:8261"
	DefaultRaftAddr   = "127.0.0.1:8291"
	DefaultGossipAddr = "127.0.0.1:8301"
)

// Config is everything one dmnode needs. Field tags name the keys of the
// --config file, which are the flag names.
type Config struct {
	Name       string `yaml:"name"`
	DataDir    string `yaml:"data-dir"`
	Addr       string `yaml:"addr"`
	RaftAddr   string `yaml:"raft-addr"`
	GossipAddr string `yaml:"gossip-addr"`
	Bootstrap  bool   `yaml:"bootstrap"`
	// Join is the admin address of any member to ask for admission; empty
	// when the node bootstraps or restarts with its state.
	Join string `yaml:"join"`

	FenceTimeout       time.Duration `yaml:"fence-timeout"`
	RebindAfter        time.Duration `yaml:"rebind-after"`
	HeartbeatTimeout   time.Duration `yaml:"raft-heartbeat-timeout"`
	ElectionTimeout    time.Duration `yaml:"raft-election-timeout"`
	LeaderLeaseTimeout time.Duration `yaml:"raft-leader-lease-timeout"`

	SSLCA         string `yaml:"ssl-ca"`
	SSLCert       string `yaml:"ssl-cert"`
	SSLKey        string `yaml:"ssl-key"`
	GossipKey     string `yaml:"gossip-key"` // hex, 16/24/32 bytes
	SecretKeyPath string `yaml:"secret-key-path"`

	LogLevel string `yaml:"log-level"`
	LogFile  string `yaml:"log-file"`
}

// TLS returns the mutual TLS files.
func (c *Config) TLS() rpc.TLSFiles { return rpc.TLSFiles{CA: c.SSLCA, Cert: c.SSLCert, Key: c.SSLKey} }

// Validate checks the fields a node cannot start without.
func (c *Config) Validate() error {
	var missing []string
	if c.Name == "" {
		missing = append(missing, "--name")
	}
	if c.DataDir == "" {
		missing = append(missing, "--data-dir")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if c.Bootstrap && c.Join != "" {
		return fmt.Errorf("--bootstrap starts a new cluster and join enters an existing one: use one of them")
	}
	if _, err := c.gossipKey(); err != nil {
		return err
	}
	return nil
}

func (c *Config) gossipKey() ([]byte, error) {
	if c.GossipKey == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(c.GossipKey)
	if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
		return nil, fmt.Errorf("--gossip-key must be 32, 48 or 64 hex characters (a 16, 24 or 32 byte AES key)")
	}
	return key, nil
}
