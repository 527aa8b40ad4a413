package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// peerPair runs haproxy as peer "hap" and lb as peer "lb" of one peers
// section, each on the configuration format renders with its own stats
// socket and frontend address (the first two verbs; the peers' ports
// follow, then extra). It returns both frontends and stats sockets.
func peerPair(t *testing.T, format string, extra ...any) (hpAddr, lbAddr, hpSock, lbSock string) {
	t.Helper()
	bin := haproxyBin(t)
	dir := t.TempDir()
	hpSock, lbSock = filepath.Join(dir, "hp.sock"), filepath.Join(dir, "lb.sock")
	ports := freePorts(t, 4)
	hpAddr, lbAddr = fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	args := func(sock, addr string) []any {
		return append([]any{sock, addr, ports[2], ports[3]}, extra...)
	}

	runPeerPair(t, bin, fmt.Sprintf(format, args(hpSock, hpAddr)...), fmt.Sprintf(format, args(lbSock, lbAddr)...), hpSock)
	return hpAddr, lbAddr, hpSock, lbSock
}

// runPeerPair runs haproxy as peer "hap" on hpText, until its stats
// socket hpSock answers, then lb as peer "lb" on lbText.
func runPeerPair(t *testing.T, bin, hpText, lbText, hpSock string) {
	t.Helper()
	hpText = oneThread(hpText)
	cmd := exec.Command(bin, "-db", "-L", "hap", "-f", writeFile(t, "haproxy.cfg", hpText))
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("haproxy output:\n%s", out.String())
			mu.Unlock()
		}
	})
	if !assert.Eventually(t, func() bool { _, err := cliAnswer(hpSock, "show info"); return err == nil }, 10*time.Second, 10*time.Millisecond) {
		t.Fatal("haproxy did not start")
	}

	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(lbText)})
	require.NoError(t, err)
	require.NoError(t, cfg.SetLocalPeer("lb"))
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
}

// waitTable polls "show table NAME" on a stats socket until the line of
// key holds every want.
func waitTable(t *testing.T, sock, table, key string, want ...string) {
	t.Helper()
	var line string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := cliAnswer(sock, "show table "+table)
		require.NoError(t, err)
		line = ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, " key="+key+" ") {
				line = l
			}
		}
		ok := line != ""
		for _, w := range want {
			ok = ok && strings.Contains(line+" ", " "+w+" ")
		}
		if ok {
			return
		}
	}
	t.Fatalf("%s: table %s, key %s: %q lacks %q", sock, table, key, line, want)
}

const peersCounters = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    tcp-request connection track-sc0 src table st
    tcp-request connection reject if { sc0_conn_cnt gt 4 }
    default_backend be
peers mypeers
    peer hap 127.0.0.1:%d
    peer lb 127.0.0.1:%d
backend st
    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,gpc0 peers mypeers
backend be
    server s1 %s
`

// TestInteropPeersShareCounters runs haproxy and lb as two members of a
// peers section, as two balancers behind one address would run: each
// counts the connections the other took, so a limit holds across both.
func TestInteropPeersShareCounters(t *testing.T) {
	hp, lb, hpSock, lbSock := peerPair(t, peersCounters, nameServer(t, "s1"))

	// Each step waits for the connections to end where they were taken
	// (conn_cur, never synced, back to 0): their ends push the entry
	// once more, and a late push would overwrite what the next step
	// counts on the other side, values being replaced, not added.
	for range 2 {
		require.Equal(t, "s1", answerFrom(t, "127.0.0.5", hp))
	}
	waitTable(t, hpSock, "st", "127.0.0.5", "conn_cur=0")
	waitTable(t, lbSock, "st", "127.0.0.5", "conn_cnt=2")
	for range 2 {
		require.Equal(t, "s1", answerFrom(t, "127.0.0.5", lb))
	}
	waitTable(t, lbSock, "st", "127.0.0.5", "conn_cur=0")
	waitTable(t, hpSock, "st", "127.0.0.5", "conn_cnt=4")
	// The fifth connection goes over the limit on haproxy; lb, which
	// counted only two of its own, learns it and refuses its next one.
	require.Equal(t, "-", answerFrom(t, "127.0.0.5", hp))
	waitTable(t, hpSock, "st", "127.0.0.5", "conn_cur=0")
	waitTable(t, lbSock, "st", "127.0.0.5", "conn_cnt=5")
	require.Equal(t, "-", answerFrom(t, "127.0.0.5", lb))
	waitTable(t, hpSock, "st", "127.0.0.5", "conn_cnt=6")

	// "set table" on either side reaches the other.
	cliCommand(t, lbSock, "set table st key 10.1.2.3 data.gpc0 7")
	waitTable(t, hpSock, "st", "10.1.2.3", "gpc0=7")
	cliCommand(t, hpSock, "set table st key 10.1.2.4 data.gpc0 9")
	waitTable(t, lbSock, "st", "10.1.2.4", "gpc0=9")
}

const peersStick = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    default_backend be
peers mypeers
    peer hap 127.0.0.1:%d
    peer lb 127.0.0.1:%d
backend be
    balance roundrobin
    stick-table type ip size 1k expire 1m peers mypeers
    stick on src
    server s1 %s id 1
    server s2 %s id 2
`

// TestInteropPeersKeepPersistence has a client stuck to a server through
// haproxy, then sends it to lb, as a failover would: lb sends it to the
// same server, which its own round robin would not have chosen.
func TestInteropPeersKeepPersistence(t *testing.T) {
	hp, lb, hpSock, lbSock := peerPair(t, peersStick, nameServer(t, "s1"), nameServer(t, "s2"))

	require.Equal(t, "s1", answerFrom(t, "127.0.0.6", hp))
	require.Equal(t, "s2", answerFrom(t, "127.0.0.7", hp))
	waitTable(t, lbSock, "be", "127.0.0.7", "server_id=2")
	waitTable(t, lbSock, "be", "127.0.0.6", "server_id=1")
	require.Equal(t, "s2", answerFrom(t, "127.0.0.7", lb), "lb's first client, stuck by haproxy")
	require.Equal(t, "s1", answerFrom(t, "127.0.0.6", lb))
	// And the other way: a client lb placed on s2 goes to s2 through
	// haproxy, whose round robin is due to pick s1.
	require.Equal(t, "s1", answerFrom(t, "127.0.0.9", lb))
	require.Equal(t, "s2", answerFrom(t, "127.0.0.8", lb))
	waitTable(t, hpSock, "be", "127.0.0.8", "server_id=2")
	require.Equal(t, "s2", answerFrom(t, "127.0.0.8", hp))
	require.Equal(t, "s1", answerFrom(t, "127.0.0.10", hp), "haproxy's round robin was due to pick s1")
}

const peersTable = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    tcp-request connection track-sc1 src table mypeers/clients
    default_backend be
peers mypeers
    peer hap 127.0.0.1:%d
    peer lb 127.0.0.1:%d
    table clients type ip size 1k expire 1m store conn_cnt,conn_cur,conn_rate(10s)
backend be
    server s1 %s
`

// TestInteropPeersSectionTable declares the shared table in the peers
// section ("table NAME"), which both name SECTION/NAME and send as /NAME.
func TestInteropPeersSectionTable(t *testing.T) {
	hp, lb, hpSock, lbSock := peerPair(t, peersTable, nameServer(t, "s1"))
	require.Equal(t, "s1", answerFrom(t, "127.0.0.11", hp))
	waitTable(t, hpSock, "mypeers/clients", "127.0.0.11", "conn_cur=0")
	waitTable(t, lbSock, "mypeers/clients", "127.0.0.11", "conn_cnt=1", "conn_rate(10000)=1")
	require.Equal(t, "s1", answerFrom(t, "127.0.0.11", lb))
	require.Equal(t, "s1", answerFrom(t, "127.0.0.12", lb))
	waitTable(t, hpSock, "mypeers/clients", "127.0.0.11", "conn_cnt=2", "conn_rate(10000)=2")
	waitTable(t, hpSock, "mypeers/clients", "127.0.0.12", "conn_cnt=1")
	// Both list the table under the same name, with the same entries.
	header := func(sock string) string {
		out := cliCommand(t, sock, "show table")
		return strings.TrimSpace(out)
	}
	require.Equal(t, header(hpSock), header(lbSock))
	require.Equal(t, "# table: mypeers/clients, type: ip, size:1024, used:2", header(lbSock))
}

// TestInteropPeersBindFormMatchesHAProxy syncs a table between haproxy
// and lb declared in the 2.x form: each process's "bind" (no host, so
// every address; default-bind options first) is where it listens, as
// the "server" line of its own name without an address, and the
// other's "server" line (with default-server options) is where it
// connects. Updates flow both ways.
func TestInteropPeersBindFormMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	dir := t.TempDir()
	hpSock, lbSock := filepath.Join(dir, "hp.sock"), filepath.Join(dir, "lb.sock")
	ports := freePorts(t, 4)
	hpAddr, lbAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	be := nameServer(t, "s1")
	text := func(sock, addr string, bind int, local, remote string, remotePort int) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
    localpeer %s
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    tcp-request connection track-sc1 src table mypeers/clients
    default_backend be
peers mypeers
    default-bind backlog 16
    default-server inter 2s
    bind :%d maxconn 10
    server %s
    server %s 127.0.0.1:%d fall 3
    table clients type ip size 1k expire 1m store conn_cnt
backend be
    server s1 %s
`, sock, local, addr, bind, local, remote, remotePort, be)
	}
	for _, txt := range []string{text(hpSock, hpAddr, ports[2], "hap", "lb", ports[3]), text(lbSock, lbAddr, ports[3], "lb", "hap", ports[2])} {
		checkParity(t, txt)
	}
	runPeerPair(t, bin, text(hpSock, hpAddr, ports[2], "hap", "lb", ports[3]), text(lbSock, lbAddr, ports[3], "lb", "hap", ports[2]), hpSock)
	require.Equal(t, "s1", answerFrom(t, "127.0.0.13", hpAddr))
	waitTable(t, lbSock, "mypeers/clients", "127.0.0.13", "conn_cnt=1")
	require.Equal(t, "s1", answerFrom(t, "127.0.0.13", lbAddr))
	require.Equal(t, "s1", answerFrom(t, "127.0.0.14", lbAddr))
	waitTable(t, hpSock, "mypeers/clients", "127.0.0.13", "conn_cnt=2")
	waitTable(t, hpSock, "mypeers/clients", "127.0.0.14", "conn_cnt=1")
	// lb listens on the bind line's port, on every address.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.2:%d", ports[3]))
	require.NoError(t, err, "lb's local peer listens on :%d", ports[3])
	_ = c.Close()
}

// TestInteropPeersBindSectionsMatchHAProxy: haproxy -c's verdicts and
// warnings on the 2.x peers forms: bind with options, default-bind,
// default-server, server lines with options, and their mix with peer.
func TestInteropPeersBindSectionsMatchHAProxy(t *testing.T) {
	for _, peers := range []string{
		"    bind :50000\n    server me\n",
		"    bind *:50000\n    server me\n",
		"    bind ipv4@:50000\n    server me\n",
		"    bind 127.0.0.1:50000\n    server me\n    server other 127.0.0.1:50001\n",
		"    bind 127.0.0.1:50000 name x maxconn 10 backlog 5\n    server me\n",
		"    server me\n    bind :50000\n",
		"    bind :50000\n    bind :50001\n    server me\n",
		"    default-bind v4v6\n    bind :::50000\n    server me\n",
		"    default-bind bogus\n    bind :50000\n    server me\n",
		"    bind :50000 bogus\n    server me\n",
		"    default-server inter 2s\n    bind :50000\n    server me\n    server other 127.0.0.1:50001\n",
		"    bind :50000\n    default-server inter 3s\n    server me\n",
		"    default-server bogus\n    bind :50000\n    server me\n",
		"    bind :50000\n    server me\n    server other 127.0.0.1:50001 inter 3s fall 2\n",
		"    bind :50000\n    server me\n    server other 127.0.0.1:50001 bogus\n",
		"    bind :50000\n    server me\n    server other 127.0.0.1:50001 shard 1\n",
		"    bind :50000\n    peer me 127.0.0.1:50003\n",
		"    bind :50000\n    server me\n    peer other 127.0.0.1:50001\n",
		"    peer me 127.0.0.1:50000\n    bind :50001\n",
		"    peer me 127.0.0.1:50000\n    server x 127.0.0.1:50001\n",
		"    peer me 127.0.0.1:50000\n    default-server inter 3s\n",
		"    peer me 127.0.0.1:50000\n    default-bind v4v6\n",
		"    log stdout local0\n    bind :50000\n    server me\n",
	} {
		t.Run(strings.ReplaceAll(peers, "\n", "|"), func(t *testing.T) {
			checkParity(t, "global\n    localpeer me\n"+parityBase+"peers p\n"+peers)
		})
	}
}
