package balancer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// endServer answers one request per connection with headers (an empty
// body), then reads on and sends how the read ended to ends.
func endServer(t *testing.T, headers string) (string, chan error) {
	t.Helper()
	ln := testnet.Listen(t)
	ends := make(chan error, 16)
	stop := testnet.Accept(ln, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		req, err := http.ReadRequest(r)
		if err != nil {
			ends <- fmt.Errorf("reading the request: %w", err)
			return
		}
		_ = req.Body.Close()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"+headers+"\r\n"); err != nil {
			ends <- fmt.Errorf("writing the response: %w", err)
			return
		}
		_, err = r.ReadByte()
		ends <- err
	})
	t.Cleanup(func() { _ = ln.Close(); stop() })
	return ln.Addr().String(), ends
}

// getOnce sends one GET on a new connection to addr and reads the answer.
func getOnce(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	_ = resp.Body.Close()
}

// lb closes a server connection that carries no exchange the way HAProxy
// does, with a reset, whichever reason it has to close it: the mode
// closes after each response, the server said it would close, the reuse
// policy keeps none, or the balancer stops with connections kept. The
// server's next read fails with ECONNRESET, not an end of stream, and lb
// leaves no TIME_WAIT socket behind.
func TestHTTPIdleServerConnectionReset(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		name, opt, headers string
		stop               bool // the connection is kept until the balancer stops
	}{
		{name: "http-server-close", opt: "option http-server-close"},
		{name: "server says close", headers: "Connection: close\r\n"},
		{name: "http-reuse never", opt: "http-reuse never"},
		{name: "kept until stop", stop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, ends := endServer(t, tc.headers)
			b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    %s
    server s %s
`, tc.opt, addr))
			getOnce(t, feAddr(t, b, "l"))
			if tc.stop {
				select {
				case err := <-ends:
					t.Fatalf("the kept connection ended before the stop: %v", err)
				default:
				}
				require.NoError(t, b.Close())
			}
			select {
			case err := <-ends:
				require.True(t, errors.Is(err, syscall.ECONNRESET), "the server's read ended with %v, not a reset", err)
			case <-time.After(15 * time.Second):
				t.Fatal("the server connection was not closed")
			}
			require.NoError(t, b.Close())
		})
	}
}
