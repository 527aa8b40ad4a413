package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leastconnCfg: lc balances over weighted servers that hold each
// connection open; in lcq each server takes one connection and queues two.
func leastconnCfg(lc, lcq int, peers []string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    balance leastconn
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
listen lc
    bind 127.0.0.1:%d
    server s1 %s
    server s2 %s weight 2
    server s3 %s
    server s4 %s weight 3
listen lcq
    bind 127.0.0.1:%d
    server s1 %s maxconn 1 maxqueue 2
    server s2 %s maxconn 1 maxqueue 2
`, lc, peers[0], peers[1], peers[2], peers[3], lcq, peers[0], peers[1])
}

// TestInteropLeastconnMatchesHAProxy opens and closes connections held
// open on servers of different weights, under haproxy and lb: each new
// connection goes to the same server, HAProxy's order (the fewest in
// flight per weight as its integer key has it, the longest unmoved first
// among equals). Then, with maxconn and maxqueue, a connection arriving
// when both servers are full waits in the queue of the one leastconn
// chose, as haproxy's does, and is not given the other server's slot
// when that frees first.
func TestInteropLeastconnMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var peers []string
	for _, name := range []string{"s1", "s2", "s3", "s4"} {
		peers = append(peers, checkPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			_, _ = io.Copy(io.Discard, c) // held until the client closes
		}))
	}
	// run takes a start function, which also returns how many wait in
	// lcq/s1's queue.
	run := func(start func(text string) (func() string, func() int)) []string {
		ports := freePorts(t, 2)
		out, queued := start(leastconnCfg(ports[0], ports[1], peers))
		var got []string
		read := func(c net.Conn) string {
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			return strings.TrimSpace(line)
		}
		// closeAll closes conns and waits for their lines: the proxy has
		// given their slots back by then.
		closed := map[string]int{}
		closeAll := func(section string, conns ...net.Conn) {
			for _, c := range conns {
				_ = c.Close()
			}
			closed[section] += len(conns)
			ok := assert.Eventually(t, func() bool {
				return strings.Count(out(), " "+section+" "+section+"/") == closed[section]
			}, 10*time.Second, 5*time.Millisecond)
			require.True(t, ok, "%d lines for %s in:\n%s", closed[section], section, out())
		}
		var held []net.Conn
		open := func(n int) {
			for range n {
				c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[0]))
				got = append(got, read(c))
				held = append(held, c)
			}
		}
		open(10)
		closeAll("lc", held[1], held[4])
		open(4)
		closeAll("lc", held[0], held[6], held[7])
		open(5)
		closeAll("lc", held[2], held[3], held[5], held[8], held[9], held[10])
		open(6)

		q := func() net.Conn { return dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[1])) }
		c1 := q()
		got = append(got, "lcq:"+read(c1))
		c2 := q()
		got = append(got, "lcq:"+read(c2))
		c3 := q()
		ok := assert.Eventually(t, func() bool { return queued() == 1 }, 10*time.Second, 5*time.Millisecond)
		require.True(t, ok, "the third connection waits in s1's queue")
		closeAll("lcq", c2)
		closeAll("lcq", c1)
		got = append(got, "lcq:"+read(c3))
		return got
	}
	haStart := func(text string) (func() string, func() int) {
		// A readiness probe would take a server: haproxy is ready once
		// its port can no longer be bound.
		addr := text[strings.Index(text, "bind ")+5:]
		addr = addr[:strings.IndexByte(addr, '\n')]
		sock := filepath.Join(t.TempDir(), "haproxy.sock")
		text = strings.Replace(text, "global\n", "global\n    stats socket "+sock+"\n", 1)
		return startHAProxy(t, text, func() bool { return !bindable(addr) }), func() int { return haproxyQueued(t, sock, "lcq", "s1") }
	}
	lbStart := func(text string) (func() string, func() int) {
		b, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() },
			func() int { return b.Backend("lcq").Server("s1").Queued() }
	}
	want := run(haStart)
	got := run(lbStart)
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	seen := map[string]bool{}
	for _, s := range got {
		seen[s] = true
	}
	require.Len(t, seen, 6, "every server of lc, and both of lcq, took connections")
}

// haproxyQueued asks haproxy's stats socket for a server's qcur.
func haproxyQueued(t *testing.T, sock, proxy, server string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "show stat\n")
	require.NoError(t, err)
	out, err := io.ReadAll(c)
	require.NoError(t, err)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) > 2 && f[0] == proxy && f[1] == server {
			n, err := strconv.Atoi(f[2])
			require.NoError(t, err, line)
			return n
		}
	}
	t.Fatalf("no %s/%s in haproxy's stats:\n%s", proxy, server, out)
	return 0
}
