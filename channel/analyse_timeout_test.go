package channel

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// call is what an analyser saw on one call.
type call struct {
	input   string
	expired bool
}

// recorder is a response analyser that waits for four bytes, or for its
// analyse timeout, then lets everything through.
type recorder struct {
	mu    sync.Mutex
	calls []call
	seen  chan call
}

func (r *recorder) analyse(c *Channel) (Verdict, error) {
	a, b := c.Input()
	k := call{string(a) + string(b), c.AnalyseExpired()}
	r.mu.Lock()
	r.calls = append(r.calls, k)
	r.mu.Unlock()
	r.seen <- k
	if len(k.input) >= 4 || k.expired {
		return Done, nil
	}
	return More, nil
}

func runRecorder(t *testing.T, raw bool, delay time.Duration) (fixture, *recorder, <-chan tunnelRun) {
	return runRecorderTO(t, raw, delay, 0)
}

func runRecorderTO(t *testing.T, raw bool, delay, serverTO time.Duration) (fixture, *recorder, <-chan tunnelRun) {
	f := newFixture(t)
	r := &recorder{seen: make(chan call, 16)}
	pool, pipes := newPools(t, 4)
	tun, err := NewTunnel(wrap(f.front, raw), wrap(f.back, raw), TunnelConfig{Pool: pool, Pipes: pipes,
		ServerTimeout: serverTO, SpliceRequest: SpliceAlways, SpliceResponse: SpliceAlways, ResponseAnalysers: []Analyser{r.analyse}})
	require.NoError(t, err)
	tun.Response().SetAnalyseTimeout(delay)
	done := make(chan tunnelRun, 1)
	go func() {
		res, err := tun.Run(t.Context())
		done <- tunnelRun{res, err}
	}()
	return f, r, done
}

func next(t *testing.T, r *recorder) call {
	t.Helper()
	select {
	case k := <-r.seen:
		return k
	case <-time.After(20 * time.Second):
		t.Fatal("the analyser was not called")
	}
	return call{}
}

// until returns the analyser's first call on want, the calls before it
// on the start of want.
func until(t *testing.T, r *recorder, want string) call {
	t.Helper()
	for {
		k := next(t, r)
		if k.input == want || k.expired {
			return k
		}
		require.True(t, strings.HasPrefix(want, k.input), "%q", k.input)
	}
}

// TestAnalyseTimeoutMoreBytes: an analyser waiting for more bytes is
// called again as they come, before its timeout, and the bytes then go
// on, in the order they came.
func TestAnalyseTimeoutMoreBytes(t *testing.T) {
	for _, tc := range []struct {
		raw  bool
		srv  time.Duration
		idle bool
	}{{true, 0, false}, {false, 0, false}, {true, time.Hour, true}, {false, time.Hour, true}} {
		raw := tc.raw
		f, r, done := runRecorderTO(t, raw, time.Hour, tc.srv)
		_, err := f.server.Write([]byte("GO"))
		require.NoError(t, err)
		// A transport that is not raw hands the first byte alone.
		require.Equal(t, call{"GO", false}, until(t, r, "GO"))
		if tc.idle {
			// Silent past the moment an idle direction would park: the
			// analysers still see the next bytes as they come.
			time.Sleep(2 * parkAfter)
		}
		_, err = f.server.Write([]byte("OD"))
		require.NoError(t, err)
		require.Equal(t, call{"GOOD", false}, next(t, r))
		expect(t, f.client, "GOOD")
		relay(t, f.server, f.client, "more")
		relay(t, f.client, f.server, "req")
		require.NoError(t, f.server.Close())
		require.NoError(t, f.client.Close())
		res := wait(t, done)
		require.Equal(t, int64(8), res.res.Response.Out)
		require.Equal(t, "GOOD", r.calls[len(r.calls)-1].input, "no call once Done")
	}
}

// TestAnalyseTimeoutExpires: once its timeout has passed, the analyser is
// called on what there is, nothing included.
func TestAnalyseTimeoutExpires(t *testing.T) {
	for _, raw := range []bool{true, false} {
		f, r, done := runRecorder(t, raw, 20*time.Millisecond)
		require.Equal(t, call{"", true}, next(t, r), "called at expiry with no input")
		relay(t, f.server, f.client, "X")
		require.NoError(t, f.server.Close())
		require.NoError(t, f.client.Close())
		wait(t, done)

		f, r, done = runRecorder(t, raw, 20*time.Millisecond)
		// The bytes go in before the analyser could see them alone or
		// not: either way its last call is the expired one on "GO".
		_, err := f.server.Write([]byte("GO"))
		require.NoError(t, err)
		k := next(t, r)
		for !k.expired {
			require.True(t, strings.HasPrefix("GO", k.input), "%q", k.input)
			k = next(t, r)
		}
		require.Equal(t, call{"GO", true}, k)
		expect(t, f.client, "GO")
		require.NoError(t, f.server.Close())
		b, err := io.ReadAll(f.client)
		require.NoError(t, err)
		require.Empty(t, b)
		require.NoError(t, f.client.Close())
		wait(t, done)
	}
}
