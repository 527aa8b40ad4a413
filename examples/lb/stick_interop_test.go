package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// nameServer answers every connection with its name and a newline.
func nameServer(t *testing.T, name string) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) { _, _ = io.WriteString(c, name+"\n") })
}

// answerFrom connects from src and returns the first line, or "-" when
// the connection was refused, reset or closed without an answer.
func answerFrom(t *testing.T, src, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "-"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "-"
	}
	return strings.TrimSpace(line)
}

// cliCommand sends one command to a stats socket and returns the answer.
func cliCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	out, err := cliAnswer(sock, cmd)
	require.NoError(t, err)
	return out
}

// cliAnswer sends one command to a stats socket (a path, or host:port
// for one on TCP) and returns the answer, or the error of a socket not
// there or not answering.
func cliAnswer(sock, cmd string) (string, error) {
	network := "unix"
	if !strings.HasPrefix(sock, "/") {
		network = "tcp"
	}
	c, err := net.Dial(network, sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	return string(out), err
}

// serverStates reads haproxy's "show servers state": each server, as
// backend/server, with its operational state (2 is running).
func serverStates(out string) map[string]string {
	states := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		// be_id be_name srv_id srv_name srv_addr srv_op_state ...
		f := strings.Fields(line)
		if len(f) > 5 && !strings.HasPrefix(f[0], "#") {
			states[f[1]+"/"+f[3]] = f[5]
		}
	}
	return states
}

// normalizeDump hides what differs between two processes holding the same
// table state: entry addresses and the milliseconds left before expiry.
func normalizeDump(s string) string {
	s = regexp.MustCompile(`0x[0-9a-f]+:`).ReplaceAllString(s, "ADDR:")
	return regexp.MustCompile(`exp=\d+`).ReplaceAllString(s, "exp=X")
}

// sideBySide starts haproxy and lb on the same configuration (format
// takes the stats socket and the bind address first) and returns both
// frontends' addresses and stats sockets. It returns once every server
// is up in both, before any connection went through either frontend.
func sideBySide(t *testing.T, format string, a ...any) (hpAddr, lbAddr, hpSock, lbSock string) {
	t.Helper()
	haproxyBin(t)
	dir := t.TempDir()
	hpSock, lbSock = filepath.Join(dir, "hp.sock"), filepath.Join(dir, "lb.sock")
	hpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Wait on haproxy's stats socket, not on its frontend: a probe
	// through the frontend would be a client of its own, taking a turn of
	// the round robin and an entry in the stick tables whenever one of
	// haproxy's threads gets to it, maybe after the test's first clients.
	// haproxy answers once it runs, every listener bound.
	startHAProxy(t, fmt.Sprintf(format, append([]any{hpSock, hpAddr}, a...)...), func() bool {
		out, err := cliAnswer(hpSock, "show servers state")
		if err != nil {
			return false
		}
		states := serverStates(out)
		for _, st := range states {
			if st != "2" {
				return false
			}
		}
		return len(states) > 0
	})
	// lb binds a port of its own choosing, which no other process can
	// take between a look for a free one and the bind.
	lbText := fmt.Sprintf(format, append([]any{lbSock, "127.0.0.1:0"}, a...)...)
	b, _, _ := startInProcess(t, lbText)
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(lbText)})
	require.NoError(t, err)
	for _, px := range cfg.Proxies {
		if px.Kind.IsFrontend() {
			lbAddr = b.Addrs(px.Name)[0].String()
			break
		}
	}
	for name := range serverStates(cliCommand(t, hpSock, "show servers state")) {
		be, srv, _ := strings.Cut(name, "/")
		s := b.Backend(be).Server(srv)
		require.NotNil(t, s, "lb has no server %s", name)
		require.Eventually(t, s.Up, 10*time.Second, 10*time.Millisecond, "lb's server %s is not up", name)
	}
	return hpAddr, lbAddr, hpSock, lbSock
}

// TestInteropConnRateReject runs "tcp-request connection reject if {
// src_conn_rate gt 10 }" in haproxy and lb: 20 sequential connections
// from one source are accepted and rejected in the same order, and the
// runtime socket shows the same table afterwards.
func TestInteropConnRateReject(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    stick-table type ip size 100 expire 30s store conn_cnt,conn_cur,conn_rate(10s),gpc0
    tcp-request connection track-sc0 src
    tcp-request connection reject if { src_conn_rate gt 10 }
    default_backend be
backend be
    server s1 %s
`
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, nameServer(t, "s1"))
	seq := func(addr string) []string {
		var out []string
		for range 20 {
			out = append(out, answerFrom(t, "127.0.0.2", addr))
		}
		return out
	}
	want := append(strings.Split(strings.Repeat("s1 ", 10), " ")[:10], strings.Split(strings.Repeat("- ", 10), " ")[:10]...)
	require.Equal(t, want, seq(hp), "haproxy")
	require.Equal(t, want, seq(lb), "lb")

	// Once every connection ended, both tables hold the same counters.
	var hpOut, lbOut string
	require.Eventually(t, func() bool {
		hpOut = normalizeDump(cliCommand(t, hpSock, "show table fe"))
		lbOut = normalizeDump(cliCommand(t, lbSock, "show table fe"))
		return hpOut == lbOut
	}, 5*time.Second, 20*time.Millisecond, "haproxy:\n%s\nlb:\n%s", hpOut, lbOut)
	require.Contains(t, lbOut, "key=127.0.0.2 use=0 exp=X gpc0=0 conn_cnt=20 conn_rate(10000)=20 conn_cur=0\n")

	// The runtime commands answer alike, errors included.
	for _, cmd := range []string{
		"show table",
		"set table fe key 127.0.0.9 data.gpc0 7",
		"show table fe key 127.0.0.9",
		"show table fe data.gpc0 gt 5",
		"show table fe data.conn_rate gt 5",
		"show table fe data.gpc1 gt 5",
		"show table fe data.nope gt 5",
		"show table fe key",
		"show table nope",
		"set table fe key 127.0.0.9 data.gpc0 x",
		"set table fe key 127.0.0.9 data.gpc1 1",
		"clear table fe key 127.0.0.9",
		"show table fe",
		"clear table fe",
		"show table fe",
	} {
		h, l := normalizeDump(cliCommand(t, hpSock, cmd)), normalizeDump(cliCommand(t, lbSock, cmd))
		require.Equal(t, h, l, "command %q", cmd)
	}
}

// TestInteropStickOnSrc runs "stick on src" in haproxy and lb: every
// client stays on the server it first got, and both send the same clients
// to the same servers.
func TestInteropStickOnSrc(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    stick-table type ip size 100 expire 1m store conn_cur
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 100 expire 1m
    stick on src
    server s1 %s
    server s2 %s
    server s3 %s
`
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, nameServer(t, "s1"), nameServer(t, "s2"), nameServer(t, "s3"))
	srcs := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}
	run := func(addr string) map[string]string {
		first := map[string]string{}
		for round := range 3 {
			for _, src := range srcs {
				got := answerFrom(t, src, addr)
				require.NotEqual(t, "-", got)
				if round == 0 {
					first[src] = got
				} else {
					require.Equal(t, first[src], got, "%s: client %s moved", addr, src)
				}
			}
		}
		return first
	}
	// Neither frontend had a connection before these clients: each must
	// spread them and keep them, its table must say so, and both must
	// pair clients and servers alike.
	var pairs []map[string]string
	for _, p := range []struct{ addr, sock string }{{hp, hpSock}, {lb, lbSock}} {
		m := run(p.addr)
		require.Len(t, map[string]bool{m["127.0.0.2"]: true, m["127.0.0.3"]: true, m["127.0.0.4"]: true}, 3, "%s: round robin spread the clients: %v", p.addr, m)
		dump := normalizeDump(cliCommand(t, p.sock, "show table be"))
		require.Contains(t, dump, "used:4\n", "%s: only the clients are in the table:\n%s", p.addr, dump)
		for _, src := range srcs {
			// haproxy 2.6 also stores the server's name (server_key),
			// which lb's tables do not keep.
			id := strings.TrimPrefix(m[src], "s")
			require.Regexp(t, fmt.Sprintf(`key=%s use=0 exp=X server_id=%s( server_key=s%s)?\n`, regexp.QuoteMeta(src), id, id), dump)
		}
		pairs = append(pairs, m)
	}
	require.Equal(t, pairs[0], pairs[1], "haproxy and lb paired clients and servers differently")
}
