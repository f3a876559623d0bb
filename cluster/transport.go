package cluster

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

const (
	transportMaxPool = 3
	transportTimeout = 5 * time.Second
)

// newTransport listens on cfg.RaftAddr and returns raft's network transport,
// over TLS if cfg.RaftTLS is set.
func newTransport(cfg *Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	advertise, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft address %s: %w", cfg.RaftAddr, err)
	}
	ln, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on raft address: %w", err)
	}
	var stream raft.StreamLayer = &tcpStreamLayer{Listener: ln, advertise: advertise}
	if cfg.RaftTLS != nil {
		stream = newTLSStreamLayer(ln, advertise, cfg.RaftTLS)
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
		Logger:  logger,
	}), nil
}

// tcpStreamLayer is plain TCP; unlike raft's own it also accepts a listener
// that the caller created.
type tcpStreamLayer struct {
	net.Listener
	advertise net.Addr
}

func (t *tcpStreamLayer) Addr() net.Addr { return t.advertise }

func (t *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}

// tlsStreamLayer is raft's stream layer over TLS. The same tls.Config serves
// both ends: its Certificates (and ClientCAs/ClientAuth) for accepted
// connections, its RootCAs (and Certificates, for mutual TLS) for dialed
// ones. Without a ServerName the dialed host name is verified.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	config    *tls.Config
}

func newTLSStreamLayer(ln net.Listener, advertise net.Addr, config *tls.Config) *tlsStreamLayer {
	return &tlsStreamLayer{Listener: tls.NewListener(ln, config), advertise: advertise, config: config}
}

func (t *tlsStreamLayer) Addr() net.Addr { return t.advertise }

func (t *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conf := t.config.Clone()
	if conf.ServerName == "" {
		host, _, err := net.SplitHostPort(string(address))
		if err != nil {
			return nil, fmt.Errorf("raft peer address %q: %w", address, err)
		}
		conf.ServerName = host
	}
	dialer := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(dialer, "tcp", string(address), conf)
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s over TLS: %w", address, err)
	}
	return conn, nil
}
