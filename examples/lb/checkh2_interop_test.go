package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

var portRe = regexp.MustCompile(`port=\d+`)

// h2OnlyServer serves HTTP/2 alone on loopback (prior knowledge, or TLS
// when cfg is set, offering h2 only), as gRPC servers do, and records
// each request: protocol, method, path, host and fields.
func h2OnlyServer(t *testing.T, cfg *tls.Config, mu *sync.Mutex, seen *[]string) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var fields []string
		for k, v := range r.Header {
			if k == "Host" {
				// haproxy sends the host both as the authority and as
				// a field, lb as the authority alone (RFC 9113 8.3.1);
				// the server's Host is the same.
				continue
			}
			fields = append(fields, strings.ToLower(k)+"="+portRe.ReplaceAllString(strings.Join(v, ","), "port=P"))
		}
		sort.Strings(fields)
		body := make([]byte, 64)
		n, _ := r.Body.Read(body)
		mu.Lock()
		*seen = append(*seen, fmt.Sprintf("%s %s %s host=%s %v body=%q", r.Proto, r.Method, r.URL, r.Host, fields, body[:n]))
		mu.Unlock()
		status := http.StatusOK
		if r.URL.Path == "/missing" {
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("healthy " + r.Proto + "\n"))
	})
	srv := &http2.Server{}
	addr, _ := testnet.Peer(t, func(c *net.TCPConn) {
		var nc net.Conn = c
		if cfg != nil {
			tc := tls.Server(c, cfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			nc = tc
		}
		srv.ServeConn(nc, &http2.ServeConnOpts{Handler: h})
	})
	return addr
}

// TestInteropHTTP2CheckMatchesHAProxy: HTTP checks speak HTTP/2 where
// haproxy's do (the server's proto h2, with or without a check port;
// check-proto h2; check-alpn h2 over TLS; http-check connect proto h2 or
// alpn h2) and HTTP/1 where they do not (a server's alpn h2 alone, which
// then fails against a server speaking only HTTP/2). The servers must
// see the same requests, the check lines must match, expects included.
func TestInteropHTTP2CheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	serverTLS, _ := testcert.Configs(t, "localhost")
	serverTLS.NextProtos = []string{"h2"}
	run := func(start func(text string) func() string) (lines, seen []string) {
		var mu sync.Mutex
		plain := h2OnlyServer(t, nil, &mu, &seen)
		secure := h2OnlyServer(t, serverTLS, &mu, &seen)
		_, plainPort, _ := net.SplitHostPort(plain)
		port := testnet.FreePorts(t, 1)[0]
		text := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option log-health-checks
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 2s
    default-server inter 1s rise 1 fall 1
backend proto
    option httpchk GET /proto
    server s %[1]s proto h2 check
backend checkproto
    option httpchk HEAD /checkproto
    server s %[1]s check check-proto h2
backend checkport
    option httpchk GET /port
    server s 127.0.0.1:1 proto h2 check port %[3]s
backend alpn_only
    option httpchk GET /alpn
    server s %[2]s ssl verify none alpn h2 check
backend checkalpn
    option httpchk GET /checkalpn
    http-check expect string healthy
    server s %[2]s ssl verify none check check-alpn h2
backend connect_proto
    option httpchk
    http-check connect proto h2
    http-check send meth POST uri /post ver HTTP/1.1 hdr host example.com hdr x-a b body hello
    http-check expect status 200
    server s %[1]s check
backend connect_alpn
    option httpchk
    http-check connect ssl alpn h2
    http-check send meth GET uri /connect-alpn
    server s %[2]s check verify none
backend wrong_status
    option httpchk GET /missing
    server s %[1]s proto h2 check
backend no_match
    option httpchk GET /nomatch
    http-check expect ! string healthy
    server s %[1]s proto h2 check
backend state
    option httpchk GET /state
    http-check send-state
    server s %[1]s proto h2 check
frontend fe
    bind 127.0.0.1:%[4]d
    default_backend proto
`, plain, secure, plainPort, port)
		lines = checkLines(t, start(text), 10, "Health check for ")
		mu.Lock()
		defer mu.Unlock()
		uniq := map[string]bool{}
		for _, s := range seen {
			uniq[s] = true
		}
		seen = seen[:0]
		for s := range uniq {
			seen = append(seen, s)
		}
		sort.Strings(seen)
		return lines, seen
	}
	haLines, haSeen := run(haproxyLogs(t))
	lbLines, lbSeen := run(lbLogs(t))
	assert.Equal(t, haLines, lbLines, "the check lines: haproxy's, then lb's")
	assert.Equal(t, haSeen, lbSeen, "the requests the servers saw: haproxy's, then lb's")
	// What they say, that both could not get wrong alike.
	joined := strings.Join(lbLines, "\n")
	require.Contains(t, joined, "server proto/s succeeded, reason: Layer7 check passed, code: 200")
	require.Contains(t, joined, "server alpn_only/s failed, reason: Layer7 invalid response")
	require.Contains(t, joined, `server no_match/s failed, reason: Layer7 invalid response, info: "HTTP check matched unwanted content"`)
	require.Contains(t, joined, `server wrong_status/s failed, reason: Layer7 wrong status, code: 404`)
	require.Contains(t, strings.Join(lbSeen, "\n"), `HTTP/2.0 POST /post host=example.com`)
}

// TestInteropHTTPCheckInvalidResponseMatchesHAProxy: an answer that is
// no HTTP response (text, binary bytes, nothing, a head cut short, a bad
// status code) fails an HTTP check as haproxy's does: "Layer7 invalid
// response" with nothing more, at once, not at the timeout.
func TestInteropHTTPCheckInvalidResponseMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	answers := []struct {
		name, data string
		close      bool
	}{
		{"text", "garbage\r\n\r\n", true},
		{"binary_open", "\x00\x00\x1e\x04\x00\x00\x00", false},
		{"binary_closed", "\x00\x00\x1e\x04\x00\x00\x00", true},
		{"nothing", "", true},
		{"cut", "HTTP/1.1 200 OK\r\nX: y\r\n", true},
		{"bad_status", "HTTP/1.1 2x0 OK\r\n\r\n", true},
	}
	run := func(start func(text string) func() string) []string {
		var b strings.Builder
		b.WriteString("global\n    log stdout format raw local0\ndefaults\n    mode http\n    log global\n    option log-health-checks\n    option httpchk\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 3s\n    default-server inter 1s rise 1 fall 1\n")
		for _, a := range answers {
			addr := checkPeer(t, func(c *net.TCPConn) {
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				_, _ = c.Write([]byte(a.data))
				if !a.close {
					_, _ = c.Read(buf)
				}
			})
			fmt.Fprintf(&b, "backend %s\n    server s %s check\n", a.name, addr)
		}
		fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend text\n", testnet.FreePorts(t, 1)[0])
		return checkLines(t, start(b.String()), len(answers), "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check lines: haproxy's, then lb's")
	for _, l := range lb {
		assert.Contains(t, l, "reason: Layer7 invalid response, check duration")
	}
}

// TestInteropHTTP2CheckConfigMatchesHAProxy: the check-proto and
// check-alpn server options and the proto and alpn of http-check connect
// are taken or refused as haproxy -c takes or refuses them.
func TestInteropHTTP2CheckConfigMatchesHAProxy(t *testing.T) {
	for _, lines := range []string{
		"    option httpchk\n    server s2 127.0.0.1:3 check check-proto h2\n",
		"    option httpchk\n    server s2 127.0.0.1:3 check check-proto h1\n",
		"    option httpchk\n    server s2 127.0.0.1:3 check check-proto bogus\n",
		"    option httpchk\n    server s2 127.0.0.1:3 check check-proto\n",
		"    option httpchk\n    server s2 127.0.0.1:3 ssl verify none check check-alpn h2,http/1.1\n",
		"    option httpchk\n    server s2 127.0.0.1:3 ssl verify none check check-alpn\n",
		"    option httpchk\n    http-check connect proto h2\n    server s2 127.0.0.1:3 check\n",
		"    option httpchk\n    http-check connect proto bogus\n    server s2 127.0.0.1:3 check\n",
		"    option httpchk\n    http-check connect ssl alpn h2\n    server s2 127.0.0.1:3 check verify none\n",
		"    option httpchk\n    http-check connect alpn\n    server s2 127.0.0.1:3 check\n",
	} {
		t.Run(strings.ReplaceAll(lines, "\n", "|"), func(t *testing.T) {
			checkParity(t, parityBase+"backend chk\n"+lines)
		})
	}
}

// TestInteropTCPCheckConnectALPNMatchesHAProxy: a tcp-check connect's
// alpn is what its TLS handshake offers; a server that writes back the
// protocol agreed on passes the expect only when it was offered.
func TestInteropTCPCheckConnectALPNMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	serverTLS, _ := testcert.Configs(t, "localhost")
	serverTLS.NextProtos = []string{"x-health", "h2"}
	run := func(start func(text string) func() string) []string {
		addr := checkPeer(t, func(c *net.TCPConn) {
			tc := tls.Server(c, serverTLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			_, _ = fmt.Fprintf(tc, "proto=%s\n", tc.ConnectionState().NegotiatedProtocol)
			_ = tc.Close()
		})
		text := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option log-health-checks
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    default-server inter 1s rise 1 fall 1 verify none
backend offered
    option tcp-check
    tcp-check connect ssl alpn x-health
    tcp-check expect string proto=x-health
    server s %[1]s check
backend second
    option tcp-check
    tcp-check connect ssl alpn foo,h2
    tcp-check expect string proto=h2
    server s %[1]s check
backend none
    option tcp-check
    tcp-check connect ssl
    tcp-check expect string proto=x-health
    server s %[1]s check
frontend fe
    bind 127.0.0.1:%[2]d
    default_backend offered
`, addr, testnet.FreePorts(t, 1)[0])
		return checkLines(t, start(text), 3, "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check lines: haproxy's, then lb's")
	joined := strings.Join(lb, "\n")
	require.Contains(t, joined, "server offered/s succeeded")
	require.Contains(t, joined, "server second/s succeeded")
	require.Contains(t, joined, "server none/s failed")
}

// TestInteropHTTPCheckVersionMatchesHAProxy: http-check send takes any
// version word, and the check's request line and connection field are
// the bytes haproxy sends for it (HTTP/x.y from 1.1 up as HTTP/1.1 with
// "connection: close", "HTTP/2" as HTTP/1.1 without, others as written).
func TestInteropHTTPCheckVersionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	versions := []string{"HTTP/2", "HTTP/2.0", "HTTP/1.0", "HTTP/1.1", "HTTP/3", "foo", "HTTP/1.2", "http/1.1", "HTTP/0.9"}
	run := func(start func(text string) func() string) map[string]string {
		var mu sync.Mutex
		seen := map[string]string{}
		var b strings.Builder
		b.WriteString("global\n    log stdout format raw local0\ndefaults\n    mode http\n    log global\n    option log-health-checks\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    default-server inter 1s rise 1 fall 1\n")
		for i, v := range versions {
			name := fmt.Sprintf("v%d", i)
			addr := checkPeer(t, func(c *net.TCPConn) {
				buf := make([]byte, 4096)
				n, _ := c.Read(buf)
				mu.Lock()
				if _, ok := seen[v]; !ok {
					seen[v] = string(buf[:n])
				}
				mu.Unlock()
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"))
			})
			fmt.Fprintf(&b, "backend %s\n    option httpchk\n    http-check send meth GET uri /%s ver %s\n    server s %s check\n", name, name, v, addr)
		}
		fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend v0\n", testnet.FreePorts(t, 1)[0])
		checkLines(t, start(b.String()), len(versions), "Health check for ")
		mu.Lock()
		defer mu.Unlock()
		out := map[string]string{}
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check requests: haproxy's, then lb's")
	require.Equal(t, "GET /v3 HTTP/1.1\r\nconnection: close\r\n\r\n", lb["HTTP/1.1"])
	require.Equal(t, "GET /v5 foo\r\n\r\n", lb["foo"])
}

// TestInteropHTTPCheckExpectHdrMatchesHAProxy: http-check expect hdr and
// fhdr pass and fail as haproxy's do: names without regard to case,
// values as written, hdr on each comma-separated value of every line,
// fhdr on a line's whole value, the str, beg, end, sub and reg methods,
// "!" and the comment; haproxy -c's verdicts on the syntax match too.
func TestInteropHTTPCheckExpectHdrMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	expects := []string{
		"hdr name x-test", "hdr name x-nope", "hdr name X-TEST value two", "hdr name x-test value one",
		`hdr name x-test value "one, two"`, `fhdr name x-test value -m str "one, two"`, "fhdr name x-test value two",
		"hdr name x-test value -m sub hre", "hdr name -m beg x-te", "hdr name -m reg ^x-t.*t$ value -m reg ^t",
		"hdr name x-other value -m end World", "hdr name x-other value world", "! hdr name x-test", "! hdr name x-nope",
		"hdr name x-test value nope comment mycomment", "! hdr name x-test value three",
	}
	run := func(start func(text string) func() string) []string {
		addr := checkPeer(t, func(c *net.TCPConn) {
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Test: one, two\r\nX-Test: three\r\nX-Other: Hello World\r\ncontent-length: 0\r\n\r\n"))
		})
		var b strings.Builder
		b.WriteString("global\n    log stdout format raw local0\ndefaults\n    mode http\n    log global\n    option log-health-checks\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    default-server inter 1s rise 1 fall 1\n")
		for i, e := range expects {
			fmt.Fprintf(&b, "backend e%02d\n    option httpchk\n    http-check expect %s\n    server s %s check\n", i, e, addr)
		}
		fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend e00\n", testnet.FreePorts(t, 1)[0])
		return checkLines(t, start(b.String()), len(expects), "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check lines: haproxy's, then lb's")
	joined := strings.Join(lb, "\n")
	require.Contains(t, joined, "server e00/s succeeded")
	require.Contains(t, joined, `server e14/s failed, reason: Layer7 wrong status, code: 200, info: "OK comment: mycomment"`)
	for _, e := range []string{"hdr", "hdr name", "hdr value x", "hdr name x -m str", "hdr name -m bogus x", "hdr name x value", "hdr name -m reg ( ", "hdr name x extra", "fhdr name x value -m sub y comment c"} {
		t.Run(e, func(t *testing.T) {
			checkParity(t, parityBase+"backend chk\n    option httpchk\n    http-check expect "+e+"\n    server s2 127.0.0.1:3 check\n")
		})
	}
}

// TestInteropHTTPCheckExpectStatusOptionsMatchHAProxy: an expect rule's
// on-success, on-error, ok-status, error-status and tout-status word the
// check's outcome and set its status as haproxy's do: L7OKC a
// conditional pass, the code only for the statuses that carry one,
// on-error in place of the info with the comment after it, tout-status
// on the timeout alone.
func TestInteropHTTPCheckExpectStatusOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	expects := []string{
		`status 200 on-success "all good" comment c1`, `status 503 on-error "my error" comment c2`,
		`status 503 error-status L7OKC on-error "oops"`, "status 503 error-status L6RSP", "status 503 error-status L4CON",
		"status 503 error-status L7RSP", "string nope error-status L7STS", "status 200 ok-status L7OKC",
		`status 200 ok-status L4OK on-success "fine"`, "status 200 ok-status L6OK", `hdr name x-test value two on-error "no two"`,
		"status 200 tout-status L6TOUT", `status 200 tout-status L4TOUT on-error "slow"`, `! string hello on-error "unwanted"`,
	}
	run := func(start func(text string) func() string) []string {
		answer := func(delay time.Duration) string {
			return checkPeer(t, func(c *net.TCPConn) {
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				time.Sleep(delay)
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Test: one\r\ncontent-length: 5\r\n\r\nhello"))
			})
		}
		fast, slow := answer(0), answer(2*time.Second)
		var b strings.Builder
		b.WriteString("global\n    log stdout format raw local0\ndefaults\n    mode http\n    log global\n    option log-health-checks\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n    default-server inter 3s rise 1 fall 1\n")
		for i, e := range expects {
			addr := fast
			if strings.Contains(e, "tout-status") {
				addr = slow
			}
			fmt.Fprintf(&b, "backend e%02d\n    option httpchk\n    http-check expect %s\n    server s %s check\n", i, e, addr)
		}
		fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend e00\n", testnet.FreePorts(t, 1)[0])
		return checkLines(t, start(b.String()), len(expects), "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check lines: haproxy's, then lb's")
	joined := strings.Join(lb, "\n")
	require.Contains(t, joined, `server e02/s conditionally succeeded, reason: Layer7 check conditionally passed, code: 200, info: "oops"`)
	require.Contains(t, joined, `server e08/s succeeded, reason: Layer4 check passed, info: "fine"`)
	for _, e := range []string{"status 200 ok-status L7STS", "status 200 error-status L7OK", "status 200 tout-status L7OK", "status 200 on-error", "status 200 ok-status", "status 200 bogus x"} {
		t.Run(e, func(t *testing.T) {
			checkParity(t, parityBase+"backend chk\n    option httpchk\n    http-check expect "+e+"\n    server s2 127.0.0.1:3 check\n")
		})
	}
}
