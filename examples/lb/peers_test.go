package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// TestPeersBetweenTwoLBs runs two lbs as the members of one peers
// section: a limit counted over both, a table declared in the section,
// and a member that starts late and learns what the other holds.
func TestPeersBetweenTwoLBs(t *testing.T) {
	testnet.LeakCheck(t)
	dir := t.TempDir()
	ports := freePorts(t, 2)
	srv := nameServer(t, "s1")
	start := func(name string) (addr, sock string, b *balancer.Balancer) {
		sock = filepath.Join(dir, name+".sock")
		text := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    tcp-request connection track-sc0 src table mypeers/clients
    tcp-request connection reject if { sc0_conn_cnt gt 2 }
    default_backend be
peers mypeers
    peer one 127.0.0.1:%d
    peer two 127.0.0.1:%d
    table clients type ip size 1k expire 1m store conn_cnt,conn_cur,gpc0
backend be
    server s1 %s
`, sock, ports[0], ports[1], srv)
		cfg, err := config.Parse(config.Source{Name: name + ".cfg", Data: []byte(text)})
		require.NoError(t, err)
		cfg.SetLocalPeer(name)
		b, err = balancer.Start(context.Background(), cfg, balancer.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b.Addrs("fe")[0].String(), sock, b
	}
	one, oneSock, _ := start("one")
	cliCommand(t, oneSock, "set table mypeers/clients key 10.9.9.9 data.gpc0 4")
	two, twoSock, _ := start("two")
	// two learns what one held before it started.
	waitTable(t, twoSock, "mypeers/clients", "10.9.9.9", "gpc0=4")

	// Each step waits for the connection to end where it was taken
	// (conn_cur, never synced, back to 0): its end pushes the entry once
	// more, and a late push would overwrite what the next step counts
	// on the other side, values being replaced, not added, on the wire.
	require.Equal(t, "s1", answerFrom(t, "127.0.0.21", one))
	waitTable(t, oneSock, "mypeers/clients", "127.0.0.21", "conn_cur=0")
	waitTable(t, twoSock, "mypeers/clients", "127.0.0.21", "conn_cnt=1")
	require.Equal(t, "s1", answerFrom(t, "127.0.0.21", two))
	waitTable(t, twoSock, "mypeers/clients", "127.0.0.21", "conn_cur=0")
	waitTable(t, oneSock, "mypeers/clients", "127.0.0.21", "conn_cnt=2")
	require.Equal(t, "-", answerFrom(t, "127.0.0.21", one), "the third connection, counted over both")
	waitTable(t, oneSock, "mypeers/clients", "127.0.0.21", "conn_cur=0")
	waitTable(t, twoSock, "mypeers/clients", "127.0.0.21", "conn_cnt=3")
	require.Equal(t, "-", answerFrom(t, "127.0.0.21", two))
}

// A disabled section, and one listing no peer of the local name, neither
// listen nor connect, and their tables work unsynced; a local peer whose
// port is taken stops the start with the section and the address.
func TestPeersSectionsNotRun(t *testing.T) {
	testnet.LeakCheck(t)
	ports := freePorts(t, 3)
	text := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers off
    peer me 127.0.0.1:%d
    disabled
peers other
    peer someone 127.0.0.1:%d
backend a
    stick-table type ip size 1k peers off
backend b
    stick-table type ip size 1k peers other
`, ports[0], ports[1])
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
	require.NoError(t, err)
	cfg.SetLocalPeer("me")
	require.Equal(t, []string{"config : Removing incomplete section 'peers other' (no peer named 'me')."}, cfg.Warnings)
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{})
	require.NoError(t, err)
	defer b.Close()
	for _, p := range ports[:2] {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			c.Close()
		}
		require.Error(t, err, "port %d listens", p)
	}
	e, err := b.Table("a").GetOrCreate([]byte{10, 0, 0, 1})
	require.NoError(t, err)
	e.TouchRelease()
	require.Equal(t, 1, b.Table("a").Len())

	// The local peer's port is taken.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	require.NoError(t, err)
	defer ln.Close()
	cfg, err = config.Parse(config.Source{Name: "lb.cfg", Data: []byte(fmt.Sprintf("peers p\n    peer me 127.0.0.1:%d\n", ports[2]))})
	require.NoError(t, err)
	cfg.SetLocalPeer("me")
	_, err = balancer.Start(context.Background(), cfg, balancer.Options{})
	require.ErrorContains(t, err, fmt.Sprintf("peers 'p': cannot bind 127.0.0.1:%d for local peer 'me'", ports[2]))
}
