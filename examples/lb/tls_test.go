package main

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	lbtls "github.com/proxyblocks/proxyblocks/xprt/tls"
	"github.com/stretchr/testify/require"
)

const greeting = "hello from backend\n"

// tlsFixture is one lb with a frontend per TLS feature, in front of a
// greeter, and the files it was configured with.
type tlsFixture struct {
	pki      *testPKI
	other    *testPKI // a CA lb does not trust
	certDir  string
	exact    string
	keysFile string
	cfg      string
	b        *balancer.Balancer
	logs     *bytes.Buffer
	mu       *sync.Mutex
}

func (f *tlsFixture) addr(fe string) string { return f.b.Addrs(fe)[0].String() }

func (f *tlsFixture) logText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

// ticketKeys writes a tls-ticket-keys file of three 48-byte keys.
func ticketKeys(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for i := range 3 {
		k := make([]byte, 48)
		for j := range k {
			k[j] = byte(rand.IntN(256) + i)
		}
		b.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	}
	p := filepath.Join(dir, "tickets.key")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o600))
	return p
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	f := &tlsFixture{pki: newPKI(t, "lbtest"), other: newPKI(t, "stranger")}
	f.certDir = filepath.Join(f.pki.dir, "certs")
	// Loaded in name order: the first is the default certificate.
	f.pki.issue("certs/0default.pem", "default.example.com", []string{"default.example.com"}, false, false)
	f.exact = f.pki.issue("certs/exact.pem", "www.example.org", []string{"www.example.org"}, false, false)
	f.pki.issue("certs/wild.pem", "*.example.net", []string{"*.example.net"}, false, false)
	f.keysFile = ticketKeys(t, f.pki.dir)
	greet := greeter(t, greeting, false)
	info := greeter(t, "", true)
	web := httpServer(t, "hello over https\n")
	f.cfg = fmt.Sprintf(`global
    log stdout format raw local0
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphers ECDHE+AESGCM:ECDHE+CHACHA20
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
    ssl-default-server-options ssl-min-ver TLSv1.2
    tune.ssl.cachesize 1000
    tune.ssl.lifetime 300
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend sni
    bind 127.0.0.1:0 ssl crt %[1]s
    default_backend greet
frontend strict
    bind 127.0.0.1:0 ssl crt %[2]s strict-sni
    default_backend greet
frontend alpn
    bind 127.0.0.1:0 ssl crt %[2]s alpn h2,http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2
    default_backend greet
frontend optional
    bind 127.0.0.1:0 ssl crt %[2]s ca-file %[3]s verify optional
    default_backend info
frontend required
    bind 127.0.0.1:0 ssl crt %[2]s ca-file %[3]s verify required
    default_backend info
frontend tickets
    bind 127.0.0.1:0 ssl crt %[2]s tls-ticket-keys %[4]s
    default_backend greet
frontend stateful
    bind 127.0.0.1:0 ssl crt %[2]s no-tls-tickets
    default_backend greet
frontend web
    bind 127.0.0.1:0 ssl crt %[1]s
    default_backend web
backend greet
    server g %[5]s
backend info
    server i %[6]s send-proxy-v2-ssl-cn
backend web
    server w %[7]s
`, f.certDir, f.exact, f.pki.caFile, f.keysFile, greet, info, web)
	f.b, f.logs, f.mu = startInProcess(t, f.cfg)
	return f
}

var subjectCN = regexp.MustCompile(`subject=\s*CN\s*=\s*(\S+)`)

// TestTLSWithOpenSSL drives every TLS bind feature with openssl s_client.
func TestTLSWithOpenSSL(t *testing.T) {
	toolBin(t, "openssl")
	testnet.LeakCheck(t)
	f := newTLSFixture(t)
	client := f.pki.issue("client.pem", "alice", nil, false, true)
	stranger := f.other.issue("stranger.pem", "mallory", nil, false, true)

	t.Run("SNI", func(t *testing.T) {
		for _, tc := range []struct{ sni, want string }{
			{"www.example.org", "www.example.org"},
			{"WWW.Example.ORG", "www.example.org"},
			{"a.example.net", "*.example.net"},
			{"a.b.example.net", "default.example.com"}, // a wildcard covers one label
			{"unknown.example.com", "default.example.com"},
			{"", "default.example.com"},
		} {
			args := []string{"-servername", tc.sni}
			if tc.sni == "" {
				args = []string{"-noservername"}
			}
			out, err := sClient(t, f.addr("sni"), args...)
			require.NoError(t, err, out)
			m := subjectCN.FindStringSubmatch(out)
			require.NotNil(t, m, out)
			require.Equal(t, tc.want, m[1], "SNI %q", tc.sni)
			require.Contains(t, out, greeting)
		}
	})

	t.Run("strict-sni", func(t *testing.T) {
		before := f.b.SSLHandshakeFailures("strict")
		out, err := sClient(t, f.addr("strict"), "-servername", "www.example.org")
		require.NoError(t, err, out)
		require.Contains(t, out, greeting)
		for _, args := range [][]string{{"-servername", "other.example.org"}, {"-noservername"}} {
			out, _ = sClient(t, f.addr("strict"), args...)
			require.NotContains(t, out, greeting)
			require.Regexp(t, `alert|handshake failure|error`, out)
		}
		require.Eventually(t, func() bool { return f.b.SSLHandshakeFailures("strict") == before+2 }, 5*time.Second, 10*time.Millisecond)
		require.Regexp(t, `(?m)^127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] strict/1: SSL handshake failure \(.+\)$`, f.logText())
	})

	t.Run("ALPN and versions", func(t *testing.T) {
		out, err := sClient(t, f.addr("alpn"), "-alpn", "h2,http/1.1")
		require.NoError(t, err, out)
		require.Contains(t, out, "ALPN protocol: h2")
		require.Contains(t, out, "Protocol  : TLSv1.2")
		out, err = sClient(t, f.addr("alpn"), "-alpn", "http/1.1")
		require.NoError(t, err, out)
		require.Contains(t, out, "ALPN protocol: http/1.1")
		out, err = sClient(t, f.addr("sni"), "-alpn", "h2")
		require.NoError(t, err, out)
		require.Contains(t, out, "No ALPN negotiated")
		require.Contains(t, out, "Protocol  : TLSv1.3")
		// ssl-max-ver TLSv1.2 refuses a TLS 1.3-only client.
		out, _ = sClient(t, f.addr("alpn"), "-tls1_3")
		require.NotContains(t, out, greeting)
		// ssl-min-ver TLSv1.2 (global default) refuses TLS 1.1.
		out, _ = sClient(t, f.addr("sni"), "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
		require.NotContains(t, out, greeting)
	})

	t.Run("client certificates", func(t *testing.T) {
		out, err := sClient(t, f.addr("optional"))
		require.NoError(t, err, out)
		// No certificate: verify stays 0, as haproxy sends it
		// (TestInteropProxyV2OptionsMatchHAProxy).
		require.Contains(t, out, "ssl client=1 verify=0 version=TLSv1.3 cn=\n")
		out, err = sClient(t, f.addr("optional"), "-cert", client, "-key", client)
		require.NoError(t, err, out)
		require.Contains(t, out, "ssl client=7 verify=0 version=TLSv1.3 cn=alice\n")
		out, _ = sClient(t, f.addr("optional"), "-cert", stranger, "-key", stranger)
		require.NotContains(t, out, "ssl client=", "an untrusted certificate is refused even when optional")

		out, _ = sClient(t, f.addr("required"))
		require.NotContains(t, out, "ssl client=")
		out, _ = sClient(t, f.addr("required"), "-cert", stranger, "-key", stranger)
		require.NotContains(t, out, "ssl client=")
		out, err = sClient(t, f.addr("required"), "-cert", client, "-key", client, "-tls1_2")
		require.NoError(t, err, out)
		require.Contains(t, out, "ssl client=7 verify=0 version=TLSv1.2 cn=alice\n")
	})

	t.Run("resumption", func(t *testing.T) {
		for _, fe := range []string{"sni", "tickets", "stateful"} {
			for _, ver := range []string{"-tls1_3", "-tls1_2"} {
				sess := filepath.Join(t.TempDir(), "sess.pem")
				out, err := sClient(t, f.addr(fe), ver, "-servername", "www.example.org", "-sess_out", sess)
				require.NoError(t, err, out)
				require.Contains(t, out, "New, TLSv1.")
				out, err = sClient(t, f.addr(fe), ver, "-servername", "www.example.org", "-sess_in", sess)
				require.NoError(t, err, out)
				require.Contains(t, out, "Reused, TLSv1.", "%s %s:\n%s", fe, ver, out)
				require.Contains(t, out, greeting)
			}
		}
	})

	t.Run("shared ticket keys", func(t *testing.T) {
		// A second balancer on the same tls-ticket-keys file resumes the
		// first one's sessions; one without it cannot.
		other, _, _ := startInProcess(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend tickets
    bind 127.0.0.1:0 ssl crt %[1]s tls-ticket-keys %[2]s
    default_backend greet
frontend alone
    bind 127.0.0.1:0 ssl crt %[1]s
    default_backend greet
backend greet
    server g %[3]s
`, f.exact, f.keysFile, greeter(t, greeting, false)))
		sess := filepath.Join(t.TempDir(), "sess.pem")
		out, err := sClient(t, f.addr("tickets"), "-sess_out", sess)
		require.NoError(t, err, out)
		require.Contains(t, out, "New, TLSv1.3")
		out, err = sClient(t, other.Addrs("tickets")[0].String(), "-sess_in", sess)
		require.NoError(t, err, out)
		require.Contains(t, out, "Reused, TLSv1.3")
		out, err = sClient(t, other.Addrs("alone")[0].String(), "-sess_in", sess)
		require.NoError(t, err, out)
		require.Contains(t, out, "New, TLSv1.3")
	})
}

// TestTLSWithCurl checks lb's certificates verify for the names curl asks
// for, through to a plain HTTP backend.
func TestTLSWithCurl(t *testing.T) {
	curl := toolBin(t, "curl")
	f := newTLSFixture(t)
	_, port, err := net.SplitHostPort(f.addr("web"))
	require.NoError(t, err)
	for _, name := range []string{"www.example.org", "x.example.net", "default.example.com"} {
		url := fmt.Sprintf("https://%s:%s/", name, port)
		out, err := exec.Command(curl, "-sS", "--http1.1", "--cacert", f.pki.caFile,
			"--resolve", name+":"+port+":127.0.0.1", "-w", "|%{ssl_verify_result}", url).CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
		require.Equal(t, "hello over https\n|0", string(out), name)
	}
	// A name no certificate has: the default one is served and curl
	// refuses it.
	out, err := exec.Command(curl, "-sS", "--http1.1", "--cacert", f.pki.caFile,
		"--resolve", "nobody.example.org:"+port+":127.0.0.1", "https://nobody.example.org:"+port+"/").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "SSL")
}

// TestTLSToHAProxy: lb as a TLS client to haproxy's bind ssl, verifying
// haproxy's certificate and sending SNI (fixed, or the client's), with
// sessions resumed across connections.
func TestTLSToHAProxy(t *testing.T) {
	toolBin(t, "haproxy")
	pki := newPKI(t, "hp")
	srv := pki.issue("backend.pem", "backend.example.org", []string{"backend.example.org"}, false, false)
	front := pki.issue("front.pem", "front.example.org", []string{"front.example.org"}, false, false)
	hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	runHAProxy(t, fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend tls
    bind %s ssl crt %s
    http-request return status 200 content-type text/plain lf-string "sni=%%[ssl_fc_sni] proto=%%[ssl_fc_protocol] resumed=%%[ssl_fc_is_resumed]"
`, hp, srv), hp)
	b, _, _ := startInProcess(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen fixed
    bind 127.0.0.1:0
    server hp %[1]s ssl verify required ca-file %[2]s sni str(backend.example.org)
listen wrongname
    bind 127.0.0.1:0
    server hp %[1]s ssl verify required ca-file %[2]s sni str(other.example.org)
listen noverify
    bind 127.0.0.1:0
    server hp %[1]s ssl verify none sni str(other.example.org) no-ssl-reuse
listen passsni
    bind 127.0.0.1:0 ssl crt %[3]s
    server hp %[1]s ssl verify required ca-file %[2]s verifyhost backend.example.org sni ssl_fc_sni
`, hp, pki.caFile, front))
	get := func(c net.Conn) string {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, _ := io.ReadAll(c)
		_ = c.Close()
		return string(resp)
	}
	dial := func(fe string) net.Conn {
		c, err := net.Dial("tcp", b.Addrs(fe)[0].String())
		require.NoError(t, err)
		return c
	}
	first := get(dial("fixed"))
	require.Contains(t, first, "sni=backend.example.org proto=TLSv1.3 resumed=0")
	require.Contains(t, get(dial("fixed")), "sni=backend.example.org proto=TLSv1.3 resumed=1", "sessions to a server are reused")
	require.Empty(t, get(dial("wrongname")), "the name does not match haproxy's certificate: no connection")
	require.Contains(t, get(dial("noverify")), "sni=other.example.org proto=TLSv1.3 resumed=0")
	require.Contains(t, get(dial("noverify")), "resumed=0", "no-ssl-reuse")

	roots := x509.NewCertPool()
	roots.AddCert(pki.ca)
	tc, err := stdtls.Dial("tcp", b.Addrs("passsni")[0].String(), &stdtls.Config{ServerName: "front.example.org", RootCAs: roots})
	require.NoError(t, err)
	require.Contains(t, get(tc), "sni=front.example.org proto=TLSv1.3")
}

// TestTLSConfigCheckedByHAProxy: the TLS keywords lb accepts are accepted
// unchanged by haproxy -c.
func TestTLSConfigCheckedByHAProxy(t *testing.T) {
	bin := toolBin(t, "haproxy")
	f := &tlsFixture{pki: newPKI(t, "cfg")}
	crt := f.pki.issue("certs/site.pem", "www.example.org", []string{"www.example.org"}, true, false)
	keys := ticketKeys(t, f.pki.dir)
	text := fmt.Sprintf(`global
    ssl-default-bind-ciphers ECDHE+AESGCM
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
    ssl-default-server-options ssl-min-ver TLSv1.2
    tune.ssl.cachesize 20000
    tune.ssl.lifetime 300
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%[5]d ssl crt %[1]s crt %[2]s alpn h2,http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 ciphers ECDHE+AESGCM ciphersuites TLS_AES_128_GCM_SHA256 curves X25519:P-256 ca-file %[3]s verify optional no-tls-tickets strict-sni tls-ticket-keys %[4]s
    default_backend be
backend be
    server a 127.0.0.1:1 ssl verify required ca-file %[3]s sni str(www.example.org) alpn http/1.1 crt %[2]s no-ssl-reuse
    server b 127.0.0.1:2 ssl verify none sni ssl_fc_sni send-proxy-v2-ssl
    server c 127.0.0.1:3 send-proxy-v2-ssl-cn
`, filepath.Dir(crt), crt, f.pki.caFile, keys, freePort(t))
	path := writeFile(t, "tls.cfg", text)
	out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	require.NoError(t, err, "haproxy -c: %s", out)
	cfg, err := config.ParseFiles(path)
	require.NoError(t, err)
	require.NotNil(t, cfg.Proxies[0].Binds[0].SSL.Inbound)
	require.NotNil(t, cfg.Proxies[1].Servers[0].SSL.Outbound)
}

// TestTLSBadFilesStopTheStart: a broken certificate, key or CA file is
// reported with the config line and what is wrong with the file.
func TestTLSBadFilesStopTheStart(t *testing.T) {
	pki := newPKI(t, "bad")
	good := pki.issue("good.pem", "www.example.org", nil, false, false)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a pem\n"), 0o600))
	certOnly := filepath.Join(dir, "certonly.pem")
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certOnly, data[:bytes.Index(data, []byte("-----BEGIN PRIVATE KEY"))], 0o600))
	for _, tc := range []struct{ name, line, want string }{
		{"missing crt", "bind :0 ssl crt " + filepath.Join(dir, "nope.pem"), "nope.pem"},
		{"garbage crt", "bind :0 ssl crt " + garbage, "garbage.pem"},
		{"no key", "bind :0 ssl crt " + certOnly, "certonly.pem"},
		{"garbage ca-file", "bind :0 ssl crt " + good + " ca-file " + garbage + " verify required", "garbage.pem"},
		{"no certificate", "bind :0 ssl", "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "frontend fe\n    " + tc.line + "\n"
			_, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			require.Error(t, err)
			require.Contains(t, err.Error(), "lb.cfg:2: ")
			require.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = config.Parse(config.Source{Name: "lb.cfg", Data: []byte("backend be\n    server s 127.0.0.1:1 ssl\n")})
	require.ErrorContains(t, err, "lb.cfg:2: ")
	require.ErrorContains(t, err, "no CA file")
}

// TestTLSTermination300x1MiB: 300 concurrent TLS clients each send 1 MiB
// through lb to a plain echo server and get every byte back. On a failure
// it names each connection that failed, how far it got and when, and the
// traffic lines of lb that did not end normally.
func TestTLSTermination300x1MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 600 MiB through TLS; skipped under -short")
	}
	testnet.LeakCheck(t)
	// The clients, lb and the echo server share this process, and 300 TLS
	// handshakes plus 600 MiB of AES-GCM keep it busy: on a loaded machine,
	// more so under -race, a goroutine can wait tens of seconds for a CPU.
	// lb then saw a connect taking 14 s (sC after its retries) or a server
	// silent for 60 s (sD with 0 bytes), though every byte arrives when
	// given the time. This test checks bytes, not timing: its timeouts
	// only stop a real hang.
	b, logText, cfg := tlsListen(t, `global
    maxconn 1000
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1m
    timeout client 3m
    timeout server 3m
`, "", echoServer(t))
	const conns, size = 300, 1 << 20
	start := time.Now()
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = bulkOne(b.Addrs("tls")[0].String(), cfg, uint64(i), size, start)
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			t.Error(err)
		}
	}
	if failed == 0 {
		return
	}
	t.Logf("%d of %d connections failed; the round took %v", failed, conns, time.Since(start).Round(time.Millisecond))
	text := logText()
	terms := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		// client:port [date] fe be/srv Tw/Tc/Tt bytes term counts queues
		if f := strings.Fields(line); len(f) == 9 && strings.HasPrefix(f[1], "[") {
			terms[f[6]]++
			if f[6] == "--" {
				continue
			}
		}
		t.Logf("lb: %s", line)
	}
	t.Logf("termination states: %v; sessions live: %d", terms, b.Sessions())
}

// bulkOne sends size bytes over TLS through addr to an echo, half-closes,
// and checks that the same bytes come back. Its error tells how many
// bytes went each way and when, counted from start.
func bulkOne(addr string, cfg *stdtls.Config, seed uint64, size int, start time.Time) error {
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	c, err := stdtls.Dial("tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("conn %d: handshake at %v: %w", seed, since(), err)
	}
	defer c.Close()
	dialled := since()
	_ = c.SetDeadline(time.Now().Add(4 * time.Minute))
	src := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	closeWrite := func() error {
		err := c.CloseWrite()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// crypto/tls gives close_notify 5 s to leave; a client that
			// waited longer than that for a CPU lost it, and lb would
			// wait for more data until its timeout. A FIN at a record
			// boundary ends the data just as well.
			err = c.NetConn().(*net.TCPConn).CloseWrite()
		}
		return err
	}
	return testnet.CheckEcho(c, src, closeWrite, fmt.Sprintf("conn %d (%s): handshake done at %v", seed, c.LocalAddr(), dialled), since)
}

// TestTLSSessionStoreHook: a store given in balancer.Options replaces the
// built-in resumption of every ssl bind.
func TestTLSSessionStoreHook(t *testing.T) {
	pki := newPKI(t, "store")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen tls
    bind 127.0.0.1:0 ssl crt %s
    server g %s
`, crt, greeter(t, greeting, false)))})
	require.NoError(t, err)
	store := &countingStore{SessionStore: lbtls.CacheStore(lbtls.NewMemoryCache(100))}
	var asked []config.Pos
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{
		SessionStore: func(bind config.Bind) (lbtls.SessionStore, error) {
			asked = append(asked, bind.Pos)
			return store, nil
		},
	})
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, []config.Pos{{File: "lb.cfg", Line: 7}}, asked)
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca)
	cache := stdtls.NewLRUClientSessionCache(4)
	for i := range 2 {
		c, err := stdtls.Dial("tcp", b.Addrs("tls")[0].String(), &stdtls.Config{ServerName: "www.example.org", RootCAs: roots, ClientSessionCache: cache})
		require.NoError(t, err)
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Equal(t, greeting, string(got))
		require.Equal(t, i == 1, c.ConnectionState().DidResume, "connection %d", i)
		_ = c.Close()
	}
	require.Positive(t, store.wraps.Load())
	require.Positive(t, store.unwraps.Load())
}

// Idle TLS connections through a TCP-mode listener hold no goroutine:
// once silent, both directions of each wait in the shared poller, and
// the next bytes wake them.
func TestIdleTLSConnectionsPark(t *testing.T) {
	testnet.LeakCheck(t)
	b, _, cfg := tlsListen(t, `defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
`, "", echoServer(t))
	const n = 20
	parked0 := xprt.Parked()
	conns := make([]*stdtls.Conn, n)
	echo := func(c *stdtls.Conn, msg string) {
		t.Helper()
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		require.Equal(t, msg, string(got))
	}
	for i := range conns {
		c, err := stdtls.Dial("tcp", b.Addrs("tls")[0].String(), cfg)
		require.NoError(t, err)
		conns[i] = c
		echo(c, "first")
	}
	require.Eventually(t, func() bool { return xprt.Parked()-parked0 == 2*n },
		10*time.Second, 5*time.Millisecond, "both directions of every idle TLS connection park")
	for _, c := range conns {
		echo(c, "woken")
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	require.Eventually(t, func() bool { return xprt.Parked() == parked0 },
		10*time.Second, 5*time.Millisecond, "closed connections leave the poller")
}

// A TLS client that completes its handshake and leaves without sending a
// byte gets no server connection, as in HAProxy, and a CC traffic line.
// A client that sends at once, bytes and end together, or after a pause,
// is forwarded whole.
func TestTLSClientGoneAfterHandshakeDialsNoServer(t *testing.T) {
	testnet.LeakCheck(t)
	var dialed atomic.Int64
	backend := testnet.Serve(t, func(c net.Conn) {
		dialed.Add(1)
		testnet.Echo(c)
	})
	b, logText, cfg := tlsListen(t, `global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s
`, " no-tls-tickets", backend)
	addr := b.Addrs("tls")[0].String()

	// Each client's last handshake flight travels with its close_notify
	// and FIN, as they do when the proxy is busy: otherwise lb may look
	// before the close arrives, and then it dials, as HAProxy would. No
	// tickets, so that the client closes with nothing unread (a close
	// with unread bytes is a reset, which may beat the Finished).
	const gone = 10
	for range gone {
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c := stdtls.Client(&holdConn{Conn: raw}, cfg)
		require.NoError(t, c.Handshake())
		require.NoError(t, c.Close())
	}
	require.Eventually(t, func() bool {
		return strings.Count(logText(), "/<NOSRV> ") == gone && strings.Count(logText(), " CC ") == gone
	},
		10*time.Second, 5*time.Millisecond, "one CC line per client gone:\n%s", logText())
	require.Zero(t, dialed.Load(), "no server dialed for clients that left")

	// A client that closes with bytes unread resets the connection: here
	// its last flight is followed by a reset (SO_LINGER 0). Whether lb
	// sees the handshake end first or not, no server is dialed.
	for range gone {
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c := stdtls.Client(&holdConn{Conn: raw, reset: true}, cfg)
		require.NoError(t, c.Handshake())
		require.NoError(t, c.Close())
	}
	require.Eventually(t, func() bool {
		return strings.Count(logText(), "\n") == 2*gone
	}, 10*time.Second, 5*time.Millisecond, "one line per client reset:\n%s", logText())
	require.Zero(t, dialed.Load(), "no server dialed for clients that reset")

	for _, pause := range []time.Duration{0, 50 * time.Millisecond} {
		c, err := stdtls.Dial("tcp", addr, cfg)
		require.NoError(t, err)
		time.Sleep(pause)
		_, err = c.Write([]byte("ping"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Equal(t, "ping", string(got), "pause %v", pause)
		require.NoError(t, c.Close())
	}
	require.Equal(t, int64(2), dialed.Load())
}

// holdConn sends its first write (the ClientHello) at once and holds the
// rest back until Close, which sends them in one write before closing.
type holdConn struct {
	net.Conn
	writes int
	held   []byte
	reset  bool // close with a reset (SO_LINGER 0)
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.writes++
	if h.writes == 1 {
		return h.Conn.Write(p)
	}
	h.held = append(h.held, p...)
	return len(p), nil
}

func (h *holdConn) Close() error {
	if len(h.held) > 0 {
		// crypto/tls ends its close_notify by setting the write deadline
		// to now, so that nothing else leaves; lift it for what was held.
		_ = h.Conn.SetWriteDeadline(time.Time{})
		_, _ = h.Conn.Write(h.held)
	}
	if h.reset {
		_ = h.Conn.(*net.TCPConn).SetLinger(0)
	}
	return h.Conn.Close()
}

// tlsListen starts lb with head (global and defaults) and one TCP-mode
// "listen tls" terminating TLS for www.example.org, with the bind options
// given, in front of backend; it returns lb, a reader of its log and a
// client config that trusts the certificate.
func tlsListen(t *testing.T, head, bindOpts, backend string) (*balancer.Balancer, func() string, *stdtls.Config) {
	t.Helper()
	pki := newPKI(t, "tls")
	crt := pki.issue("site.pem", "www.example.org", []string{"www.example.org"}, false, false)
	b, logs, mu := startInProcess(t, head+fmt.Sprintf(`listen tls
    bind 127.0.0.1:0 ssl crt %s%s
    server echo %s
`, crt, bindOpts, backend))
	roots := x509.NewCertPool()
	roots.AddCert(pki.ca)
	logText := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	return b, logText, &stdtls.Config{ServerName: "www.example.org", RootCAs: roots}
}
