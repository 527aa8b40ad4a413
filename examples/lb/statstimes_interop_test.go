package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The server side's hold times in TestInteropStatsTimesMatchHAProxy.
const (
	slowAnswer = 150 * time.Millisecond // an HTTP response head's delay
	tcpHold    = 100 * time.Millisecond // a TCP server's delay before its echo
)

// TestInteropStatsTimesMatchHAProxy runs traffic that queues, waits for
// answers, reuses connections and compresses under haproxy and lb, and
// compares the columns those fill: connect, reuse, lbtot (a connection
// the backend's queue hands on is not balanced) and the compression
// counts, equal; the time averages and maximums (qtime,
// ctime, rtime, ttime), against the delays the servers impose, which
// bound them from below under both.
func TestInteropStatsTimesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	text := strings.Repeat("hello, statistics; ", 500) // 10,000 compressible bytes
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(slowAnswer)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(text)))
		_, _ = io.WriteString(w, text)
	})
	echo := checkPeer(t, func(c *net.TCPConn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			time.Sleep(tcpHold)
			_, _ = io.WriteString(c, line)
		}
	})
	type rows = map[string]map[string]string
	run := func(start func(text, sock string)) rows {
		ports := freePorts(t, 4)
		sock := filepath.Join(t.TempDir(), "stats.sock")
		start(fmt.Sprintf(`global
    stats socket %s level admin
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen slow
    mode http
    bind 127.0.0.1:%d
    server s1 %s maxconn 1
listen web
    mode http
    bind 127.0.0.1:%d
    compression algo gzip
    compression type text/plain
    server w1 %s
listen plain
    mode http
    bind 127.0.0.1:%d
    compression algo identity
    server p1 %s
listen tcp
    mode tcp
    bind 127.0.0.1:%d
    server t1 %s maxconn 1
`, sock, ports[0], web, ports[1], web, ports[2], web, ports[3], echo), sock)
		get := func(client *http.Client, port int, path, enc string) {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
		}
		closing := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
		// Three at once on a server that takes one: two wait.
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { get(closing, ports[0], "/slow", "identity") })
		}
		wg.Wait()
		// Four requests on one kept client connection, compressed.
		kept := &http.Transport{DisableCompression: true, MaxConnsPerHost: 1}
		for range 4 {
			get(&http.Client{Transport: kept}, ports[1], "/", "gzip")
		}
		kept.CloseIdleConnections()
		// identity: the body passes the compressor by.
		for range 2 {
			get(closing, ports[2], "/", "")
		}
		// Two TCP sessions at once on a server that takes one.
		for range 2 {
			wg.Go(func() {
				c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[3]))
				_, err := io.WriteString(c, "ping\n")
				if assert.NoError(t, err) {
					line, err := bufio.NewReader(c).ReadString('\n')
					assert.NoError(t, err)
					assert.Equal(t, "ping\n", line)
				}
				_ = c.Close()
			})
		}
		wg.Wait()
		var got rows
		ok := assert.Eventually(t, func() bool {
			_, got, _ = statTable(t, cliCommand(t, sock, "show stat"))
			for _, px := range []string{"slow", "web", "plain", "tcp"} {
				if got[px+"/FRONTEND"]["scur"] != "0" || got[px+"/BACKEND"]["scur"] != "0" {
					return false
				}
			}
			return true
		}, 10*time.Second, 20*time.Millisecond)
		require.True(t, ok, "sessions ended")
		return got
	}
	want := run(func(text, sock string) { startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) { startInProcess(t, text) })

	for _, key := range []string{"slow/BACKEND", "slow/s1", "web/BACKEND", "web/w1", "plain/BACKEND", "plain/p1", "tcp/BACKEND", "tcp/t1"} {
		for _, col := range []string{"connect", "reuse", "lbtot"} {
			assert.Equal(t, want[key][col], got[key][col], "%s %s", key, col)
		}
	}
	for _, key := range []string{"web/FRONTEND", "web/BACKEND", "plain/FRONTEND", "plain/BACKEND", "slow/FRONTEND"} {
		for _, col := range []string{"comp_in", "comp_byp", "comp_rsp"} {
			assert.Equal(t, want[key][col], got[key][col], "%s %s", key, col)
		}
	}
	num := func(r rows, key, col string) int {
		n, err := strconv.Atoi(r[key][col])
		require.NoError(t, err, "%s %s: %q", key, col, r[key][col])
		return n
	}
	slowMs, holdMs := int(slowAnswer.Milliseconds()), int(tcpHold.Milliseconds())
	for name, r := range map[string]rows{"haproxy": want, "lb": got} {
		assert.Equal(t, strconv.Itoa(4*len(text)), r["web/BACKEND"]["comp_in"], "%s: four bodies compressed", name)
		for _, key := range []string{"web/FRONTEND", "web/BACKEND"} {
			out := num(r, key, "comp_out")
			assert.True(t, out > 0 && out < num(r, key, "comp_in")/4, "%s %s: comp_out %d", name, key, out)
		}
		for _, key := range []string{"slow/s1", "slow/BACKEND"} {
			assert.GreaterOrEqual(t, num(r, key, "rtime"), slowMs, "%s %s: each answer waited", name, key)
			assert.GreaterOrEqual(t, num(r, key, "rtime_max"), slowMs, "%s %s", name, key)
			assert.GreaterOrEqual(t, num(r, key, "ttime"), num(r, key, "rtime"), "%s %s", name, key)
			assert.GreaterOrEqual(t, num(r, key, "ttime_max"), num(r, key, "ttime"), "%s %s", name, key)
			// The last of three waited for two answers: at least one.
			assert.GreaterOrEqual(t, num(r, key, "qtime_max"), slowMs, "%s %s: queued", name, key)
			assert.Greater(t, num(r, key, "qtime"), 0, "%s %s", name, key)
		}
		for _, key := range []string{"tcp/t1", "tcp/BACKEND"} {
			assert.Equal(t, "0", r[key]["rtime"], "%s %s: no response time in TCP mode", name, key)
			assert.Equal(t, "0", r[key]["rtime_max"], "%s %s", name, key)
			assert.GreaterOrEqual(t, num(r, key, "ttime"), holdMs, "%s %s", name, key)
			assert.GreaterOrEqual(t, num(r, key, "qtime_max"), holdMs/2, "%s %s: the second waited", name, key)
		}
		for _, key := range []string{"web/w1", "plain/p1"} {
			assert.Equal(t, "0", r[key]["qtime"], "%s %s: nothing queued", name, key)
		}
	}
	// The figures compared are not all zero.
	assert.Equal(t, "4", got["web/BACKEND"]["comp_rsp"])
	assert.Equal(t, strconv.Itoa(2*len(text)), got["plain/BACKEND"]["comp_byp"])
	assert.Equal(t, "3", got["slow/s1"]["connect"])
}
