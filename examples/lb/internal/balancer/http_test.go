package balancer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// countingListener counts the connections a test server accepts, which
// tells how many server connections lb opened.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// httpBackend is a Go net/http server speaking HTTP/1.1 and clear-text
// HTTP/2 on one port: GET answers its name, POST echoes the body and the
// trailers, /ws upgrades and echoes bytes.
type httpBackend struct {
	name string
	ln   *countingListener
	srv  *http.Server
	last atomic.Pointer[http.Header] // the last request's fields
	path atomic.Pointer[string]
}

func newHTTPBackend(t *testing.T, name string) *httpBackend {
	t.Helper()
	hb := &httpBackend{name: name, ln: &countingListener{Listener: testnet.Listen(t)}}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hb.srv = &http.Server{Protocols: &p, Handler: http.HandlerFunc(hb.serve)}
	go func() { _ = hb.srv.Serve(hb.ln) }()
	t.Cleanup(func() { _ = hb.srv.Close() })
	return hb
}

func (hb *httpBackend) addr() string { return hb.ln.Addr().String() }

func (hb *httpBackend) serve(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	hb.last.Store(&h)
	p := r.URL.RequestURI()
	hb.path.Store(&p)
	switch {
	case r.URL.Path == "/health-bad":
		w.WriteHeader(500)
	case r.URL.Path == "/ws":
		if r.Header.Get("Upgrade") != "websocket" {
			w.WriteHeader(400)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(c, rw)
	case r.Method == http.MethodPost:
		// Go's HTTP/1 server is not full duplex: read the body whole,
		// then answer its size and hash, with its trailers echoed.
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		for k := range r.Trailer {
			w.Header().Add("Trailer", k)
		}
		_, _ = fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		for k, v := range r.Trailer {
			w.Header()[k] = v
		}
	case strings.HasSuffix(r.URL.Path, "/bytes"):
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		_, _ = io.CopyN(w, &patternReader{}, int64(n))
	default:
		w.Header().Set("X-Server", hb.name)
		w.Header().Set("X-Drop", "me")
		_, _ = io.WriteString(w, "hello from "+hb.name+"\n")
	}
}

// patternReader yields the same bytes every time: a body a client can
// check without the server keeping it.
type patternReader struct{ off int }

func (r *patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.off*7 + r.off>>8)
		r.off++
	}
	return len(p), nil
}

// h1Client and h2Client are clients that never share connections
// between tests; h2Client speaks HTTP/2 with prior knowledge.
func h1Client() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true}}
}

func h2Client() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Protocols: &p, DisableCompression: true}}
}

func closeClient(c *http.Client) { c.Transport.(*http.Transport).CloseIdleConnections() }

const httpDefaults = `
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
`

// httpLogDefaults is httpDefaults with httplog lines on stdout.
const httpLogDefaults = `
global
    log stdout format raw local0
` + httpDefaults + `    log global
    option httplog
`

// TestHTTPGateways sends bodies of several sizes with trailers through
// every pairing of HTTP/1 and HTTP/2 on the client and server sides and
// checks they come back intact.
func TestHTTPGateways(t *testing.T) {
	testnet.LeakCheck(t)
	h1b, h2b := newHTTPBackend(t, "h1srv"), newHTTPBackend(t, "h2srv")
	cfg := parseCfg(t, httpDefaults+`
frontend f1
    bind 127.0.0.1:0
    use_backend b2 if { path_beg /to-h2 }
    default_backend b1
frontend f2
    bind 127.0.0.1:0 proto h2
    use_backend b2 if { path_beg /to-h2 }
    default_backend b1
backend b1
    server s %s
backend b2
    server s %s proto h2
`, h1b.addr(), h2b.addr())
	b, _ := startLB(t, cfg)
	sizes := []int{0, 1, 65536 + 7, 3 << 20}
	if !testing.Short() {
		sizes = append(sizes, 100<<20)
	}
	for _, front := range []string{"h1", "h2"} {
		for _, back := range []string{"h1", "h2"} {
			t.Run(front+"-"+back, func(t *testing.T) {
				client, addr := h1Client(), feAddr(t, b, "f1")
				if front == "h2" {
					client, addr = h2Client(), feAddr(t, b, "f2")
				}
				defer closeClient(client)
				path := "/to-h1"
				if back == "h2" {
					path = "/to-h2"
				}
				resp, err := client.Get("http://" + addr + path)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode)
				require.Equal(t, "hello from "+back+"srv\n", string(body))
				require.Equal(t, front == "h2", resp.ProtoMajor == 2)

				for _, n := range sizes {
					if n > 1<<20 && front != back && testing.Short() || n > 64<<20 && front == back {
						continue // 100 MiB through the gateways only, outside -short
					}
					data := make([]byte, n)
					for i := range data {
						data[i] = byte(rand.Uint32())
					}
					req, err := http.NewRequest("POST", "http://"+addr+path, io.NopCloser(bytes.NewReader(data)))
					require.NoError(t, err)
					req.ContentLength = -1 // chunked on HTTP/1, so trailers can go
					req.Trailer = http.Header{"X-Sum": nil}
					sum := sha256.Sum256(data)
					req.Trailer.Set("X-Sum", fmt.Sprintf("%x", sum))
					resp, err := client.Do(req)
					require.NoError(t, err)
					got, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					resp.Body.Close()
					require.Equal(t, 200, resp.StatusCode)
					require.Equal(t, fmt.Sprintf("%d %x", n, sum), string(got), "request body of %d bytes", n)
					require.Equal(t, fmt.Sprintf("%x", sum), resp.Trailer.Get("X-Sum"), "trailer, size %d", n)

					// The same size back, with a length and chunked.
					for _, chunked := range []string{"", "&chunked=1"} {
						resp, err = client.Get(fmt.Sprintf("http://%s%s/bytes?n=%d%s", addr, path, n, chunked))
						require.NoError(t, err)
						h, want := sha256.New(), sha256.New()
						got, err := io.Copy(h, resp.Body)
						require.NoError(t, err)
						resp.Body.Close()
						_, _ = io.CopyN(want, &patternReader{}, int64(n))
						require.Equal(t, int64(n), got, "response body of %d bytes%s", n, chunked)
						require.Equal(t, want.Sum(nil), h.Sum(nil), "response body of %d bytes%s", n, chunked)
					}
				}
			})
		}
	}
	require.NoError(t, b.Close())
}

// TestHTTPRulesAndUseBackend checks header rules both ways, deny, return,
// redirect, set-path, forwardfor and use_backend conditions.
func TestHTTPRulesAndUseBackend(t *testing.T) {
	testnet.LeakCheck(t)
	one, two := newHTTPBackend(t, "one"), newHTTPBackend(t, "two")
	cfg := parseCfg(t, httpDefaults+`
frontend f
    bind 127.0.0.1:0
    option forwardfor
    acl is_api path_beg /api/
    http-request deny if { path_beg /admin }
    http-request deny deny_status 429 if { hdr(x-flood) -m found }
    http-request return status 200 content-type text/plain string "pong\n" if { path /ping }
    http-request redirect location /new code 301 if { path /old }
    http-request redirect prefix /v2 if { path_beg /legacy/ }
    http-request set-header X-Set one
    http-request add-header X-Add a
    http-request add-header X-Add b
    http-request del-header X-Secret
    http-request set-header X-Client %%[src]
    http-request set-path /rewritten if { url_param(rw) yes }
    http-response set-header X-Resp fe
    http-response del-header X-Drop
    use_backend b2 if is_api || { hdr(host) -i -m beg two. }
    use_backend b2 if { method PUT } { path_end .two }
    default_backend b1
backend b1
    server s %s
backend b2
    server s %s
`, one.addr(), two.addr())
	b, _ := startLB(t, cfg)
	addr := "http://" + feAddr(t, b, "f")
	c := h1Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer closeClient(c)
	do := func(method, url string, hdr ...string) (*http.Response, string) {
		req, err := http.NewRequest(method, addr+url, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			if hdr[i] == "Host" {
				req.Host = hdr[i+1]
			} else {
				req.Header.Set(hdr[i], hdr[i+1])
			}
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	tests := []struct {
		name, method, url string
		hdr               []string
		status            int
		body              string
		location          string
	}{
		{"default backend", "GET", "/", nil, 200, "hello from one\n", ""},
		{"named acl", "GET", "/api/x", nil, 200, "hello from two\n", ""},
		{"hdr_beg -i", "GET", "/", []string{"Host", "TWO.example"}, 200, "hello from two\n", ""},
		{"and of two", "PUT", "/x.two", nil, 200, "hello from two\n", ""},
		{"and, one false", "GET", "/x.two", nil, 200, "hello from one\n", ""},
		{"deny", "GET", "/admin/x", nil, 403, "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n", ""},
		{"deny_status", "GET", "/", []string{"X-Flood", "1"}, 429, "", ""},
		{"return", "GET", "/ping", nil, 200, "pong\n", ""},
		{"redirect location", "GET", "/old", nil, 301, "", "/new"},
		{"redirect prefix", "GET", "/legacy/a?b=c", nil, 302, "", "/v2/legacy/a?b=c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(tc.method, tc.url, tc.hdr...)
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.body != "" {
				require.Equal(t, tc.body, body)
			}
			require.Equal(t, tc.location, resp.Header.Get("Location"))
		})
	}

	resp, _ := do("GET", "/?rw=yes", "X-Secret", "s", "X-Add", "z")
	require.Equal(t, 200, resp.StatusCode)
	h := *one.last.Load()
	require.Equal(t, "one", h.Get("X-Set"))
	require.Equal(t, []string{"z", "a", "b"}, h.Values("X-Add"))
	require.Empty(t, h.Values("X-Secret"))
	require.Equal(t, "127.0.0.1", h.Get("X-Client"))
	require.Equal(t, "127.0.0.1", h.Get("X-Forwarded-For"))
	require.Equal(t, "/rewritten?rw=yes", *one.path.Load())
	require.Equal(t, "fe", resp.Header.Get("X-Resp"))
	require.Empty(t, resp.Header.Values("X-Drop"))
	require.Equal(t, "one", resp.Header.Get("X-Server"))
	closeClient(c)
	require.NoError(t, b.Close())
}

// TestHTTPReuse counts the connections the server accepts for ten
// requests: over one client connection, and over ten successive ones
// under each http-reuse policy.
func TestHTTPReuse(t *testing.T) {
	testnet.LeakCheck(t)
	tests := []struct {
		reuse            string
		oneConn, tenConn int64
	}{
		{"safe", 1, 10},
		{"always", 1, 0}, // the first phase's connection serves them all
		{"never", 1, 10},
	}
	for _, tc := range tests {
		t.Run(tc.reuse, func(t *testing.T) {
			srv := newHTTPBackend(t, "s")
			cfg := parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    http-reuse %s
    server s %s
`, tc.reuse, srv.addr())
			b, _ := startLB(t, cfg)
			url := "http://" + feAddr(t, b, "l") + "/"
			c := h1Client()
			for i := 0; i < 10; i++ {
				resp, err := c.Get(url)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			closeClient(c)
			require.Equal(t, tc.oneConn, srv.ln.n.Load(), "one client connection")
			require.Eventually(t, func() bool { return b.Sessions() == 0 }, 5*time.Second, time.Millisecond)
			for i := 0; i < 10; i++ {
				c := h1Client()
				resp, err := c.Get(url)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				closeClient(c)
				// The client's end reaches lb before the next one starts.
				require.Eventually(t, func() bool { return b.Sessions() == 0 }, 5*time.Second, time.Millisecond)
			}
			require.Equal(t, tc.oneConn+tc.tenConn, srv.ln.n.Load(), "ten client connections")
			require.NoError(t, b.Close())
		})
	}
}

// rawExchange writes req on a new connection and returns everything the
// balancer answered until it closed the connection (or 5 s passed).
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	out, _ := io.ReadAll(c)
	return string(out)
}

// TestHTTPSmugglingRefused sends requests that disagree on their length
// and checks each is refused before reaching the server.
func TestHTTPSmugglingRefused(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	addr := feAddr(t, b, "l")
	corpus := []struct {
		name, req string
		status    string
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", "400"},
		{"TE not chunked last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "400"},
		{"xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "400"},
		{"space before colon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nabcd", "400"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "400"},
		{"bare LF in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "400"},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "400"},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"gzip chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"},
		{"signed length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd", "400"},
		{"huge header", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", "431"},
		{"long uri", "GET /" + strings.Repeat("a", 20000) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
	}
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			out := rawExchange(t, addr, tc.req)
			require.True(t, strings.HasPrefix(out, "HTTP/1.1 "+tc.status+" "), "answer: %q", out)
		})
	}
	require.Zero(t, srv.ln.n.Load(), "a refused request reached the server")
	require.NoError(t, b.Close())
}

// TestHTTPRequestTimeout checks that a client sending its head too slowly
// gets 408 and a cR log line, and an idle keep-alive connection is
// closed quietly.
func TestHTTPRequestTimeout(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, logs := startLB(t, parseCfg(t, httpLogDefaults+`
    timeout http-request 300ms
    timeout http-keep-alive 300ms
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	addr := feAddr(t, b, "l")
	out := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n")
	require.True(t, strings.HasPrefix(out, "HTTP/1.1 408 "), "answer: %q", out)
	line := logs.waitLine(t, func(s string) bool { return strings.Contains(s, " 408 ") })
	require.Contains(t, line, " cR-- ")
	require.Contains(t, line, `"<BADREQ>"`)

	// A full request then silence: answered, then closed without 408.
	out = rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	require.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), "answer: %q", out)
	require.Equal(t, 1, strings.Count(out, "HTTP/1.1 "), "answer: %q", out)
	require.NoError(t, b.Close())
}

// TestHTTPLogFormat checks a line against HAProxy's httplog format.
func TestHTTPLogFormat(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, logs := startLB(t, parseCfg(t, httpLogDefaults+`
frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    server web1 %s
`, srv.addr()))
	c := h1Client()
	resp, err := c.Get("http://" + feAddr(t, b, "fe") + "/index.html?a=1")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	closeClient(c)
	line := logs.waitLine(t, func(s string) bool { return strings.Contains(s, "GET") })
	re := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe be/web1 \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- \d+/\d+/\d+/\d+/0 0/0 "GET /index\.html\?a=1 HTTP/1\.1"$`)
	require.Regexp(t, re, line)
	require.NoError(t, b.Close())
}

// TestHTTPWebSocket upgrades through lb and echoes bytes both ways.
func TestHTTPWebSocket(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	c, err := net.Dial("tcp", feAddr(t, b, "l"))
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(status, "HTTP/1.1 101"), status)
	for {
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		if l == "\r\n" {
			break
		}
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("frame %d %s", i, strings.Repeat("x", i*10000))
		_, err = io.WriteString(c, msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(br, got)
		require.NoError(t, err)
		require.Equal(t, msg, string(got))
	}
	_ = c.Close()
	require.NoError(t, b.Close())
}

// TestHTTPCheck takes a server down with option httpchk on a path that
// answers 500, and keeps one up whose path answers 200.
func TestHTTPCheck(t *testing.T) {
	testnet.LeakCheck(t)
	good, bad := newHTTPBackend(t, "good"), newHTTPBackend(t, "bad")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
backend ok
    option httpchk GET /
    http-check expect status 200
    server s %s check inter 50ms rise 1 fall 1
backend ko
    option httpchk GET /health-bad
    server s %s check inter 50ms rise 1 fall 1
`, good.addr(), bad.addr()))
	require.Eventually(t, func() bool { return !b.Backend("ko").Server("s").Up() }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return good.path.Load() != nil }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "/", *good.path.Load())
	require.True(t, b.Backend("ok").Server("s").Up())
	require.NoError(t, b.Close())
}

// curlBin returns curl, skipping the test when it is absent (failing
// under CI=true).
func curlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("curl is required when CI=true: %v", err)
		}
		t.Skip("curl not installed: skipping")
	}
	return p
}

// TestHTTPCurl runs curl over HTTP/1.1 and HTTP/2 with prior knowledge
// through lb to HTTP/1 and HTTP/2 servers.
func TestHTTPCurl(t *testing.T) {
	curl := curlBin(t)
	testnet.LeakCheck(t)
	h1b, h2b := newHTTPBackend(t, "h1srv"), newHTTPBackend(t, "h2srv")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
frontend f1
    bind 127.0.0.1:0
    use_backend b2 if { path_beg /to-h2 }
    default_backend b1
frontend f2
    bind 127.0.0.1:0 proto h2
    use_backend b2 if { path_beg /to-h2 }
    default_backend b1
backend b1
    server s %s
backend b2
    server s %s proto h2
`, h1b.addr(), h2b.addr()))
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	file := t.TempDir() + "/body"
	require.NoError(t, os.WriteFile(file, data, 0o600))
	for _, front := range []struct{ flag, fe, proto string }{{"--http1.1", "f1", "HTTP/1.1"}, {"--http2-prior-knowledge", "f2", "HTTP/2"}} {
		for _, back := range []string{"h1", "h2"} {
			t.Run(front.flag+"-"+back, func(t *testing.T) {
				url := "http://" + feAddr(t, b, front.fe) + "/to-" + back
				out, err := exec.Command(curl, "-sS", "-i", front.flag, url).CombinedOutput()
				require.NoError(t, err, "%s", out)
				require.True(t, strings.HasPrefix(string(out), front.proto+" 200"), "%s", out)
				require.Contains(t, string(out), "hello from "+back+"srv")
				out, err = exec.Command(curl, "-sS", front.flag, "--data-binary", "@"+file, url).Output()
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("%d %x", len(data), sha256.Sum256(data)), string(out))
			})
		}
	}
	require.NoError(t, b.Close())
}

// TestHTTPH2Spec runs h2spec against lb in HTTP mode, clear text (bind
// proto h2) and over TLS (ALPN h2), and curl --http2 over TLS.
func TestHTTPH2Spec(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = home + "/go/bin/h2spec"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("h2spec is required when CI=true: %v", err)
			}
			t.Skip("h2spec not installed: skipping")
		}
	}
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	crt := testcert.SelfSigned(t, "lb.test", "127.0.0.1").WritePEM(t, t.TempDir()+"/lb.pem", testcert.EC)
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
frontend clear
    bind 127.0.0.1:0 proto h2
    default_backend be
frontend tls
    bind 127.0.0.1:0 ssl crt %s alpn h2,http/1.1
    default_backend be
backend be
    server s %s
`, crt, srv.addr()))
	for _, tc := range []struct {
		fe   string
		args []string
	}{{"clear", nil}, {"tls", []string{"-t", "-k"}}} {
		t.Run(tc.fe, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(feAddr(t, b, tc.fe))
			out, err := exec.Command(bin, append([]string{"-h", host, "-p", port, "-o", "5"}, tc.args...)...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Regexp(t, `145 tests, 145 passed, 0 skipped, 0 failed`, string(out))
		})
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-k", "-i", "--http2", "https://"+feAddr(t, b, "tls")+"/").CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.True(t, strings.HasPrefix(string(out), "HTTP/2 200"), "%s", out)
		require.Contains(t, string(out), "hello from s")
	}
	require.NoError(t, b.Close())
}

// TestHTTPConnectionModes checks option httpclose (both sides close after
// each exchange) and option http-server-close (the client connection
// stays, the server connection does not).
func TestHTTPConnectionModes(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		option      string
		clientConns int // connections the client opened for three requests
		serverConns int64
	}{
		{"http-keep-alive", 1, 1},
		{"http-server-close", 1, 3},
		{"httpclose", 3, 3},
	} {
		t.Run(tc.option, func(t *testing.T) {
			srv := newHTTPBackend(t, "s")
			b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    option %s
    server s %s
`, tc.option, srv.addr()))
			var dials atomic.Int64
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}}
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := 0; i < 3; i++ {
				resp, err := c.Get("http://" + feAddr(t, b, "l") + "/")
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				require.Equal(t, tc.option == "httpclose", resp.Close, "Connection: close")
				// Let the server side settle before the next request.
				require.Eventually(t, func() bool { return srv.ln.n.Load() > 0 }, 5*time.Second, time.Millisecond)
			}
			tr.CloseIdleConnections()
			require.Equal(t, int64(tc.clientConns), dials.Load())
			require.Equal(t, tc.serverConns, srv.ln.n.Load())
			require.NoError(t, b.Close())
		})
	}
}

// TestHTTPShutdownClosesIdleConnections checks that a soft stop closes
// keep-alive connections waiting for their next request, HTTP/1 and
// HTTP/2, instead of waiting for their clients.
func TestHTTPShutdownClosesIdleConnections(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, err := Start(context.Background(), parseCfg(t, httpDefaults+`
frontend f1
    bind 127.0.0.1:0
    default_backend be
frontend f2
    bind 127.0.0.1:0 proto h2
    default_backend be
backend be
    server s %s
`, srv.addr()), Options{})
	require.NoError(t, err)
	c1, c2 := h1Client(), h2Client()
	for _, x := range []struct {
		c  *http.Client
		fe string
	}{{c1, "f1"}, {c2, "f2"}} {
		resp, err := x.c.Get("http://" + feAddr(t, b, x.fe) + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	require.Equal(t, 2, b.Sessions(), "both clients keep their connection")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Shutdown(ctx), "idle connections should not hold the stop")
	closeClient(c1)
	closeClient(c2)
}

// TestHTTP2IdleTimeout checks that an HTTP/2 client that sends nothing
// after its preface is sent away once timeout http-keep-alive passes.
func TestHTTP2IdleTimeout(t *testing.T) {
	testnet.LeakCheck(t)
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 100ms
listen l
    bind 127.0.0.1:0 proto h2
    server s %s
`, srv.addr()))
	c, err := net.Dial("tcp", feAddr(t, b, "l"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Read until lb closes: SETTINGS, the ack, then GOAWAY and EOF.
	got, err := io.ReadAll(c)
	require.NoError(t, err, "lb should close the idle connection before the read deadline")
	require.True(t, bytes.Contains(got, []byte{0x07, 0x00}), "a GOAWAY frame (type 7) came first: % x", got)
	require.NoError(t, b.Close())
}

// TestHTTPServerALPNH2 reaches an HTTPS server that speaks HTTP/2 once
// ALPN chose it (server ... ssl alpn h2).
func TestHTTPServerALPNH2(t *testing.T) {
	testnet.LeakCheck(t)
	var proto atomic.Pointer[string]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.Proto
		proto.Store(&p)
		_, _ = io.WriteString(w, "over "+r.Proto+"\n")
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    server s %s ssl verify none alpn h2
`, ts.Listener.Addr().String()))
	c := h1Client()
	resp, err := c.Get("http://" + feAddr(t, b, "l") + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	closeClient(c)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "over HTTP/2.0\n", string(body))
	require.NoError(t, b.Close())
	ts.Close()
}

// HTTP mode retries a failed connect by the same rules as TCP mode: under
// option redispatch, round robin moves the retry to the live server at
// once ("+1"); a lone refusing server is retried after the turn-around
// time, min(1 s, timeout connect), and the client gets a 503.
func TestHTTPRetries(t *testing.T) {
	testnet.LeakCheck(t)
	dead := refusingAddr(t)
	srv := newHTTPBackend(t, "s")
	b, logs := startLB(t, parseCfg(t, httpLogDefaults+`
    retries 2
listen spread
    bind 127.0.0.1:0
    option redispatch
    server a %[1]s
    server b %[2]s
listen alone
    bind 127.0.0.1:0
    timeout connect 200ms
    server a %[1]s
`, dead, srv.addr()))
	c := h1Client()
	defer closeClient(c)
	for _, tc := range []struct {
		fe     string
		status int
		line   string
	}{
		{"spread", 200, `^\S+ \[[^]]+\] spread spread/b \S+ 200 .* \d+/\d+/\d+/\d+/\+1 0/0 "GET / HTTP/1\.1"$`},
		{"alone", 503, `^\S+ \[[^]]+\] alone alone/a \d+/\d+/-1/-1/(\d+) 503 .* SC-- \d+/\d+/\d+/\d+/2 0/0 "GET / HTTP/1\.1"$`},
	} {
		resp, err := c.Get("http://" + feAddr(t, b, tc.fe) + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, tc.fe)
		line := logs.waitLine(t, func(s string) bool { return strings.Contains(s, " "+tc.fe+" ") })
		m := regexp.MustCompile(tc.line).FindStringSubmatch(line)
		require.NotNil(t, m, line)
		if len(m) > 1 {
			tt, err := strconv.Atoi(m[1])
			require.NoError(t, err)
			require.GreaterOrEqual(t, tt, 400, "two turn-arounds of timeout connect: %s", line)
		}
	}
	require.NoError(t, b.Close())
}
