package h2

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// recordingTransport keeps a copy of every write that reaches the socket.
type recordingTransport struct {
	xprt.Transport
	mu     sync.Mutex
	writes [][]byte
}

func (r *recordingTransport) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, append([]byte(nil), p...))
	r.mu.Unlock()
	return r.Transport.Write(p)
}

// frameSummary lists the frames of one write as type, stream and flags.
type frameSummary struct {
	typ   http2.FrameType
	id    uint32
	flags http2.Flags
}

func framesOf(t *testing.T, p []byte) []frameSummary {
	t.Helper()
	var out []frameSummary
	fr := http2.NewFramer(io.Discard, bytes.NewReader(p))
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err, "a write must hold whole frames")
		h := f.Header()
		out = append(out, frameSummary{h.Type, h.StreamID, h.Flags})
	}
}

// helloChunked answers like hello, without a Content-Length.
func helloChunked(s *Stream) {
	var resp htx.Message
	resp.SetResponse(200, "")
	if s.WriteResponse(&resp) != nil {
		return
	}
	if _, err := s.Write([]byte("hello\n")); err != nil {
		return
	}
	_ = s.Finish(nil)
}

func TestResponseFramesLeaveInBatches(t *testing.T) {
	t.Run("content-length", func(t *testing.T) {
		// The last DATA waits for Finish: at most one write per
		// response, plus one the SETTINGS acknowledgement may carry.
		writes := batchRun(t, hello)
		require.LessOrEqual(t, writes, 5+1)
	})
	t.Run("one-core", func(t *testing.T) {
		// On one core the flusher runs once every ready handler has
		// written its response: the five responses share a write or two
		// where a flush per call would make ten.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		writes := batchRun(t, helloChunked)
		require.LessOrEqual(t, writes, 2)
	})
}

// batchRun answers five GET streams with handle and returns how many
// writes carried frames of the streams.
func batchRun(t *testing.T, handle func(*Stream)) int {
	testnet.LeakCheck(t)
	cli, c := testnet.Pair(t)
	rc := newRawClient(t, cli)
	rt := &recordingTransport{Transport: xprt.NewRaw(c)}
	m, err := New(rt, mux.SideFront, Config{})
	require.NoError(t, err)
	defer m.Close()

	const streams = 5
	for id := uint32(1); id < 2*streams; id += 2 {
		require.NoError(t, rc.get(id, true))
	}
	var wg sync.WaitGroup
	for range streams {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := m.Accept(ctx)
		cancel()
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			handle(st.(*Stream))
		}()
	}
	ended := 0
	for ended < streams {
		f, err := rc.fr.ReadFrame()
		require.NoError(t, err)
		if f.Header().Flags.Has(http2.FlagDataEndStream) && f.Header().Type == http2.FrameData {
			ended++
		}
	}
	wg.Wait()

	rt.mu.Lock()
	defer rt.mu.Unlock()
	carrying, headers, ends := 0, map[uint32]bool{}, map[uint32]bool{}
	for _, w := range rt.writes {
		stream := false
		for _, f := range framesOf(t, w) {
			if f.id == 0 {
				continue
			}
			stream = true
			switch f.typ {
			case http2.FrameHeaders:
				headers[f.id] = true
			case http2.FrameData:
				require.True(t, headers[f.id], "DATA of stream %d before its HEADERS", f.id)
				if f.flags.Has(http2.FlagDataEndStream) {
					ends[f.id] = true
				}
			}
		}
		if stream {
			carrying++
		}
	}
	require.Len(t, headers, streams)
	require.Len(t, ends, streams)
	return carrying
}
