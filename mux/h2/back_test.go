package h2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	_ "github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// goH2Server serves h2c with prior knowledge using Go's http2.Server,
// counting connections.
type goH2Server struct {
	ln    net.Listener
	conns atomic.Int32
}

func startGoH2Server(t *testing.T, srv *http2.Server, h http.Handler) *goH2Server {
	ln := testnet.Listen(t)
	gs := &goH2Server{ln: ln}
	var mu sync.Mutex
	var open []net.Conn
	stop := testnet.Accept(ln, func(c net.Conn) {
		gs.conns.Add(1)
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		stop()
	})
	return gs
}

// echoHandler answers with the request body, its hash as a trailer and
// the request's trailers copied back.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	// HTTP/1 handlers stop reading the request once the response has
	// started unless told to read and write at once.
	_ = http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Trailer", "X-Sum, X-Check-Back")
	w.Header().Set("X-Path", r.URL.RequestURI())
	h := sha256.New()
	_, _ = io.Copy(io.MultiWriter(w, h), r.Body)
	w.Header().Set("X-Sum", hex.EncodeToString(h.Sum(nil)))
	w.Header().Set("X-Check-Back", r.Trailer.Get("X-Check"))
})

func dialBack(t *testing.T, addr string) *Mux {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	m, err := mux.New(xprt.NewRaw(c), "h2", mux.SideBack, mux.ModeHTTP)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m.(*Mux)
}

// roundTrip sends one request with body and trailer over a back-side
// stream and returns the response, its body and its trailers.
func roundTrip(m *Mux, path string, body []byte) (*htx.Message, []byte, error) {
	st, err := m.Open(context.Background())
	if err != nil {
		return nil, nil, err
	}
	s := st.(*Stream)
	defer s.Close()
	var req htx.Message
	req.SetRequest("POST", "http", "backend", path)
	req.Add("X-Test", "1")
	req.Add("Trailer", "X-Check") // Go's server keeps declared trailers only
	if len(body) > 0 {
		// A zero length would end the stream with the head, leaving no
		// place for the trailer.
		req.Flags |= htx.FlagContentLength
		req.ContentLength = int64(len(body))
	}
	if err := s.WriteRequest(&req); err != nil {
		return nil, nil, err
	}
	// The body goes while the answer is read, as a proxy does: an echo
	// answers before the body's end, and many streams writing whole
	// bodies first could fill the connection's window with answers
	// nobody reads, the server then waiting on it in turn.
	werr := make(chan error, 1)
	go func() {
		if len(body) > 0 {
			if _, err := s.Write(body); err != nil {
				werr <- err
				return
			}
		}
		var trl htx.Message
		trl.AddTrailer("X-Check", "c"+path)
		werr <- s.Finish(&trl)
	}()
	resp := new(htx.Message)
	if err := s.ReadResponse(resp); err != nil {
		<-werr
		return nil, nil, err
	}
	got, err := io.ReadAll(s)
	if e := <-werr; err == nil {
		err = e
	}
	return resp, got, err
}

func TestBackAgainstGoServerManyStreamsOneConnection(t *testing.T) {
	testnet.LeakCheck(t)
	gs := startGoH2Server(t, &http2.Server{}, echoHandler)
	m := dialBack(t, gs.ln.Addr().String())
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte(i)}, i*3000)
			path := fmt.Sprintf("/s/%d", i)
			resp, got, err := roundTrip(m, path, body)
			switch {
			case err != nil:
			case resp.Status != 200:
				err = fmt.Errorf("status %d", resp.Status)
			case !bytes.Equal(got, body):
				err = fmt.Errorf("%s: body differs", path)
			default:
				p, _ := resp.Get("x-path")
				s, _ := resp.GetTrailer("x-sum")
				c, _ := resp.GetTrailer("x-check-back")
				if string(p) != path || string(s) != sum(body) || string(c) != "c"+path {
					err = fmt.Errorf("%s: path %q sum %q check %q", path, p, s, c)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), gs.conns.Load(), "every stream shares one connection")
	require.Equal(t, 0, m.UsedStreams())
}

func TestBackOpenFailsWhenServerLimitReached(t *testing.T) {
	testnet.LeakCheck(t)
	release := make(chan struct{})
	gs := startGoH2Server(t, &http2.Server{MaxConcurrentStreams: 3}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the request to its end before answering. A handler that
		// returns first makes Go's server reset the stream with NO_ERROR,
		// and when the request's trailers were read but not yet handled
		// by then, it takes them for HEADERS on a closed stream and ends
		// the whole connection with GOAWAY PROTOCOL_ERROR (golang/go
		// issue 58286), leaving no stream to open.
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/wait" {
			<-release
		}
	}))
	m := dialBack(t, gs.ln.Addr().String())
	// One exchange first, so the server's SETTINGS have arrived.
	_, _, err := roundTrip(m, "/", nil)
	require.NoError(t, err)
	require.Equal(t, 3, m.AvailStreams())
	var open []*Stream
	for i := 0; i < 3; i++ {
		st, err := m.Open(context.Background())
		require.NoError(t, err)
		s := st.(*Stream)
		var req htx.Message
		req.SetRequest("GET", "http", "backend", "/wait")
		req.Flags |= htx.FlagBodyless
		require.NoError(t, s.WriteRequest(&req))
		open = append(open, s)
	}
	require.Equal(t, 0, m.AvailStreams())
	_, err = m.Open(context.Background())
	require.ErrorIs(t, err, ErrNoStreams)
	close(release)
	for _, s := range open {
		var resp htx.Message
		require.NoError(t, s.ReadResponse(&resp))
		require.Equal(t, 200, resp.Status)
		_, err := io.ReadAll(s)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	require.Equal(t, 3, m.AvailStreams())
}

func TestBackStreamResetByServer(t *testing.T) {
	testnet.LeakCheck(t)
	gs := startGoH2Server(t, &http2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // resets the stream
	}))
	m := dialBack(t, gs.ln.Addr().String())
	_, _, err := roundTrip(m, "/", []byte("x"))
	require.ErrorIs(t, err, ErrStreamReset)
	// The connection carries on.
	require.Equal(t, 0, m.UsedStreams())
}

// relay is a gateway in a few lines: it copies one exchange from a
// front HTTPStream to a back HTTPStream and back, whatever their HTTP
// versions.
func relay(front, back mux.HTTPStream) error {
	req := front.Request()
	keepTrailers(req)
	if err := back.WriteRequest(req); err != nil {
		return fmt.Errorf("request head: %w", err)
	}
	if _, err := io.Copy(writerOnly{back}, readerOnly{front}); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	var trl *htx.Message
	if req.NumTrailers() > 0 {
		trl = req
	}
	if err := back.Finish(trl); err != nil {
		return fmt.Errorf("request end: %w", err)
	}
	var resp htx.Message
	for {
		if err := back.ReadResponse(&resp); err != nil {
			return fmt.Errorf("response head: %w", err)
		}
		if resp.Status >= 200 {
			break
		}
		if err := front.WriteResponse(&resp); err != nil {
			return err
		}
	}
	keepTrailers(&resp)
	if err := front.WriteResponse(&resp); err != nil {
		return fmt.Errorf("response head out: %w", err)
	}
	if _, err := io.Copy(writerOnly{front}, readerOnly{back}); err != nil {
		return fmt.Errorf("response body: %w", err)
	}
	trl = nil
	if resp.NumTrailers() > 0 {
		trl = &resp
	}
	return front.Finish(trl)
}

// keepTrailers drops a known length from a message announcing
// trailers, since an HTTP/1 body sent with Content-Length has no place
// for them: the body then goes chunked.
func keepTrailers(m *htx.Message) {
	if _, ok := m.Get("trailer"); ok && m.Flags&htx.FlagBodyless == 0 {
		m.Flags &^= htx.FlagContentLength
		m.Del("content-length")
	}
}

type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// TestGatewayH1ToH2 relays HTTP/1.1 clients (net/http) through an h1
// front stream to an h2 back stream on Go's HTTP/2 server.
func TestGatewayH1ToH2(t *testing.T) {
	testnet.LeakCheck(t)
	gs := startGoH2Server(t, &http2.Server{}, echoHandler)
	back := dialBack(t, gs.ln.Addr().String())
	ln := testnet.Listen(t)
	relayErr := make(chan error, 10)
	stop := testnet.Accept(ln, func(c net.Conn) {
		fm, err := mux.New(xprt.NewRaw(c), "h1", mux.SideFront, mux.ModeHTTP)
		if err != nil {
			c.Close()
			return
		}
		defer fm.Close()
		for {
			fs, err := fm.Accept(context.Background())
			if err != nil {
				return
			}
			bs, err := back.Open(context.Background())
			if err == nil {
				err = relay(fs.(mux.HTTPStream), bs.(mux.HTTPStream))
				bs.Close()
			}
			fs.Close()
			if err != nil {
				relayErr <- err
				return
			}
		}
	})
	defer stop()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	for _, size := range []int{0, 10, 1 << 20} {
		body := randomBytes(t, size)
		req, err := http.NewRequest("POST", "http://"+ln.Addr().String()+"/gw?n="+fmt.Sprint(size), io.NopCloser(bytes.NewReader(body)))
		require.NoError(t, err)
		req.Trailer = http.Header{"X-Check": []string{"h1-" + fmt.Sprint(size)}}
		resp, err := client.Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, 1, resp.ProtoMajor, "%v", resp.Header)
		require.Equal(t, sum(body), sum(got), "size %d", size)
		require.Equal(t, "/gw?n="+fmt.Sprint(size), resp.Header.Get("X-Path"))
		require.Equal(t, sum(body), trailerOrHeader(resp, "X-Sum"))
		require.Equal(t, "h1-"+fmt.Sprint(size), trailerOrHeader(resp, "X-Check-Back"))
	}
	select {
	case err := <-relayErr:
		t.Fatal(err)
	default:
	}
}

// TestGatewayH2ToH1 relays Go's HTTP/2 client through an h2 front
// stream to an h1 back stream on a net/http HTTP/1.1 server.
func TestGatewayH2ToH1(t *testing.T) {
	testnet.LeakCheck(t)
	origin := httptest.NewServer(echoHandler)
	defer origin.Close()
	var relayErrs atomic.Value
	srv := startServer(t, Config{}, nil, func(fs *Stream) {
		c, err := net.Dial("tcp", origin.Listener.Addr().String())
		if err != nil {
			relayErrs.Store(err)
			return
		}
		bm, err := mux.New(xprt.NewRaw(c), "h1", mux.SideBack, mux.ModeHTTP)
		if err != nil {
			relayErrs.Store(err)
			return
		}
		defer bm.Close()
		bs, err := bm.Open(context.Background())
		if err == nil {
			err = relay(fs, bs.(mux.HTTPStream))
			bs.Close()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			relayErrs.Store(err)
		}
	})
	client := h2cClient(t)
	for _, size := range []int{0, 10, 1 << 20} {
		body := randomBytes(t, size)
		req, err := http.NewRequest("POST", "http://"+srv.addr()+"/gw?n="+fmt.Sprint(size), io.NopCloser(bytes.NewReader(body)))
		require.NoError(t, err)
		req.Trailer = http.Header{"X-Check": []string{"h2-" + fmt.Sprint(size)}}
		resp, err := client.Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, 2, resp.ProtoMajor)
		require.Equal(t, len(body), len(got))
		for i := range got {
			if got[i] != body[i] {
				t.Fatalf("first difference at %d of %d", i, len(got))
			}
		}
		require.Equal(t, sum(body), sum(got), "size %d", size)
		require.Equal(t, "/gw?n="+fmt.Sprint(size), resp.Header.Get("X-Path"))
		require.Equal(t, sum(body), trailerOrHeader(resp, "X-Sum"))
		require.Equal(t, "h2-"+fmt.Sprint(size), trailerOrHeader(resp, "X-Check-Back"))
	}
	require.Nil(t, relayErrs.Load())
}

// trailerOrHeader finds a trailer field, or the header field it became
// when Go's server answered before any body and folded its trailers
// into the head.
func trailerOrHeader(resp *http.Response, name string) string {
	if v := resp.Trailer.Get(name); v != "" {
		return v
	}
	return resp.Header.Get(name)
}
