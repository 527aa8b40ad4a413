package balancer

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/stretchr/testify/require"
)

// rate-limit sessions caps the frontend's accepts per second over all its
// bind lines: with a rate of 2, a connection on each bind uses it up, so
// the second bind's listener waits before it accepts again, though it
// accepted only one; a connection over the rate waits (in the backlog, or
// accepted by a listener that was already in accept) and is served once
// the rate allows, never refused.
func TestRateLimitSessions(t *testing.T) {
	srv := newServer(t, "s", false)
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    bind 127.0.0.1:0
    rate-limit sessions 2
    server s %s
`, srv.ln.Addr().String()))
	addrs := b.Addrs("px")
	require.Len(t, addrs, 2)
	lns := b.fronts[0].listeners
	// Both connections fall in one period of the rate's clock.
	for freq.SystemClock.NowMs()%1000 > 500 {
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, "s", ask(t, addrs[0].String()))
	require.Equal(t, "s", ask(t, addrs[1].String()))
	require.Eventually(t, func() bool { return lns[1].Stats().RateWaits > 0 },
		10*time.Second, 5*time.Millisecond, "the rate is the frontend's, over both binds")
	require.Equal(t, "s", ask(t, addrs[0].String()), "a connection over the rate waits, then is served")
	require.Positive(t, lns[0].Stats().RateWaits, "it waited")
}

// maxconnrate caps the process's accepts per second over every frontend:
// a connection to each of two frontends uses a rate of 2 up, so the
// next, to either, waits before it is accepted, then is served.
func TestMaxConnRate(t *testing.T) {
	srv := newServer(t, "s", false)
	cfg := parseCfg(t, `global
    maxconnrate 2
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:0
    server s %[1]s
listen b
    bind 127.0.0.1:0
    server s %[1]s
`, srv.ln.Addr().String())
	require.Equal(t, 2, cfg.Global.MaxConnRate)
	b, _ := startLB(t, cfg)
	a0, b0 := feAddr(t, b, "a"), feAddr(t, b, "b")
	for freq.SystemClock.NowMs()%1000 > 500 {
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, "s", ask(t, a0))
	require.Equal(t, "s", ask(t, b0))
	require.Equal(t, "s", ask(t, a0), "a connection over the rate waits, then is served")
	waits := uint64(0)
	for _, fe := range b.fronts {
		for _, ln := range fe.listeners {
			waits += ln.Stats().RateWaits
		}
	}
	require.Positive(t, waits, "the third accept waited for the process's rate")
}

// maxsslrate caps the accepts per second of the ssl bind lines only: with
// a rate of 1, a second TLS client waits before its handshake, then is
// served, while clear connections to another bind line never wait.
func TestMaxSSLRate(t *testing.T) {
	srv := newHTTPBackend(t, "s")
	crt := testcert.SelfSigned(t, "lb.test", "127.0.0.1").WritePEM(t, t.TempDir()+"/lb.pem", testcert.EC)
	cfg := parseCfg(t, `global
    maxsslrate 1
`+httpDefaults+`
frontend tls
    bind 127.0.0.1:0 ssl crt %s
    default_backend be
frontend clear
    bind 127.0.0.1:0
    default_backend be
backend be
    server s %s
`, crt, srv.addr())
	require.Equal(t, 1, cfg.Global.MaxSSLRate)
	b, _ := startLB(t, cfg)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(url string) {
		t.Helper()
		resp, err := client.Get(url)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
	}
	for freq.SystemClock.NowMs()%1000 > 500 {
		time.Sleep(10 * time.Millisecond)
	}
	for range 3 {
		get("http://" + feAddr(t, b, "clear") + "/")
	}
	get("https://" + feAddr(t, b, "tls") + "/")
	get("https://" + feAddr(t, b, "tls") + "/")
	var tlsWaits, clearWaits uint64
	for _, fe := range b.fronts {
		for _, ln := range fe.listeners {
			if fe.cfg.Name == "tls" {
				tlsWaits += ln.Stats().RateWaits
			} else {
				clearWaits += ln.Stats().RateWaits
			}
		}
	}
	require.Positive(t, tlsWaits, "the second TLS client waited for the rate")
	require.Zero(t, clearWaits, "clear connections are not counted")
}
