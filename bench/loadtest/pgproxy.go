package main

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// roundTripProxy forwards TCP connections to PostgreSQL and counts network
// round trips: each time the server responds after the client has sent
// something. Bytes sent back to back in one direction count once, however
// TCP splits them.
type roundTripProxy struct {
	ln         net.Listener
	upstream   string
	roundTrips atomic.Int64
	wg         sync.WaitGroup
}

// startRoundTripProxy listens on a loopback port and forwards to upstream (host:port).
func startRoundTripProxy(upstream string) (*roundTripProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the round-trip proxy: %w", err)
	}
	p := &roundTripProxy{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// rewrite returns dbURL with its host replaced by the proxy's address.
func (p *roundTripProxy) rewrite(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	u.Host = p.ln.Addr().String()
	return u.String(), nil
}

func (p *roundTripProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(client, server)
	}
}

// pipe copies both ways and counts direction changes toward the client.
func (p *roundTripProxy) pipe(client, server net.Conn) {
	defer p.wg.Done()
	var mu sync.Mutex
	lastFromClient := false
	copyDir := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				if !fromClient && lastFromClient {
					p.roundTrips.Add(1)
				}
				lastFromClient = fromClient
				mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		client.Close()
		server.Close()
	}
	done := make(chan struct{})
	go func() { copyDir(client, server, false); close(done) }()
	copyDir(server, client, true)
	<-done
}

// close stops accepting; open connections end with their peers.
func (p *roundTripProxy) close() {
	p.ln.Close()
}
