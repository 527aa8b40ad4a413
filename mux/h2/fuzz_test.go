package h2

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// fuzzSeeds are frame sequences a client may send after its preface:
// well-formed exchanges and the shapes of known attacks (rapid reset,
// CONTINUATION flood, window overflow, bad padding).
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	build := func(fn func(fr *http2.Framer, block func(fields ...string) []byte)) {
		var out, hb bytes.Buffer
		fr := http2.NewFramer(&out, nil)
		enc := hpack.NewEncoder(&hb)
		block := func(fields ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(fields); i += 2 {
				_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		}
		fn(fr, block)
		seeds = append(seeds, out.Bytes())
	}
	get := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	post := []string{":method", "POST", ":scheme", "http", ":path", "/p", ":authority", "x", "content-length", "5"}
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings()
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(get...), EndStream: true, EndHeaders: true})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(post...), EndHeaders: true})
		_ = fr.WriteData(1, false, []byte("he"))
		_ = fr.WriteDataPadded(1, true, []byte("llo"), make([]byte, 7))
		_ = fr.WriteWindowUpdate(1, 100)
		_ = fr.WriteWindowUpdate(0, 100)
		_ = fr.WritePing(false, [8]byte{1, 2, 3})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings()
		b := block(get...)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3], EndStream: true})
		_ = fr.WriteContinuation(1, false, b[3:5])
		_ = fr.WriteContinuation(1, true, b[5:])
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block(get...), EndHeaders: true})
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
		_ = fr.WritePriority(5, http2.PriorityParam{StreamDep: 5})
		_ = fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	})
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings()
		for id := uint32(1); id < 60; id += 2 {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(get...), EndHeaders: true})
			_ = fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
	})
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings()
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(get...)})
		for range 40 {
			_ = fr.WriteContinuation(1, false, []byte{0x40, 1, 'a', 1, 'b'})
		}
	})
	build(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteSettings()
		_ = fr.WriteWindowUpdate(0, 1<<31-1)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":method", "GET", "Upper", "x"), EndHeaders: true})
		_ = fr.WriteData(7, true, []byte("x"))
		_ = fr.WriteRawFrame(0xfa, 0, 1, []byte("unknown"))
	})
	seeds = append(seeds, []byte{0, 0, 0, 4, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff})
	return seeds
}

// FuzzFrontConn feeds arbitrary bytes after the client preface to a
// front-side connection whose streams are answered: it must never panic,
// and the connection must end (no hang) once the input ends.
func FuzzFrontConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the client reads all we send
			defer wg.Done()
			_, _ = io.Copy(io.Discard, cli)
		}()
		m, err := New(xprt.NewRaw(srv), mux.SideFront, Config{MaxConcurrentStreams: 8, MaxResets: 10})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = cli.Write([]byte(http2.ClientPreface))
			_, _ = cli.Write(data)
			_ = cli.Close()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			acceptStreams(m, &wg, hello)
		}()
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("connection did not end after its input: %x\n%s", data, buf[:runtime.Stack(buf, true)])
		}
		_ = m.Close()
	})
}
