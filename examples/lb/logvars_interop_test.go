package main

import (
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropLogVariablesMatchHAProxy: the log-format variables of
// sizes, times, URI parts, TLS and numbering (%U, %B, %HP, %HPO, %HQ,
// %T, %Tl, %trl, %Th, %Ti, %Tq, %Td, %Tu, %Tt, %lc, %sslv, %sslc), under
// haproxy and lb, in mode http (plain, TLS, with a PROXY header, kept
// alive) and mode tcp. Byte counts, URI parts, TLS names and line numbers
// must be equal; times must show the waits the clients made.
func TestInteropLogVariablesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "logvars")
	crt := pki.issue("srv.pem", "localhost", []string{"localhost"}, false, false)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello\n")
	}), "http://")
	const httpFmt = `http %{+Q}r U=%U B=%B HP=%HP HPO=%HPO HQ=%HQ QP=%{+Q}HP lc=%lc sslv=%sslv sslc=%sslc T=%T Tl=%Tl trl=%trl Th=%Th Ti=%Ti TR=%TR Tq=%Tq Td=%Td Tu=%Tu Tt=%Tt`
	const tcpFmt = `tcp U=%U B=%B lc=%lc sslv=%sslv T=%T Tl=%Tl Th=%Th Td=%Td Tu=%Tu Tt=%Tt`
	run := func(start func(text string) func() string) []string {
		p := freePorts(t, 4)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    mode http
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d accept-proxy
    bind 127.0.0.1:%d ssl crt %s
    log-format "%s"
    server s %s
listen tcp
    mode tcp
    bind 127.0.0.1:%d
    log-format "%s"
    server s %s
`, p[0], p[1], p[2], crt, httpFmt, web, p[3], tcpFmt, web))
		// logged waits for n lines: %lc numbers a proxy's lines in the
		// order they are written, which a request's line, written as its
		// connection ends, must not race with the next request's.
		logged := func(n int) {
			t.Helper()
			require.Eventually(t, func() bool {
				k := 0
				for _, l := range strings.Split(out(), "\n") {
					if strings.HasPrefix(l, "http ") || strings.HasPrefix(l, "tcp ") {
						k++
					}
				}
				return k >= n
			}, 10*time.Second, 10*time.Millisecond, "%d lines", n)
		}
		send := func(c net.Conn, reqs ...string) {
			t.Helper()
			r := make([]byte, 4096)
			for i, req := range reqs {
				if i > 0 {
					time.Sleep(100 * time.Millisecond) // idle between requests
				}
				_, err := io.WriteString(c, req)
				require.NoError(t, err)
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				// Each answer is read whole before the next request.
				got := ""
				for !strings.HasSuffix(got, "hello\n") {
					// TLS may return the last bytes with the end.
					n, err := c.Read(r)
					got += string(r[:n])
					if err != nil {
						require.True(t, strings.HasSuffix(got, "hello\n"), "answer to %q: %v, so far %q", req, err, got)
					}
				}
			}
			_ = c.Close()
		}
		dial := func(port int) net.Conn {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			return c
		}
		// Plain, with a query, kept alive, then a chunked body.
		send(dial(p[0]), "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		logged(2)
		// A PROXY header 100 ms late: the handshake time.
		c := dial(p[1])
		time.Sleep(100 * time.Millisecond)
		_, err := io.WriteString(c, "PROXY TCP4 10.1.2.3 10.4.5.6 1111 80\r\n")
		require.NoError(t, err)
		send(c, "GET http://x/abs/path?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		logged(3)
		// TLS 1.2 with one suite, which both servers then pick.
		tc, err := stdtls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[2]), &stdtls.Config{InsecureSkipVerify: true,
			MaxVersion: stdtls.VersionTLS12, CipherSuites: []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		require.NoError(t, err)
		send(tc, "GET /tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		logged(4)
		// A head in two parts, 100 ms apart: the request time.
		c = dial(p[0])
		_, err = io.WriteString(c, "GET /split HTTP/1.1\r\n")
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		send(c, "Host: x\r\nConnection: close\r\n\r\n")
		// Mode tcp.
		send(dial(p[3]), "GET /tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "http ") || strings.HasPrefix(l, "tcp ") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 6
		}, 10*time.Second, 10*time.Millisecond, "six lines")
		// The TLS and TCP lines may come in either order.
		sort.Strings(lines)
		return lines
	}
	wantLines := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotLines := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	// Times vary: they are checked apart, against the waits made.
	split := func(lines []string) (fixed []string, times []map[string]int) {
		for _, l := range lines {
			m := map[string]int{}
			var kept []string
			for _, f := range strings.Fields(l) {
				k, v, _ := strings.Cut(f, "=")
				if k == "T" || k == "Tl" || k == "trl" {
					require.Regexp(t, dateRe, v, "%s in %q", k, l)
					// The date takes two words: the offset follows.
					continue
				}
				if n, err := strconv.Atoi(v); err == nil && strings.HasPrefix(k, "T") {
					m[k] = n
					continue
				}
				if offsetRe.MatchString(f) {
					continue
				}
				kept = append(kept, f)
			}
			fixed = append(fixed, strings.Join(kept, " "))
			times = append(times, m)
		}
		return fixed, times
	}
	want, wantTimes := split(wantLines)
	got, gotTimes := split(gotLines)
	require.Equal(t, want, got, "haproxy's lines, then lb's, times left out")
	require.Equal(t, []string{
		`http "GET /a/b?x=1&y=2 HTTP/1.1" U=49 B=110 HP=/a/b HPO=/a/b HQ=?x=1&y=2 QP="/a/b" lc=0 sslv=- sslc=-`,
		`http "GET /split HTTP/1.1" U=43 B=110 HP=/split HPO=/split HQ= QP="/split" lc=4 sslv=- sslc=-`,
		`http "GET /tls HTTP/1.1" U=41 B=110 HP=/tls HPO=/tls HQ= QP="/tls" lc=3 sslv=TLSv1.2 sslc=ECDHE-ECDSA-AES128-GCM-SHA256`,
		`http "GET http://x/abs/path?q HTTP/1.1" U=56 B=110 HP=http://x/abs/path HPO=/abs/path HQ=?q QP="http://x/abs/path" lc=2 sslv=- sslc=-`,
		`http "POST /up HTTP/1.1" U=71 B=110 HP=/up HPO=/up HQ= QP="/up" lc=1 sslv=- sslc=-`,
		`tcp U=49 B=126 lc=0 sslv=-`,
	}, got)
	for i, tm := range gotTimes {
		w := wantTimes[i]
		require.Equal(t, len(w), len(tm), "line %d's times: haproxy %v, lb %v", i, w, tm)
		for k := range w {
			require.Contains(t, tm, k, "line %d", i)
		}
	}
	// The waits: the idle 100 ms before the kept-alive request, the late
	// PROXY header; Tt takes them in, Tu leaves the idle time out.
	for _, tm := range []map[string]int{wantTimes[4], gotTimes[4]} {
		require.GreaterOrEqual(t, tm["Ti"], 90)
		require.GreaterOrEqual(t, tm["Tt"], tm["Ti"])
		require.Less(t, tm["Tu"], tm["Ti"])
		require.Equal(t, tm["Tq"], tm["Th"]+tm["Ti"]+tm["TR"])
	}
	// The request time of a head sent in two parts.
	for _, tm := range []map[string]int{wantTimes[1], gotTimes[1]} {
		require.GreaterOrEqual(t, tm["TR"], 90)
		require.GreaterOrEqual(t, tm["Tt"], tm["TR"])
	}
	for _, tm := range []map[string]int{wantTimes[3], gotTimes[3]} {
		require.GreaterOrEqual(t, tm["Th"], 90)
		require.GreaterOrEqual(t, tm["Tt"], tm["Th"])
	}
}

var (
	dateRe   = regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d$`)
	offsetRe = regexp.MustCompile(`^[+-]\d{4}$`)
)
