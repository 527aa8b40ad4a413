package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyServer answers one request per connection by its path and by how
// many times that path came before: a path ending in 503-once answers
// 503 the first time, /s503-always always, /s500 500,
// /close-once closes without an answer the first time, /junk-once
// answers with something that is not HTTP, /slow-once stays silent past
// the proxies' timeout server; every other request, and every later
// attempt, gets 200. always503 makes it answer 503 to everything.
func flakyServer(t *testing.T, always503 bool) string {
	var mu sync.Mutex
	seen := map[string]int{}
	addr, _ := testnet.Peer(t, func(c *net.TCPConn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		mu.Lock()
		seen[req.URL.Path]++
		n := seen[req.URL.Path]
		mu.Unlock()
		status := 200
		switch p := req.URL.Path; {
		case always503 || p == "/s503-always" || strings.HasSuffix(p, "503-once") && n == 1:
			status = 503
		case p == "/s500":
			status = 500
		case p == "/close-once" && n == 1:
			return
		case p == "/junk-once" && n == 1:
			_, _ = io.WriteString(c, "junk\r\n\r\n")
			return
		case p == "/slow-once" && n == 1:
			time.Sleep(600 * time.Millisecond)
			return
		}
		body := fmt.Sprintf("%d\n", status)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
	})
	return addr
}

// TestInteropRetryOnMatchesHAProxy sends requests whose servers answer
// an error status, close without an answer, answer junk or stay silent,
// through haproxy and lb under retry-on: what the client gets, the log
// lines (server, status, termination state, retries and the redispatch
// mark) and the retry statistics must match. A request body goes again
// when it was held whole (it fits a buffer). retry-on without
// conn-failure leaves a refused connect unretried; http-request
// disable-l7-retry turns the retries off for a request.
func TestInteropRetryOnMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	refused := testnet.RefusedAddr(t)
	cfg := func(sock string, ports []int, one, all, bad, good string) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
%s    timeout server 300ms
listen one
    bind 127.0.0.1:%d
    retries 2
    retry-on 503
    server a %s
listen all
    bind 127.0.0.1:%d
    retries 2
    retry-on all-retryable-errors
    http-request disable-l7-retry if { path_beg /nol7 }
    server a %s
listen rd
    bind 127.0.0.1:%d
    retries 1
    retry-on 503
    option redispatch
    balance roundrobin
    server bad %s
    server good %s
listen noconn
    bind 127.0.0.1:%d
    retry-on 503
    server dead %s
listen tcpnone
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    retry-on none
    server dead %s
`, sock, httpLogDefaults, ports[0], one, ports[1], all, ports[2], bad, good, ports[3], refused, ports[4], refused)
	}
	type call struct {
		px   int
		path string
		body int // bytes of a POST body, 0 for a GET
	}
	calls := []call{
		{0, "/s503-once", 0}, {0, "/s503-always", 0}, {0, "/s500", 0}, {0, "/close-once", 0},
		// A body held whole goes again; one larger than a buffer does not.
		{0, "/p503-once", 100}, {0, "/big503-once", 20000},
		{1, "/s503-once", 0}, {1, "/close-once", 0}, {1, "/junk-once", 0}, {1, "/slow-once", 0}, {1, "/nol7-503-once", 0}, {1, "/s500", 0},
		{2, "/a", 0}, {2, "/b", 0}, {2, "/c", 0},
		{3, "/x", 0},
	}
	logLine := regexp.MustCompile(`\] (\S+) (\S+) \S+ (-?\d+) \d+ - - (\S{4}) \d+/\d+/\d+/\d+/(\+?\d+) \d+/\d+ "(\S+ \S+)`)
	statCols := []string{"stot", "wretr", "wredis", "econ", "eresp", "hrsp_2xx", "hrsp_5xx", "req_tot"}
	type result struct {
		seen, lines, stats []string
	}
	run := func(start func(text, sock string) func() string) result {
		ports := freePorts(t, 5)
		sock := filepath.Join(t.TempDir(), "stats.sock")
		out := start(cfg(sock, ports, flakyServer(t, false), flakyServer(t, false), flakyServer(t, true), flakyServer(t, false)), sock)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var res result
		for _, c := range calls {
			url := fmt.Sprintf("http://127.0.0.1:%d%s", ports[c.px], c.path)
			var resp *http.Response
			var err error
			if c.body > 0 {
				resp, err = client.Post(url, "text/plain", strings.NewReader(strings.Repeat("b", c.body)))
			} else {
				resp, err = client.Get(url)
			}
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			// The servers answer "NNN\n"; the proxies' own error pages
			// differ in their text.
			if len(body) > 4 {
				body = []byte("(proxy's page)")
			}
			res.seen = append(res.seen, fmt.Sprintf("%d%s => %d %s", c.px, c.path, resp.StatusCode, strings.TrimSpace(string(body))))
		}
		// In TCP mode too, retry-on without conn-failure tries once.
		c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[4]))
		_, _ = io.ReadAll(c)
		require.Eventually(t, func() bool {
			res.lines = res.lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					res.lines = append(res.lines, strings.Join(m[1:], " "))
				}
			}
			return len(res.lines) == len(calls)
		}, 5*time.Second, 10*time.Millisecond, "%d lines in:\n%s", len(calls), out())
		sort.Strings(res.lines)
		_, rows, order := statTable(t, cliCommand(t, sock, "show stat"))
		for _, key := range order {
			if strings.HasSuffix(key, "/FRONTEND") {
				continue
			}
			var vals []string
			for _, col := range statCols {
				vals = append(vals, col+"="+rows[key][col])
			}
			res.stats = append(res.stats, key+" "+strings.Join(vals, " "))
		}
		return res
	}
	want := run(func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	assert.Equal(t, want.seen, got.seen, "what the client got under haproxy, then lb")
	assert.Equal(t, want.lines, got.lines, "the log lines")
	assert.Equal(t, want.stats, got.stats, "the retry statistics")
	// What the comparison rests on.
	assert.Contains(t, got.seen, "0/s503-once => 200 200")
	assert.Contains(t, got.seen, "1/slow-once => 200 200")
	assert.Contains(t, got.seen, "1/nol7-503-once => 503 503")
	assert.Contains(t, got.seen, "0/p503-once => 200 200")
	assert.Contains(t, got.seen, "0/big503-once => 503 503")
	assert.Contains(t, got.lines, "rd rd/good 200 ---- +1 GET /a")
	assert.Contains(t, got.stats, "tcpnone/dead stot=1 wretr=0 wredis=0 econ=1 eresp=0 hrsp_2xx= hrsp_5xx= req_tot=")
}
