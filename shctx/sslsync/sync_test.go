package sslsync_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
)

const serverName = "example.test"

var testKey = []byte("0123456789abcdef-fleet-key")

var (
	certOnce sync.Once
	certVal  tls.Certificate
	certPool *x509.CertPool
)

func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		c := testcert.SelfSigned(t, serverName)
		certVal, certPool = c.Certificate, c.Pool()
	})
	return certVal, certPool
}

// server serves TLS from a cache on 127.0.0.1, writing one line per
// connection so a TLS 1.3 client reads its ticket.
func server(t *testing.T, c *sslcache.Cache, version uint16) string {
	t.Helper()
	cert, _ := testCert(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version}
	c.Configure(cfg)
	return testnet.Serve(t, func(conn net.Conn) {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(conn, cfg)
		if tc.Handshake() == nil {
			_, _ = tc.Write([]byte("hi\n"))
			_, _ = io.Copy(io.Discard, tc)
		}
	})
}

func dial(t *testing.T, addr string, version uint16, cache tls.ClientSessionCache) bool {
	t.Helper()
	_, pool := testCert(t)
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, RootCAs: pool,
		MinVersion: version, MaxVersion: version, ClientSessionCache: cache})
	require.NoError(t, err)
	defer c.Close()
	_, err = io.ReadFull(c, make([]byte, 3))
	require.NoError(t, err)
	return c.ConnectionState().DidResume
}

func newCache(t *testing.T) *sslcache.Cache {
	t.Helper()
	c, err := sslcache.New("", 200, 0)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// freePort finds a UDP port free on the addresses given, so that two
// hosts on 127.0.0.0/8 can name each other before binding.
func freePort(t *testing.T, hosts ...string) int {
	t.Helper()
	for range 20 {
		l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(hosts[0])})
		require.NoError(t, err)
		port := l.LocalAddr().(*net.UDPAddr).Port
		ok := true
		var others []*net.UDPConn
		for _, h := range hosts[1:] {
			o, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(h), Port: port})
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		l.Close()
		for _, o := range others {
			o.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free UDP port")
	return 0
}

func start(t *testing.T, c *sslcache.Cache, cfg sslsync.Config) *sslsync.Sync {
	t.Helper()
	if cfg.Key == nil && cfg.KeyFile == "" {
		cfg.Key = testKey
	}
	s, err := sslsync.Start(c, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// eventually polls cond; the bound only stops a broken test, it is not
// a timing assertion.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, msg)
}

func TestSessionMadeOnOneHostResumesOnAnother(t *testing.T) {
	for _, v := range []struct {
		name string
		v    uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			port := freePort(t, "127.0.0.2", "127.0.0.3")
			a2 := fmt.Sprintf("127.0.0.2:%d", port)
			a3 := fmt.Sprintf("127.0.0.3:%d", port)
			ca, cb := newCache(t), newCache(t)
			sa := start(t, ca, sslsync.Config{Bind: a2, Peers: []string{a3}})
			sb := start(t, cb, sslsync.Config{Bind: a3, Peers: []string{a2}})
			srvA, srvB := server(t, ca, v.v), server(t, cb, v.v)

			client := tls.NewLRUClientSessionCache(4)
			require.False(t, dial(t, srvA, v.v, client))
			eventually(t, func() bool { return sb.Stats().Imported >= 1 }, "B imports A's session")
			require.True(t, dial(t, srvB, v.v, client), "a session made on A resumes on B")
			require.GreaterOrEqual(t, sa.Stats().Sent, uint64(1))
			require.Zero(t, sb.Stats().Forged+sb.Stats().Replayed+sb.Stats().Malformed)
			require.Equal(t, uint64(1), cb.Stats().LocalHits)
		})
	}
}

// TestGetAnswered loses A's New (A's only peer is an address nobody
// listens on), so B learns the session by asking.
func TestGetAnswered(t *testing.T) {
	testnet.LeakCheck(t)
	port := freePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	a2 := fmt.Sprintf("127.0.0.2:%d", port)
	ca, cb := newCache(t), newCache(t)
	sa := start(t, ca, sslsync.Config{Bind: a2, Peers: []string{fmt.Sprintf("127.0.0.4:%d", port)}})
	// The bound is generous; Fetch returns as soon as the answer is in.
	sb := start(t, cb, sslsync.Config{Bind: fmt.Sprintf("127.0.0.3:%d", port), Peers: []string{a2}, Wait: 5 * time.Second})
	srvA, srvB := server(t, ca, tls.VersionTLS13), server(t, cb, tls.VersionTLS13)

	client := tls.NewLRUClientSessionCache(4)
	require.False(t, dial(t, srvA, tls.VersionTLS13, client))
	require.Zero(t, sb.Stats().Received)
	require.True(t, dial(t, srvB, tls.VersionTLS13, client), "B asked A and resumed")
	require.Equal(t, uint64(1), sa.Stats().Answered)
	require.Equal(t, uint64(1), sb.Stats().Fetched)
	require.Equal(t, uint64(1), cb.Stats().PeerHits)
}

func TestGetFireAndForget(t *testing.T) {
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	a2, a3 := fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)
	ca, cb := newCache(t), newCache(t)
	sa := start(t, ca, sslsync.Config{Bind: a2, Peers: []string{"127.0.0.9:9"}})
	sb := start(t, cb, sslsync.Config{Bind: a3, Peers: []string{a2}, Wait: -1})
	id := [32]byte{7}
	ca.Import(id, realSession(t))
	_, ok := cb.Get(id)
	require.False(t, ok, "without waiting the first lookup misses")
	eventually(t, func() bool { return sb.Stats().Imported == 1 }, "the answer warms B")
	_, ok = cb.Get(id)
	require.True(t, ok)
	require.Equal(t, uint64(1), sa.Stats().Answered)
	require.Zero(t, sb.Stats().Fetched)
}

func TestDeletePropagates(t *testing.T) {
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	a2, a3 := fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)
	ca, cb := newCache(t), newCache(t)
	start(t, ca, sslsync.Config{Bind: a2, Peers: []string{a3}})
	sb := start(t, cb, sslsync.Config{Bind: a3, Peers: []string{a2}, Wait: -1})
	id := [32]byte{1, 2, 3}
	ca.Put(id, realSession(t))
	eventually(t, func() bool { return sb.Stats().Imported == 1 }, "B has the session")
	require.True(t, ca.Delete(id))
	eventually(t, func() bool { return sb.Stats().Deleted == 1 }, "B deletes it")
	_, ok := cb.GetInto(id, nil)
	require.False(t, ok)
}

var (
	sessOnce sync.Once
	sessVal  []byte
)

// realSession is a serialized TLS 1.3 server session, fresh enough to be
// stored.
func realSession(t *testing.T) []byte {
	t.Helper()
	sessOnce.Do(func() {
		c, err := sslcache.New("", 10, 0)
		require.NoError(t, err)
		defer c.Close()
		cert, _ := testCert(t)
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		cfg.WrapSession = func(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			b, err := ss.Bytes()
			sessVal = b
			return make([]byte, 32), err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			tc := tls.Server(conn, cfg)
			if tc.Handshake() == nil {
				_, _ = tc.Write([]byte("hi\n"))
			}
		}()
		dial(t, ln.Addr().String(), tls.VersionTLS13, tls.NewLRUClientSessionCache(1))
		<-done
	})
	require.NotEmpty(t, sessVal)
	return sessVal
}

// TestRejectsBadPackets sends crafted packets from a plain UDP socket.
func TestRejectsBadPackets(t *testing.T) {
	testnet.LeakCheck(t)
	cb := newCache(t)
	sb := start(t, cb, sslsync.Config{Bind: "127.0.0.3:0", Peers: []string{"127.0.0.9:9"}, Wait: -1})
	to := net.UDPAddrFromAddrPort(sb.LocalAddr())
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	require.NoError(t, err)
	defer conn.Close()
	sess := realSession(t)
	now := uint32(time.Now().Unix())
	id := func(b byte) [32]byte { return [32]byte{b} }

	good := sslsync.Append(nil, testKey, sslsync.New, id(1), sess, now)
	forged := sslsync.Append(nil, []byte("another-key-of-the-wrong-fleet"), sslsync.New, id(2), sess, now)
	altered := sslsync.Append(nil, testKey, sslsync.New, id(3), sess, now)
	altered[sslsync.HeaderLen+5] ^= 1
	alteredID := sslsync.Append(nil, testKey, sslsync.New, id(4), sess, now)
	alteredID[2] = 5 // now names id 5 but was signed for id 4
	old := sslsync.Append(nil, testKey, sslsync.New, id(6), sess, now-60)
	future := sslsync.Append(nil, testKey, sslsync.New, id(7), sess, now+60)
	badVersion := sslsync.Append(nil, testKey, sslsync.New, id(8), sess, now)
	badVersion[0] = 2
	badType := sslsync.Append(nil, testKey, 9, id(8), nil, now)
	getWithBody := sslsync.Append(nil, testKey, sslsync.Get, id(8), []byte("x"), now)
	newEmpty := sslsync.Append(nil, testKey, sslsync.New, id(8), nil, now)

	packets := []struct {
		name string
		pkt  []byte
	}{
		{"good", good},
		{"replayed copy", good},
		{"forged", forged},
		{"altered session", altered},
		{"altered id", alteredID},
		{"old timestamp", old},
		{"future timestamp", future},
		{"empty", []byte{}},
		{"short", good[:sslsync.MinLen-1]},
		{"bad version", badVersion},
		{"unknown type", badType},
		{"get with a session", getWithBody},
		{"new without a session", newEmpty},
	}
	for _, p := range packets {
		_, err := conn.WriteToUDP(p.pkt, to)
		require.NoError(t, err, p.name)
	}
	eventually(t, func() bool { return sb.Stats().Received == uint64(len(packets)) }, "all packets read")
	st := sb.Stats()
	require.Equal(t, uint64(1), st.Accepted)
	require.Equal(t, uint64(3), st.Forged, "forged, altered session, altered id")
	require.Equal(t, uint64(3), st.Replayed, "copy, old, future")
	require.Equal(t, uint64(6), st.Malformed)
	require.Zero(t, st.Looped)
	require.Equal(t, uint64(1), st.Imported)

	_, ok := cb.GetInto(id(1), nil)
	require.True(t, ok, "the genuine message was stored")
	for b := byte(2); b <= 8; b++ {
		_, ok := cb.GetInto(id(b), nil)
		require.False(t, ok, "id %d must not be stored", b)
	}
	require.Equal(t, 1, cb.Stats().Shared.Entries)
}

func TestIPv6(t *testing.T) {
	l, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no IPv6 loopback and CI=true: %v", err)
		}
		t.Skipf("no IPv6 loopback: %v", err)
	}
	pa := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	l, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	require.NoError(t, err)
	pb := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	a, b := fmt.Sprintf("[::1]:%d", pa), fmt.Sprintf("[::1]:%d", pb)
	ca, cb := newCache(t), newCache(t)
	start(t, ca, sslsync.Config{Bind: a, Peers: []string{b}})
	sb := start(t, cb, sslsync.Config{Bind: b, Peers: []string{a}})
	ca.Put([32]byte{6}, realSession(t))
	eventually(t, func() bool { return sb.Stats().Imported == 1 }, "B imports over IPv6")
	_, ok := cb.GetInto([32]byte{6}, nil)
	require.True(t, ok)
}

// TestMulticast has two members of a group on the loopback interface;
// each hears the other and drops its own messages coming back.
func TestMulticast(t *testing.T) {
	testnet.LeakCheck(t)
	port := freePort(t, "0.0.0.0")
	cfg := sslsync.Config{Bind: fmt.Sprintf("0.0.0.0:%d", port), Multicast: "239.255.42.99", Interface: "lo", Wait: -1}
	ca, cb := newCache(t), newCache(t)
	sa, err := sslsync.Start(ca, withKey(cfg))
	if err != nil {
		skipOrFail(t, "cannot join a multicast group on lo: %v", err)
	}
	defer sa.Close()
	sb := start(t, cb, withKey(cfg))
	ca.Put([32]byte{1}, realSession(t))
	if !waitFor(func() bool { return sb.Stats().Imported == 1 }) {
		skipOrFail(t, "multicast on lo does not deliver here (sent %d, received %d)", sa.Stats().Sent, sb.Stats().Received)
	}
	eventually(t, func() bool { return sa.Stats().Looped == 1 }, "A hears its own message and drops it")
	require.Zero(t, sa.Stats().Accepted)
	_, ok := cb.GetInto([32]byte{1}, nil)
	require.True(t, ok)
}

func withKey(cfg sslsync.Config) sslsync.Config { cfg.Key = testKey; return cfg }

func waitFor(cond func() bool) bool {
	for range 500 {
		if cond() {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("tooshort\n"), 0o600))
	c := newCache(t)
	tests := []struct {
		name string
		cfg  sslsync.Config
		want error
	}{
		{"no bind", sslsync.Config{Peers: []string{"127.0.0.1:1"}, Key: testKey}, sslsync.ErrConfig},
		{"no peers", sslsync.Config{Bind: "127.0.0.1:0", Key: testKey}, sslsync.ErrConfig},
		{"no key", sslsync.Config{Bind: "127.0.0.1:0", Peers: []string{"127.0.0.1:1"}}, sslsync.ErrConfig},
		{"short key", sslsync.Config{Bind: "127.0.0.1:0", Peers: []string{"127.0.0.1:1"}, Key: []byte("x")}, sslsync.ErrConfig},
		{"short key file", sslsync.Config{Bind: "127.0.0.1:0", Peers: []string{"127.0.0.1:1"}, KeyFile: short}, sslsync.ErrConfig},
		{"missing key file", sslsync.Config{Bind: "127.0.0.1:0", Peers: []string{"127.0.0.1:1"}, KeyFile: filepath.Join(dir, "none")}, os.ErrNotExist},
		{"bad interface", sslsync.Config{Bind: "0.0.0.0:0", Multicast: "239.1.1.1", Interface: "nosuchif0", Key: testKey}, nil},
		{"not multicast", sslsync.Config{Bind: "0.0.0.0:0", Multicast: "10.1.1.1", Key: testKey}, sslsync.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sslsync.Start(c, tt.cfg)
			require.Nil(t, s)
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		line string
		want sslsync.Config
		err  string
	}{
		{line: "ssl-session-sync bind 127.0.0.2:4433 peer 127.0.0.3:4433 peer [::1]:4433 key-file /etc/k",
			want: sslsync.Config{Bind: "127.0.0.2:4433", Peers: []string{"127.0.0.3:4433", "[::1]:4433"}, KeyFile: "/etc/k"}},
		{line: "bind :4433 multicast 239.1.2.3 interface eth0 wait 5 window 20s key-file k",
			want: sslsync.Config{Bind: ":4433", Multicast: "239.1.2.3", Interface: "eth0", Wait: 5 * time.Millisecond, Window: 20 * time.Second, KeyFile: "k"}},
		{line: "bind [::]:4433 multicast [ff02::1:2]:5000 wait 0 key-file k",
			want: sslsync.Config{Bind: "[::]:4433", Multicast: "[ff02::1:2]:5000", Wait: -1, KeyFile: "k"}},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1 wait 2ms key-file k",
			want: sslsync.Config{Bind: "1.2.3.4:1", Peers: []string{"1.2.3.5:1"}, Wait: 2 * time.Millisecond, KeyFile: "k"}},
		{line: "", err: "missing 'bind"},
		{line: "bind 1.2.3.4:1 key-file k", err: "nobody to share"},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1", err: "missing 'key-file"},
		{line: "bind 1.2.3.4 peer 1.2.3.5:1 key-file k", err: `bind "1.2.3.4": want ADDR:PORT`},
		{line: "bind 1.2.3.4:0 peer 1.2.3.5:0 key-file k", err: "not a number from 1 to 65535"},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:http key-file k", err: `port "http"`},
		{line: "bind 1.2.3.4:1 multicast 10.0.0.1 key-file k", err: "not a multicast address"},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1 key-file", err: `"key-file" needs a value`},
		{line: "bind 1.2.3.4:1 bind 1.2.3.4:2 peer 1.2.3.5:1 key-file k", err: `"bind" given twice`},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1 wait soon key-file k", err: `wait "soon"`},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1 window 500ms key-file k", err: "at least 1s"},
		{line: "bind 1.2.3.4:1 peer 1.2.3.5:1 ttl 3 key-file k", err: `unknown word "ttl"`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cfg, err := sslsync.ParseArgs(strings.Fields(tt.line))
			if tt.err != "" {
				require.ErrorIs(t, err, sslsync.ErrConfig)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestFromArgsWithKeyFile(t *testing.T) {
	testnet.LeakCheck(t)
	kf := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(kf, []byte("  "+string(testKey)+"\n"), 0o600))
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	ca, cb := newCache(t), newCache(t)
	sa, err := sslsync.FromArgs(ca, []string{"ssl-session-sync", "bind", fmt.Sprintf("127.0.0.2:%d", port),
		"peer", fmt.Sprintf("127.0.0.3:%d", port), "key-file", kf})
	require.NoError(t, err)
	defer sa.Close()
	// B uses the key directly: the file's white space is not part of it.
	sb := start(t, cb, sslsync.Config{Bind: fmt.Sprintf("127.0.0.3:%d", port), Peers: []string{"127.0.0.9:9"}})
	ca.Put([32]byte{3}, realSession(t))
	// A message is counted received before it is checked and accepted:
	// wait for both.
	eventually(t, func() bool { st := sb.Stats(); return st.Received == 1 && st.Accepted == 1 }, "B hears A and accepts")
	require.Equal(t, uint64(1), sb.Stats().Accepted)
	require.NoError(t, sa.Close())
	require.NoError(t, sa.Close(), "Close is idempotent")
	require.Equal(t, netip.MustParseAddrPort(fmt.Sprintf("127.0.0.2:%d", port)), sa.LocalAddr())
}
