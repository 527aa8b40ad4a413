package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
)

var paths = []struct {
	name   string
	raw    bool
	splice SpliceMode
}{
	{"buffer/plain", false, SpliceAlways}, // not raw: splicing impossible
	{"buffer/raw", true, SpliceNever},
	{"splice", true, SpliceAlways},
}

func TestHalfCloseClientFirst(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			_, done := startTunnel(t, f, p.raw, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: p.splice, SpliceResponse: p.splice})

			_, err := f.client.Write([]byte("ping"))
			require.NoError(t, err)
			require.NoError(t, f.client.CloseWrite())
			require.Equal(t, "ping", string(readAll(t, f.server)), "the server sees the request, then EOF")

			// The response still flows after the client's half-close.
			_, err = f.server.Write([]byte("pong!"))
			require.NoError(t, err)
			require.NoError(t, f.server.CloseWrite())
			require.Equal(t, "pong!", string(readAll(t, f.client)))

			r := wait(t, done)
			require.NoError(t, r.err)
			require.Equal(t, "--", r.res.TermState())
			require.Equal(t, SideClient, r.res.FirstShut)
			require.Equal(t, int64(4), r.res.Request.Out)
			require.Equal(t, int64(5), r.res.Response.Out)
			require.Zero(t, pool.Stats().InUse)
			require.Zero(t, pipes.Stats().InUse)
		})
	}
}

func TestHalfCloseServerFirst(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			_, done := startTunnel(t, f, p.raw, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: p.splice, SpliceResponse: p.splice})

			_, err := f.server.Write([]byte("banner"))
			require.NoError(t, err)
			require.NoError(t, f.server.CloseWrite())
			require.Equal(t, "banner", string(readAll(t, f.client)))

			_, err = f.client.Write([]byte("bye"))
			require.NoError(t, err)
			require.NoError(t, f.client.CloseWrite())
			require.Equal(t, "bye", string(readAll(t, f.server)))

			r := wait(t, done)
			require.NoError(t, r.err)
			require.Equal(t, "--", r.res.TermState())
			require.Equal(t, SideServer, r.res.FirstShut)
			require.Equal(t, Stats{In: 3, Out: 3, Spliced: r.res.Request.Spliced}, r.res.Request)
		})
	}
}

// A read timeout ends its direction as an end of stream would, as in
// HAProxy: the silent side's peer gets a FIN, and the other direction
// goes on until it ends in its turn, its late bytes delivered. The
// tunnel's cause stays the timeout ("cD", "sD").
func TestTunnelTimeouts(t *testing.T) {
	const short, long = 150 * time.Millisecond, 20 * time.Second
	tests := []struct {
		name  string
		cfg   TunnelConfig
		state []string
		both  bool // both directions time out
	}{
		{"client", TunnelConfig{ClientTimeout: short, ServerTimeout: long}, []string{"cD"}, false},
		{"server", TunnelConfig{ClientTimeout: long, ServerTimeout: short}, []string{"sD"}, false},
		// Both sides fall silent together: the client is blamed, as
		// HAProxy blames it when both expire at once.
		{"tunnel replaces both", TunnelConfig{ClientTimeout: long, ServerTimeout: long, TunnelTimeout: short}, []string{"cD"}, true},
	}
	for _, tc := range tests {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				testnet.LeakCheck(t)
				pool, pipes := newPools(t, 0)
				tc.cfg.Pool, tc.cfg.Pipes = pool, pipes
				tc.cfg.SpliceRequest, tc.cfg.SpliceResponse = p.splice, p.splice
				f := newFixture(t)
				_, done := startTunnel(t, f, p.raw, tc.cfg)
				_, err := f.client.Write([]byte("hi"))
				require.NoError(t, err)
				switch {
				case tc.both:
					require.Equal(t, "hi", string(readAll(t, f.server)))
					require.Empty(t, readAll(t, f.client))
				case tc.state[0] == "cD":
					// The server sees the client's bytes, then the end; what
					// it sends after still reaches the client.
					require.Equal(t, "hi", string(readAll(t, f.server)))
					_, err = f.server.Write([]byte("late"))
					require.NoError(t, err)
					require.NoError(t, f.server.CloseWrite())
					require.Equal(t, "late", string(readAll(t, f.client)))
				default:
					require.Empty(t, readAll(t, f.client))
					_, err = f.client.Write([]byte("late"))
					require.NoError(t, err)
					require.NoError(t, f.client.CloseWrite())
					require.Equal(t, "hilate", string(readAll(t, f.server)))
				}
				r := wait(t, done)
				require.Error(t, r.err)
				require.ErrorIs(t, r.err, ErrReadTimeout)
				require.Equal(t, CauseTimeout, r.res.Cause)
				require.Contains(t, tc.state, r.res.TermState())
			})
		}
	}
}

// Writes to a side refresh its inactivity timeout, as in HAProxy without
// option independent-streams: a client that only downloads does not time
// out.
func TestTimeoutRefreshedByTheOtherDirection(t *testing.T) {
	testnet.LeakCheck(t)
	f := newFixture(t)
	_, done := startTunnel(t, f, true, TunnelConfig{ClientTimeout: 300 * time.Millisecond, ServerTimeout: 20 * time.Second})
	go func() {
		for i := 0; i < 12; i++ {
			_, _ = f.server.Write([]byte("tick"))
			time.Sleep(50 * time.Millisecond)
		}
		_ = f.server.CloseWrite()
	}()
	got := readAll(t, f.client)
	require.Equal(t, strings.Repeat("tick", 12), string(got))
	require.NoError(t, f.client.CloseWrite())
	r := wait(t, done)
	require.NoError(t, r.err, "the client side was active through writes")
	require.Equal(t, "--", r.res.TermState())
}

// A destination reset by its peer ends the channel with a write error
// that names the socket's errno, on every path.
func TestWriteErrorAfterReset(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			ch, err := New(wrap(f.front, p.raw), wrap(f.back, p.raw), Config{
				Pool: pool, Pipes: pipes, Splice: p.splice,
			})
			require.NoError(t, err)
			require.NoError(t, f.server.SetLinger(0))
			require.NoError(t, f.server.Close()) // sends a reset
			go func() {
				chunk := make([]byte, 16<<10)
				for {
					if _, err := f.client.Write(chunk); err != nil {
						return
					}
				}
			}()
			err = ch.Run(context.Background())
			var oe *OpError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, OpWrite, oe.Op)
			require.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "got %v", err)
			require.Zero(t, pool.Stats().InUse)
			require.Zero(t, pipes.Stats().InUse)
			f.client.Close()
			f.front.Close()
		})
	}
}

func TestWriteTimeout(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			require.NoError(t, f.back.SetWriteBuffer(4096))
			require.NoError(t, f.server.SetReadBuffer(4096))
			ch, err := New(wrap(f.front, p.raw), wrap(f.back, p.raw), Config{
				Pool: pool, Pipes: pipes, Splice: p.splice, WriteTimeout: 150 * time.Millisecond,
			})
			require.NoError(t, err)
			go func() {
				// The server never reads: the channel's writes stall.
				_, _ = f.client.Write(make([]byte, 8<<20))
			}()
			err = ch.Run(context.Background())
			require.ErrorIs(t, err, ErrWriteTimeout)
			var oe *OpError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, OpWrite, oe.Op)
			require.NotZero(t, ch.Flags()&FlagWriteTimeout)
			require.Zero(t, pool.Stats().InUse, "the stalled buffer was given back")
			require.Zero(t, pipes.Stats().InUse, "the stalled pipe was given back")
			f.client.Close()
			f.front.Close()
		})
	}
}

func TestRunCancelAbortAndReuse(t *testing.T) {
	testnet.LeakCheck(t)
	f := newFixture(t)
	ch, err := New(wrap(f.front, true), wrap(f.back, true), Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ch.Run(ctx) }()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.ErrorIs(t, ch.Run(context.Background()), ErrRunning)

	g := newFixture(t)
	ch2, err := New(wrap(g.front, false), wrap(g.back, false), Config{})
	require.NoError(t, err)
	go func() { errc <- ch2.Run(context.Background()) }()
	_, err = g.client.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(g.server, make([]byte, 1))
	require.NoError(t, err)
	ch2.Abort()
	require.ErrorIs(t, <-errc, ErrAborted)

	_, err = New(nil, wrap(g.back, true), Config{})
	require.Error(t, err)
	_, err = New(wrap(g.front, true), wrap(g.back, true), Config{ReadTimeout: -1})
	require.Error(t, err)
	_, err = NewTunnel(wrap(g.front, true), wrap(g.back, true), TunnelConfig{TunnelTimeout: -time.Second})
	require.Error(t, err)
}

func TestTunnelContextCancel(t *testing.T) {
	testnet.LeakCheck(t)
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = RunTunnel(ctx, wrap(f.front, true), wrap(f.back, true), TunnelConfig{})
		errc <- err
	}()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.Equal(t, "KD", res.TermState())
}

// A reset from one side is an abort blamed on that side.
func TestTunnelAbortBySide(t *testing.T) {
	for _, side := range []Side{SideClient, SideServer} {
		t.Run(side.String(), func(t *testing.T) {
			testnet.LeakCheck(t)
			f := newFixture(t)
			_, done := startTunnel(t, f, true, TunnelConfig{})
			victim := f.client
			if side == SideServer {
				victim = f.server
			}
			// Unread bytes at close make the kernel send a reset.
			require.NoError(t, victim.SetLinger(0))
			require.NoError(t, victim.Close())
			r := wait(t, done)
			if r.err == nil {
				// A reset without pending data may look like a clean close
				// on the read side; the tunnel still ended.
				require.Equal(t, "--", r.res.TermState())
				return
			}
			require.Equal(t, CauseError, r.res.Cause)
			require.Equal(t, side, r.res.Side)
			want := map[Side]string{SideClient: "CD", SideServer: "SD"}[side]
			require.Equal(t, want, r.res.TermState())
		})
	}
}

func TestCountersLive(t *testing.T) {
	testnet.LeakCheck(t)
	f := newFixture(t)
	tun, done := startTunnel(t, f, true, TunnelConfig{})
	for i := 1; i <= 3; i++ {
		_, err := f.client.Write(bytes.Repeat([]byte{'a'}, 1000))
		require.NoError(t, err)
		_, err = io.ReadFull(f.server, make([]byte, 1000))
		require.NoError(t, err)
		// The counter moves right after the write that delivered the bytes.
		want := Stats{In: int64(i * 1000), Out: int64(i * 1000)}
		require.Eventually(t, func() bool { return tun.Request().Stats() == want },
			5*time.Second, time.Millisecond, "counters are readable while running")
	}
	require.NoError(t, f.client.CloseWrite())
	require.NoError(t, f.server.CloseWrite())
	r := wait(t, done)
	require.NoError(t, r.err)
	require.Equal(t, int64(3000), r.res.Request.Out)
	require.Zero(t, r.res.Response.Out)
	require.True(t, tun.Request().ShutR())
	require.True(t, tun.Request().ShutW())
}

// frames is a stream of frames, each a 2-byte big-endian length and that
// many payload bytes. The payloads are made of bytes that would parse as
// huge lengths, so an analyser that looked at them would fail.
func frames(sizes ...int) []byte {
	var b []byte
	for _, n := range sizes {
		b = append(b, byte(n>>8), byte(n))
		b = append(b, bytes.Repeat([]byte{0xff}, n)...)
	}
	return b
}

// frameAnalyser reads each frame header and lets the payload pass blind
// with Forward, recording the lengths it saw.
func frameAnalyser(seen *[]int) Analyser {
	return func(c *Channel) (Verdict, error) {
		var h [2]byte
		if c.PeekInput(0, h[:]) < 2 {
			return More, nil
		}
		n := int(h[0])<<8 | int(h[1])
		if n == 0xffff {
			return More, errors.New("analyser read a payload byte as a header")
		}
		*seen = append(*seen, n)
		c.Forward(int64(2 + n))
		return Continue, nil
	}
}

func TestToForwardWithAnalyser(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			var seen []int
			sizes := []int{3, 0, 20000, 5, 60000, 1}
			msg := frames(sizes...)
			_, done := startTunnel(t, f, p.raw, TunnelConfig{
				Pool: pool, Pipes: pipes, SpliceRequest: p.splice,
				RequestAnalysers: []Analyser{frameAnalyser(&seen)},
			})
			go func() {
				// Dribble the bytes so frames straddle reads.
				for off := 0; off < len(msg); off += 7000 {
					_, _ = f.client.Write(msg[off:min(off+7000, len(msg))])
					time.Sleep(time.Millisecond)
				}
				_ = f.client.CloseWrite()
			}()
			got := readAll(t, f.server)
			require.Equal(t, msg, got)
			require.NoError(t, f.server.CloseWrite())
			r := wait(t, done)
			require.NoError(t, r.err)
			require.Equal(t, sizes, seen, "the analyser saw every header and no payload")
			if p.raw && p.splice == SpliceAlways && buffer.SpliceSupported {
				require.NotZero(t, r.res.Request.Spliced, "large blind payloads were spliced")
			} else {
				require.Zero(t, r.res.Request.Spliced)
			}
		})
	}
}

// lineRewriter waits for a full first line, rewrites "hello" into a longer
// greeting, and is Done.
func lineRewriter(c *Channel) (Verdict, error) {
	in := make([]byte, c.InputLen())
	c.PeekInput(0, in)
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return More, nil
	}
	if bytes.HasPrefix(in, []byte("deny")) {
		return More, errors.New("denied by rule")
	}
	if j := bytes.Index(in[:i], []byte("hello")); j >= 0 {
		if err := c.Replace(j, 5, []byte("HELLO, WORLD")); err != nil {
			return More, err
		}
	}
	return Done, nil
}

func TestAnalyserRewrite(t *testing.T) {
	tests := []struct {
		name, send, want string
		state            string
		err              error
	}{
		{"rewrite grows the line", "say hello\nrest hello", "say HELLO, WORLD\nrest hello", "--", nil},
		{"no match passes unchanged", "nothing\n", "nothing\n", "--", nil},
		{"analyser error aborts", "deny\n", "", "PR", nil},
		{"input ends too early", "no newline", "", "PR", ErrIncomplete},
		{"line longer than the buffer", strings.Repeat("x", 20000), "", "PR", ErrBufferFull},
	}
	for _, tc := range tests {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", tc.name, raw), func(t *testing.T) {
				testnet.LeakCheck(t)
				pool, _ := newPools(t, 0)
				f := newFixture(t)
				_, done := startTunnel(t, f, raw, TunnelConfig{Pool: pool, RequestAnalysers: []Analyser{lineRewriter}})
				go func() {
					_, _ = f.client.Write([]byte(tc.send))
					_ = f.client.CloseWrite()
				}()
				got, _ := io.ReadAll(f.server)
				_ = f.server.CloseWrite()
				r := wait(t, done)
				require.Equal(t, tc.state, r.res.TermState())
				if tc.state == "--" {
					require.NoError(t, r.err)
					require.Equal(t, tc.want, string(got))
					require.Equal(t, int64(len(tc.send)), r.res.Request.In)
					require.Equal(t, int64(len(tc.want)), r.res.Request.Out)
					return
				}
				require.Error(t, r.err)
				require.Empty(t, got, "refused data never reaches the server")
				require.Equal(t, CauseAnalyser, r.res.Cause)
				if tc.err != nil {
					require.ErrorIs(t, r.err, tc.err)
				}
				require.Zero(t, pool.Stats().InUse)
			})
		}
	}
}

func TestSplicePathChoice(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	tests := []struct {
		name        string
		raw         bool
		pipes       bool
		mode        SpliceMode
		allSpliced  bool
		someSpliced bool
	}{
		{"both raw, splice-request", true, true, SpliceAlways, true, true},
		{"both raw, splice-auto", true, true, SpliceAuto, false, true},
		{"both raw, no splice option", true, true, SpliceNever, false, false},
		{"not raw", false, true, SpliceAlways, false, false},
		{"no pipe pool", true, false, SpliceAlways, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			cfg := TunnelConfig{Pool: pool, SpliceRequest: tc.mode}
			if tc.pipes {
				cfg.Pipes = pipes
			}
			f := newFixture(t)
			_, done := startTunnel(t, f, tc.raw, cfg)
			go func() {
				_, _ = f.client.Write(big)
				_ = f.client.CloseWrite()
			}()
			require.Equal(t, big, readAll(t, f.server))
			require.NoError(t, f.server.CloseWrite())
			r := wait(t, done)
			require.NoError(t, r.err)
			st := r.res.Request
			require.Equal(t, int64(len(big)), st.Out)
			if !buffer.SpliceSupported {
				tc.allSpliced, tc.someSpliced = false, false
			}
			switch {
			case tc.allSpliced:
				require.Equal(t, st.Out, st.Spliced)
			case tc.someSpliced:
				require.NotZero(t, st.Spliced)
				require.Less(t, st.Spliced, st.Out, "splice-auto copies until it sees a streamer")
			default:
				require.Zero(t, st.Spliced)
			}
		})
	}
}

// At maxpipes the channel falls back to a buffer for the bytes at hand.
func TestPipeLimitFallsBack(t *testing.T) {
	if !buffer.SpliceSupported {
		t.Skip("no pipes in this build")
	}
	testnet.LeakCheck(t)
	pool, pipes := newPools(t, 1)
	held, err := pipes.Get()
	require.NoError(t, err)
	f := newFixture(t)
	_, done := startTunnel(t, f, true, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: SpliceAlways})
	_, err = f.client.Write([]byte("through a buffer"))
	require.NoError(t, err)
	require.NoError(t, f.client.CloseWrite())
	require.Equal(t, "through a buffer", string(readAll(t, f.server)))
	require.NoError(t, f.server.CloseWrite())
	r := wait(t, done)
	require.NoError(t, r.err)
	require.Zero(t, r.res.Request.Spliced)
	require.NotZero(t, pipes.Stats().Refused)
	held.Release()
}

// Idle proxied connections hold no buffer and no pipe, and cost the
// caller's goroutine plus one.
func TestIdleHoldsNothing(t *testing.T) {
	testnet.LeakCheck(t)
	const n = 50
	pool, pipes := newPools(t, 0)
	type conn struct {
		f    fixture
		done <-chan tunnelRun
	}
	var conns []conn
	gBefore := countGoroutinesSettled()
	for i := 0; i < n; i++ {
		f := newFixture(t)
		_, done := startTunnel(t, f, true, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: SpliceAlways, SpliceResponse: SpliceAuto})
		conns = append(conns, conn{f, done})
	}
	// Each tunnel holds Run's goroutine and at most one for its
	// directions; fewer once directions that stayed idle for parkAfter
	// have parked, which on a loaded machine happens before the last
	// tunnel is up.
	most := gBefore + 2*n
	require.LessOrEqual(t, countGoroutinesSettled(), most, "one goroutine per tunnel besides the caller's")
	// Some traffic each way first, so every channel has borrowed and
	// returned storage.
	for _, c := range conns {
		_, err := c.f.client.Write([]byte("request"))
		require.NoError(t, err)
		_, err = io.ReadFull(c.f.server, make([]byte, 7))
		require.NoError(t, err)
		_, err = c.f.server.Write([]byte("response"))
		require.NoError(t, err)
		_, err = io.ReadFull(c.f.client, make([]byte, 8))
		require.NoError(t, err)
	}
	// The last bytes reach the peer just before the channel gives its
	// buffer or pipe back; let the channels get there.
	require.Eventually(t, func() bool {
		return pool.Stats().InUse == 0 && pipes.Stats().InUse == 0
	}, 5*time.Second, time.Millisecond, "idle tunnels hold no buffer and no pipe: %+v %+v", pool.Stats(), pipes.Stats())
	// No goroutine started by the traffic stays: once silent for
	// parkAfter every direction parks, leaving Run's goroutine per tunnel
	// and the shared poller's.
	parked := gBefore + n + 1
	g := goroutines()
	for deadline := time.Now().Add(5 * time.Second); g > parked && time.Now().Before(deadline); g = goroutines() {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, g, parked, "idle tunnels park their directions (%d parked)", xprt.Parked())

	for _, c := range conns {
		require.NoError(t, c.f.client.CloseWrite())
		require.NoError(t, c.f.server.CloseWrite())
	}
	for _, c := range conns {
		r := wait(t, c.done)
		require.NoError(t, r.err)
	}
	require.Equal(t, 0, pool.Stats().InUse)
}

func countGoroutinesSettled() int {
	time.Sleep(50 * time.Millisecond)
	return goroutines()
}

func goroutines() int { return runtime.NumGoroutine() }

// A direction that runs only after its read deadline (a loaded machine)
// and finds bytes or the end already queued has not timed out: the source
// was not silent, the reader was late.
func TestLateReaderWithQueuedBytesIsNotATimeout(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		name   string
		queue  func(f fixture) error
		expire bool
	}{
		{"bytes queued", func(f fixture) error { _, err := f.client.Write([]byte("late")); return err }, false},
		{"end queued", func(f fixture) error { return f.client.CloseWrite() }, false},
		{"silent", func(fixture) error { return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tun, err := NewTunnel(wrap(f.front, true), wrap(f.back, true), TunnelConfig{ClientTimeout: 50 * time.Millisecond, ServerTimeout: time.Minute})
			require.NoError(t, err)
			req := tun.Request()
			require.NoError(t, tc.queue(f))
			// Let the bytes land in front's receive queue, and the client
			// timeout pass without anyone reading.
			time.Sleep(100 * time.Millisecond)
			req.srcClock.last.Store(mono() - int64(time.Second))
			err = req.readTimedOut()
			if tc.expire {
				// In a tunnel, the timeout shuts the direction as an end
				// of stream would, and the tunnel keeps it as its cause.
				require.ErrorIs(t, err, errTimedOutShut)
				require.NotZero(t, req.Flags()&FlagReadTimeout)
				return
			}
			require.NoError(t, err)
			require.GreaterOrEqual(t, req.srcClock.last.Load(), mono()-int64(time.Second/2), "queued input counts as activity")
		})
	}
}

// Two Channels make every tunnel, idle ones included: the struct stays
// within the 320-byte size class on 64-bit platforms.
func TestChannelSizeClass(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(Channel{}), uintptr(320))
}

// shutCounter counts a transport's CloseWrite calls.
type shutCounter struct {
	xprt.Transport
	shuts int
}

func (s *shutCounter) CloseWrite() error {
	s.shuts++
	return s.Transport.CloseWrite()
}

// The direction that ends last in a tunnel does not shut its raw
// destination's write side: the tunnel closes that socket at once, which
// sends the same FIN. The server, closed first, still reads the client's
// last bytes and the end of stream. A transport without a raw socket still
// gets its CloseWrite.
func TestLastDirectionClosesWithoutShutdown(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			client := &shutCounter{Transport: wrap(f.front, p.raw)}
			server := &shutCounter{Transport: wrap(f.back, p.raw)}
			tun, err := NewTunnel(client, server, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: p.splice, SpliceResponse: p.splice})
			require.NoError(t, err)
			done := make(chan tunnelRun, 1)
			go func() {
				r, err := tun.Run(context.Background())
				done <- tunnelRun{r, err}
			}()

			_, err = f.server.Write([]byte("banner"))
			require.NoError(t, err)
			require.NoError(t, f.server.CloseWrite())
			require.Equal(t, "banner", string(readAll(t, f.client)))
			// The response direction records its shutdown before making
			// it: once the client has seen the end of stream, the request
			// direction is sure to find it and skip its own.
			require.True(t, tun.Response().ShutW())
			_, err = f.client.Write([]byte("bye"))
			require.NoError(t, err)
			require.NoError(t, f.client.CloseWrite())
			require.Equal(t, "bye", string(readAll(t, f.server)), "the server sees the last bytes, then EOF")

			r := wait(t, done)
			require.NoError(t, r.err)
			require.Equal(t, "--", r.res.TermState())
			require.Equal(t, 1, client.shuts, "the response direction shuts the client's write side")
			want := 1
			if p.raw {
				want = 0
			}
			require.Equal(t, want, server.shuts, "the request direction, ending last")
		})
	}
}
