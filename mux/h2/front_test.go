package h2

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	stdtls "crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// h2cClient is Go's HTTP/2 client speaking clear text with prior
// knowledge.
func h2cClient(t testing.TB) *http.Client {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *stdtls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// echo answers with the request body as it reads it, its SHA-256 in a
// trailer, and the request's "x-check" trailer copied back.
func echo(s *Stream) {
	req := s.Request()
	var resp htx.Message
	resp.SetResponse(200, "")
	resp.Add("Content-Type", "application/octet-stream")
	resp.Add("Connection", "keep-alive") // hop-by-hop: must not go out
	if err := s.WriteResponse(&resp); err != nil {
		return
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		h.Write(buf[:n])
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	var trl htx.Message
	trl.AddTrailer("X-Sum", hex.EncodeToString(h.Sum(nil)))
	if v, ok := req.GetTrailer("x-check"); ok {
		trl.AddTrailerBytes([]byte("x-check-back"), v)
	}
	_ = s.Finish(&trl)
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestFrontBodiesAndTrailersWithGoClient(t *testing.T) {
	testnet.LeakCheck(t)
	srv := startServer(t, Config{}, nil, echo)
	client := h2cClient(t)
	for _, size := range []int{0, 1, 16383, 16384, 16385, 65535, 65536, 1 << 20, 10 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := randomBytes(t, size)
			req, err := http.NewRequest("POST", "http://"+srv.addr()+"/echo", io.NopCloser(bytes.NewReader(body)))
			require.NoError(t, err)
			req.Trailer = http.Header{"X-Check": nil}
			req.Trailer.Set("X-Check", "t"+fmt.Sprint(size))
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, 2, resp.ProtoMajor)
			require.Empty(t, resp.Header.Get("Connection"))
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, len(body), len(got))
			require.Equal(t, sum(body), sum(got))
			require.Equal(t, sum(body), resp.Trailer.Get("X-Sum"))
			require.Equal(t, "t"+fmt.Sprint(size), resp.Trailer.Get("X-Check-Back"))
		})
	}
}

func TestFrontRequestHeadFromGoClient(t *testing.T) {
	testnet.LeakCheck(t)
	got := make(chan string, 1)
	srv := startServer(t, Config{}, nil, func(s *Stream) {
		r := s.Request()
		cookie, _ := r.Get("cookie")
		got <- fmt.Sprintf("%s %s %s %s v=%v cookie=%s bodyless=%v", r.Method(), r.Scheme(), r.Authority(), r.Path(),
			r.Version, cookie, r.Flags&htx.FlagBodyless != 0)
		hello(s)
	})
	client := h2cClient(t)
	req, err := http.NewRequest("GET", "http://"+srv.addr()+"/a/b?c=d", nil)
	require.NoError(t, err)
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "hello\n", string(body))
	require.Equal(t, "6", resp.Header.Get("Content-Length"))
	require.Equal(t, "GET http "+srv.addr()+" /a/b?c=d v=HTTP/2.0 cookie=a=1; b=2 bodyless=true", <-got)
}

func TestFrontManyConcurrentStreamsOneConnection(t *testing.T) {
	testnet.LeakCheck(t)
	var peak, cur atomic.Int32
	// The first stream waits for a second to start: concurrency the
	// server allows is then seen whatever the scheduling, and a server
	// that ran streams one at a time would keep the peak at 1.
	second := make(chan struct{})
	var first, secondOnce sync.Once
	srv := startServer(t, Config{}, nil, func(s *Stream) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n >= 2 {
			secondOnce.Do(func() { close(second) })
		}
		first.Do(func() {
			select {
			case <-second:
			case <-time.After(5 * time.Second):
			}
		})
		defer cur.Add(-1)
		echo(s)
	})
	client := h2cClient(t)
	// 80 clients at a time stay under the limit of 100, so Go's client
	// keeps to one connection (its strict mode deadlocks when more
	// requests wait than the server allows).
	const n, workers = 300, 80
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, workers)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := fmt.Sprintf("stream %d %s", i, bytes.Repeat([]byte{'x'}, i*50))
			resp, err := client.Post("http://"+srv.addr()+"/", "text/plain", bytes.NewBufferString(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && string(b) != body {
				err = fmt.Errorf("stream %d: body differs", i)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	srv.mu.Lock()
	require.Len(t, srv.muxes, 1, "every stream shares one connection")
	srv.mu.Unlock()
	require.LessOrEqual(t, peak.Load(), int32(100), "never more streams than SETTINGS_MAX_CONCURRENT_STREAMS")
	require.Greater(t, peak.Load(), int32(1), "streams ran concurrently")
}

// countingReader counts what the client's transport took of a body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestFrontFlowControlSlowReader(t *testing.T) {
	testnet.LeakCheck(t)
	const window = 64 << 10
	started := make(chan struct{})
	release := make(chan struct{})
	result := make(chan string, 1)
	srv := startServer(t, Config{StreamWindow: window, ConnWindow: window}, nil, func(s *Stream) {
		close(started)
		<-release
		h := sha256.New()
		_, err := io.Copy(h, s)
		if err != nil {
			result <- err.Error()
		} else {
			result <- hex.EncodeToString(h.Sum(nil))
		}
		hello(s)
	})
	client := h2cClient(t)
	body := randomBytes(t, 8<<20)
	cr := &countingReader{r: bytes.NewReader(body)}
	done := make(chan error, 1)
	go func() {
		resp, err := client.Post("http://"+srv.addr()+"/", "application/octet-stream", cr)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	<-started
	// The client may send one window and no more while nothing is read;
	// wait until it has taken what it will, then check it stopped.
	var last int64 = -1
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		n := cr.n.Load()
		if n == last && n > 0 {
			break
		}
		last = n
	}
	// Go's transport reads the body ahead into a buffer of up to 512 KiB
	// (its frame-sized copy buffer), so what it took is at most that
	// plus our window, far less than the body.
	require.Less(t, cr.n.Load(), int64(window+(1<<20)), "the client outran flow control")
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, sum(body), <-result)
}

func TestFrontSlowClientReadingResponse(t *testing.T) {
	testnet.LeakCheck(t)
	body := randomBytes(t, 4<<20)
	var written atomic.Int64
	srv := startServer(t, Config{}, nil, func(s *Stream) {
		var resp htx.Message
		resp.SetResponse(200, "")
		if s.WriteResponse(&resp) != nil {
			return
		}
		for off := 0; off < len(body); off += 16 << 10 {
			n, err := s.Write(body[off : off+16<<10])
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		_ = s.Finish(nil)
	})
	client := h2cClient(t)
	resp, err := client.Get("http://" + srv.addr() + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	first := make([]byte, 1)
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, sum(body), sum(append(first, got...)))
	require.Equal(t, int64(len(body)), written.Load())
}

// rawClient is a hand-driven HTTP/2 client for protocol tests.
type rawClient struct {
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func dialRaw(t *testing.T, addr string) *rawClient {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return newRawClient(t, c)
}

// newRawClient starts HTTP/2 as a client on c: the preface and an empty
// SETTINGS frame, under a deadline that keeps a stuck test from hanging.
func newRawClient(t *testing.T, c net.Conn) *rawClient {
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	rc := &rawClient{c: c, fr: http2.NewFramer(c, c)}
	rc.enc = hpack.NewEncoder(&rc.buf)
	_, err := c.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	require.NoError(t, rc.fr.WriteSettings())
	return rc
}

func (rc *rawClient) block(fields ...string) []byte {
	rc.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = rc.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), rc.buf.Bytes()...)
}

func (rc *rawClient) get(id uint32, endStream bool) error {
	return rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: endStream, EndHeaders: true,
		BlockFragment: rc.block(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")})
}

// goAway reads frames until a GOAWAY, then requires the connection to
// close.
func (rc *rawClient) goAway(t *testing.T) *http2.GoAwayFrame {
	t.Helper()
	for {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err, "connection ended before GOAWAY")
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			ga2 := *ga
			for {
				if _, err := rc.fr.ReadFrame(); err != nil {
					// Closing with the flood still unread resets the
					// connection; either way it is closed.
					if !errors.Is(err, syscall.ECONNRESET) {
						require.ErrorIs(t, err, io.EOF, "connection must close after GOAWAY")
					}
					return &ga2
				}
			}
		}
	}
}

func TestRapidResetClosesWithEnhanceYourCalm(t *testing.T) {
	testnet.LeakCheck(t)
	srv := startServer(t, Config{MaxResets: 20, ResetWindow: time.Minute}, nil, hello)
	rc := dialRaw(t, srv.addr())
	go func() {
		for id := uint32(1); id < 400; id += 2 {
			if rc.get(id, false) != nil || rc.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	ga := rc.goAway(t)
	require.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.ErrCode)
}

func TestContinuationFloodClosesConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		frag []byte
	}{
		{"many empty frames", nil},
		{"many bytes", bytes.Repeat([]byte{0x40, 0x01, 'a', 0x7f, 0x00}, 3000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			srv := startServer(t, Config{}, nil, hello)
			rc := dialRaw(t, srv.addr())
			go func() {
				blk := rc.block(":method", "GET", ":scheme", "http", ":path", "/")
				if rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true}) != nil {
					return
				}
				for i := 0; i < 10000; i++ {
					if rc.fr.WriteContinuation(1, false, tc.frag) != nil {
						return
					}
				}
			}()
			ga := rc.goAway(t)
			require.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.ErrCode)
		})
	}
}

func TestRefusedStreamBeyondConcurrencyLimit(t *testing.T) {
	testnet.LeakCheck(t)
	block := make(chan struct{})
	srv := startServer(t, Config{MaxConcurrentStreams: 2}, nil, func(s *Stream) { <-block; hello(s) })
	defer close(block)
	rc := dialRaw(t, srv.addr())
	for id := uint32(1); id <= 5; id += 2 {
		require.NoError(t, rc.get(id, false))
	}
	for {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			require.Equal(t, uint32(5), r.StreamID)
			require.Equal(t, http2.ErrCodeRefusedStream, r.ErrCode)
			return
		}
	}
}

// TestSettingsAckedBeforeFramesUsingThem checks that a SETTINGS frame is
// acknowledged before any frame that relies on it: here the DATA that a
// larger SETTINGS_INITIAL_WINDOW_SIZE lets out (RFC 9113 §6.5.3 wants the
// ACK as soon as the settings are applied). A peer that waits for the ACK
// may skip what comes before it; h2spec 6.9.2 does, and then times out
// waiting for the DATA it skipped. The writer is held while the SETTINGS
// arrives: the settings must not take effect, and wake the stream's
// writer, before the ACK can be queued.
func TestSettingsAckedBeforeFramesUsingThem(t *testing.T) {
	testnet.LeakCheck(t)
	cli, c := testnet.Pair(t)
	rc := newRawClient(t, cli)
	m, err := New(xprt.NewRaw(c), mux.SideFront, Config{})
	require.NoError(t, err)
	defer m.Close()
	acks := func(n int) {
		t.Helper()
		for n > 0 {
			f, err := rc.fr.ReadFrame()
			require.NoError(t, err)
			require.NotEqual(t, http2.FrameData, f.Header().Type, "DATA before the SETTINGS ACK")
			if sf, ok := f.(*http2.SettingsFrame); ok && sf.IsAck() {
				n--
			}
		}
	}
	require.NoError(t, rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}))
	acks(2) // the client's first SETTINGS, then this one
	require.NoError(t, rc.get(1, true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	st, err := m.Accept(ctx)
	cancel()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer st.Close()
		hello(st.(*Stream)) // waits in Write for a window
	}()

	m.wmu.Lock()
	require.NoError(t, rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}))
	applied := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.peerInitWin == 1
	}
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end) && !applied(); {
		time.Sleep(time.Millisecond)
	}
	early := applied()
	m.wmu.Unlock()
	require.False(t, early, "SETTINGS took effect while its ACK could not be queued")

	acks(1)
	for {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if d, ok := f.(*http2.DataFrame); ok {
			require.Equal(t, uint32(1), d.Length, "DATA within the 1-byte window")
			break
		}
	}
	require.NoError(t, m.Close())
	<-done
}

func TestGracefulShutdown(t *testing.T) {
	testnet.LeakCheck(t)
	accepted := make(chan struct{})
	srv := startServer(t, Config{}, nil, func(s *Stream) { close(accepted); hello(s) })
	rc := dialRaw(t, srv.addr())
	require.NoError(t, rc.get(1, false))
	<-accepted
	srv.mu.Lock()
	m := srv.muxes[0]
	srv.mu.Unlock()
	shut := make(chan error, 1)
	go func() { shut <- m.Shutdown(context.Background()) }()

	var ga *http2.GoAwayFrame
	for ga == nil {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if g, ok := f.(*http2.GoAwayFrame); ok {
			ga = g
		}
	}
	require.Equal(t, http2.ErrCodeNo, ga.ErrCode)
	require.Equal(t, uint32(1), ga.LastStreamID)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with stream 1 still open", err)
	default:
	}
	// A stream opened after the GOAWAY is ignored; stream 1 completes.
	require.NoError(t, rc.get(3, true))
	require.NoError(t, rc.fr.WriteData(1, true, nil))
	var body []byte
	ended := false
	for !ended {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		require.NotEqual(t, uint32(3), f.Header().StreamID, "stream 3 came after the GOAWAY and must be ignored")
		if d, ok := f.(*http2.DataFrame); ok {
			require.Equal(t, uint32(1), d.StreamID)
			body = append(body, d.Data()...)
			ended = d.StreamEnded()
		}
	}
	require.Equal(t, "hello\n", string(body))
	require.NoError(t, <-shut)
	_, err := rc.fr.ReadFrame()
	require.ErrorIs(t, err, io.EOF)
	_, err = m.Accept(context.Background())
	require.ErrorIs(t, err, io.EOF)
}

func TestMalformedRequestsReset(t *testing.T) {
	testnet.LeakCheck(t)
	srv := startServer(t, Config{}, nil, hello)
	for _, tc := range []struct {
		name   string
		fields []string
	}{
		{"uppercase name", []string{":method", "GET", ":scheme", "http", ":path", "/", "X-Up", "1"}},
		{"connection header", []string{":method", "GET", ":scheme", "http", ":path", "/", "connection", "close"}},
		{"te gzip", []string{":method", "GET", ":scheme", "http", ":path", "/", "te", "gzip"}},
		{"missing path", []string{":method", "GET", ":scheme", "http"}},
		{"empty path", []string{":method", "GET", ":scheme", "http", ":path", ""}},
		{"pseudo after regular", []string{":method", "GET", ":scheme", "http", "a", "b", ":path", "/"}},
		{"connect with path", []string{":method", "CONNECT", ":authority", "x:1", ":path", "/"}},
		{"value with newline", []string{":method", "GET", ":scheme", "http", ":path", "/", "a", "b\nc"}},
		{"bad content-length", []string{":method", "POST", ":scheme", "http", ":path", "/", "content-length", "1x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, srv.addr())
			require.NoError(t, rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: rc.block(tc.fields...)}))
			for {
				f, err := rc.fr.ReadFrame()
				require.NoError(t, err)
				require.NotEqual(t, http2.FrameHeaders, f.Header().Type, "a malformed request was answered")
				if r, ok := f.(*http2.RSTStreamFrame); ok {
					require.Equal(t, http2.ErrCodeProtocol, r.ErrCode)
					return
				}
			}
		})
	}
}

func TestConnectTunnel(t *testing.T) {
	testnet.LeakCheck(t)
	srv := startServer(t, Config{}, nil, func(s *Stream) {
		var resp htx.Message
		resp.SetResponse(200, "")
		if s.WriteResponse(&resp) != nil {
			return
		}
		tun, err := s.Tunnel()
		if err != nil {
			return
		}
		_, _ = io.Copy(tun, tun) // echo until the client ends its side
		_ = tun.CloseWrite()
	})
	st, err := dialBack(t, srv.addr()).Open(context.Background())
	require.NoError(t, err)
	s := st.(*Stream)
	var req htx.Message
	req.SetRequest("CONNECT", "", "example.com:443", "")
	require.NoError(t, s.WriteRequest(&req))
	var resp htx.Message
	require.NoError(t, s.ReadResponse(&resp))
	require.Equal(t, 200, resp.Status)
	require.NotZero(t, resp.Flags&htx.FlagTunnel)
	tun, err := s.Tunnel()
	require.NoError(t, err)
	_, err = tun.Write([]byte("ping over the tunnel"))
	require.NoError(t, err)
	require.NoError(t, tun.CloseWrite())
	got, err := io.ReadAll(tun)
	require.NoError(t, err)
	require.Equal(t, "ping over the tunnel", string(got))
	require.NoError(t, tun.Close())
}
