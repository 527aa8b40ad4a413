package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// frontServer serves HTTP/1 on a loopback listener with the h1 mux,
// answering each request with its method, path and body, and counting
// the connections it accepted.
type frontServer struct {
	ln    net.Listener
	conns atomic.Int32
	mu    sync.Mutex
	muxes []*Mux
	// handle, when set, serves a stream instead of the echo.
	handle func(t *testing.T, s *Stream)
}

func startFront(t *testing.T, handle func(t *testing.T, s *Stream)) *frontServer {
	ln := testnet.Listen(t)
	fs := &frontServer{ln: ln, handle: handle}
	stop := testnet.Accept(ln, func(c net.Conn) {
		fs.conns.Add(1)
		m, err := mux.New(xprt.NewRaw(c), "", mux.SideFront, mux.ModeHTTP)
		if err != nil {
			c.Close()
			return
		}
		hm := m.(*Mux)
		fs.mu.Lock()
		fs.muxes = append(fs.muxes, hm)
		fs.mu.Unlock()
		defer hm.Close()
		for {
			st, err := hm.Accept(context.Background())
			if err != nil {
				return
			}
			s := st.(*Stream)
			if fs.handle != nil {
				fs.handle(t, s)
				continue
			}
			echo(s)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		fs.mu.Lock()
		for _, m := range fs.muxes {
			m.Close()
		}
		fs.mu.Unlock()
		stop()
	})
	return fs
}

// openBack dials addr and opens a stream of a back-side h1 mux over the
// connection; the mux closes when the test ends.
func openBack(t *testing.T, addr string) (*Mux, *Stream) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	m := New(xprt.NewRaw(c), mux.SideBack, Limits{})
	t.Cleanup(func() { m.Close() })
	st, err := m.Open(context.Background())
	require.NoError(t, err)
	return m, st.(*Stream)
}

func echo(s *Stream) {
	req := s.Request()
	body, err := io.ReadAll(s)
	if err != nil {
		return
	}
	var resp htx.Message
	resp.SetResponse(200, "OK")
	resp.Add("X-Method", string(req.Method()))
	resp.Add("X-Path", string(req.Path()))
	if v, ok := req.GetTrailer("x-sum"); ok {
		resp.Add("X-Trailer", string(v))
	}
	if v, ok := req.QueryParam("chunked"); ok && string(v) == "1" {
		// Unknown length: chunked to 1.1 clients, close-delimited to 1.0.
		resp.AddTrailer("X-Done", "yes")
	} else {
		resp.Flags |= htx.FlagContentLength
		resp.ContentLength = int64(len(body))
	}
	if s.WriteResponse(&resp) != nil {
		return
	}
	if len(body) > 0 {
		if _, err := s.Write(body); err != nil {
			return
		}
	}
	_ = s.Finish(&resp)
}

func TestFrontKeepAliveRawClient(t *testing.T) {
	testnet.LeakCheck(t)
	fs := startFront(t, nil)
	c, err := net.Dial("tcp", fs.ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	// Three requests in one write (pipelined), then one more after.
	_, err = io.WriteString(c, ""+
		"POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"+
		"POST /two HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n"+
		"GET /three?chunked=1 HTTP/1.1\r\nHost: h\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	for _, want := range []struct{ path, body, trailer string }{{"/one", "hello", ""}, {"/two", "abc", "9"}, {"/three?chunked=1", "", ""}} {
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, want.path, resp.Header.Get("X-Path"))
		require.Equal(t, want.body, string(b))
		require.Equal(t, want.trailer, resp.Header.Get("X-Trailer"))
		require.False(t, resp.Close, "keep-alive expected")
		if want.path == "/three?chunked=1" {
			require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
			require.Equal(t, "yes", resp.Trailer.Get("X-Done"))
		}
	}
	// The connection is idle now: it must not hold a read buffer.
	require.Eventually(t, func() bool {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return len(fs.muxes) == 1 && fs.muxes[0].bufferHeld() == false
	}, time.Second, 5*time.Millisecond)

	_, err = io.WriteString(c, "GET /four HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	require.Equal(t, "/four", resp.Header.Get("X-Path"))
	require.Equal(t, "keep-alive", resp.Header.Get("Connection"))
	require.EqualValues(t, 1, fs.conns.Load())

	// HTTP/1.0 without keep-alive: the server answers and closes.
	_, err = io.WriteString(c, "GET /five?chunked=1 HTTP/1.0\r\n\r\n")
	require.NoError(t, err)
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.True(t, resp.Close)
	_, _ = io.ReadAll(resp.Body)
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "server closes after an HTTP/1.0 exchange")
}

func TestFrontNetHTTPClient(t *testing.T) {
	testnet.LeakCheck(t)
	fs := startFront(t, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for i := 0; i < 5; i++ {
		resp, err := cl.Post("http://"+fs.ln.Addr().String()+"/p", "text/plain", strings.NewReader(strings.Repeat("x", i*1000)))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, i*1000, len(b))
	}
	require.EqualValues(t, 1, fs.conns.Load(), "all requests on one keep-alive connection")
}

func TestFrontRefusesSmugglingOverSocket(t *testing.T) {
	testnet.LeakCheck(t)
	fs := startFront(t, nil)
	c, err := net.Dial("tcp", fs.ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 400, resp.StatusCode)
	_, _ = io.ReadAll(resp.Body)
	_, err = br.ReadByte()
	require.Error(t, err, "the connection is closed after a refused request")
}

func TestBackAgainstNetHTTPServer(t *testing.T) {
	testnet.LeakCheck(t)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.Header().Set("Trailer", "X-End")
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "42")
			return
		}
		_, _ = w.Write(b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // force chunked
		}
		w.Header().Set("X-End", r.Header.Get("X-N"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	m, err := mux.New(xprt.NewRaw(c), "h1", mux.SideBack, mux.ModeHTTP)
	require.NoError(t, err)
	defer m.Close()

	var req, resp htx.Message
	for i, method := range []string{"GET", "POST", "HEAD", "PUT"} {
		require.Equal(t, 1, m.AvailStreams())
		st, err := m.Open(context.Background())
		require.NoError(t, err)
		s := st.(*Stream)
		req.Reset()
		req.SetRequest(method, "http", srv.Listener.Addr().String(), "/r?i="+string(rune('0'+i)))
		req.Add("X-N", method)
		body := ""
		switch method {
		case "GET", "HEAD":
			req.Flags |= htx.FlagBodyless
		case "POST":
			body = "posted"
			req.Flags |= htx.FlagContentLength
			req.ContentLength = int64(len(body))
		case "PUT":
			body = "streamed" // no length: sent chunked
		}
		require.NoError(t, s.WriteRequest(&req))
		if body != "" {
			_, err = s.Write([]byte(body))
			require.NoError(t, err)
		}
		require.NoError(t, s.Finish(nil))
		require.NoError(t, s.ReadResponse(&resp))
		require.Equal(t, 200, resp.Status)
		got, err := io.ReadAll(s)
		require.NoError(t, err)
		p, _ := resp.Get("x-path")
		require.Equal(t, "/r?i="+string(rune('0'+i)), string(p))
		if method == "HEAD" {
			require.Empty(t, got)
			require.EqualValues(t, 42, resp.ContentLength)
			continue
		}
		require.Equal(t, body, string(got))
		end, ok := resp.GetTrailer("x-end")
		require.True(t, ok, "trailer from a chunked response")
		require.Equal(t, method, string(end))
	}
	require.EqualValues(t, 1, conns.Load(), "one server connection reused")
	require.Equal(t, 0, m.UsedStreams())
}

func TestUpgradeToTunnel(t *testing.T) {
	testnet.LeakCheck(t)
	// Front: a WebSocket-style upgrade answered with 101, then an echo
	// over the tunnel.
	fs := startFront(t, func(t *testing.T, s *Stream) {
		req := s.Request()
		if req.Flags&htx.FlagUpgrade == 0 {
			echo(s)
			return
		}
		var resp htx.Message
		resp.SetResponse(101, "")
		resp.Add("Upgrade", "websocket")
		if err := s.WriteResponse(&resp); err != nil {
			return
		}
		tun, err := s.Tunnel()
		if err != nil {
			return
		}
		_, _ = io.Copy(tun, tun)
		tun.Close()
	})
	// Back: the h1 mux as the client, so both sides are exercised.
	m, s := openBack(t, fs.ln.Addr().String())
	var req, resp htx.Message
	req.SetRequest("GET", "", "h", "/ws")
	req.Flags |= htx.FlagBodyless | htx.FlagUpgrade
	req.Add("Upgrade", "websocket")
	req.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	require.NoError(t, s.WriteRequest(&req))
	require.NoError(t, s.ReadResponse(&resp))
	require.Equal(t, 101, resp.Status)
	require.NotZero(t, resp.Flags&htx.FlagTunnel)
	up, _ := resp.Get("upgrade")
	require.Equal(t, "websocket", string(up))
	tun, err := s.Tunnel()
	require.NoError(t, err)
	_, err = tun.Write([]byte("frame-1"))
	require.NoError(t, err)
	buf := make([]byte, 7)
	_, err = io.ReadFull(tun, buf)
	require.NoError(t, err)
	require.Equal(t, "frame-1", string(buf))
	require.Equal(t, 0, m.AvailStreams(), "a tunnelled connection carries no more requests")
	require.NoError(t, tun.Close())
}

func TestTunnelRefusedWithoutUpgrade(t *testing.T) {
	testnet.LeakCheck(t)
	var tunErr atomic.Value
	fs := startFront(t, func(t *testing.T, s *Stream) {
		_, err := s.Tunnel()
		tunErr.Store(err)
		echo(s)
	})
	resp, err := http.Get("http://" + fs.ln.Addr().String() + "/")
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	require.True(t, errors.Is(tunErr.Load().(error), ErrNoTunnel))
}

func TestRegistry(t *testing.T) {
	tests := []struct {
		proto, alpn string
		side        mux.Side
	}{
		{"h1", "", mux.SideFront},
		{"", "http/1.1", mux.SideBack},
		{"", "", mux.SideFront},
	}
	for _, tc := range tests {
		e, err := mux.Best(tc.proto, tc.alpn, tc.side, mux.ModeHTTP)
		require.NoError(t, err)
		m, err := e.New(xprt.NewRaw(nopConn{}), tc.side)
		require.NoError(t, err)
		require.Equal(t, "h1", m.Name())
	}
}

// nopConn is a net.Conn that is never read, for building a mux.
type nopConn struct{ net.Conn }

func (m *Mux) bufferHeld() bool { return m.holding.Load() }

func TestFrontBodyOverLimitAnswered413(t *testing.T) {
	testnet.LeakCheck(t)
	c, srv := testnet.Pair(t)
	done := make(chan error, 1)
	go func() {
		m := New(xprt.NewRaw(srv), mux.SideFront, Limits{MaxBody: 4})
		defer m.Close()
		st, err := m.Accept(context.Background())
		if err != nil {
			done <- err
			return
		}
		_, err = io.ReadAll(st.(*Stream))
		done <- err
	}()
	_, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode)
	var e *Error
	require.ErrorAs(t, <-done, &e)
	require.Equal(t, 413, e.Status)
}

func TestAcceptHonoursContext(t *testing.T) {
	testnet.LeakCheck(t)
	_, s := testnet.Pair(t)
	m := New(xprt.NewRaw(s), mux.SideFront, Limits{})
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := m.Accept(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, m.bufferHeld(), "an idle wait borrows no buffer")
	require.Equal(t, 0, m.AvailStreams())
}

// acceptOne serves one connection with a front mux under lim, after the
// client sent send, and returns the client's end and what Accept
// returned.
func acceptOne(t *testing.T, lim Limits, send string) (net.Conn, error) {
	t.Helper()
	c, s := testnet.Pair(t)
	m := New(xprt.NewRaw(s), mux.SideFront, lim)
	defer m.Close()
	_, err := io.WriteString(c, send)
	require.NoError(t, err)
	_, err = m.Accept(context.Background())
	return c, err
}

func TestRequestTimeoutAnswers408ToAPartialHead(t *testing.T) {
	testnet.LeakCheck(t)
	c, err := acceptOne(t, Limits{RequestTimeout: 100 * time.Millisecond}, "GET / HTTP/1.1\r\nHost: x\r\n")
	require.ErrorIs(t, err, ErrRequestTimeout)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err, "the connection ends with a close")
	require.True(t, bytes.HasPrefix(got, []byte("HTTP/1.1 408 Request Timeout\r\n")), "%q", got)
	require.Contains(t, string(got), "Connection: close")
}

func TestRequestTimeoutClosesASilentClientQuietly(t *testing.T) {
	testnet.LeakCheck(t)
	c, err := acceptOne(t, Limits{RequestTimeout: 100 * time.Millisecond}, "")
	require.ErrorIs(t, err, ErrRequestTimeout)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err, "the connection ends with a close")
	require.Empty(t, got, "a client that sent nothing gets no answer")
}

func TestRequestTimeoutBoundsTheHeadOnly(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	m := New(xprt.NewRaw(s), mux.SideFront, Limits{RequestTimeout: 50 * time.Millisecond})
	defer m.Close()
	_, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n")
	require.NoError(t, err)
	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	go func() {
		time.Sleep(150 * time.Millisecond) // longer than the head's bound
		_, _ = io.WriteString(c, "abc")
	}()
	body, err := io.ReadAll(st.(*Stream))
	require.NoError(t, err, "the body is not bounded by the request timeout")
	require.Equal(t, "abc", string(body))
	require.NoError(t, st.Close())
}

// TestEarlyResponseWhileBodyIsWritten has a server answer 413 after the
// head, without reading the body, while the client is still writing a
// large one: reading the response and writing the body run at the same
// time (run with -race).
func TestEarlyResponseWhileBodyIsWritten(t *testing.T) {
	testnet.LeakCheck(t)
	srvDone, answered := make(chan struct{}), make(chan struct{})
	answer := sync.OnceFunc(func() { close(answered) })
	defer answer() // frees the server should the test stop early
	addr := testnet.Serve(t, func(c net.Conn) {
		defer close(srvDone)
		buf := make([]byte, 4096)
		var head []byte
		for !bytes.Contains(head, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			head = append(head, buf[:n]...)
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig!")
		// Read no more; close once the client has the answer.
		<-answered
	})
	m, s := openBack(t, addr)
	var req htx.Message
	req.SetRequest("POST", "", "", "/upload")
	req.Add("Host", "x")
	const size = 64 << 20
	req.Flags |= htx.FlagContentLength
	req.ContentLength = size
	require.NoError(t, s.WriteRequest(&req))

	writeErr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		var err error
		for sent := 0; sent < size && err == nil; sent += len(chunk) {
			_, err = s.Write(chunk)
		}
		if err == nil {
			err = s.Finish(nil)
		}
		writeErr <- err
	}()
	var resp htx.Message
	require.NoError(t, s.ReadResponse(&resp))
	require.Equal(t, 413, resp.Status)
	body, err := io.ReadAll(s)
	require.NoError(t, err)
	require.Equal(t, "big!", string(body))
	// The server closes without reading the body: the body's writer
	// fails rather than hang.
	answer()
	require.Error(t, <-writeErr)
	require.NoError(t, s.Close())
	require.Equal(t, 0, m.AvailStreams(), "the connection carries no further request")
	<-srvDone
}

// A deadline of the caller's leaves the connection usable: Accept,
// called again on another goroutine, reads the request that comes later,
// and a head cut by the deadline is completed by the next Accept.
func TestAcceptCallerDeadlineKeepsConnection(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	tr := xprt.NewRaw(s)
	m := New(tr, mux.SideFront, Limits{})
	defer m.Close()
	require.NoError(t, tr.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err := m.Accept(context.Background())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NotErrorIs(t, err, ErrRequestTimeout)
	require.False(t, m.bufferHeld())
	require.Equal(t, 1, m.AvailStreams(), "the connection can still carry a request")
	// Nothing came: the error is built once for all, and a wait that
	// ends so costs only the socket's own error. A server that lets its
	// idle connections' goroutines go does so for each of them.
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := m.Accept(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Accept after the deadline: %v", err)
		}
	})
	require.LessOrEqual(t, allocs, 1.0)

	require.NoError(t, tr.SetReadDeadline(time.Time{}))
	type result struct {
		st  mux.Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := m.Accept(context.Background())
		done <- result{st, err}
	}()
	_, err = io.WriteString(c, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "/later", string(r.st.(*Stream).Request().Path()))
	echo(r.st.(*Stream))
	require.NoError(t, r.st.Close())
	got := make([]byte, 4096)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c.Read(got)
	require.NoError(t, err)
	require.Contains(t, string(got[:n]), "X-Path: /later")

	// Half a head, then the deadline: the half stays buffered, and the
	// next Accept completes it.
	_, err = io.WriteString(c, "GET /split HTTP/1.1\r\n")
	require.NoError(t, err)
	require.NoError(t, tr.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err = m.Accept(context.Background())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.True(t, m.Partial())
	require.Equal(t, 1, m.AvailStreams())
	require.NoError(t, tr.SetReadDeadline(time.Time{}))
	_, err = io.WriteString(c, "Host: x\r\n\r\n")
	require.NoError(t, err)
	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	require.Equal(t, "/split", string(st.(*Stream).Request().Path()))
	require.NoError(t, st.Close())
}

// exchangeOver sends raw on c, serves the request m accepts with echo,
// and returns the stream and the response.
func exchangeOver(t *testing.T, m *Mux, c net.Conn, br *bufio.Reader, raw string) (*Stream, *http.Response, string) {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	s := st.(*Stream)
	echo(s)
	require.NoError(t, s.Close())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return s, resp, string(body)
}

// Trim lets an idle connection go of its stream, the last request's
// storage and the output buffer; the next exchange makes them again and
// carries nothing over from the last one. A Stream from before the trim
// stays ended.
func TestTrimBetweenExchanges(t *testing.T) {
	testnet.LeakCheck(t)
	c, sc := testnet.Pair(t)
	m := New(xprt.NewRaw(sc), mux.SideFront, Limits{})
	defer m.Close()
	br := bufio.NewReader(c)

	s1, resp, body := exchangeOver(t, m, c, br,
		"POST /one HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n")
	require.Equal(t, "/one", resp.Header.Get("X-Path"))
	require.Equal(t, "abc", body)
	require.Equal(t, "9", resp.Header.Get("X-Trailer"))
	require.False(t, resp.Close)
	require.Same(t, s1, m.st, "the stream is kept between exchanges")

	m.Trim()
	require.Nil(t, m.st, "an idle connection lets its stream go")
	require.False(t, m.bufferHeld())
	require.NoError(t, s1.Close(), "the old stream stays ended")
	_, err := s1.Read(make([]byte, 1))
	require.Error(t, err)
	require.Equal(t, 1, m.AvailStreams())

	s2, resp, body := exchangeOver(t, m, c, br, "GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	require.NotSame(t, s1, s2)
	require.EqualValues(t, 2, s2.ID())
	require.Equal(t, "/two", resp.Header.Get("X-Path"))
	require.Equal(t, "GET", resp.Header.Get("X-Method"))
	require.Empty(t, resp.Header.Get("X-Trailer"), "nothing of the first request is left")
	_, ok := s2.Request().Get("x-one")
	require.False(t, ok)
	require.Empty(t, body)
	require.Equal(t, "keep-alive", resp.Header.Get("Connection"))

	// While an exchange is out, Trim leaves it alone.
	_, err = io.WriteString(c, "GET /three HTTP/1.1\r\nHost: h\r\n\r\n")
	require.NoError(t, err)
	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	s3 := st.(*Stream)
	m.Trim()
	require.Same(t, s3, m.st)
	echo(s3)
	require.NoError(t, s3.Close())
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	require.Equal(t, "/three", resp.Header.Get("X-Path"))

	// Half a head buffered: Trim keeps the stream and what the parser
	// scanned, and the next Accept completes the head.
	_, err = io.WriteString(c, "GET /split HTTP/1.1\r\nHost: h\r\n")
	require.NoError(t, err)
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err = m.Accept(context.Background())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.True(t, m.Partial())
	m.Trim()
	require.NotNil(t, m.st)
	require.NoError(t, sc.SetReadDeadline(time.Time{}))
	s4, resp, _ := exchangeOver(t, m, c, br, "X-Four: 4\r\n\r\n")
	require.Equal(t, "/split", resp.Header.Get("X-Path"))
	v, ok := s4.Request().Get("x-four")
	require.True(t, ok)
	require.Equal(t, "4", string(v))
}

var muxSink *Mux

// What an idle keep-alive connection keeps: a Mux in the 128-byte size
// class, and no stream once trimmed. Limits other than the defaults are
// kept and applied to the streams made after a trim.
func TestIdleMuxSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 {
		require.LessOrEqual(t, unsafe.Sizeof(Mux{}), uintptr(128))
	}
	c, sc := testnet.Pair(t)
	lim := Limits{MaxHeaders: 2}
	m := New(xprt.NewRaw(sc), mux.SideFront, lim)
	defer m.Close()
	require.Nil(t, New(xprt.NewRaw(sc), mux.SideFront, Limits{}).lim, "the defaults take no room")
	require.Equal(t, lim, m.limits())
	// The Mux and its receive callback: the default limits cost nothing
	// more, not even a copy made and dropped.
	tr := xprt.NewRaw(sc)
	require.Equal(t, 2.0, testing.AllocsPerRun(10, func() { muxSink = New(tr, mux.SideFront, Limits{}) }))
	br := bufio.NewReader(c)
	s1, resp, _ := exchangeOver(t, m, c, br, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, wbufSize, cap(s1.wbuf), "the head fitted the buffer the stream started with")
	m.Trim()
	require.Nil(t, m.st)
	// The limit holds for the stream made after the trim: three fields
	// are one too many.
	_, err := io.WriteString(c, "GET /b HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n")
	require.NoError(t, err)
	_, err = m.Accept(context.Background())
	require.Error(t, err)
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 431, resp.StatusCode)
}

// A client that expects 100 Continue gets it once: the stream sends its
// own as the body is first read, and a server's that a proxy forwards
// afterwards is dropped; the final response follows.
func TestContinueSentOnce(t *testing.T) {
	fs := startFront(t, func(t *testing.T, s *Stream) {
		body, err := io.ReadAll(s)
		if err != nil {
			return
		}
		var interim htx.Message
		interim.Status = 100
		require.NoError(t, s.WriteResponse(&interim))
		var resp htx.Message
		resp.Status = 200
		resp.Set("Content-Length", "2")
		resp.Flags |= htx.FlagContentLength
		resp.ContentLength = 2
		require.NoError(t, s.WriteResponse(&resp))
		_, _ = s.Write(body[:2])
		_ = s.Finish(nil)
	})
	c, err := net.Dial("tcp", fs.ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	blank, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "\r\n", blank)
	_, err = io.WriteString(c, "ok")
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "no second 100 before the answer")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "ok", string(b))
}

// With H2Preface, a connection opening with HTTP/2's preface, even in
// pieces, is reported with the bytes read; one opening with a request
// that starts alike ("P...") is HTTP/1; without H2Preface the preface is
// a bad request.
func TestH2Preface(t *testing.T) {
	testnet.LeakCheck(t)
	lim := &Limits{H2Preface: true}
	c, s := testnet.Pair(t)
	m := NewShared(xprt.NewRaw(s), mux.SideFront, lim)
	defer m.Close()
	go func() {
		_, _ = io.WriteString(c, "PRI * HTTP/2.0\r\n")
		time.Sleep(30 * time.Millisecond)
		_, _ = io.WriteString(c, "\r\nSM\r\n\r\n\x00\x00\x00")
	}()
	_, err := m.Accept(context.Background())
	require.ErrorIs(t, err, ErrH2Preface)
	got := string(m.Unread())
	for len(got) < len(h2Preface)+3 { // the frame bytes may come a moment later
		b := make([]byte, 16)
		n, rerr := s.Read(b)
		require.NoError(t, rerr)
		got += string(b[:n])
	}
	require.Equal(t, h2Preface+"\x00\x00\x00", got)

	c2, s2 := testnet.Pair(t)
	m2 := NewShared(xprt.NewRaw(s2), mux.SideFront, lim)
	defer m2.Close()
	_, err = io.WriteString(c2, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	require.NoError(t, err)
	st, err := m2.Accept(context.Background())
	require.NoError(t, err, "POST is HTTP/1")
	require.Equal(t, "POST", string(st.(*Stream).in.Method()))

	_, err = acceptOne(t, Limits{}, h2Preface)
	require.NotErrorIs(t, err, ErrH2Preface, "without H2Preface the preface is a bad request")
}
