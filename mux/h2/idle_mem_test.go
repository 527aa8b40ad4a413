package h2

import (
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// rawMuxPair is a front-side and a back-side mux over a loopback pair.
func rawMuxPair(t *testing.T) (front, back *Mux) {
	t.Helper()
	c, s := testnet.Pair(t)
	front, err := New(xprt.NewRaw(s), mux.SideFront, Config{})
	require.NoError(t, err)
	back, err = New(xprt.NewRaw(c), mux.SideBack, Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = back.Close(); _ = front.Close() })
	return front, back
}

// Once a stream is answered and closed, an idle connection keeps
// nothing of it: the stream, its request and the header block's state
// are collected, and a large header block's buffers go once the reader
// parks.
func TestIdleConnKeepsNoStream(t *testing.T) {
	front, back := rawMuxPair(t)
	accepted := make(chan weak.Pointer[Stream], 1)
	go func() {
		st, err := front.Accept(context.Background())
		if err != nil {
			return
		}
		s := st.(*Stream)
		accepted <- weak.Make(s)
		hello(s)
		_ = s.Close()
	}()
	bs, err := back.Open(context.Background())
	require.NoError(t, err)
	var req htx.Message
	req.SetRequest("GET", "http", "test", "/"+strings.Repeat("p", 3000))
	req.Add("cookie", "a="+strings.Repeat("1", 2000))
	req.Add("cookie", "b=2")
	req.Flags |= htx.FlagBodyless
	require.NoError(t, bs.(*Stream).WriteRequest(&req))
	var resp htx.Message
	require.NoError(t, bs.(*Stream).ReadResponse(&resp))
	require.Equal(t, 200, resp.Status)
	_, _ = io.Copy(io.Discard, bs.(*Stream))
	_ = bs.Close()
	wp := testnet.Signalled(t, accepted, "the stream")
	require.Eventually(t, func() bool { return front.parks.Load() > 0 }, 10*time.Second, 5*time.Millisecond)
	runtime.GC()
	runtime.GC()
	require.Nil(t, wp.Value(), "the idle connection still holds its answered stream")
	front.mu.Lock()
	q, streams := cap(front.acceptQ), front.streams
	front.mu.Unlock()
	require.LessOrEqual(t, q, keepAcceptQ)
	require.Nil(t, streams, "the map of streams, none open, went with the park")
	require.Nil(t, front.hs.cookie, "the cookie scratch went with the park")
}

// Streams handed to several Accept calls waiting at once all reach one
// of them: none is left queued while a call waits. Each call takes one
// stream, so a wake lost is a stream never served.
func TestAcceptWithManyWaiters(t *testing.T) {
	front, back := rawMuxPair(t)
	const perRound, rounds = 8, 3
	served := make(chan string, perRound)
	got := map[string]bool{}
	for round := 0; round < rounds; round++ {
		waiting := make(chan struct{}, perRound)
		for range perRound {
			go func() {
				waiting <- struct{}{}
				st, err := front.Accept(context.Background())
				if err != nil {
					return
				}
				served <- string(st.(*Stream).Request().Path())
				hello(st.(*Stream))
				_ = st.Close()
			}()
		}
		for range perRound {
			testnet.Signalled(t, waiting, "a waiter")
		}
		var open []*Stream
		for i := range perRound {
			open = append(open, openGet(t, back, fmt.Sprintf("/%d/%d", round, i)))
		}
		for range open {
			got[testnet.Signalled(t, served, "an accepted stream")] = true
		}
		for _, s := range open {
			var resp htx.Message
			require.NoError(t, s.ReadResponse(&resp))
			_, _ = io.Copy(io.Discard, s)
			_ = s.Close()
		}
	}
	require.Len(t, got, perRound*rounds)

	// Two streams queued at once, with a single wake for both, as when
	// the second comes before the first wake is taken: the call that
	// takes the first passes the wake on.
	taken := make(chan *Stream, 2)
	for range 2 {
		go func() {
			st, err := front.Accept(context.Background())
			if err == nil {
				taken <- st.(*Stream)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let both wait (a late one takes its stream at once)
	s1, s2 := &Stream{id: 101}, &Stream{id: 103}
	front.mu.Lock()
	front.acceptQ = append(front.acceptQ, s1, s2)
	front.signalAcceptLocked()
	front.mu.Unlock()
	a := testnet.Signalled(t, taken, "the first stream")
	b := testnet.Signalled(t, taken, "the second stream")
	require.ElementsMatch(t, []uint32{101, 103}, []uint32{a.id, b.id})
}

// Accept returns a stream queued before the connection ended, then the
// end.
func TestAcceptAfterEnd(t *testing.T) {
	front, back := rawMuxPair(t)
	openGet(t, back, "/queued")
	require.Eventually(t, func() bool {
		front.mu.Lock()
		defer front.mu.Unlock()
		return len(front.acceptQ) == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, back.Close())
	<-front.done
	st, err := front.Accept(context.Background())
	require.NoError(t, err)
	require.Equal(t, "/queued", string(st.(*Stream).Request().Path()))
	_, err = front.Accept(context.Background())
	require.ErrorIs(t, err, io.EOF)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = front.Accept(ctx)
	require.ErrorIs(t, err, io.EOF, "an ended connection says so before a canceled context")
}

// framerBufs returns the capacities of the buffers an x/net Framer keeps
// between frames: the last frame read's payload and the last frame
// written.
func framerBufs(t *testing.T, fr *http2.Framer) (read, write int) {
	t.Helper()
	v := reflect.ValueOf(fr).Elem()
	rb, wb := v.FieldByName("readBuf"), v.FieldByName("wbuf")
	if !rb.IsValid() || !wb.IsValid() {
		t.Skip("this x/net Framer keeps its buffers under other names")
	}
	return rb.Cap(), wb.Cap()
}

// After bodies of many full-size DATA frames each way, neither side's
// framer keeps a frame-sized buffer: DATA is read into a buffer borrowed
// for the frame and written straight into the connection's writer. The
// bodies arrive whole and in order.
func TestDataLeavesNoFramerBuffer(t *testing.T) {
	front, back := rawMuxPair(t)
	go func() {
		st, err := front.Accept(context.Background())
		if err != nil {
			return
		}
		echo(st.(*Stream))
		_ = st.Close()
	}()
	body := randomBytes(t, 200<<10)
	resp, got, err := roundTrip(back, "/big", body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, sum(body), sum(got))
	for _, m := range []*Mux{front, back} {
		r, w := framerBufs(t, m.fr)
		require.Less(t, r, 1024, "the framer keeps a read buffer of %d bytes", r)
		require.Less(t, w, 1024, "the framer keeps a write buffer of %d bytes", w)
	}
}

// Padded DATA frames give the stream their data alone; a pad longer
// than the frame, or a padded frame too short for its pad length, ends
// the connection.
func TestPaddedData(t *testing.T) {
	srv := startServer(t, Config{}, nil, echo)
	rc := dialRaw(t, srv.addr())
	require.NoError(t, rc.get(1, false))
	require.NoError(t, rc.fr.WriteDataPadded(1, false, []byte("abc"), make([]byte, 200)))
	require.NoError(t, rc.fr.WriteDataPadded(1, true, []byte("defg"), nil))
	var echoed []byte
	for !strings.HasSuffix(string(echoed), "defg") {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if f, ok := f.(*http2.DataFrame); ok {
			echoed = append(echoed, f.Data()...)
		}
	}
	require.Equal(t, "abcdefg", string(echoed))

	for _, tc := range []struct {
		name    string
		payload []byte
		code    http2.ErrCode
	}{
		{"pad longer than the frame", []byte{10, 'x'}, http2.ErrCodeProtocol},
		{"no room for the pad length", nil, http2.ErrCodeFrameSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, srv.addr())
			require.NoError(t, rc.get(1, false))
			require.NoError(t, rc.fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, tc.payload))
			require.Equal(t, tc.code, rc.goAway(t).ErrCode)
		})
	}
}

// tableSizeUpdates returns the dynamic table size updates a header block
// starts with (RFC 7541 §6.3).
func tableSizeUpdates(block []byte) []uint32 {
	var sizes []uint32
	for len(block) > 0 && block[0]&0xe0 == 0x20 {
		v := uint32(block[0] & 0x1f)
		block = block[1:]
		if v == 0x1f {
			var shift uint
			for len(block) > 0 {
				b := block[0]
				block = block[1:]
				v += uint32(b&0x7f) << shift
				shift += 7
				if b&0x80 == 0 {
					break
				}
			}
		}
		sizes = append(sizes, v)
	}
	return sizes
}

// An idle connection lets its HPACK encoder go; the first answer after
// the park empties the client's copy of the former table (a size update
// to zero) and sets the size the client allows again, and decodes right
// with the client's decoder, which kept its table all along.
func TestIdleConnRemakesEncoder(t *testing.T) {
	for _, tc := range []struct {
		allowed uint32
		updates []uint32
	}{
		{256, []uint32{0, 256}},
		// More than the initial 4096 is allowed, not taken.
		{65536, []uint32{0, 4096}},
		{math.MaxUint32, []uint32{0, 4096}},
	} {
		t.Run(fmt.Sprint(tc.allowed), func(t *testing.T) { testRemakeEncoder(t, tc.allowed, tc.updates) })
	}
}

func testRemakeEncoder(t *testing.T, allowed uint32, wantUpdates []uint32) {
	srv := startServer(t, Config{}, nil, hello)
	rc := dialRaw(t, srv.addr())
	require.NoError(t, rc.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: allowed}))
	dec := hpack.NewDecoder(4096, nil)
	get := func(id uint32) (fields map[string]string, updates []uint32) {
		t.Helper()
		require.NoError(t, rc.get(id, true))
		for {
			f, err := rc.fr.ReadFrame()
			require.NoError(t, err)
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					require.NoError(t, rc.fr.WriteSettingsAck())
				}
			case *http2.HeadersFrame:
				require.Equal(t, id, f.StreamID)
				updates = tableSizeUpdates(f.HeaderBlockFragment())
				hfs, err := dec.DecodeFull(f.HeaderBlockFragment())
				require.NoError(t, err)
				fields = map[string]string{}
				for _, hf := range hfs {
					fields[hf.Name] = hf.Value
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					return fields, updates
				}
			}
		}
	}
	waitPark := func() {
		t.Helper()
		require.Eventually(t, func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return len(srv.muxes) == 1 && srv.muxes[0].parks.Load() > 0 && xprt.Parked() > 0
		}, 10*time.Second, 5*time.Millisecond)
	}
	want := map[string]string{":status": "200", "content-type": "text/plain", "content-length": "6"}
	fields, _ := get(1)
	require.Equal(t, want, fields)
	waitPark()
	srv.mu.Lock()
	m := srv.muxes[0]
	srv.mu.Unlock()
	m.wmu.Lock()
	require.Nil(t, m.henc, "the parked connection still holds its encoder")
	m.wmu.Unlock()
	fields, updates := get(3)
	require.Equal(t, want, fields)
	require.Equal(t, wantUpdates, updates)
	// Busy again, the encoder goes on: no size update, unless the
	// connection parked again in between.
	parks := m.parks.Load()
	fields, updates = get(5)
	require.Equal(t, want, fields)
	if m.parks.Load() == parks {
		require.Empty(t, updates)
	}
}
