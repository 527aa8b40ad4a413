package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropHashBalanceFactorMatchesHAProxy holds connections from many
// sources open on a consistent source hash bounded by
// hash-balance-factor, under haproxy and lb: the same server for each,
// in turn, as a server at its bound passes a key on to the next point of
// the ring; and without the bound the hash alone loads one server more.
func TestInteropHashBalanceFactorMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var peers []string
	for _, name := range []string{"s1", "s2", "s3"} {
		peers = append(peers, checkPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			_, _ = io.Copy(io.Discard, c) // held until the client closes
		}))
	}
	cfg := func(port, factor int) string {
		return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen px
    bind 127.0.0.1:%d
    balance source
    hash-type consistent
    hash-balance-factor %d
    server s1 %s
    server s2 %s weight 2
    server s3 %s
`, port, factor, peers[0], peers[1], peers[2])
	}
	run := func(start func(text string) func() string, factor int) []string {
		port := freePorts(t, 1)[0]
		start(cfg(port, factor))
		var got []string
		var held []net.Conn
		for i := 1; i <= 24; i++ {
			c := dialFrom(t, fmt.Sprintf("127.0.%d.%d", i%5, i*7%250+1), fmt.Sprintf("127.0.0.1:%d", port))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			got = append(got, strings.TrimSpace(line))
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		return got
	}
	var seqs [][]string
	for _, factor := range []int{125, 0} {
		// A readiness probe would take a server: haproxy is ready once
		// its port can no longer be bound.
		haStart := func(text string) func() string {
			addr := text[strings.Index(text, "bind ")+5:]
			addr = addr[:strings.IndexByte(addr, '\n')]
			return startHAProxy(t, text, func() bool { return !bindable(addr) })
		}
		want := run(haStart, factor)
		got := run(lbLogs(t), factor)
		require.Equal(t, want, got, "factor %d: haproxy's servers, then lb's", factor)
		load := map[string]int{}
		for _, s := range got {
			load[s]++
		}
		if factor > 0 {
			// 24 connections, weights 1/2/1: at most 125 % of 6, 12, 6.
			require.LessOrEqual(t, load["s1"], 8)
			require.LessOrEqual(t, load["s2"], 15)
			require.LessOrEqual(t, load["s3"], 8)
		}
		t.Logf("factor %d: %v", factor, load)
		seqs = append(seqs, got)
	}
	require.NotEqual(t, seqs[0], seqs[1], "the bound moves some keys off their hashed server")
}

// bindable reports whether nothing listens on addr, an IPv4 address.
// Where the system lists its sockets (/proc/net/tcp) it only reads that
// list: binding the port to find out, the fallback, could take it from a
// haproxy starting at the same moment, which then fails to start.
func bindable(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		_ = ln.Close()
		return true
	}
	a := ap.Addr().As4()
	// The local address as the table writes it: the IPv4 address as a
	// little-endian word, the port big-endian, in hex; state 0A is LISTEN.
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], ap.Port())
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[3] == "0A" {
			return false
		}
	}
	return true
}

// TestBindableSeesListeners checks the interop tests' readiness probe
// against a listener of the test's own.
func TestBindableSeesListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.False(t, bindable(addr), "a listener is seen")
	require.NoError(t, ln.Close())
	require.True(t, bindable(addr), "a closed one is not")
}
