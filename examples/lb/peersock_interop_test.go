package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// peersSockets is a peers section whose local peer listens on the bind
// line's address (%s) and connects to the remote one at its own (%s):
// stats socket, bind, local name, remote name, remote address.
const peersSockets = `global
    stats socket %s level admin
peers mypeers
    bind %s
    server %s
    server %s %s
backend st
    stick-table type ip size 1k expire 1m store gpc0 peers mypeers
`

// TestInteropPeersSocketsMatchHAProxy: a peers bind line on a UNIX
// socket, or on a port range (listening on each port), and a peer
// reached through a UNIX socket, between haproxy and lb: "set table" on
// either side reaches the other.
func TestInteropPeersSocketsMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, c := range []struct {
		name   string
		hpBind func(dir string, ports []int) string
		lbBind func(dir string, ports []int) string
		// lbAt is where haproxy reaches lb, hpAt where lb reaches haproxy.
		lbAt, hpAt func(dir string, ports []int) string
	}{
		{
			name:   "haproxy on a UNIX socket and lb on a port range",
			hpBind: func(dir string, _ []int) string { return "unix@" + filepath.Join(dir, "hp.peer") },
			hpAt:   func(dir string, _ []int) string { return "unix@" + filepath.Join(dir, "hp.peer") },
			lbBind: func(_ string, p []int) string { return fmt.Sprintf("127.0.0.1:%d-%d", p[0], p[0]+2) },
			lbAt:   func(_ string, p []int) string { return fmt.Sprintf("127.0.0.1:%d", p[0]+2) },
		},
		{
			name:   "lb on a UNIX socket",
			hpBind: func(_ string, p []int) string { return fmt.Sprintf("127.0.0.1:%d", p[1]) },
			hpAt:   func(_ string, p []int) string { return fmt.Sprintf("127.0.0.1:%d", p[1]) },
			lbBind: func(dir string, _ []int) string { return filepath.Join(dir, "lb.peer") },
			lbAt:   func(dir string, _ []int) string { return filepath.Join(dir, "lb.peer") },
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			hpSock, lbSock := filepath.Join(dir, "hp.sock"), filepath.Join(dir, "lb.sock")
			// A range of three free ports in a row is likely above the
			// one found free; the test fails plainly if not.
			p := freePorts(t, 2)
			hp := fmt.Sprintf(peersSockets, hpSock, c.hpBind(dir, p), "hap", "lb", c.lbAt(dir, p))
			lb := fmt.Sprintf(peersSockets, lbSock, c.lbBind(dir, p), "lb", "hap", c.hpAt(dir, p))
			runPeerPair(t, bin, hp, lb, hpSock)
			// lb listens on each address of its bind line.
			cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(lb)})
			require.NoError(t, err)
			for _, a := range cfg.PeersSection("mypeers").BindAddrs {
				network, addr := config.NetAddr(a)
				c, err := net.Dial(network, addr)
				require.NoError(t, err, "lb's local peer listens on %s", a)
				_ = c.Close()
			}
			cliCommand(t, lbSock, "set table st key 10.1.2.3 data.gpc0 7")
			waitTable(t, hpSock, "st", "10.1.2.3", "gpc0=7")
			cliCommand(t, hpSock, "set table st key 10.1.2.4 data.gpc0 9")
			waitTable(t, lbSock, "st", "10.1.2.4", "gpc0=9")
		})
	}
}

// TestInteropPeersLocalServerMatchesHAProxy: once the local name is
// known, its "server" line takes server options and no address, with or
// without a bind line; other peers need one, a UNIX socket's included;
// ssl, which lb's peers do not speak, stays refused with its reason.
func TestInteropPeersLocalServerMatchesHAProxy(t *testing.T) {
	settle := func(cfg *config.Config) error { return cfg.SetLocalPeer("") }
	for _, peers := range []string{
		"    bind 127.0.0.1:50000\n    server me 127.0.0.1:50000\n    server other 127.0.0.1:50001\n",
		"    server me 127.0.0.1:50000\n    bind 127.0.0.1:50002\n    server other 127.0.0.1:50001\n",
		"    server me 127.0.0.1:50000\n    server other 127.0.0.1:50001\n",
		"    bind 127.0.0.1:50000\n    server me weight 3\n    server other 127.0.0.1:50001\n",
		"    bind 127.0.0.1:50000\n    server me bogus\n",
		"    server me\n    server other 127.0.0.1:50001\n",
		"    server me weight 3\n    server other 127.0.0.1:50001\n",
		"    bind 127.0.0.1:50000\n    server me\n    server other nowhere\n",
		"    bind 127.0.0.1:50000\n    server me\n    server other unix@/tmp/lb-test-other.peer\n",
		"    bind 127.0.0.1:50000\n    server me\n    server other /tmp/lb-test-other.peer\n",
		"    bind 127.0.0.1:50000\n    server me\n    server other abns@lb-test-other\n",
		"    bind unix@/tmp/lb-test-me.peer\n    server me\n",
		"    bind /tmp/lb-test-me.peer\n    server me\n",
		"    bind abns@lb-test-me\n    server me\n",
		"    bind 127.0.0.1:50000-50002\n    server me\n",
		"    peer me unix@/tmp/lb-test-me.peer\n    peer other 127.0.0.1:50001\n",
		"    peer me 127.0.0.1:50000\n    peer other unix@/tmp/lb-test-other.peer\n",
		"    peer me 127.0.0.1:50000-50002\n    peer other 127.0.0.1:50001\n",
	} {
		t.Run(strings.ReplaceAll(peers, "\n", "|"), func(t *testing.T) {
			checkParityWith(t, "global\n    localpeer me\n"+parityBase+"peers p\n"+peers, settle)
		})
	}
}
