package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dmraft/dmraft/fsm"
)

func singleNodeConfig(t *testing.T, dir string) Config {
	return Config{
		Name: "solo", DataDir: dir, Bootstrap: true,
		Addr: freeAddr(t), RaftAddr: freeAddr(t), GossipAddr: freeAddr(t),
		FenceTimeout: testFence, RebindAfter: testRebind,
		Logger: zerolog.Nop(),
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := singleNodeConfig(t, dir)
	n, err := Open(cfg, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	id := n.ClusterID()
	if id == "" {
		t.Fatal("no cluster id after bootstrap")
	}

	t.Run("data dir in use", func(t *testing.T) {
		other := cfg
		other.Bootstrap = false
		other.RaftAddr, other.GossipAddr = freeAddr(t), freeAddr(t)
		if _, err := Open(other, fsm.New()); err == nil || !strings.Contains(err.Error(), "in use by another process") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("cluster id of another cluster", func(t *testing.T) {
		if err := n.SetClusterID(id); err != nil {
			t.Errorf("same id: %v", err)
		}
		if err := n.SetClusterID("other"); err == nil || !strings.Contains(err.Error(), "belongs to cluster "+id) {
			t.Errorf("got %v", err)
		}
	})
	if err := n.Shutdown(true); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bootstrap on existing state", func(c *Config) {}, "remove --bootstrap to restart with its state, or use an empty --data-dir"},
		{"another node's data dir", func(c *Config) { c.Name, c.Bootstrap = "intruder", false }, `belongs to node "solo"`},
		{"rebind-after too short", func(c *Config) { c.RebindAfter = c.FenceTimeout + 500*time.Millisecond }, "fence-timeout + max(1s, fence-timeout/2)"},
		{"bad gossip key", func(c *Config) { c.GossipKey = []byte("short") }, "16, 24 or 32"},
		{"wildcard raft address", func(c *Config) { c.RaftAddr = "0.0.0.0:1" }, "not a wildcard"},
		{"missing name", func(c *Config) { c.Name = "" }, "name is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.RaftAddr, c.GossipAddr = freeAddr(t), freeAddr(t)
			tc.edit(&c)
			n, err := Open(c, fsm.New())
			if err == nil {
				n.Shutdown(false)
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}

	// Restarting without --bootstrap keeps the cluster id and the state.
	cfg.Bootstrap = false
	n, err = Open(cfg, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(false)
	if n.ClusterID() != id || !n.HasState() {
		t.Errorf("after restart: cluster id %q (want %q), has state %v", n.ClusterID(), id, n.HasState())
	}
	waitFor(t, "the restarted single node leads and is registered", func() error {
		if !n.isReadyLeader() || n.FSM().View().Nodes["solo"] == nil {
			return os.ErrNotExist
		}
		return nil
	})
	for _, f := range []string{raftDBFile, identityFile, "snapshots"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
}

func TestDefaultRebindAfterFollowsFenceTimeout(t *testing.T) {
	c := Config{FenceTimeout: 10 * time.Second}
	c.setDefaults()
	if want := 15 * time.Second; c.RebindAfter != want {
		t.Errorf("RebindAfter = %v, want %v", c.RebindAfter, want)
	}
	c = Config{}
	c.setDefaults()
	if c.FenceTimeout != DefaultFenceTimeout || c.RebindAfter != DefaultRebindAfter {
		t.Errorf("defaults: fence %v, rebind %v", c.FenceTimeout, c.RebindAfter)
	}
}

func TestTLSTransportAndGossipKey(t *testing.T) {
	tlsConf := selfSignedTLS(t)
	key := []byte("0123456789abcdef")
	c := newTestCluster(t, 2, func(cfg *Config) {
		cfg.RaftTLS = tlsConf
		cfg.GossipKey = key
	})
	res := c.createSource("over-tls")
	c.WaitForIndex(res.Index)
	c.waitFor("members alive over encrypted gossip", func() error {
		for _, m := range c.Node(1).Members() {
			if m.State != StateAlive {
				return os.ErrNotExist
			}
		}
		return nil
	})
	// A plain-TCP raft peer cannot talk to a TLS one.
	conn, err := net.DialTimeout("tcp", c.cfgs[0].RaftAddr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	buf := make([]byte, 1)
	if _, err := conn.Read(buf); err == nil && buf[0] != 0x15 { // 0x15: TLS alert
		t.Errorf("plain TCP peer got a non-TLS answer %x", buf)
	}
	conn.Close()
}

// selfSignedTLS returns a mutual-TLS config with a self-signed certificate
// for 127.0.0.1 that is also its own CA.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dmraft test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: cert}},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}
