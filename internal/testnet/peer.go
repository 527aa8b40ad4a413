package testnet

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Peer starts a TCP server on loopback that runs serve on each connection
// in its own goroutine, for a test's far end (a health-checked server, a
// greeter), and closes the connection when serve returns. When the test
// ends it closes the listener and every connection still open, so that a
// handler holding its connection returns, and waits for the handlers. It
// returns the listener's address and the number of handlers running.
func Peer(t testing.TB, serve func(c *net.TCPConn)) (addr string, running *atomic.Int32) {
	t.Helper()
	ln := Listen(t)
	running = new(atomic.Int32)
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
	)
	stop := Accept(ln, func(c net.Conn) {
		defer c.Close()
		mu.Lock()
		if closed {
			mu.Unlock()
			return
		}
		conns[c] = struct{}{}
		mu.Unlock()
		running.Add(1)
		defer func() {
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			running.Add(-1)
		}()
		serve(c.(*net.TCPConn))
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		stop()
	})
	return ln.Addr().String(), running
}

// ClientHello returns the first bytes crypto/tls sends to open a TLS
// connection to serverName ("" for no server name): a TLS record holding
// a ClientHello.
func ClientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	}()
	buf := make([]byte, 16384)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatalf("testnet: reading a ClientHello: %v", err)
	}
	return append([]byte(nil), buf[:n]...)
}
