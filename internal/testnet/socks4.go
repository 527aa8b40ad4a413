package testnet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SOCKS4Mode is how a [SOCKS4Proxy] answers the requests it reads.
type SOCKS4Mode int32

// The ways a SOCKS4Proxy answers.
const (
	// SOCKS4Grant connects to the address asked for, answers code 90
	// (or 91 when that connect fails) and then relays both ways.
	SOCKS4Grant SOCKS4Mode = iota
	// SOCKS4Reject answers code 91 (0x5B) and closes.
	SOCKS4Reject
	// SOCKS4Close closes without an answer.
	SOCKS4Close
	// SOCKS4Silent answers nothing and keeps the connection open until
	// the peer closes it or the test ends.
	SOCKS4Silent
	// SOCKS4Short answers 3 bytes of a grant, then nothing more, and
	// keeps the connection open as SOCKS4Silent does.
	SOCKS4Short
)

// SOCKS4Proxy is a SOCKS4 proxy on loopback for tests: it records the
// request of every connection (the bytes up to and including the user
// id's NUL) and answers as its mode says.
type SOCKS4Proxy struct {
	// Addr is the address to dial.
	Addr  string
	mode  atomic.Int32
	delay atomic.Int64 // before a grant, in nanoseconds
	mu    sync.Mutex
	reqs  []string
	// ups are the connections to servers, closed when the test ends
	// (done) so that relays waiting on them return.
	ups  map[net.Conn]struct{}
	done bool
}

// StartSOCKS4 starts a SOCKS4 proxy answering as mode says; it stops,
// closing every connection it holds, when the test ends.
func StartSOCKS4(t testing.TB, mode SOCKS4Mode) *SOCKS4Proxy {
	t.Helper()
	p := &SOCKS4Proxy{ups: map[net.Conn]struct{}{}}
	p.mode.Store(int32(mode))
	p.Addr, _ = Peer(t, p.serve)
	// Cleanups run last first: this one before Peer's.
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.done = true
		for c := range p.ups {
			_ = c.Close()
		}
	})
	return p
}

// SetMode changes how the proxy answers the requests to come.
func (p *SOCKS4Proxy) SetMode(m SOCKS4Mode) { p.mode.Store(int32(m)) }

// SetDelay makes the proxy wait d after reading a request before it
// connects to the server and grants it (SOCKS4Grant), as a slow proxy or
// a slow path to the server would.
func (p *SOCKS4Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Requests returns the requests read so far, in the order they came.
func (p *SOCKS4Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}

// WaitRequests waits until the proxy has read n requests or more, for up
// to 10 s, and returns them; it fails the test when they do not come.
func (p *SOCKS4Proxy) WaitRequests(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := p.Requests(); len(r) >= n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("testnet: SOCKS4 proxy read %d requests, want %d", len(p.Requests()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *SOCKS4Proxy) serve(c *net.TCPConn) {
	r := bufio.NewReader(c)
	head := make([]byte, 8)
	if _, err := io.ReadFull(r, head); err != nil {
		return
	}
	user, err := r.ReadString(0)
	if err != nil {
		return
	}
	req := string(head) + user
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
	switch SOCKS4Mode(p.mode.Load()) {
	case SOCKS4Reject:
		_, _ = c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
		return
	case SOCKS4Close:
		return
	case SOCKS4Short:
		_, _ = c.Write([]byte{0, 0x5a, 0})
		fallthrough
	case SOCKS4Silent:
		_, _ = io.Copy(io.Discard, r)
		return
	}
	if d := time.Duration(p.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	ip := netip.AddrFrom4([4]byte(head[4:8]))
	dst := netip.AddrPortFrom(ip, uint16(head[2])<<8|uint16(head[3]))
	up, err := net.DialTimeout("tcp", dst.String(), 5*time.Second)
	if err != nil {
		_, _ = c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.ups[up] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.ups, up)
		p.mu.Unlock()
	}()
	if _, err := c.Write([]byte{0, 0x5a, 0, 0, 0, 0, 0, 0}); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		// Bytes read along with the request go first.
		_, _ = io.Copy(struct{ io.Writer }{up}, r)
		_ = up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{up})
	_ = c.CloseWrite()
	<-done
}

// SOCKS4Request describes a recorded request as "04 01 PORT IP USERID":
// the version and command in hex, then the port, address and user id it
// carries.
func SOCKS4Request(req string) string {
	if len(req) < 9 {
		return fmt.Sprintf("short request %q", req)
	}
	ip := netip.AddrFrom4([4]byte([]byte(req[4:8])))
	port := uint16(req[2])<<8 | uint16(req[3])
	return fmt.Sprintf("%02x %02x %d %s %q", req[0], req[1], port, ip, strings.TrimSuffix(req[8:], "\x00"))
}
