package balancer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// TestHTTPServerAnswersBeforeTheBody has an HTTP/1 server answer 413
// right after a request head, without reading the body, while the client
// is still sending a large one: the answer reaches the client instead of
// a 502 for the body the server never took.
func TestHTTPServerAnswersBeforeTheBody(t *testing.T) {
	testnet.LeakCheck(t)
	ln := testnet.Listen(t)
	answered := make(chan struct{})
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if !readHead(c) {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
		select { // read nothing more until the client has the answer
		case <-answered:
		case <-time.After(20 * time.Second):
		}
	}()
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    server s %s
`, ln.Addr().String()))
	c, err := net.Dial("tcp", feAddr(t, b, "l"))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	const size = 64 << 20
	_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 67108864\r\n\r\n")
	require.NoError(t, err)
	go func() {
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	close(answered)
	require.NoError(t, err)
	require.Equal(t, 413, resp.StatusCode)
	require.Equal(t, "too large", string(body))
	// The client's body was not read to its end: its connection closes.
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection left open: %v", err)
	c.Close()
	<-srvDone
	require.NoError(t, b.Close())
}

// TestHTTPStaleKeptConnectionResent has a server that closes each
// connection quietly right after its response, without Connection:
// close: a GET sent on such a kept connection finds it closed and goes
// again on a new one, so every request is answered.
func TestHTTPStaleKeptConnectionResent(t *testing.T) {
	testnet.LeakCheck(t)
	var conns atomic.Int32
	srv := testnet.Serve(t, func(c net.Conn) {
		conns.Add(1)
		if readHead(c) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		// Close at once, as a server whose keep-alive ended.
	})
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
listen l
    bind 127.0.0.1:0
    http-reuse always
    server s %s
`, srv))
	c := h1Client()
	defer closeClient(c)
	const n = 20
	for i := range n {
		resp, err := c.Get("http://" + feAddr(t, b, "l") + "/")
		require.NoError(t, err, "request %d", i)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, "request %d: %s", i, body)
		require.Equal(t, "ok", string(body))
		// Let the server's close reach lb's kept connection.
		time.Sleep(5 * time.Millisecond)
	}
	require.GreaterOrEqual(t, int(conns.Load()), n, "one server connection per request")
	require.NoError(t, b.Close())
}

// readHead reads from c up to the blank line that ends a request head and
// reports whether it got there.
func readHead(c net.Conn) bool {
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		if err != nil {
			return false
		}
		head = append(head, buf[:n]...)
	}
	return true
}
