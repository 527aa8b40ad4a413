package tls_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

func TestOpenSSLSNI(t *testing.T) {
	needTool(t, "openssl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(f.bind(), nil)
	require.NoError(t, err)
	s := serve(t, in, "line")
	for _, tc := range sniCases {
		args := []string{"-servername", tc.sni}
		if tc.sni == "" {
			args = []string{"-noservername"}
		}
		out := sClient(t, s.addr, args...)
		require.Contains(t, out, "subject=CN = "+tc.wantCN, "sni %q:\n%s", tc.sni, out)
		require.Contains(t, out, "sni="+tc.sni+" ")
	}

	// The key type follows the signature algorithms the client offers.
	out := sClient(t, s.addr, "-servername", "dual.example.com", "-sigalgs", "ecdsa_secp256r1_sha256")
	require.Contains(t, out, "Peer signature type: ECDSA", out)
	out = sClient(t, s.addr, "-servername", "dual.example.com", "-sigalgs", "rsa_pss_rsae_sha256")
	require.Contains(t, out, "Peer signature type: RSA-PSS", out)
	require.Contains(t, out, "subject=CN = dual.example.com")

	// strict-sni refuses the handshake.
	b := f.bind()
	b.StrictSNI = true
	strict, err := ptls.NewInbound(b, nil)
	require.NoError(t, err)
	ss := serve(t, strict, "line")
	out = sClient(t, ss.addr, "-servername", "unknown.test")
	require.NotContains(t, out, "subject=CN")
	require.ErrorContains(t, <-ss.errs, `no certificate for SNI "unknown.test" (strict-sni)`)
	out = sClient(t, ss.addr, "-servername", "www.example.com")
	require.Contains(t, out, "subject=CN = example.com")
}

func TestOpenSSLALPNAndVersions(t *testing.T) {
	needTool(t, "openssl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	b := f.bind()
	b.ALPN = []string{"h2", "http/1.1"}
	in, err := ptls.NewInbound(b, nil)
	require.NoError(t, err)
	s := serve(t, in, "line")
	out := sClient(t, s.addr, "-servername", "example.com", "-alpn", "http/1.1,h2")
	require.Contains(t, out, "ALPN protocol: h2")
	require.Contains(t, out, "alpn=h2 ")
	out = sClient(t, s.addr, "-servername", "example.com", "-alpn", "http/1.1")
	require.Contains(t, out, "ALPN protocol: http/1.1")

	for _, tc := range []struct {
		name     string
		min, max string
		client   string
		want     string // version the server reports; "" for refused
	}{
		{"min 1.3 refuses 1.2", "TLSv1.3", "", "-tls1_2", ""},
		{"min 1.3 takes 1.3", "TLSv1.3", "", "-tls1_3", "TLSv1.3"},
		{"max 1.2 caps", "", "TLSv1.2", "", "TLSv1.2"},
		{"default min 1.2 refuses 1.1", "", "", "-tls1_1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ptls.BindConfig{Crt: []string{f.example}}
			if tc.min != "" {
				b.MinVersion, _ = ptls.ParseVersion(tc.min)
			}
			if tc.max != "" {
				b.MaxVersion, _ = ptls.ParseVersion(tc.max)
			}
			in, err := ptls.NewInbound(b, nil)
			require.NoError(t, err)
			s := serve(t, in, "line")
			args := []string{"-servername", "example.com"}
			if tc.client != "" {
				args = append(args, tc.client)
			}
			out := sClient(t, s.addr, args...)
			if tc.want == "" {
				require.NotContains(t, out, "version=", out)
				require.ErrorContains(t, <-s.errs, "version")
				return
			}
			require.Contains(t, out, "version="+tc.want+" ", out)
			require.Contains(t, out, "Protocol  : "+tc.want)
		})
	}
}

func TestOpenSSLClientCertificates(t *testing.T) {
	needTool(t, "openssl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	clientPEM := f.p.leaf("client.pem", leafOpts{cn: "client-one", client: true})
	certFile, keyFile := pemParts(t, clientPEM)
	for _, mode := range []string{"optional", "required"} {
		t.Run(mode, func(t *testing.T) {
			b := ptls.BindConfig{Crt: []string{f.example}, CAFile: f.p.caFile}
			var err error
			b.Verify, err = ptls.ParseVerify(mode)
			require.NoError(t, err)
			in, err := ptls.NewInbound(b, nil)
			require.NoError(t, err)
			s := serve(t, in, "line")

			out := sClient(t, s.addr, "-servername", "example.com", "-cert", certFile, "-key", keyFile)
			require.Contains(t, out, "client=client-one verified=true", out)

			out = sClient(t, s.addr, "-servername", "example.com")
			if mode == "optional" {
				require.Contains(t, out, "client= verified=false", out)
			} else {
				require.NotContains(t, out, "client=", out)
				require.ErrorContains(t, <-s.errs, "certificate")
			}
		})
	}
}

func TestOpenSSLResumption(t *testing.T) {
	needTool(t, "openssl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	for _, tc := range []struct {
		name    string
		bind    ptls.BindConfig
		version string
	}{
		{"tickets TLSv1.3", ptls.BindConfig{Crt: []string{f.example}}, "-tls1_3"},
		{"tickets TLSv1.2", ptls.BindConfig{Crt: []string{f.example}}, "-tls1_2"},
		{"no-tls-tickets keeps state TLSv1.3", ptls.BindConfig{Crt: []string{f.example}, NoTLSTickets: true}, "-tls1_3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ptls.NewInbound(tc.bind, nil)
			require.NoError(t, err)
			s := serve(t, in, "line")
			sess := filepath.Join(t.TempDir(), "sess")
			out := sClient(t, s.addr, "-servername", "example.com", tc.version, "-sess_out", sess)
			require.Contains(t, out, "resumed=false")
			out = sClient(t, s.addr, "-servername", "example.com", tc.version, "-sess_in", sess)
			require.Contains(t, out, "Reused, TLSv1.", out)
			require.Contains(t, out, "resumed=true")
		})
	}
}

func writeTicketKeys(t *testing.T, n int) string {
	var lines []string
	for i := 0; i < n; i++ {
		k := make([]byte, 80)
		_, _ = rand.Read(k)
		lines = append(lines, base64.StdEncoding.EncodeToString(k))
	}
	path := filepath.Join(t.TempDir(), "tls-ticket-keys")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

func TestOpenSSLTicketKeysShared(t *testing.T) {
	needTool(t, "openssl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	keys := writeTicketKeys(t, 3)
	other := writeTicketKeys(t, 3)
	mk := func(file string) *testServer {
		in, err := ptls.NewInbound(ptls.BindConfig{Crt: []string{f.example}, TicketKeys: file}, nil)
		require.NoError(t, err)
		return serve(t, in, "line")
	}
	a, b, c := mk(keys), mk(keys), mk(other)
	for _, v := range []string{"-tls1_3", "-tls1_2"} {
		sess := filepath.Join(t.TempDir(), "sess"+v)
		out := sClient(t, a.addr, "-servername", "example.com", v, "-sess_out", sess)
		require.Contains(t, out, "resumed=false")
		out = sClient(t, b.addr, "-servername", "example.com", v, "-sess_in", sess)
		require.Contains(t, out, "Reused", "a ticket from one server resumes on another with the same key file (%s):\n%s", v, out)
		require.Contains(t, out, "resumed=true")
		out = sClient(t, c.addr, "-servername", "example.com", v, "-sess_in", sess)
		require.Contains(t, out, "New, TLSv1.", "other keys cannot decrypt (%s)", v)
	}
}

func TestCurl(t *testing.T) {
	bin := needTool(t, "curl")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	b := f.bind()
	b.ALPN = []string{"http/1.1"}
	in, err := ptls.NewInbound(b, nil)
	require.NoError(t, err)
	s := serve(t, in, "http")
	for _, tc := range []struct {
		host string
		args []string
		want []string
	}{
		{"example.com", nil, []string{"sni=example.com ", "version=TLSv1.3", "alpn=http/1.1"}},
		{"a.example.org", []string{"--tlsv1.2", "--tls-max", "1.2"}, []string{"sni=a.example.org ", "version=TLSv1.2", "cipher=ECDHE-ECDSA-"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		args := append([]string{"-sS", "--cacert", f.p.caFile, "--resolve", tc.host + ":" + s.port + ":127.0.0.1"}, tc.args...)
		args = append(args, "https://"+tc.host+":"+s.port+"/")
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		require.NoError(t, err, string(out))
		for _, w := range tc.want {
			require.Contains(t, string(out), w)
		}
	}
	// curl verifies the name: the default certificate does not pass.
	out, err := exec.Command(bin, "-sS", "--cacert", f.p.caFile, "--resolve", "unknown.test:"+s.port+":127.0.0.1", "https://unknown.test:"+s.port+"/").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "unknown.test")
}
