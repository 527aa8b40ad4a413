package balancer

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A connection's sess variables go with it: none is left once the
// connection is closed.
func TestSessVarsGoWithTheConnection(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-N"))
	}))
	t.Cleanup(ts.Close)
	cfg := parseCfg(t, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    http-request set-var(sess.n) path if !{ var(sess.n) -m found }
    http-request set-header X-N %%[var(sess.n)]
    default_backend be
backend be
    server s %s
`, ts.Listener.Addr().String())
	b, _ := startLB(t, cfg)
	addr := feAddr(t, b, "fe")
	count := func() int {
		n := 0
		b.sessVars.Range(func(any, any) bool { n++; return true })
		return n
	}
	tr := &http.Transport{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	for _, p := range []string{"/first", "/second"} {
		resp, err := client.Get(fmt.Sprintf("http://%s%s", addr, p))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, "/first", string(body), "the first request's path, for the connection's life")
	}
	require.Equal(t, 1, count())
	tr.CloseIdleConnections()
	require.Eventually(t, func() bool { return count() == 0 }, 5*time.Second, 10*time.Millisecond)
}
