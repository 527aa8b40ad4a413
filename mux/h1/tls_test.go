package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
	_ "github.com/proxyblocks/proxyblocks/xprt/tls" // registers "tls"
)

// Over TLS, a connection idle between requests waits on one byte of the
// mux's own and holds no read buffer; the request that ends the wait
// arrives whole, and so does the next one on the same connection.
func TestIdleTLSWaitHoldsNoBuffer(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	scfg, ccfg := testcert.Configs(t, "h1.test")
	tr, err := xprt.New("tls", s, scfg, false)
	require.NoError(t, err)
	client := tls.Client(c, ccfg)
	testcert.Handshake(t, client, tr)
	m := New(tr, mux.SideFront, Limits{})
	defer m.Close()
	br := bufio.NewReader(client)

	for _, path := range []string{"/first", "/second"} {
		type accepted struct {
			st  mux.Stream
			err error
		}
		done := make(chan accepted, 1)
		go func() {
			st, err := m.Accept(context.Background())
			done <- accepted{st, err}
		}()
		require.Never(t, m.bufferHeld, 100*time.Millisecond, time.Millisecond, "an idle TLS wait borrows no buffer")
		_, err := io.WriteString(client, "GET "+path+" HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		var a accepted
		select {
		case a = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the request was not accepted")
		}
		require.NoError(t, a.err)
		st := a.st.(*Stream)
		require.Equal(t, path, string(st.Request().Path()))
		var resp htx.Message
		resp.SetResponse(204, "No Content")
		resp.Flags |= htx.FlagContentLength
		require.NoError(t, st.WriteResponse(&resp))
		got, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, 204, got.StatusCode)
	}
}
