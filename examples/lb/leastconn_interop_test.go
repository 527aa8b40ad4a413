package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
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
	// A proxy's start function returns its output and how many
	// connections a section's servers hold (held) or queue (queued).
	type proxy struct {
		out    func() string
		held   func(section string) int
		queued func() int
	}
	servers := map[string][]string{"lc": {"s1", "s2", "s3", "s4"}, "lcq": {"s1", "s2"}}
	run := func(start func(text string) proxy) []string {
		ports := freePorts(t, 2)
		p := start(leastconnCfg(ports[0], ports[1], peers))
		var got []string
		read := func(c net.Conn) string {
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			return strings.TrimSpace(line)
		}
		// closeAll closes conns and waits until the section's servers
		// hold want connections: the proxy has given the slots back by
		// then. The servers' counts tell it, not the log, which a proxy
		// may write late or, as haproxy to a busy pipe, not at all.
		closeAll := func(section string, want int, conns ...net.Conn) {
			for _, c := range conns {
				_ = c.Close()
			}
			ok := assert.Eventually(t, func() bool { return p.held(section) == want }, 10*time.Second, 5*time.Millisecond)
			require.True(t, ok, "%s's servers hold %d connections, not %d; output:\n%s", section, p.held(section), want, p.out())
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
		closeAll("lc", 8, held[1], held[4])
		open(4)
		closeAll("lc", 9, held[0], held[6], held[7])
		open(5)
		closeAll("lc", 8, held[2], held[3], held[5], held[8], held[9], held[10])
		open(6)

		q := func() net.Conn { return dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[1])) }
		c1 := q()
		got = append(got, "lcq:"+read(c1))
		c2 := q()
		got = append(got, "lcq:"+read(c2))
		c3 := q()
		ok := assert.Eventually(t, func() bool { return p.queued() == 1 }, 10*time.Second, 5*time.Millisecond)
		require.True(t, ok, "the third connection waits in s1's queue")
		closeAll("lcq", 1, c2)
		// The third connection takes the slot the first gives back.
		_ = c1.Close()
		got = append(got, "lcq:"+read(c3))
		return got
	}
	haStart := func(text string) proxy {
		// A readiness probe would take a server: haproxy is ready once
		// its port can no longer be bound.
		addr := text[strings.Index(text, "bind ")+5:]
		addr = addr[:strings.IndexByte(addr, '\n')]
		sock := filepath.Join(t.TempDir(), "haproxy.sock")
		text = strings.Replace(text, "global\n", "global\n    stats socket "+sock+"\n", 1)
		return proxy{
			out: startHAProxy(t, text, func() bool { return !bindable(addr) }),
			held: func(section string) int {
				n := 0
				for _, s := range servers[section] {
					n += haproxyStat(t, sock, section, s, "scur")
				}
				return n
			},
			queued: func() int { return haproxyQueued(t, sock, "lcq", "s1") },
		}
	}
	lbStart := func(text string) proxy {
		b, logs, mu := startInProcess(t, text)
		return proxy{
			out: func() string { mu.Lock(); defer mu.Unlock(); return logs.String() },
			held: func(section string) int {
				n := 0
				for _, s := range servers[section] {
					n += b.Backend(section).Server(s).CurConns()
				}
				return n
			},
			queued: func() int { return b.Backend("lcq").Server("s1").Queued() },
		}
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
	return haproxyStat(t, sock, proxy, server, "qcur")
}

// haproxyStat asks haproxy's stats socket for one column of a server's
// row (qcur, scur, ...), found by its name in the header.
func haproxyStat(t *testing.T, sock, proxy, server, column string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "show stat\n")
	require.NoError(t, err)
	out, err := io.ReadAll(c)
	require.NoError(t, err)
	lines := strings.Split(string(out), "\n")
	col := slices.Index(strings.Split(strings.TrimPrefix(lines[0], "# "), ","), column)
	require.GreaterOrEqual(t, col, 0, "no column %s in haproxy's stats:\n%s", column, out)
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) > col && f[0] == proxy && f[1] == server {
			n, err := strconv.Atoi(f[col])
			require.NoError(t, err, line)
			return n
		}
	}
	t.Fatalf("no %s/%s in haproxy's stats:\n%s", proxy, server, out)
	return 0
}
