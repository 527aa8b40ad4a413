package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropAbortOnCloseMatchesHAProxy queues a second client behind a
// slow one on a server that takes one at a time; the second closes its
// side while it waits. Under option abortonclose it is dropped from the
// queue without an answer and never reaches the server (CQ); without it
// it is served once the first is done. HTTP and TCP mode, under haproxy
// and lb: what the second client got, the log lines' server and
// termination state, and what the servers saw must match.
func TestInteropAbortOnCloseMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const hold = 400 * time.Millisecond
	type result struct {
		seen, lines []string
		out         string
	}
	logLine := regexp.MustCompile(`\] (\S+) (\S+) (?:\S+ (-?\d+) \S+ - - (\S{2})--|\S+ \S+ (\S{2}) )`)
	run := func(start func(text string) func() string) result {
		var httpSeen, tcpSeen atomic.Int32
		web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			httpSeen.Add(1)
			if r.URL.Path == "/slow" {
				time.Sleep(hold)
			}
			_, _ = io.WriteString(w, "ok\n")
		})
		echo, _ := testnet.Peer(t, func(c *net.TCPConn) {
			tcpSeen.Add(1)
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				time.Sleep(hold)
				_, _ = io.WriteString(c, line)
			}
		})
		ports := freePorts(t, 4)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout queue 5s
listen abort
    mode http
    option httplog
    bind 127.0.0.1:%d
    option abortonclose
    server s %s maxconn 1
listen keep
    mode http
    option httplog
    bind 127.0.0.1:%d
    server s %s maxconn 1
listen tabort
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    option abortonclose
    server s %s maxconn 1
listen tkeep
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s %s maxconn 1
`, ports[0], web, ports[1], web, ports[2], echo, ports[3], echo))
		var res result
		// outcome reads what a client gets after closing its side.
		outcome := func(c net.Conn) string {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			switch {
			case err != nil && !errors.Is(err, io.EOF):
				return err.Error()
			case len(b) == 0:
				return "closed"
			}
			return strings.SplitN(string(b), "\r\n", 2)[0]
		}
		for i, name := range []string{"abort", "keep"} {
			first := make(chan string, 1)
			go func() {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/slow", ports[i]))
				if err != nil {
					first <- err.Error()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				first <- resp.Status
			}()
			time.Sleep(100 * time.Millisecond) // the first holds the server
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[i]))
			_, err := io.WriteString(c, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			res.seen = append(res.seen, fmt.Sprintf("%s: second %s, first %s", name, outcome(c), <-first))
		}
		res.seen = append(res.seen, fmt.Sprintf("http server saw %d", httpSeen.Load()))
		for i, name := range []string{"tabort", "tkeep"} {
			a := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[2+i]))
			_, err := io.WriteString(a, "a\n")
			require.NoError(t, err)
			time.Sleep(100 * time.Millisecond) // the first holds the server
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[2+i]))
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			second := outcome(c)
			line, err := bufio.NewReader(a).ReadString('\n')
			require.NoError(t, err)
			_ = a.Close()
			res.seen = append(res.seen, fmt.Sprintf("%s: second %s, first %q", name, second, line))
		}
		time.Sleep(200 * time.Millisecond) // a late connection would show
		res.seen = append(res.seen, fmt.Sprintf("tcp server saw %d", tcpSeen.Load()))
		require.Eventually(t, func() bool {
			res.lines = res.lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					line := strings.Join(m[1:], " ")
					// haproxy sees the close in the queue (CQ, no server
					// yet) when it reads it with the request, and only as
					// it connects (CC) when it comes in a later read;
					// either way the request is dropped unanswered.
					if rest, ok := strings.CutPrefix(line, "abort abort/"); ok && (strings.HasSuffix(rest, " -1 CQ ") || strings.HasSuffix(rest, " -1 CC ")) {
						line = "abort abort/(dropped) -1 C "
					}
					res.lines = append(res.lines, line)
				}
			}
			return len(res.lines) == 6
		}, 5*time.Second, 10*time.Millisecond, "six lines (a TCP client that sent nothing goes unlogged under dontlognull) in:\n%s", out())
		sort.Strings(res.lines)
		res.out = out()
		return res
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	assert.Equal(t, want.seen, got.seen, "what the clients and servers saw under haproxy, then lb")
	assert.Equal(t, want.lines, got.lines, "the log lines")
	assert.Contains(t, got.seen, "abort: second closed, first 200 OK")
	assert.Contains(t, got.seen, "keep: second HTTP/1.1 200 OK, first 200 OK")
	assert.Contains(t, got.lines, "abort abort/(dropped) -1 C ")
	assert.Regexp(t, `abort abort/<NOSRV> 0/\d+/-1/-1/\d+ -1 0 - - CQ-- `, got.out, "lb drops it from the queue")
}
