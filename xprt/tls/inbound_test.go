package tls_test

import (
	"bufio"
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// goDial connects with crypto/tls and returns the session and the line
// the test server wrote.
func goDial(t testing.TB, addr string, cfg *stdtls.Config) (stdtls.ConnectionState, string, error) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c := stdtls.Client(raw, cfg)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return stdtls.ConnectionState{}, "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return c.ConnectionState(), strings.TrimSpace(line), err
}

// sniFixture issues the certificates the selection tests use.
type sniFixture struct {
	p                                      *pki
	def, example, wild, dualRSA, dualECDSA string
}

func newSNIFixture(t testing.TB) *sniFixture {
	p := newPKI(t)
	return &sniFixture{
		p:         p,
		def:       p.leaf("default.pem", leafOpts{cn: "default.example.net"}),
		example:   p.leaf("example.pem", leafOpts{cn: "example.com", dns: []string{"example.com", "www.example.com"}}),
		wild:      p.leaf("wild.pem", leafOpts{cn: "*.example.org", dns: []string{"*.example.org"}}),
		dualRSA:   p.leaf("dual-rsa.pem", leafOpts{cn: "dual.example.com", dns: []string{"dual.example.com"}, rsa: true}),
		dualECDSA: p.leaf("dual-ecdsa.pem", leafOpts{cn: "dual.example.com", dns: []string{"dual.example.com"}}),
	}
}

func (f *sniFixture) bind() ptls.BindConfig {
	// The RSA certificate is loaded before the ECDSA one so that the
	// ECDSA preference cannot come from load order.
	return ptls.BindConfig{Crt: []string{f.def, f.example, f.wild, f.dualRSA, f.dualECDSA}}
}

var sniCases = []struct {
	sni, wantCN string
}{
	{"example.com", "example.com"},
	{"WWW.Example.com", "example.com"},
	{"a.example.org", "*.example.org"},
	{"a.b.example.org", "default.example.net"}, // a wildcard covers one label
	{"unknown.test", "default.example.net"},
	{"", "default.example.net"},
}

func TestSNISelectionGoClient(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(f.bind(), nil)
	require.NoError(t, err)
	s := serve(t, in, "line")
	for _, tc := range sniCases {
		cs, line, err := goDial(t, s.addr, &stdtls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
		require.NoError(t, err, tc.sni)
		require.Equal(t, tc.wantCN, cs.PeerCertificates[0].Subject.CommonName, "sni %q", tc.sni)
		require.Contains(t, line, "sni="+tc.sni+" ")
	}

	// ECDSA when the client can use it, RSA when it cannot.
	cs, _, err := goDial(t, s.addr, &stdtls.Config{ServerName: "dual.example.com", InsecureSkipVerify: true})
	require.NoError(t, err)
	require.Equal(t, "ECDSA", cs.PeerCertificates[0].PublicKeyAlgorithm.String())
	cs, _, err = goDial(t, s.addr, &stdtls.Config{ServerName: "dual.example.com", InsecureSkipVerify: true,
		MaxVersion: stdtls.VersionTLS12, CipherSuites: []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}})
	require.NoError(t, err)
	require.Equal(t, "RSA", cs.PeerCertificates[0].PublicKeyAlgorithm.String())
	require.Equal(t, "ECDHE-RSA-AES128-GCM-SHA256", ptls.CipherName(cs.CipherSuite))
}

func TestStrictSNI(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	b := f.bind()
	b.StrictSNI = true
	in, err := ptls.NewInbound(b, nil)
	require.NoError(t, err)
	s := serve(t, in, "line")

	cs, _, err := goDial(t, s.addr, &stdtls.Config{ServerName: "a.example.org", InsecureSkipVerify: true})
	require.NoError(t, err)
	require.Equal(t, "*.example.org", cs.PeerCertificates[0].Subject.CommonName)
	<-s.infos

	_, _, err = goDial(t, s.addr, &stdtls.Config{ServerName: "unknown.test", InsecureSkipVerify: true})
	require.Error(t, err)
	serr := <-s.errs
	require.ErrorIs(t, serr, ptls.ErrNoCertificate)
	require.ErrorContains(t, serr, `tls: no certificate for SNI "unknown.test" (strict-sni)`)

	_, _, err = goDial(t, s.addr, &stdtls.Config{InsecureSkipVerify: true})
	require.Error(t, err, "no SNI at all is refused too")
	require.ErrorIs(t, <-s.errs, ptls.ErrNoCertificate)
}

func TestCrtList(t *testing.T) {
	testnet.LeakCheck(t)
	p := newPKI(t)
	p.leaf("example.pem", leafOpts{cn: "example.com", dns: []string{"example.com"}})
	p.leaf("wild.pem", leafOpts{cn: "*.example.org", dns: []string{"*.example.org"}})
	p.leaf("other.pem", leafOpts{cn: "other.internal"})
	list := filepath.Join(p.dir, "list.txt")
	require.NoError(t, os.WriteFile(list, []byte(`# certificates by name
example.pem [alpn h2 ssl-min-ver TLSv1.3]
wild.pem *.example.org !secret.example.org

other.pem alias.test
`), 0o600))
	in, err := ptls.NewInbound(ptls.BindConfig{CrtList: []string{list}, ALPN: []string{"http/1.1"}},
		&ptls.Defaults{CrtBase: p.dir, BindOptions: ptls.Options{MinVersion: stdtls.VersionTLS12}})
	require.NoError(t, err)
	s := serve(t, in, "line")

	for _, tc := range []struct {
		sni, cn string
	}{
		{"a.example.org", "*.example.org"},
		{"secret.example.org", "example.com"}, // excluded from the wildcard: default
		{"alias.test", "other.internal"},      // the filter replaces the certificate's names
		{"other.internal", "example.com"},     // ...so its own CN no longer matches
	} {
		cs, _, err := goDial(t, s.addr, &stdtls.Config{ServerName: tc.sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		require.NoError(t, err, tc.sni)
		require.Equal(t, tc.cn, cs.PeerCertificates[0].Subject.CommonName, tc.sni)
	}

	// The bracketed options apply to example.com only.
	cs, _, err := goDial(t, s.addr, &stdtls.Config{ServerName: "example.com", InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, err)
	require.Equal(t, "h2", cs.NegotiatedProtocol)
	cs, _, err = goDial(t, s.addr, &stdtls.Config{ServerName: "a.example.org", InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, err)
	require.Equal(t, "http/1.1", cs.NegotiatedProtocol)
	_, _, err = goDial(t, s.addr, &stdtls.Config{ServerName: "example.com", InsecureSkipVerify: true, MaxVersion: stdtls.VersionTLS12})
	require.Error(t, err, "ssl-min-ver TLSv1.3 from the crt-list line")
	_, _, err = goDial(t, s.addr, &stdtls.Config{ServerName: "a.example.org", InsecureSkipVerify: true, MaxVersion: stdtls.VersionTLS12})
	require.NoError(t, err)

	bad := filepath.Join(p.dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("example.pem\nwild.pem [alpn h2\n"), 0o600))
	_, err = ptls.LoadCrtList(bad, p.dir)
	require.ErrorContains(t, err, `bad.txt" line 2`)
	require.ErrorContains(t, err, "missing ']'")
}

func TestTransportContract(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(f.bind(), nil)
	require.NoError(t, err)
	require.Contains(t, xprt.Names(), "tls")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	rc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	rs := <-accepted
	require.NotNil(t, rs)

	_, err = xprt.New("tls", rs, in, true)
	require.ErrorIs(t, err, ptls.ErrConfig, "an Inbound cannot dial")
	st, err := xprt.New("tls", rs, in, false)
	require.NoError(t, err)
	ct, err := xprt.New("tls", rc, &stdtls.Config{ServerName: "example.com", InsecureSkipVerify: true}, true)
	require.NoError(t, err)
	defer st.Close()
	defer ct.Close()
	require.Equal(t, "tls", st.Name())
	_, ok := st.Raw()
	require.False(t, ok, "TLS bytes cannot be spliced")
	require.Equal(t, xprt.Info{}, st.Info(), "no Info before the handshake")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Handshake(ctx) }()
	require.NoError(t, ct.Handshake(ctx))
	require.NoError(t, <-done)
	require.NoError(t, st.Handshake(ctx), "idempotent")
	info := st.Info()
	require.True(t, info.TLS)
	require.Equal(t, "example.com", info.ServerName)
	require.Equal(t, "TLSv1.3", ptls.VersionName(info.Version))

	// CloseWrite sends close_notify: the peer reads EOF and can still send.
	_, err = st.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, st.CloseWrite())
	got, err := io.ReadAll(ct)
	require.NoError(t, err)
	require.Equal(t, "bye", string(got))
	_, err = ct.Write([]byte("still open"))
	require.NoError(t, err)
	buf := make([]byte, 10)
	_, err = io.ReadFull(st, buf)
	require.NoError(t, err)
	require.Equal(t, "still open", string(buf))
}

func TestHandshakeTimeout(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(f.bind(), nil)
	require.NoError(t, err)
	a, b := net.Pipe()
	defer b.Close()
	c := in.Server(a)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A silent client and a cancelled context: the handshake gives up.
	err = c.Handshake(ctx)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled), err.Error())
	require.ErrorContains(t, err, "tls: handshake from")
}

func TestBuildErrors(t *testing.T) {
	f := newSNIFixture(t)
	for _, tc := range []struct {
		b    ptls.BindConfig
		want string
	}{
		{ptls.BindConfig{}, "no certificate"},
		{ptls.BindConfig{Crt: []string{f.example}, Verify: ptls.VerifyRequired}, "needs a ca-file"},
		{ptls.BindConfig{Crt: []string{f.example}, MinVersion: 0x0300}, "SSLv3"},
		{ptls.BindConfig{Crt: []string{f.example}, MinVersion: stdtls.VersionTLS13, MaxVersion: stdtls.VersionTLS12}, "above ssl-max-ver"},
		{ptls.BindConfig{Crt: []string{f.example}, TicketKeys: filepath.Join(f.p.dir, "nokeys")}, "tls-ticket-keys"},
	} {
		_, err := ptls.NewInbound(tc.b, nil)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := ptls.NewOutbound(ptls.ServerConfig{}, nil)
	require.ErrorIs(t, err, ptls.ErrNoCAFile, "server verify defaults to required")
	_, err = ptls.NewOutbound(ptls.ServerConfig{}, &ptls.Defaults{ServerVerify: ptls.VerifyNone})
	require.NoError(t, err, "ssl-server-verify none")
}

// TestBindConfigDir: with Dir set, relative crt, crt-list (and the names
// it lists) and ca-file are read from Dir, after a relative crt-base or
// ca-base is applied; absolute names stay as they are.
func TestBindConfigDir(t *testing.T) {
	p := newPKI(t)
	p.leaf("example.pem", leafOpts{cn: "example.com", dns: []string{"example.com"}})
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "certs"), 0o700))
	require.NoError(t, os.Rename(filepath.Join(p.dir, "example.pem"), filepath.Join(p.dir, "certs", "example.pem")))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "certs", "list.txt"), []byte("example.pem\n"), 0o600))
	for _, tc := range []struct {
		name string
		b    ptls.BindConfig
		d    *ptls.Defaults
		ok   bool
	}{
		{"crt in Dir", ptls.BindConfig{Crt: []string{"certs/example.pem"}, Dir: p.dir}, nil, true},
		{"crt without Dir", ptls.BindConfig{Crt: []string{"certs/example.pem"}}, nil, false},
		{"relative crt-base in Dir", ptls.BindConfig{Crt: []string{"example.pem"}, Dir: p.dir}, &ptls.Defaults{CrtBase: "certs"}, true},
		{"absolute crt-base", ptls.BindConfig{Crt: []string{"example.pem"}, Dir: "/nonexistent"}, &ptls.Defaults{CrtBase: filepath.Join(p.dir, "certs")}, true},
		{"crt-list and its names", ptls.BindConfig{CrtList: []string{"list.txt"}, Dir: filepath.Join(p.dir, "certs")}, nil, true},
		{"ca-file in Dir", ptls.BindConfig{Crt: []string{"certs/example.pem"}, CAFile: filepath.Base(p.caFile), Verify: ptls.VerifyOptional, Dir: p.dir}, nil, true},
		{"ca-file not in Dir", ptls.BindConfig{Crt: []string{"certs/example.pem"}, CAFile: filepath.Base(p.caFile), Verify: ptls.VerifyOptional, Dir: filepath.Join(p.dir, "certs")}, nil, false},
	} {
		_, err := ptls.NewInbound(tc.b, tc.d)
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.name, err)
	}
}

// TestBindConfigECDHE: ecdhe takes one named curve, used when curves is
// not given.
func TestBindConfigECDHE(t *testing.T) {
	var b ptls.BindConfig
	_, err := b.Apply([]string{"ecdhe", "secp384r1"})
	require.NoError(t, err)
	require.Equal(t, stdtls.CurveP384, b.ECDHE)
	_, err = b.Apply([]string{"ecdhe", "P-256:P-384"})
	require.ErrorIs(t, err, ptls.ErrBadValue)
	_, err = b.Apply([]string{"ecdhe", "bogus"})
	require.ErrorIs(t, err, ptls.ErrBadValue)
}
