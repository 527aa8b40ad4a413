package tls_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// dialOut connects through o (with sni unless empty) and returns what the
// transport reports and the first line the server sent.
func dialOut(t testing.TB, addr string, o *ptls.Outbound, sni string) (xprt.Info, string, error) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	var c *ptls.Conn
	if sni != "" {
		c = o.ClientSNI(raw, sni)
	} else {
		c = o.Client(raw)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		return xprt.Info{}, "", err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// Reading lets crypto/tls take the TLS 1.3 tickets that follow the
	// handshake.
	line, err := bufio.NewReader(c).ReadString('\n')
	return c.Info(), line, err
}

func TestOutbound(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	clientPEM := f.p.leaf("client.pem", leafOpts{cn: "lb-client", client: true})
	in, err := ptls.NewInbound(ptls.BindConfig{Crt: f.bind().Crt, CAFile: f.p.caFile, Verify: ptls.VerifyOptional}, nil)
	require.NoError(t, err)
	s := serve(t, in, "line")

	o, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: f.p.caFile, SNI: "example.com", Crt: clientPEM}, nil)
	require.NoError(t, err)
	info, line, err := dialOut(t, s.addr, o, "")
	require.NoError(t, err)
	require.True(t, info.Verified)
	require.False(t, info.Resumed)
	require.Equal(t, "example.com", info.ServerName)
	require.Contains(t, line, "client=lb-client verified=true", "the server saw the client certificate")
	info, _, err = dialOut(t, s.addr, o, "")
	require.NoError(t, err)
	require.True(t, info.Resumed, "sessions are reused per server by default")
	require.True(t, info.Verified)

	// A per-connection SNI is checked against the certificate too.
	info, _, err = dialOut(t, s.addr, o, "a.example.org")
	require.NoError(t, err)
	require.Equal(t, "*.example.org", info.PeerCertificates[0].Subject.CommonName)

	noReuse, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: f.p.caFile, SNI: "example.com", NoSSLReuse: true}, nil)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		info, _, err = dialOut(t, s.addr, noReuse, "")
		require.NoError(t, err)
		require.False(t, info.Resumed, "no-ssl-reuse")
	}

	// Verification failures name the reason.
	other := newPKI(t)
	wrongCA, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: other.caFile, SNI: "example.com"}, nil)
	require.NoError(t, err)
	_, _, err = dialOut(t, s.addr, wrongCA, "")
	require.ErrorContains(t, err, "unknown authority")
	badHost, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: f.p.caFile, SNI: "example.com", VerifyHost: "elsewhere.test"}, nil)
	require.NoError(t, err)
	_, _, err = dialOut(t, s.addr, badHost, "")
	require.ErrorContains(t, err, "elsewhere.test")
	// Without sni or verifyhost only the chain is checked, as in HAProxy.
	chainOnly, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: f.p.caFile}, nil)
	require.NoError(t, err)
	info, _, err = dialOut(t, s.addr, chainOnly, "")
	require.NoError(t, err)
	require.True(t, info.Verified)
	// verify none accepts anything and says it did not verify.
	none, err := ptls.NewOutbound(ptls.ServerConfig{Verify: ptls.VerifyNone, SNI: "x.test"}, nil)
	require.NoError(t, err)
	info, _, err = dialOut(t, s.addr, none, "")
	require.NoError(t, err)
	require.False(t, info.Verified)

	_, err = ptls.NewOutbound(ptls.ServerConfig{CAFile: filepath.Join(f.p.dir, "missing.pem")}, nil)
	require.ErrorIs(t, err, ptls.ErrBadFile)
	require.ErrorContains(t, err, "missing.pem")
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestOutboundAgainstHAProxy(t *testing.T) {
	bin := needTool(t, "haproxy")
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%s ssl crt %s alpn http/1.1
    http-request return status 200 content-type text/plain string "hello from haproxy\n"
`, port, f.example)), 0o600))
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	addr := "127.0.0.1:" + port
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited: %s", stderr.String())
		default:
		}
		require.Less(t, i, 500, "haproxy did not listen: %s", stderr.String())
		time.Sleep(10 * time.Millisecond)
	}

	var srv ptls.ServerConfig
	for line := strings.Fields("ssl verify required ca-file " + f.p.caFile + " sni example.com alpn http/1.1"); len(line) > 0; {
		n, err := srv.Apply(line)
		require.NoError(t, err)
		line = line[n:]
	}
	o, err := ptls.NewOutbound(srv, nil)
	require.NoError(t, err)
	get := func() (xprt.Info, string, error) {
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c := o.Client(raw)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Handshake(ctx); err != nil {
			return xprt.Info{}, "", err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		body, err := io.ReadAll(c)
		return c.Info(), string(body), err
	}
	info, body, err := get()
	require.NoError(t, err)
	require.Contains(t, body, "hello from haproxy")
	require.True(t, info.Verified)
	require.Equal(t, "http/1.1", info.ALPN)
	require.Equal(t, "TLSv1.3", ptls.VersionName(info.Version))
	info, _, err = get()
	require.NoError(t, err)
	require.True(t, info.Resumed, "haproxy resumes the session the outbound side cached")

	wrong, err := ptls.NewOutbound(ptls.ServerConfig{CAFile: f.p.caFile, SNI: "not-example.test"}, nil)
	require.NoError(t, err)
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c := wrong.Client(raw)
	defer c.Close()
	err = c.Handshake(context.Background())
	require.ErrorContains(t, err, "not-example.test")
}

// TestOutboundWithALPN: the copy offers its own protocols, the original
// keeps its own.
func TestOutboundWithALPN(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(ptls.BindConfig{Crt: f.bind().Crt, ALPN: []string{"h2", "http/1.1"}}, nil)
	require.NoError(t, err)
	s := serve(t, in, "line")
	o, err := ptls.NewOutbound(ptls.ServerConfig{Verify: ptls.VerifyNone, ALPN: []string{"http/1.1"}}, nil)
	require.NoError(t, err)
	h2 := o.WithALPN([]string{"h2"})
	for _, tc := range []struct {
		o    *ptls.Outbound
		want string
	}{{o, "http/1.1"}, {h2, "h2"}, {o, "http/1.1"}} {
		info, _, err := dialOut(t, s.addr, tc.o, "")
		require.NoError(t, err)
		require.Equal(t, tc.want, info.ALPN)
	}
}
