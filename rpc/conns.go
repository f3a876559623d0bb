package rpc

import (
	"crypto/tls"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ConnPool keeps one client connection per address.
type ConnPool struct {
	creds credentials.TransportCredentials
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func NewConnPool(clientTLS *tls.Config) *ConnPool {
	return &ConnPool{creds: transportCreds(clientTLS), conns: map[string]*grpc.ClientConn{}}
}

func transportCreds(clientTLS *tls.Config) credentials.TransportCredentials {
	if clientTLS == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(clientTLS)
}

func (p *ConnPool) Get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(p.creds))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	p.conns[addr] = c
	return c, nil
}

func (p *ConnPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, c := range p.conns {
		_ = c.Close()
		delete(p.conns, addr)
	}
}
