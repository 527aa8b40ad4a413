package h2

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// tlsServer wraps the server end of a connection in the TLS transport,
// with ALPN h2, and runs its handshake with cli, the client end's
// handshake function.
func tlsServer(t *testing.T, s net.Conn, cli func() error) xprt.Transport {
	t.Helper()
	cert := testcert.SelfSigned(t, "127.0.0.1").Certificate
	st, err := xprt.New("tls", s, &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: []string{"h2"}}, false)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cli() }()
	require.NoError(t, st.Handshake(ctx))
	require.NoError(t, <-errc)
	require.Equal(t, "h2", st.Info().ALPN)
	return st
}

// clientTLS is the client side's TLS config: ALPN h2, the server's
// self-signed certificate unchecked.
func clientTLS() *stdtls.Config {
	return &stdtls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
}

// serveHello answers every stream front accepts with hello, and sends
// each one's path on served.
func serveHello(front *Mux, served chan<- string) {
	for {
		st, err := front.Accept(context.Background())
		if err != nil {
			return
		}
		served <- string(st.(*Stream).Request().Path())
		hello(st.(*Stream))
		_ = st.Close()
	}
}

// Over TLS too, a connection that receives nothing for a while parks its
// reader in the shared idle poller, holding no goroutine and no buffer
// of the mux's; a stream opened later wakes it and is served, and Close
// ends a parked connection at once, leaving no goroutine behind.
func TestIdleTLSReaderParks(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	ct, err := xprt.New("tls", c, clientTLS(), true)
	require.NoError(t, err)
	st := tlsServer(t, s, func() error { return ct.Handshake(context.Background()) })
	front, err := New(st, mux.SideFront, Config{})
	require.NoError(t, err)
	back, err := New(ct, mux.SideBack, Config{})
	require.NoError(t, err)
	defer back.Close()
	served := make(chan string, 4)
	go serveHello(front, served)
	get := func(path string) {
		t.Helper()
		st := openGet(t, back, path)
		var resp htx.Message
		require.NoError(t, st.ReadResponse(&resp))
		require.Equal(t, 200, resp.Status)
		body := make([]byte, 16)
		n, _ := st.Read(body)
		require.Equal(t, "hello\n", string(body[:n]))
		_ = st.Close()
		require.Equal(t, path, testnet.Signalled(t, served, "the stream "+path))
	}
	get("/one")
	// Both readers, the front's and the back's, park, and give their
	// buffers back.
	require.Eventually(t, func() bool { return xprt.Parked() == 2 }, 10*time.Second, 5*time.Millisecond)
	require.Nil(t, front.br.buf, "a parked reader holds no buffer")
	require.Nil(t, back.br.buf, "a parked reader holds no buffer")
	parks := front.parks.Load()
	require.NotZero(t, parks)
	get("/two")
	require.Eventually(t, func() bool { return front.parks.Load() > parks && xprt.Parked() == 2 },
		10*time.Second, 5*time.Millisecond, "the reader woke for the second request and parked again")
	require.NoError(t, front.Close())
	// Close waited for the front's reader: it is out of the poller. The
	// back's sees the end in its turn.
	require.LessOrEqual(t, xprt.Parked(), 1)
	require.Eventually(t, func() bool { return xprt.Parked() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		_, err = back.Open(context.Background())
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "the back side sees the connection end")
}

// splitConn writes, once armed, only the first at bytes of its next
// write and keeps the rest for the test to send itself.
type splitConn struct {
	net.Conn
	at   atomic.Int32 // 0: not armed
	mu   sync.Mutex
	rest []byte
}

func (c *splitConn) Write(p []byte) (int, error) {
	at := int(c.at.Swap(0))
	if at == 0 || at >= len(p) {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(p[:at]); err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.rest = append([]byte(nil), p[at:]...)
	c.mu.Unlock()
	return len(p), nil
}

// sendRest writes what the split write kept back.
func (c *splitConn) sendRest() error {
	c.mu.Lock()
	rest := c.rest
	c.rest = nil
	c.mu.Unlock()
	_, err := c.Conn.Write(rest)
	return err
}

// A TLS record that arrives in two parts, the reader parking between
// them, is read whole once its rest comes: the part is kept by the TLS
// layer across the park, nothing is lost or reordered. The record is cut
// inside its header, and inside its payload. Shutdown ends the parked
// connection at once.
func TestIdleTLSRecordSplitAcrossPark(t *testing.T) {
	for _, cut := range []int{3, 20} {
		t.Run("", func(t *testing.T) {
			testnet.LeakCheck(t)
			c, s := testnet.Pair(t)
			sc := &splitConn{Conn: c}
			tc := stdtls.Client(sc, clientTLS())
			st := tlsServer(t, s, func() error { return tc.HandshakeContext(context.Background()) })
			front, err := New(st, mux.SideFront, Config{})
			require.NoError(t, err)
			served := make(chan string, 4)
			go serveHello(front, served)

			rc := newRawClient(t, tc)
			rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			get := func(id uint32, path string) {
				t.Helper()
				require.NoError(t, rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
					BlockFragment: rc.block(":method", "GET", ":scheme", "https", ":path", path, ":authority", "x")}))
				if id != 1 {
					// The first part is out: the reader wakes, reads it,
					// finds no whole record and parks again; then the rest.
					parks := front.parks.Load()
					require.Eventually(t, func() bool { return front.parks.Load() > parks }, 10*time.Second, time.Millisecond,
						"the reader parks again with part of a record")
					// The first part may come in more than one segment,
					// each waking the reader for a moment.
					require.Eventually(t, func() bool { return xprt.Parked() == 1 }, 10*time.Second, time.Millisecond)
					require.NoError(t, sc.sendRest())
				}
				require.Equal(t, path, testnet.Signalled(t, served, "the stream "+path))
				status, body := "", ""
				for {
					f, err := rc.fr.ReadFrame()
					require.NoError(t, err)
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							require.NoError(t, rc.fr.WriteSettingsAck())
						}
					case *http2.MetaHeadersFrame:
						require.Equal(t, id, f.StreamID)
						status = f.PseudoValue("status")
					case *http2.DataFrame:
						require.Equal(t, id, f.StreamID)
						body += string(f.Data())
						if f.StreamEnded() {
							require.Equal(t, "200", status)
							require.Equal(t, "hello\n", body)
							return
						}
					}
				}
			}
			get(1, "/one")
			require.Eventually(t, func() bool { return xprt.Parked() == 1 }, 10*time.Second, time.Millisecond)
			sc.at.Store(int32(cut))
			get(3, "/two")
			require.Eventually(t, func() bool { return xprt.Parked() == 1 }, 10*time.Second, time.Millisecond)
			require.NoError(t, front.Shutdown(context.Background()))
			require.Equal(t, 0, xprt.Parked(), "Shutdown ended the parked reader")
			_, err = rc.fr.ReadFrame()
			for err == nil {
				_, err = rc.fr.ReadFrame() // the GOAWAY, then the end
			}
		})
	}
}

// A frame whose header and payload come in TLS records far apart is read
// whole: the idle deadline the reader set at the frame boundary is
// lifted, not taken for an error, when it passes within the frame.
func TestTLSFrameSplitAcrossIdleDeadline(t *testing.T) {
	c, s := testnet.Pair(t)
	tc := stdtls.Client(c, clientTLS())
	st := tlsServer(t, s, func() error { return tc.HandshakeContext(context.Background()) })
	front, err := New(st, mux.SideFront, Config{})
	require.NoError(t, err)
	defer front.Close()
	served := make(chan string, 4)
	go serveHello(front, served)
	rc := newRawClient(t, tc)
	var frame bytes.Buffer
	fr := http2.NewFramer(&frame, nil)
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: rc.block(":method", "GET", ":scheme", "https", ":path", "/split", ":authority", "x")}))
	b := frame.Bytes()
	_, err = tc.Write(b[:9])
	require.NoError(t, err)
	time.Sleep(3 * readIdleAfter) // the deadline passes within the frame
	_, err = tc.Write(b[9:])
	require.NoError(t, err)
	require.Equal(t, "/split", testnet.Signalled(t, served, "the stream"))
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if f, ok := f.(*http2.DataFrame); ok {
			require.Equal(t, "hello\n", string(f.Data()))
			break
		}
	}
}
