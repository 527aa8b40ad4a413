package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// TestInteropLogFormatSamplesMatchHAProxy logs a TCP session and an HTTP
// request through log-formats made of sample expressions (addresses,
// converters, variables set, empty and never set, quoted and not, tracked
// counters, the HTTP method, status and captured request line), under
// haproxy and lb, and requires the same lines.
func TestInteropLogFormatSamplesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	web := nameServers(t, 1, true)[0]
	cfg := func(tcpPort, httpPort int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen l
    mode tcp
    bind 127.0.0.1:%d
    stick-table type ip size 1k expire 1m store conn_cur,conn_cnt
    tcp-request connection track-sc0 src
    log-format "tcp I=%%[src] Iq=%%{+Q}[src] P=%%[src,ipmask(24)] F=%%[var(sess.nope)] E=%%{+Q}[var(sess.nope)] R=%%[ssl_fc] L=%%[method] N=%%[status] U=%%[capture.req.uri] C=%%[sc0_conn_cur] T=%%[sc0_tracked] X=%%[bool(1)] J=%%[str()] K=%%[int(7),add(3)] end"
    server a %s
listen w
    mode http
    bind 127.0.0.1:%d
    stick-table type ip size 1k expire 1m store http_req_cnt,conn_cur
    http-request track-sc1 src
    http-request set-var(txn.x) str(hello)
    http-request set-var(txn.e) str()
    http-request set-var(txn.n) int(42)
    http-request set-var(txn.q) req.hdr(x-q)
    log-format "http D=%%[var(txn.x)] E=%%{+Q}[var(txn.nope)] F=%%[var(txn.nope)] G=%%{+Q}[var(txn.x)] H=%%[var(txn.n)] Hq=%%{+Q}[var(txn.n)] Iq=%%{+Q}[src] J=%%[var(txn.e)] Jq=%%{+Q}[var(txn.e)] L=%%[method] N=%%[status] S=%%[var(txn.n),add(1)] U=%%[capture.req.uri] V=%%[capture.req.method] W=%%[capture.req.ver] Q=%%{+Q}[var(txn.q)] Q2=%%[var(txn.q)] C=%%[sc1_http_req_cnt]/%%[sc1_conn_cur] R=%%[ssl_fc] end"
    server w %s
`, tcpPort, echo, httpPort, web)
	}
	run := func(start func(text string) func() string) []string {
		ports := freePorts(t, 2)
		out := start(cfg(ports[0], ports[1]))
		// haproxy's readiness probe is tracked too: let it end first.
		time.Sleep(300 * time.Millisecond)
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		require.NoError(t, err)
		roundTrip(t, c, "hello")
		require.NoError(t, c.Close())
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/foo?x=1", ports[1]), nil)
		require.NoError(t, err)
		req.Header.Set("X-Q", `a"b\c d`)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		// haproxy logs its readiness probe as a TCP session too, with the
		// same fields: the distinct lines are compared.
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "tcp ") || strings.HasPrefix(l, "http ") {
					lines = append(lines, l)
				}
			}
			sort.Strings(lines)
			lines = slicesCompact(lines)
			return len(lines) == 2 && strings.HasPrefix(lines[0], "http ")
		}, 10*time.Second, 10*time.Millisecond, "two traffic lines")
		return lines
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, `http D=hello E="" F=- G="hello" H=42 Hq="42" Iq="127.0.0.1" J=- Jq="" L=GET N=200 S=43 U=/foo?x=1 V=GET W=HTTP/1.1 Q="a"b\c d" Q2=a"b\c d C=1/1 R=0 end`, got[0])
	require.Equal(t, `tcp I=127.0.0.1 Iq="127.0.0.1" P=127.0.0.0 F=- E="" R=0 L=- N=- U=- C=1 T=1 X=1 J=- K=10 end`, got[1])
}

// TestInteropLogFormatFetchesMatchHAProxy offers every fetch lb knows to
// a log-format, in mode tcp and in mode http, and requires lb to accept
// exactly those haproxy accepts: a line may not read the request or the
// response themselves.
func TestInteropLogFormatFetchesMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	names := acl.FetchNames()
	// arg gives a fetch whose argument is required one it takes.
	arg := func(name, mode string) string {
		switch {
		case name == "int" || name == "bool":
			return "1"
		case name == "env":
			return "HOME"
		case name == "str":
			return "x"
		case name == "var" && mode == "tcp":
			return "sess.x"
		case name == "var":
			return "txn.x"
		case strings.HasPrefix(name, "sc_"):
			return "0"
		case strings.HasPrefix(name, "http_auth"):
			return "L"
		}
		return "host"
	}
	for _, mode := range []string{"tcp", "http"} {
		t.Run(mode, func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "userlist L\n    user u insecure-password p\ndefaults\n    mode %s\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\nbackend b\n    server s 127.0.0.1:1\n", mode)
			lineOf := map[int]string{}
			line := strings.Count(b.String(), "\n")
			for i, name := range names {
				if name == "http_auth_group" {
					// haproxy 2.6.12 crashes now and then (SIGSEGV) on
					// this one in a log-format; lb refuses it, as it
					// refuses http_auth (checked below).
					continue
				}
				f, ok := acl.LookupFetch(name)
				require.True(t, ok, name)
				expr := name
				if f.Arg == acl.ArgRequired {
					expr += "(" + arg(name, mode) + ")"
				}
				fmt.Fprintf(&b, "frontend f%d\n    bind 127.0.0.1:%d\n    stick-table type ip size 1k\n    log-format \"x=%%[%s]\"\n    default_backend b\n", i, 20000+i, expr)
				lineOf[line+4] = name
				line += 5
			}
			path := writeFile(t, mode+".cfg", b.String())
			refused := func(out string) []string {
				var r []string
				for _, m := range regexp.MustCompile(regexp.QuoteMeta(mode)+`\.cfg:(\d+)[\]:]`).FindAllStringSubmatch(out, -1) {
					n, _ := strconv.Atoi(m[1])
					if name, ok := lineOf[n]; ok {
						r = append(r, name)
					}
				}
				sort.Strings(r)
				return slicesCompact(r)
			}
			// haproxy 2.6.12 crashes now and then (SIGSEGV, a few runs
			// in a hundred) while it reports so many refused formats:
			// its check is run again when it does.
			var hout []byte
			var exit *exec.ExitError
			for try := 0; try < 5; try++ {
				var err error
				hout, err = exec.Command(bin, "-c", "-f", path).CombinedOutput()
				require.ErrorAs(t, err, &exit, "haproxy refuses some of the formats")
				if exit.ExitCode() != -1 {
					break
				}
				t.Logf("haproxy -c crashed (%v); running it again", err)
			}
			require.Equal(t, 1, exit.ExitCode(), "haproxy ended with an error, not a signal: %s", hout)
			var stdout, stderr bytes.Buffer
			require.Equal(t, 1, run([]string{"-c", "-f", path}, &stdout, &stderr))
			want, got := refused(string(hout)), refused(stderr.String())
			require.Contains(t, want, "req.hdr", "haproxy refuses the request's headers: %s", hout)
			require.Contains(t, got, "http_auth")
			require.NotContains(t, want, "src")
			require.Equal(t, want, got, "the fetches haproxy refuses in a log-format, then lb")
			require.False(t, acl.LogUsable("http_auth_group"))
		})
	}
}

// slicesCompact drops repeated neighbours of a sorted slice.
func slicesCompact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
