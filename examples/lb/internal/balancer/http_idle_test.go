package balancer

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/stretchr/testify/require"
)

// keepAliveClient is one client connection sending requests one at a
// time and reading their answers.
type keepAliveClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func newKeepAliveClient(t *testing.T, c net.Conn) *keepAliveClient {
	t.Cleanup(func() { _ = c.Close() })
	return &keepAliveClient{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes raw bytes of a request.
func (k *keepAliveClient) send(s string) {
	k.t.Helper()
	_, err := io.WriteString(k.c, s)
	require.NoError(k.t, err)
}

// answer reads one response and returns its status and body.
func (k *keepAliveClient) answer() (int, string) {
	k.t.Helper()
	require.NoError(k.t, k.c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(k.br, nil)
	require.NoError(k.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(k.t, err)
	require.NoError(k.t, resp.Body.Close())
	return resp.StatusCode, string(body)
}

func (k *keepAliveClient) get(path string) {
	k.t.Helper()
	k.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
	status, body := k.answer()
	require.Equal(k.t, 200, status)
	require.Equal(k.t, "hello from s\n", body)
}

// closedQuietly checks that lb closes c without sending anything more.
func closedQuietly(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	rest, err := io.ReadAll(c)
	require.NoError(t, err, "closed by lb")
	require.Empty(t, rest)
}

// An HTTP/1 client connection idle for longer than idleHandOff goes on on
// a new goroutine: its next requests are served, a head that straddles
// the hand-off's deadline is served too, and its server connection went
// to the server's list meanwhile (under http-reuse safe the client's next
// request takes it back from there: the server sees one connection).
// Under http-reuse never the connection stays the client's own.
func TestHTTPIdleHandOff(t *testing.T) {
	testnet.LeakCheck(t)
	crt := testcert.SelfSigned(t, "lb.test", "127.0.0.1").WritePEM(t, t.TempDir()+"/lb.pem", testcert.EC)
	for _, tc := range []struct {
		name, reuse string
		tls         bool
	}{
		{"raw, reuse safe", "safe", false},
		{"raw, reuse never", "never", false},
		{"tls, reuse safe", "safe", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHTTPBackend(t, "s")
			bind := "bind 127.0.0.1:0"
			if tc.tls {
				bind += " ssl crt " + crt
			}
			b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 10s
listen l
    %s
    http-reuse %s
    server s %s
`, bind, tc.reuse, srv.addr()))
			c := dialH1(t, feAddr(t, b, "l"), tc.tls)
			k := newKeepAliveClient(t, c)

			// Waiting in the poller: the state, not a count, so that a slow
			// test goroutine cannot miss it.
			parked := func() bool { return xprt.Parked() == 1 }
			k.get("/one")
			require.Eventually(t, parked, 5*time.Second, 5*time.Millisecond)
			k.get("/two")

			// Half a head now, the rest after the hand-off's deadline.
			k.send("GET /three HTTP/1.1\r\n")
			time.Sleep(3 * idleHandOff)
			k.send("Host: a\r\n\r\n")
			status, body := k.answer()
			require.Equal(t, 200, status)
			require.Equal(t, "hello from s\n", body)
			require.Equal(t, "/three", *srv.path.Load())

			require.Eventually(t, parked, 5*time.Second, 5*time.Millisecond)
			require.GreaterOrEqual(t, b.httpHandOffs.Load(), uint64(2))
			k.get("/four")
			require.Equal(t, int64(1), srv.ln.n.Load(), "one server connection, kept or taken back")
			require.Equal(t, 1, b.Sessions())
			require.NoError(t, c.Close())
			require.Eventually(t, func() bool { return b.Sessions() == 0 }, 5*time.Second, time.Millisecond)
			require.NoError(t, b.Close())
		})
	}
}

// The timeouts bound a handed-off connection as before: the keep-alive
// timeout closes it quietly (not before it is due), the request timeout
// answers 408 to a client that never sent its first request, and a soft
// stop closes it without waiting for either.
func TestHTTPIdleHandOffTimeouts(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-request 400ms
    timeout http-keep-alive 400ms
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	addr := feAddr(t, b, "l")

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	k := newKeepAliveClient(t, c)
	k.get("/")
	start := time.Now()
	closedQuietly(t, c)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "not before the keep-alive timeout")
	require.GreaterOrEqual(t, b.httpHandOffs.Load(), uint64(1))

	before := b.httpHandOffs.Load()
	out := rawExchange(t, addr, "")
	require.Contains(t, out, "HTTP/1.1 408 ", "no first request within timeout http-request")
	require.Greater(t, b.httpHandOffs.Load(), before)

	require.NoError(t, b.Close())

	// A soft stop does not wait for a handed-off connection: with a
	// keep-alive timeout far beyond the stop's own bound, Shutdown
	// returns without error only if it closed the connection itself.
	b, _ = startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 60s
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	c, err = net.Dial("tcp", feAddr(t, b, "l"))
	require.NoError(t, err)
	k = newKeepAliveClient(t, c)
	k.get("/")
	require.Eventually(t, func() bool { return b.httpHandOffs.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Shutdown(ctx))
	closedQuietly(t, c)
}

// Closing the balancer ends connections waiting in the idle poller at
// once, and leaves nothing parked and no goroutine behind.
func TestHTTPCloseEndsParkedConnections(t *testing.T) {
	testnet.LeakCheck(t)
	// No sweep: only the sessions' Wake can end the parked waits, whose
	// sockets Close takes out of the poller without an event.
	require.Eventually(t, func() bool { return xprt.Parked() == 0 }, 10*time.Second, 5*time.Millisecond)
	t.Cleanup(idlesweep.Set(time.Hour))
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 1h
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	var clients []*keepAliveClient
	for range 3 {
		c, err := net.Dial("tcp", feAddr(t, b, "l"))
		require.NoError(t, err)
		k := newKeepAliveClient(t, c)
		k.get("/")
		clients = append(clients, k)
	}
	require.Eventually(t, func() bool { return xprt.Parked() == 3 }, 5*time.Second, 5*time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	require.NoError(t, testnet.Signalled(t, closed, "end of Close with clients parked"))
	require.Zero(t, b.Sessions())
	require.Eventually(t, func() bool { return xprt.Parked() == 0 }, 5*time.Second, 5*time.Millisecond)
	for _, k := range clients {
		closedQuietly(t, k.c)
	}
}

// An idle HTTP/2 client holds no accept goroutine; closing the balancer
// still ends its connection and its session, leaving nothing behind.
func TestHTTP2CloseEndsIdleConnections(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 60s
listen l
    bind 127.0.0.1:0 proto h2
    server s %s
`, srv.addr()))
	c := h2Client()
	defer closeClient(c)
	for range 3 {
		resp, err := c.Get("http://" + feAddr(t, b, "l") + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, 2, resp.ProtoMajor)
	}
	require.Equal(t, 1, b.Sessions())
	require.NoError(t, b.Close())
	require.Zero(t, b.Sessions())
}

// A request after an idle hand-off, which let go of the front mux's
// per-request state, is served as the first was: the rules see the
// client's address and TLS state, the server gets the headers, the
// answer keeps the connection alive, the log line names the client, and
// the connection is tracked once, for as long as it lives.
func TestHTTPIdleHandOffRebuildsRequestState(t *testing.T) {
	testnet.LeakCheck(t)
	crt := testcert.SelfSigned(t, "lb.test", "127.0.0.1").WritePEM(t, t.TempDir()+"/lb.pem", testcert.EC)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"raw", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHTTPBackend(t, "s")
			bind := "bind 127.0.0.1:0"
			if tc.tls {
				bind += " ssl crt " + crt
			}
			b, logs := startLB(t, parseCfg(t, httpLogDefaults+`
    timeout http-keep-alive 10s
listen l
    %s
    option forwardfor
    stick-table type ip size 10 expire 30s store conn_cur,conn_cnt,sess_cnt
    tcp-request connection track-sc0 src
    http-request set-header X-Client %%[src]
    http-request set-header X-TLS %%[ssl_fc]
    http-response set-header X-Resp yes
    server s %s
`, bind, srv.addr()))
			c := dialH1(t, feAddr(t, b, "l"), tc.tls)
			k := newKeepAliveClient(t, c)
			client := c.LocalAddr().String()
			wantTLS := map[bool]string{false: "0", true: "1"}[tc.tls]

			for i, path := range []string{"/one?a=1", "/two?b=2"} {
				if i > 0 {
					require.Eventually(t, func() bool { return xprt.Parked() == 1 }, 5*time.Second, 5*time.Millisecond)
					require.Equal(t, uint64(i), b.httpHandOffs.Load())
				}
				k.send("GET " + path + " HTTP/1.1\r\nHost: a\r\nX-Req: " + path + "\r\n\r\n")
				require.NoError(t, k.c.SetReadDeadline(time.Now().Add(10*time.Second)))
				resp, err := http.ReadResponse(k.br, nil)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, 200, resp.StatusCode)
				require.Equal(t, "hello from s\n", string(body))
				require.False(t, resp.Close, "kept alive")
				require.Equal(t, "yes", resp.Header.Get("X-Resp"))
				require.Equal(t, path, *srv.path.Load())
				h := *srv.last.Load()
				require.Equal(t, path, h.Get("X-Req"))
				require.Equal(t, "127.0.0.1", h.Get("X-Client"))
				require.Equal(t, "127.0.0.1", h.Get("X-Forwarded-For"))
				require.Equal(t, wantTLS, h.Get("X-TLS"))
				line := logs.waitLine(t, func(s string) bool { return strings.Contains(s, `"GET `+path+` HTTP/1.1"`) })
				require.True(t, strings.HasPrefix(line, client+" ["), "log line %q names the client %s", line, client)
				fe := " l l/s "
				if tc.tls {
					fe = " l~ l/s " // as HAProxy marks a TLS frontend
				}
				require.Contains(t, line, fe)
				require.Contains(t, line, " 200 ")
			}
			require.Equal(t, int64(1), srv.ln.n.Load(), "one server connection")
			require.Eventually(t, func() bool { return xprt.Parked() == 1 }, 5*time.Second, 5*time.Millisecond)
			out := b.RunCommand("admin", "show table l")
			require.Regexp(t, `key=127\.0\.0\.1 use=1 exp=\d+ conn_cnt=1 conn_cur=1 sess_cnt=1\n`, out)
			require.NoError(t, c.Close())
			require.Eventually(t, func() bool {
				return strings.Contains(b.RunCommand("admin", "show table l"), " conn_cur=0 ")
			}, 5*time.Second, 10*time.Millisecond)
			require.Eventually(t, func() bool { return b.Sessions() == 0 }, 5*time.Second, time.Millisecond)
			require.NoError(t, b.Close())
		})
	}
}

// An idle HTTP/1 client keeps its httpFront as long as it waits: what
// only HTTP/2 or TLS needs stays out of it, for it to fit the 144-byte
// size class.
func TestIdleHTTPFrontSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes for 64-bit platforms")
	}
	require.LessOrEqual(t, unsafe.Sizeof(httpFront{}), uintptr(144))
}

// dialH1 connects to an HTTP/1.1 frontend at addr, over TLS when
// useTLS says so.
func dialH1(t *testing.T, addr string, useTLS bool) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	return c
}
