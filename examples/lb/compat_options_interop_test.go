package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// TestInteropMisplacedKeywordWarningsMatchHAProxy: keywords and options
// written in a section without the capability they need are ignored
// with haproxy's warning, word for word (maxconn and option httplog in
// a backend, option http-pretend-keepalive in a frontend...).
func TestInteropMisplacedKeywordWarningsMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	text := `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:1
    option http-pretend-keepalive
    default_backend be
backend be
    maxconn 60000
    option httplog
    option tcplog
    option http-use-proxy-header
    server s 127.0.0.1:2
`
	path := writeFile(t, "misplaced.cfg", text)
	out, _ := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	hap := regexp.MustCompile(`parsing \[[^:]*:(\d+)\] : (.*ignored.*)`)
	var want []string
	for _, m := range hap.FindAllStringSubmatch(string(out), -1) {
		want = append(want, "line "+m[1]+": "+strings.TrimSpace(m[2]))
	}
	cfg, err := config.Parse(config.Source{Name: "misplaced.cfg", Data: []byte(text)})
	require.NoError(t, err)
	lbw := regexp.MustCompile(`^misplaced\.cfg:(\d+): (.*ignored.*)`)
	var got []string
	for _, w := range cfg.Warnings {
		if m := lbw.FindStringSubmatch(w); m != nil {
			got = append(got, "line "+m[1]+": "+m[2])
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "haproxy's warnings, then lb's")
	require.Contains(t, got, "line 11: 'maxconn' ignored because backend 'be' has no frontend capability. Maybe you want 'fullconn' instead ?")
	require.Len(t, got, 5)
}

// TestInteropUseProxyHeaderMatchesHAProxy: with option
// http-use-proxy-header, a proxied request (absolute URI) that
// http-request auth or the stats page stops is answered 407 with
// Proxy-Authenticate; a plain one still 401.
func TestInteropUseProxyHeaderMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend px
    bind 127.0.0.1:%d
    option http-use-proxy-header
    stats enable
    stats uri /st
    stats auth u:p
    http-request auth realm Zone if { path /auth }
    http-request return status 200 content-type text/plain string ok unless { path /st }
frontend plain
    bind 127.0.0.1:%d
    http-request auth realm Zone if { path /auth }
    http-request return status 200 content-type text/plain string ok
`, p[0], p[1]))
		for _, tc := range []struct {
			port   int
			target string
		}{{p[0], "http://example.com/auth"}, {p[0], "/auth"}, {p[0], "http://example.com/st"}, {p[0], "/st"}, {p[0], "http://example.com/open"}, {p[1], "http://example.com/auth"}} {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", tc.port), 5*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", tc.target)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			_ = c.Close()
			if resp.StatusCode == 200 {
				body = body[:min(len(body), 2)] // the stats pages differ
			}
			got = append(got, fmt.Sprintf("%v %s: %s www=%q proxy=%q %q", tc.port == p[0], tc.target, resp.Status,
				resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Proxy-Authenticate"), body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.True(t, strings.HasPrefix(got[0], `true http://example.com/auth: 407 Unauthorized www="" proxy="Basic realm=\"Zone\""`), got[0])
	require.True(t, strings.HasPrefix(got[2], `true http://example.com/st: 407 Unauthorized www="" proxy="Basic realm=\"HAProxy Statistics\""`), got[2])
}

// TestInteropPretendKeepAliveMatchesHAProxy: in close mode a backend
// with option http-pretend-keepalive sends its requests without
// "Connection: close" (and still closes), as haproxy does.
func TestInteropPretendKeepAliveMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	// The server answers with the Connection fields it received.
	srv := serveEach(t, func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		var conn []string
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "connection") {
				conn = append(conn, strings.TrimSpace(v))
			}
		}
		body := strings.Join(conn, ",")
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 3)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:%d
    http-request return status 200
listen pretend
    bind 127.0.0.1:%d
    option httpclose
    option http-pretend-keepalive
    server s %s
listen honest
    bind 127.0.0.1:%d
    option httpclose
    server s %s
`, p[0], p[1], srv, p[2], srv))
		reqs := []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"}
		// lb speaks HTTP/1.1 to servers: an HTTP/1.0 request in close
		// mode says so, haproxy's does not (left out here).
		for i, port := range p[1:] {
			for _, req := range reqs[:len(reqs)-i] {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
				require.NoError(t, err)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = io.WriteString(c, req)
				require.NoError(t, err)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				_ = c.Close()
				got = append(got, fmt.Sprintf("%d %q: server saw %q", i, strings.SplitN(req, "\r\n", 2)[0], body))
			}
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what haproxy's server saw, then lb's")
	require.Equal(t, `0 "GET / HTTP/1.1": server saw ""`, got[0])
	require.Equal(t, `0 "GET / HTTP/1.0": server saw "keep-alive"`, got[2])
	require.Equal(t, `1 "GET / HTTP/1.1": server saw "close"`, got[3])
}

// TestInteropCheckAddrHostNameMatchesHAProxy: a server's "addr" may
// name a host, resolved at start; the health checks go there, under
// haproxy and lb.
func TestInteropCheckAddrHostNameMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string)) string {
		checked := make(chan string, 1)
		chk := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case checked <- r.Method + " " + r.URL.Path:
			default:
			}
		})
		_, port, err := net.SplitHostPort(strings.TrimPrefix(chk, "http://"))
		require.NoError(t, err)
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:%d
    option httpchk GET /chk
    server s 127.0.0.1:%d check inter 100ms addr localhost port %s
`, p[0], p[1], port))
		select {
		case got := <-checked:
			return got
		case <-time.After(5 * time.Second):
			return "no check"
		}
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the check haproxy sent to the host, then lb's")
	require.Equal(t, "GET /chk", got)
}

// TestInteropHTTPCheckWordsMatchHAProxy: "option httpchk GET" checks
// the URI "GET" (with the default method), and a version word other
// than HTTP/1.x is sent as written, by haproxy and lb.
func TestInteropHTTPCheckWordsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string)) (got []string) {
		var lines []chan string
		var srv []string
		for range 2 {
			ch := make(chan string, 1)
			lines = append(lines, ch)
			srv = append(srv, serveEach(t, func(c net.Conn) {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				select {
				case ch <- strings.TrimRight(line, "\r\n"):
				default:
				}
				_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
			}))
		}
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:%d
    http-request return status 200
backend uri
    option httpchk GET
    server s %s check inter 100ms
backend version
    option httpchk HEAD /ping.html pong
    server s %s check inter 100ms
`, p[0], srv[0], srv[1]))
		for _, ch := range lines {
			select {
			case l := <-ch:
				got = append(got, l)
			case <-time.After(5 * time.Second):
				got = append(got, "no check")
			}
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the check lines haproxy sent, then lb's")
	require.Equal(t, []string{"OPTIONS GET HTTP/1.0", "HEAD /ping.html pong"}, got)
}

// TestInteropTimeSuffixWarningsMatchHAProxy: times whose unit is
// followed by more characters ("15min", "10sec") are read with that
// unit, with haproxy 2.6's warning, for timeouts, server and bind
// options, stick tables, rules and global keywords alike.
func TestInteropTimeSuffixWarningsMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	text := `global
    hard-stop-after 1min
defaults
    mode http
    timeout connect 5sec
    timeout client 15min
    timeout server 10msx
    timeout http-request 2hours
frontend fe
    bind 127.0.0.1:1
    tcp-request inspect-delay 3secs
    http-request wait-for-body time 1sec
    default_backend be
backend be
    stick-table type ip size 1k expire 10mins
    cookie S insert maxidle 30mins
    server s 127.0.0.1:2 check inter 2sec fastinter 1secs downinter 3days slowstart 1min
    timeout tunnel 1dx
`
	path := writeFile(t, "times.cfg", text)
	out, _ := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	require.Contains(t, string(out), "Configuration file is valid", "%s", out)
	hap := regexp.MustCompile(`(unexpected character '.' after the timer value '[^']*'.*)`)
	var want []string
	for _, m := range hap.FindAllStringSubmatch(string(out), -1) {
		want = append(want, m[1])
	}
	cfg, err := config.Parse(config.Source{Name: "times.cfg", Data: []byte(text)})
	require.NoError(t, err)
	var got []string
	for _, w := range cfg.Warnings {
		if m := hap.FindStringSubmatch(w); m != nil {
			got = append(got, m[1])
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "haproxy's warnings, then lb's")
	require.Len(t, got, 14)
	require.Equal(t, 15*time.Minute, cfg.Proxy("fe", config.KindFrontend).Timeouts.Client)
}

// TestInteropStatsHTTPRequestRulesMatchHAProxy: "stats http-request"
// rules run before the statistics page: allow serves it, deny answers
// 403, auth asks for credentials in its realm; haproxy and lb answer
// and log alike.
func TestInteropStatsHTTPRequestRulesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string) func() string) (got []string) {
		p := freePorts(t, 1)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
userlist ul
    user u insecure-password p
defaults
    mode http
    log global
    log-format "%%ST %%b/%%s %%HU %%ts"
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen st
    bind 127.0.0.1:%d
    acl priv hdr(x-priv) yes
    acl bad hdr(x-bad) yes
    acl ask hdr(x-ask) yes
    stats enable
    stats uri /st
    stats http-request deny if bad
    stats http-request allow if priv
    stats http-request auth realm Other if ask
    stats http-request auth unless { http_auth(ul) }
`, p[0]))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, tc := range []struct{ hdr, user string }{{"X-None", ""}, {"X-Priv", ""}, {"X-Bad", ""}, {"X-Ask", ""}, {"X-None", "u"}, {"X-Bad", "u"}} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/st", p[0]), nil)
			require.NoError(t, err)
			req.Header.Set(tc.hdr, "yes")
			if tc.user != "" {
				req.SetBasicAuth(tc.user, "p")
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s %s: %d %q", tc.hdr, tc.user, resp.StatusCode, resp.Header.Get("WWW-Authenticate")))
		}
		logs := regexp.MustCompile(`(?m)^\d{3} st/<STATS> /st \w\w$`)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			found := logs.FindAllString(out(), -1)
			if len(found) >= 6 || time.Now().After(deadline) {
				// A line is written once its answer went out: the next
				// request may be logged first. The answers above keep
				// each request's outcome.
				sort.Strings(found)
				return append(got, found...)
			}
		}
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	// haproxy 2.6 logs the answers of these rules (and of stats auth)
	// with status 400; lb logs the status sent, as for stats auth
	// (TestInteropStatsPageMatchesHAProxy).
	for i, l := range want {
		l = strings.Replace(l, "400 st/<STATS> /st LR", "401 st/<STATS> /st LR", 1)
		want[i] = strings.Replace(l, "400 st/<STATS> /st PR", "403 st/<STATS> /st PR", 1)
	}
	require.Equal(t, want, got, "haproxy's answers and log lines, then lb's")
	require.Equal(t, `X-Ask : 401 "Basic realm=\"Other\""`, got[3])
	require.Equal(t, []string{"200 st/<STATS> /st LR", "200 st/<STATS> /st LR", "401 st/<STATS> /st LR", "401 st/<STATS> /st LR",
		"403 st/<STATS> /st PR", "403 st/<STATS> /st PR"}, got[6:])
}

// TestInteropLogASAPHTTPMatchesHAProxy: under option logasap an HTTP
// request's line is written once the server's response head went on,
// its total time and byte count marked '+'; an answer of the proxy's
// own is logged at its end, marked too, as haproxy does. (The early
// count differs: haproxy counts its internal head, lb the bytes sent.)
func TestInteropLogASAPHTTPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := handlerServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello-world") })
	numbers := regexp.MustCompile(`\d+`)
	run := func(start func(text string) func() string) (got []string) {
		p := freePorts(t, 1)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "Ta=%%Ta Tt=%%Tt B=%%B ST=%%ST ts=%%ts %%HU"
    option logasap
    option dontlognull
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen l
    bind 127.0.0.1:%d
    http-request return status 404 if { path /local }
    server s %s
`, p[0], strings.TrimPrefix(srv, "http://")))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, path := range []string{"/a", "/local"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p[0], path))
			require.NoError(t, err)
			_, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		lines := regexp.MustCompile(`(?m)^Ta=.*$`)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			found := lines.FindAllString(out(), -1)
			if len(found) >= 2 || time.Now().After(deadline) {
				for _, l := range found {
					got = append(got, numbers.ReplaceAllString(l, "N"))
				}
				return got
			}
		}
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's log lines, then lb's (numbers as N)")
	require.Equal(t, []string{"Ta=+N Tt=+N B=+N ST=N ts=-- /a", "Ta=+N Tt=+N B=+N ST=N ts=LR /local"}, got)
}
