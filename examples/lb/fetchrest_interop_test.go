package main

import (
	"bufio"
	stdtls "crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropRestFetchesMatchHAProxy: bin, the connection error fetches
// of an established plain connection, the task counters (no profiling),
// fcgi.* and internal.strm.is_htx answer as haproxy's.
func TestInteropRestFetchesMatchHAProxy(t *testing.T) {
	var cases []convCase
	for _, e := range []string{"bin(0a1B2c),hex", "bin(41422c43)", "fc_err", "fc_err_str", "ssl_fc_err", "ssl_fc_err_str",
		"cpu_calls", "cpu_ns_avg", "cpu_ns_tot", "lat_ns_avg", "lat_ns_tot", "fcgi.docroot", "fcgi.index", "internal.strm.is_htx"} {
		cases = append(cases, convCase{expr: e})
	}
	want, got := convAnswers(t, cases, "")
	assert.Equal(t, want, got)
	assert.Contains(t, got, "bin(0a1B2c),hex => [0A1B2C]")
	assert.Contains(t, got, "fc_err_str => [Success]")
}

// TestInteropBinRefusedLikeHAProxy: an odd or non-hex bin() argument is
// refused by both.
func TestInteropBinRefusedLikeHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, tc := range []struct{ expr, words string }{
		{"bin(0a1)", "an even number of hex digit is expected"},
		{"bin(zz)", "an hex digit is expected (found 'z')"},
	} {
		text := "defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n" +
			`    http-request return status 200 content-type text/plain lf-string "%[` + tc.expr + `]"` + "\n"
		out, _ := exec.Command(bin, "-c", "-f", writeFile(t, "bin.cfg", text)).CombinedOutput()
		assert.Contains(t, string(out), tc.words)
		assert.Contains(t, lbRefused(t, tc.expr), tc.words)
	}
}

// TestInteropCookieFetchMatchesHAProxy: cookie(NAME) reads the request's
// cookies in request rules and the response's Set-Cookie in response
// rules.
func TestInteropCookieFetchMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(string)) string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request set-header X-Req "[%%[cookie(a)]] [%%[cookie]] [%%[cookie(zz)]] [%%[req.cook]]"
    http-response set-header X-Res "[%%[cookie(a)]] [%%[cookie]] [%%[res.cook]]"
    acl one cookie(a) -m str 1
    http-response set-header X-Acl one if one
    default_backend b
backend b
    server s 127.0.0.1:%d
frontend g
    bind 127.0.0.1:%d
    http-request return status 200 content-type text/plain lf-string "%%[req.hdr(x-req)]" hdr Set-Cookie "a=5; path=/" hdr Set-Cookie "z=9" hdr Set-Cookie "a=7"
`, p[0], p[1], p[1]))
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[0]), nil)
		require.NoError(t, err)
		req.Header.Set("Cookie", "b=3; a=1; a=2")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(body) + " | " + resp.Header.Get("X-Res") + " | " + resp.Header.Get("X-Acl")
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	assert.Equal(t, want, got)
	assert.Equal(t, "[2] [3] [] [3] | [7] [5] [5] | ", got)
}

// TestInteropBackErrFetchesMatchHAProxy: bc_err, bc_err_str, ssl_bc_err
// and ssl_bc_err_str in the log line after a server connection that a
// plain server, a server closing at once, or an unverifiable
// certificate made fail, or that worked, as haproxy logs them.
func TestInteropBackErrFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "be")
	pem := pki.issue("srv.pem", "localhost", []string{"localhost"}, false, false)
	other := newPKI(t, "other")
	cert, err := stdtls.LoadX509KeyPair(pem, pem)
	require.NoError(t, err)
	ln, err := stdtls.Listen("tcp", "127.0.0.1:0", &stdtls.Config{Certificates: []stdtls.Certificate{cert}})
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	// A plain server answering the ClientHello, then waiting for the
	// balancer to give up, so that its bytes and no reset reach the TLS
	// layer.
	plain := serveEach(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err == nil {
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
			_, _ = io.Copy(io.Discard, c)
		}
	})
	web := httpServer(t, "ok")
	closer := serveEach(t, func(c net.Conn) {})
	backends := []string{"plain", "closer", "ok", "okplain", "badcert"}
	run := func(start func(string) func() string) []string {
		p := freePorts(t, 1)
		logs := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    retries 0
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    log-format "LOG %%b bc_err=%%[bc_err] str=%%[bc_err_str] ssl=%%[ssl_bc_err] sstr=%%[ssl_bc_err_str]"
frontend f
    bind 127.0.0.1:%d
    use_backend %%[req.hdr(x-b)]
backend plain
    server s %s ssl verify none
backend closer
    server s %s ssl verify none
backend ok
    server s %s ssl verify none
backend okplain
    server s %s
backend badcert
    server s %s ssl verify required ca-file %s
`, p[0], plain, closer, ln.Addr(), web, ln.Addr(), other.caFile))
		for _, b := range backends {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[0]), nil)
			require.NoError(t, err)
			req.Header.Set("X-B", b)
			resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
			require.NoError(t, err, b)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = nil
			for _, l := range strings.Split(logs(), "\n") {
				// (Not haproxy's line for the connection that
				// found it ready.)
				if strings.HasPrefix(l, "LOG ") && !strings.HasPrefix(l, "LOG f ") {
					lines = append(lines, l)
				}
			}
			return len(lines) >= len(backends)
		}, 10*time.Second, 10*time.Millisecond)
		sort.Strings(lines)
		return lines
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, buf, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
	})
	t.Logf("haproxy: %q", want)
	assert.Equal(t, want, got)
	assert.Contains(t, got, "LOG plain bc_err=34 str=SSL handshake failure ssl=167772427 sstr=error:0A00010B:SSL routines::wrong version number")
}

// TestInteropTLSUniqueMatchesClient: ssl_fc_unique_id is the tls-unique
// the client itself computed (TLS 1.2); under TLS 1.3 haproxy gives the
// Finished message crypto/tls keeps to itself, and lb none; no early
// data and no NPN come from a Go client. haproxy and lb answer alike.
func TestInteropTLSUniqueMatchesClient(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "fe")
	pem := pki.issue("fe.pem", "localhost", []string{"localhost"}, false, false)
	run := func(start func(string), lb bool) []string {
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d ssl crt %s
    http-request return status 200 content-type text/plain lf-string "uid=%%[ssl_fc_unique_id,hex] early=%%[ssl_fc_has_early] npn=%%[ssl_fc_npn]"
`, p[0], pem))
		var out []string
		for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
			c, err := stdtls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]), &stdtls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = c.Close()
			want := ""
			if u := c.ConnectionState().TLSUnique; len(u) > 0 {
				want = strings.ToUpper(hex.EncodeToString(u))
			}
			if v == stdtls.VersionTLS13 && !lb {
				// haproxy gives TLS 1.3's Finished, which crypto/tls
				// keeps: lb has none there.
				require.Len(t, string(body), len("uid= early=0 npn=")+96)
				continue
			}
			require.Equal(t, "uid="+want+" early=0 npn=", string(body))
			out = append(out, string(body)[:min(4, len(body))]+fmt.Sprint(len(body)))
		}
		return out
	}
	want := run(func(text string) { startHAProxyReady(t, text) }, false)
	got := run(func(text string) { startInProcess(t, text) }, true)
	assert.Equal(t, want, got[:1])
}
