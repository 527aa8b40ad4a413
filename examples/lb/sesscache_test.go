package main

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
	"github.com/stretchr/testify/require"
)

// Tests of the lb-only keywords ssl-session-cache and ssl-session-sync,
// with lb running as separate processes, as a fleet would.

// sessLB is an lb process with one TLS listener and a stats socket.
type sessLB struct {
	*process
	addr, sock string
}

func (l *sessLB) show(t *testing.T, what string) map[string]string {
	t.Helper()
	return parseCounters(cliCommand(t, l.sock, "show "+what))
}

// counter reads one counter of "show ssl-cache" or "show ssl-sync".
func (l *sessLB) counter(t *testing.T, what, name string) int {
	t.Helper()
	v, ok := l.show(t, what)[name]
	require.True(t, ok, "no %s in show %s", name, what)
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	return n
}

func parseCounters(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			out[k] = v
		}
	}
	return out
}

// startSessLB runs lb with a TLS listener on addr in front of a greeter;
// global holds the extra global lines.
func startSessLB(t *testing.T, addr, crt, greet, global string) *sessLB {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "lb.sock")
	cfg := fmt.Sprintf(`global
    stats socket %s level admin
    tune.ssl.cachesize 1000
%s
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen tls
    bind %s ssl crt %s
    server g %s
`, sock, global, addr, crt, greet)
	return &sessLB{process: startProcess(t, cfg, addr), addr: addr, sock: sock}
}

// freePortOn returns a TCP port nothing listens on at ip.
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freeUDPPortOn returns a UDP port free on every one of ips.
func freeUDPPortOn(t *testing.T, ips ...string) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ips[0])})
		require.NoError(t, err)
		port := c.LocalAddr().(*net.UDPAddr).Port
		ok := true
		var others []*net.UDPConn
		for _, ip := range ips[1:] {
			o, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		_ = c.Close()
		for _, o := range others {
			_ = o.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no UDP port free on every address")
	return 0
}

// syncKey writes a key file of 48 random-looking bytes in base64.
func syncKey(t *testing.T, name, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(key+"\n"), 0o600))
	return p
}

// resumeAcross makes a session on from with openssl s_client and offers
// it to to, returning the second s_client's output.
func resumeAcross(t *testing.T, from, to, ver string, between func()) string {
	t.Helper()
	sess := filepath.Join(t.TempDir(), "sess.pem")
	out, err := sClient(t, from, ver, "-sess_out", sess)
	require.NoError(t, err, out)
	require.Contains(t, out, "New, TLSv1.", out)
	require.Contains(t, out, greeting)
	if between != nil {
		between()
	}
	out, err = sClient(t, to, ver, "-sess_in", sess)
	require.NoError(t, err, out)
	require.Contains(t, out, greeting)
	return out
}

// TestSessionCacheSharedByProcesses: two lb processes naming one
// ssl-session-cache file resume each other's sessions, over TLS 1.3 and
// TLS 1.2; a third one with its own file does not.
func TestSessionCacheSharedByProcesses(t *testing.T) {
	toolBin(t, "openssl")
	pki := newPKI(t, "shm")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	greet := greeter(t, greeting, false)
	dir := t.TempDir()
	shared := "    ssl-session-cache shm " + filepath.Join(dir, "ssl.cache")
	a := startSessLB(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), crt, greet, shared)
	b := startSessLB(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), crt, greet, shared)
	alone := startSessLB(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), crt, greet,
		"    ssl-session-cache shm "+filepath.Join(dir, "other.cache"))

	for _, ver := range []string{"-tls1_3", "-tls1_2"} {
		t.Run(ver, func(t *testing.T) {
			hits := b.counter(t, "ssl-cache", "SharedHits")
			out := resumeAcross(t, a.addr, b.addr, ver, nil)
			require.Contains(t, out, "Reused, TLSv1.", "%s: lb B did not resume lb A's session:\n%s", ver, out)
			require.Greater(t, b.counter(t, "ssl-cache", "SharedHits"), hits, "B found it in the shared level")

			out = resumeAcross(t, a.addr, alone.addr, ver, nil)
			require.Contains(t, out, "New, TLSv1.", "%s: an lb on another cache file resumed:\n%s", ver, out)
		})
	}
	require.Positive(t, a.counter(t, "ssl-cache", "Stores"))
	require.Zero(t, a.counter(t, "ssl-cache", "SharedHits"), "A made the sessions, never looked them up")
}

func syncLine(self, peer string, port int, keyFile, extra string) string {
	return fmt.Sprintf("    ssl-session-sync bind %s:%d peer %s:%d key-file %s %s", self, port, peer, port, keyFile, extra)
}

// TestSessionSyncAcrossHosts: a session made on the lb at 127.0.0.2
// resumes on the lb at 127.0.0.3, either because A announced it (New) or,
// for a session B never heard of, because B asked A (Get) during the
// handshake.
func TestSessionSyncAcrossHosts(t *testing.T) {
	toolBin(t, "openssl")
	pki := newPKI(t, "sync")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	greet := greeter(t, greeting, false)
	const key = "c2Vzc2lvbnMgc2hhcmVkIGJ5IGEgZmxlZXQgb2YgbGIgcHJvY2Vzc2Vz"
	keyFile := syncKey(t, "sync.key", key)
	port := freeUDPPortOn(t, "127.0.0.2", "127.0.0.3")
	// wait 2s: under the race detector a peer's answer may take longer
	// than the default few milliseconds.
	addrA := fmt.Sprintf("127.0.0.2:%d", freePortOn(t, "127.0.0.2"))
	addrB := fmt.Sprintf("127.0.0.3:%d", freePortOn(t, "127.0.0.3"))
	a := startSessLB(t, addrA, crt, greet, syncLine("127.0.0.2", "127.0.0.3", port, keyFile, "wait 2s"))

	t.Run("asked for", func(t *testing.T) {
		// A alone makes the session: its New reaches nobody.
		sess := filepath.Join(t.TempDir(), "sess.pem")
		out, err := sClient(t, addrA, "-tls1_3", "-sess_out", sess)
		require.NoError(t, err, out)
		require.Contains(t, out, "New, TLSv1.3")
		b := startSessLB(t, addrB, crt, greet, syncLine("127.0.0.3", "127.0.0.2", port, keyFile, "wait 2s"))
		out, err = sClient(t, addrB, "-tls1_3", "-sess_in", sess)
		require.NoError(t, err, out)
		require.Contains(t, out, "Reused, TLSv1.3", "B did not get the session from A:\n%s", out)
		require.Equal(t, 1, b.counter(t, "ssl-sync", "Fetched"))
		require.Equal(t, 1, a.counter(t, "ssl-sync", "Answered"))
		require.NoError(t, b.cmd.Process.Kill())
		<-b.done
	})

	b := startSessLB(t, addrB, crt, greet, syncLine("127.0.0.3", "127.0.0.2", port, keyFile, "wait 2s"))
	for _, ver := range []string{"-tls1_3", "-tls1_2"} {
		t.Run("announced "+ver, func(t *testing.T) {
			imported := b.counter(t, "ssl-sync", "Imported")
			out := resumeAcross(t, addrA, addrB, ver, func() {
				// B resumes without asking once A's New has arrived.
				require.Eventually(t, func() bool {
					return b.counter(t, "ssl-sync", "Imported") > imported
				}, 10*time.Second, 10*time.Millisecond, "A's New never reached B")
			})
			require.Contains(t, out, "Reused, TLSv1.", "%s: B did not resume A's session:\n%s", ver, out)
		})
	}
	require.Zero(t, b.counter(t, "ssl-sync", "Forged"))
	require.Zero(t, a.counter(t, "ssl-sync", "Forged"))
}

// fakeSession is a serialized server session as the cache judges it:
// version, type and creation time in front (crypto/tls's layout).
func fakeSession(created time.Time) []byte {
	s := make([]byte, 64)
	binary.BigEndian.PutUint16(s, 0x0304)
	s[2] = 1
	binary.BigEndian.PutUint64(s[5:], uint64(created.Unix()))
	return s
}

// TestSessionSyncRejects sends lb's sync port a genuine message, then a
// copy of it, one signed with another key, one with a byte flipped and
// one from an hour ago: only the first is accepted, and "show ssl-sync"
// counts each rejection under its cause.
func TestSessionSyncRejects(t *testing.T) {
	pki := newPKI(t, "rejects")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	const key = "the fleet's own key, 32 bytes.."
	keyFile := syncKey(t, "sync.key", key)
	port := freeUDPPortOn(t, "127.0.0.2", "127.0.0.3")
	addr := fmt.Sprintf("127.0.0.2:%d", freePortOn(t, "127.0.0.2"))
	lb := startSessLB(t, addr, crt, greeter(t, greeting, false), syncLine("127.0.0.2", "127.0.0.3", port, keyFile, ""))

	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.2:%d", port))
	require.NoError(t, err)
	defer c.Close()
	now := time.Now()
	ts := uint32(now.Unix())
	sign := func(k string, id byte, t0 uint32) []byte {
		return sslsync.Append(nil, []byte(k), sslsync.New, [sslcache.IDLen]byte{id}, fakeSession(now), t0)
	}
	genuine := sign(key, 1, ts)
	altered := sign(key, 2, ts)
	altered[sslsync.HeaderLen+10] ^= 0x01
	packets := []struct {
		name string
		pkt  []byte
	}{
		{"genuine", genuine},
		{"copy", bytes.Clone(genuine)},
		{"forged", sign("another key, also 32 bytes long", 3, ts)},
		{"altered", altered},
		{"an hour old", sign(key, 4, ts-3600)},
	}
	for _, p := range packets {
		_, err := c.Write(p.pkt)
		require.NoError(t, err, p.name)
	}
	require.Eventually(t, func() bool {
		return lb.counter(t, "ssl-sync", "Received") == len(packets)
	}, 10*time.Second, 10*time.Millisecond, "lb did not receive every packet: %v", lb.show(t, "ssl-sync"))
	got := lb.show(t, "ssl-sync")
	for name, want := range map[string]string{
		"Accepted": "1", "Imported": "1", // the genuine one only
		"Forged":    "2", // another key; the flipped byte
		"Replayed":  "2", // the copy; the old timestamp
		"Malformed": "0",
	} {
		require.Equal(t, want, got[name], "%s in %v", name, got)
	}
	require.Equal(t, fmt.Sprintf("127.0.0.2:%d", port), got["Bind"])
	require.Equal(t, 1, lb.counter(t, "ssl-cache", "Stores"), "only the genuine session reached the cache")
}

// TestSessionKeywordsCheckMode: lb -c accepts both keywords and reports
// their errors with file:line.
func TestSessionKeywordsCheckMode(t *testing.T) {
	dir := t.TempDir()
	key := syncKey(t, "sync.key", "0123456789abcdef0123456789abcdef")
	short := syncKey(t, "short.key", "0123")
	body := "defaults\n  mode tcp\nlisten x\n  bind 127.0.0.1:0\n  server s 127.0.0.1:1\n"
	good := writeFile(t, "good.cfg", "global\n  ssl-session-cache shm "+filepath.Join(dir, "c")+
		"\n  ssl-session-sync bind 127.0.0.2:7001 peer 127.0.0.3:7001 multicast 239.1.2.3 key-file "+key+"\n"+body)
	badAddr := writeFile(t, "addr.cfg", "global\n  ssl-session-sync bind 127.0.0.2:7001 peer 127.0.0.999:7001 key-file "+key+"\n"+body)
	noKey := writeFile(t, "nokey.cfg", "global\n  ssl-session-sync bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file "+filepath.Join(dir, "none")+"\n"+body)
	shortKey := writeFile(t, "short.cfg", "global\n\n  ssl-session-sync bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file "+short+"\n"+body)
	badCache := writeFile(t, "cache.cfg", "global\n  ssl-session-cache mmap /dev/shm/x\n"+body)
	for _, tc := range []struct {
		name   string
		file   string
		code   int
		stderr []string
	}{
		{"valid", good, 0, []string{"bind 127.0.0.2:7001 with multicast"}},
		{"bad peer address", badAddr, 1, []string{badAddr + ":2: bad value: 'ssl-session-sync' in 'global' section: peer '127.0.0.999:7001'"}},
		{"missing key file", noKey, 1, []string{noKey + ":2: bad value: 'ssl-session-sync' in 'global' section: key-file: open "}},
		{"short key file", shortKey, 1, []string{shortKey + ":3: bad value: 'ssl-session-sync' in 'global' section: key-file " + short + ": 4 bytes, want at least 16"}},
		{"unknown cache type", badCache, 1, []string{badCache + ":2: ", "cache type 'mmap'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"-c", "-f", tc.file}, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			for _, s := range tc.stderr {
				require.Contains(t, stderr.String(), s)
			}
			if tc.code == 0 {
				require.Equal(t, "Configuration file is valid\n", stdout.String())
			} else {
				require.Contains(t, stderr.String(), "Fatal errors found in configuration.")
			}
		})
	}
}

// TestSessionSyncBindTaken: a sync port another socket holds stops the
// start with the line that asked for it.
func TestSessionSyncBindTaken(t *testing.T) {
	held, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	require.NoError(t, err)
	defer held.Close()
	key := syncKey(t, "sync.key", "0123456789abcdef0123456789abcdef")
	cfg := writeFile(t, "lb.cfg", fmt.Sprintf("global\n  ssl-session-sync bind %s peer 127.0.0.3:7001 key-file %s\n"+
		"defaults\n  mode tcp\nlisten x\n  bind 127.0.0.1:0\n  server s 127.0.0.1:1\n", held.LocalAddr(), key))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"-f", cfg}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "ssl-session-sync ("+cfg+":2)")
	require.Contains(t, stderr.String(), "address already in use")
}

// TestSessionCacheChoice runs lb in the process: with ssl-session-cache
// every ssl bind stores its sessions in the cache except the one with
// tls-ticket-keys; with tune.ssl.cachesize 0 there is no cache; a cache
// file made with another size stops the start.
func TestSessionCacheChoice(t *testing.T) {
	testnet.LeakCheck(t)
	pki := newPKI(t, "choice")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	keys := ticketKeys(t, pki.dir)
	greet := greeter(t, greeting, false)
	path := filepath.Join(t.TempDir(), "ssl.cache")
	text := func(size int) string {
		return fmt.Sprintf(`global
    tune.ssl.cachesize %d
    ssl-session-cache shm %s
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend cached
    bind 127.0.0.1:0 ssl crt %[3]s
    default_backend greet
frontend stateful
    bind 127.0.0.1:0 ssl crt %[3]s no-tls-tickets
    default_backend greet
frontend tickets
    bind 127.0.0.1:0 ssl crt %[3]s tls-ticket-keys %[4]s
    default_backend greet
backend greet
    server g %[5]s
`, size, path, crt, keys, greet)
	}
	b, _, _ := startInProcess(t, text(100))
	cache := b.SSLSessionCache()
	require.NotNil(t, cache)
	require.Nil(t, b.SSLSessionSync())
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca)
	dial := func(fe string) {
		t.Helper()
		// A client session cache, else crypto/tls asks for no ticket.
		c, err := stdtls.Dial("tcp", b.Addrs(fe)[0].String(), &stdtls.Config{ServerName: "www.example.org", RootCAs: roots,
			ClientSessionCache: stdtls.NewLRUClientSessionCache(1)})
		require.NoError(t, err)
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Equal(t, greeting, string(got))
		_ = c.Close()
	}
	for _, tc := range []struct {
		fe     string
		stores bool
	}{{"cached", true}, {"stateful", true}, {"tickets", false}} {
		before := cache.Stats().Stores
		dial(tc.fe)
		require.Equal(t, tc.stores, cache.Stats().Stores > before, "frontend %s", tc.fe)
	}
	require.Equal(t, "Stores: "+strconv.FormatUint(cache.Stats().Stores, 10), strings.Split(b.RunCommand("user", "show ssl-cache"), "\n")[0])
	require.Equal(t, "No ssl-session-sync configured.\n", b.RunCommand("user", "show ssl-sync"))

	// Another size on the same file: refused, with the line.
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text(5000))})
	require.NoError(t, err)
	_, err = balancer.Start(context.Background(), cfg, balancer.Options{})
	require.ErrorContains(t, err, "ssl-session-cache (lb.cfg:3)")

	// No cache at all with tune.ssl.cachesize 0.
	cfg, err = config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text(0))})
	require.NoError(t, err)
	require.Len(t, cfg.Warnings, 1)
	b0, err := balancer.Start(context.Background(), cfg, balancer.Options{})
	require.NoError(t, err)
	defer b0.Close()
	require.Nil(t, b0.SSLSessionCache())
	require.Equal(t, "No TLS session cache (ssl-session-cache or ssl-session-sync) configured.\n", b0.RunCommand("user", "show ssl-cache"))
}

// TestSessionSyncInProcess: a balancer with ssl-session-sync on port 0
// reports the port it got, and Close stops the receiver and the socket.
func TestSessionSyncInProcess(t *testing.T) {
	testnet.LeakCheck(t)
	key := syncKey(t, "sync.key", "0123456789abcdef0123456789abcdef")
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(fmt.Sprintf(`global
    ssl-session-sync bind 127.0.0.2:0 peer 127.0.0.3:7001 key-file %s
defaults
    mode tcp
listen x
    bind 127.0.0.1:0
    server s 127.0.0.1:1
`, key))})
	require.NoError(t, err)
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{})
	require.NoError(t, err)
	s := b.SSLSessionSync()
	require.NotNil(t, s)
	require.NotNil(t, b.SSLSessionCache(), "sessions from peers need a cache, in the process without ssl-session-cache")
	got := parseCounters(b.RunCommand("user", "show ssl-sync"))
	require.Equal(t, s.LocalAddr().String(), got["Bind"])
	require.NotEqual(t, uint16(0), s.LocalAddr().Port())
	require.Equal(t, "0", got["Received"])
	require.NoError(t, b.Close())
	// The port is free again.
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(s.LocalAddr()))
	require.NoError(t, err)
	_ = c.Close()
}
