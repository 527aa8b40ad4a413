package spoe

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

func notifyOne(t *testing.T, c *Client, sid, fid uint64, arg string, d time.Duration) ([]Action, error) {
	t.Helper()
	ack, err := c.Notify(time.Now().Add(d), sid, fid, AppendMessage(nil, "m", []Arg{{Name: "a", Value: Str(arg)}}), nil, nil)
	if err != nil {
		return nil, err
	}
	return ParseActions(nil, ack)
}

func TestClientHelloAndNotify(t *testing.T) {
	testnet.LeakCheck(t)
	a := newTestAgent(t, echoScore)
	c := NewClient(ClientConfig{EngineID: "e-1", MaxFrameSize: 4096, Pipelining: true, Async: true, Dial: a.dial})
	defer c.Close()
	acts, err := notifyOne(t, c, 5, 1, "abcd", 5*time.Second)
	require.NoError(t, err)
	require.Len(t, acts, 2)
	require.Equal(t, "score", string(acts[0].Name))
	require.Equal(t, int64(4), acts[0].Value.Int)
	require.Equal(t, uint8(ActionUnsetVar), acts[1].Type)
	// The second exchange reuses the connection.
	_, err = notifyOne(t, c, 5, 2, "ab", 5*time.Second)
	require.NoError(t, err)
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 1, a.conns)
	require.Len(t, a.hellos, 1)
	h := a.hellos[0]
	for key, want := range map[string]string{"supported-versions": "2.0", "max-frame-size": "4096", "capabilities": "pipelining,async", "engine-id": "e-1"} {
		v, ok := Lookup(h, key)
		require.True(t, ok, key)
		require.Equal(t, want, v.String(), key)
	}
	_, ok := Lookup(h, "healthcheck")
	require.False(t, ok, "a stream's HELLO is no health check")
	require.Equal(t, uint64(5), a.notifies[1].StreamID)
	require.Equal(t, uint64(2), a.notifies[1].FrameID)
}

// Pipelined: ACKs come back in another order than their NOTIFYs, on
// the one connection, and each reaches its own exchange.
func TestClientPipeliningOutOfOrder(t *testing.T) {
	testnet.LeakCheck(t)
	var mu sync.Mutex
	var held []Frame
	var conn net.Conn
	a := newTestAgent(t, func(c net.Conn, f Frame, msgs []Message) []Action {
		mu.Lock()
		defer mu.Unlock()
		conn = c
		held = append(held, f)
		if len(held) < 3 {
			return nil // answered below, last first
		}
		for i := len(held) - 1; i >= 0; i-- {
			h := held[i]
			b := AppendFrameHead(nil, FrameAck, FlagFin, h.StreamID, h.FrameID)
			b = AppendAction(b, Action{Type: ActionSetVar, Scope: ScopeTxn, Name: []byte("sid"), Value: Value{Type: TypeInt64, Int: int64(h.StreamID)}})
			_, _ = conn.Write(FinishFrame(b, 0))
		}
		return nil
	})
	c := NewClient(ClientConfig{Pipelining: true, Dial: a.dial})
	defer c.Close()
	var wg sync.WaitGroup
	got := make([]int64, 3)
	errs := make([]error, 3)
	// The first exchange opens the connection; the others join it.
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acts, err := notifyOne(t, c, uint64(10+i), 1, "x", 5*time.Second)
			errs[i] = err
			if err == nil && len(acts) == 1 {
				got[i] = acts[0].Value.Int
			}
		}()
		if i == 0 {
			require.Eventually(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.notifies) == 1 }, 5*time.Second, time.Millisecond)
		}
	}
	wg.Wait()
	for i := range 3 {
		require.NoError(t, errs[i])
		require.Equal(t, int64(10+i), got[i], "exchange %d got its own ACK", i)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 1, a.conns, "pipelined on one connection")
}

// Without pipelining, an exchange waits for no other: each has a
// connection of its own while the others wait for their ACKs.
func TestClientNoPipeliningOpensConnections(t *testing.T) {
	testnet.LeakCheck(t)
	release := make(chan struct{})
	a := newTestAgent(t, func(c net.Conn, f Frame, msgs []Message) []Action {
		<-release
		return []Action{}
	})
	c := NewClient(ClientConfig{Pipelining: false, Async: false, Dial: a.dial})
	defer c.Close()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := notifyOne(t, c, uint64(i), 1, "x", 5*time.Second)
			require.NoError(t, err)
		}()
	}
	require.Eventually(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.notifies) == 3 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 3, a.conns)
	caps, _ := Lookup(a.hellos[0], "capabilities")
	require.Equal(t, "", caps.String())
}

// Async: the agent may acknowledge on any connection of the engine.
func TestClientAsyncAckOnOtherConnection(t *testing.T) {
	testnet.LeakCheck(t)
	var mu sync.Mutex
	var first net.Conn
	var pending Frame
	a := newTestAgent(t, func(c net.Conn, f Frame, msgs []Message) []Action {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first, pending = c, f
			return nil
		}
		// The second frame came on another connection: acknowledge the
		// first one here, and the second on the first connection.
		b := AppendFrameHead(nil, FrameAck, FlagFin, pending.StreamID, pending.FrameID)
		_, _ = c.Write(FinishFrame(b, 0))
		b = AppendFrameHead(nil, FrameAck, FlagFin, f.StreamID, f.FrameID)
		_, _ = first.Write(FinishFrame(b, 0))
		return nil
	})
	// No pipelining, so the second exchange needs a connection of its
	// own.
	c := NewClient(ClientConfig{Async: true, Dial: a.dial})
	defer c.Close()
	done := make(chan error, 2)
	go func() { _, err := notifyOne(t, c, 1, 1, "x", 5*time.Second); done <- err }()
	require.Eventually(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.notifies) == 1 }, 5*time.Second, time.Millisecond)
	go func() { _, err := notifyOne(t, c, 2, 1, "x", 5*time.Second); done <- err }()
	require.NoError(t, testnet.Signalled(t, done, "first exchange"))
	require.NoError(t, testnet.Signalled(t, done, "second exchange"))
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 2, a.conns)
}

func TestClientErrors(t *testing.T) {
	testnet.LeakCheck(t)
	code := func(err error) int {
		var e *Error
		require.True(t, errors.As(err, &e), "%v", err)
		return e.Code
	}
	t.Run("no ACK in time", func(t *testing.T) {
		a := newTestAgent(t, func(net.Conn, Frame, []Message) []Action { return nil })
		c := NewClient(ClientConfig{Dial: a.dial})
		defer c.Close()
		start := time.Now()
		_, err := notifyOne(t, c, 1, 1, "x", 100*time.Millisecond)
		require.Equal(t, ErrCodeTimeout, code(err))
		require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	})
	t.Run("agent unreachable", func(t *testing.T) {
		addr := testnet.RefusedAddr(t)
		c := NewClient(ClientConfig{RetryDelay: 10 * time.Millisecond, Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}})
		defer c.Close()
		_, err := notifyOne(t, c, 1, 1, "x", 100*time.Millisecond)
		require.Equal(t, ErrCodeTimeout, code(err))
		require.ErrorContains(t, err, "no agent answered")
	})
	t.Run("agent disconnects", func(t *testing.T) {
		a := newTestAgent(t, func(c net.Conn, _ Frame, _ []Message) []Action {
			b := AppendFrameHead(nil, FrameAgentDisconnect, FlagFin, 0, 0)
			b = AppendKV(b, "status-code", Uint32(42))
			b = AppendKV(b, "message", Str("go away"))
			_, _ = c.Write(FinishFrame(b, 0))
			_ = c.Close()
			return nil
		})
		c := NewClient(ClientConfig{Dial: a.dial})
		defer c.Close()
		_, err := notifyOne(t, c, 1, 1, "x", 5*time.Second)
		require.Equal(t, 256+42, code(err))
		require.ErrorContains(t, err, "go away")
		// Working asynchronously, the agent might still answer on
		// another connection: the exchange waits for its deadline.
		ac := NewClient(ClientConfig{Async: true, Dial: a.dial})
		defer ac.Close()
		start := time.Now()
		_, err = notifyOne(t, ac, 1, 1, "x", 200*time.Millisecond)
		require.Equal(t, ErrCodeTimeout, code(err))
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})
	t.Run("bad version", func(t *testing.T) {
		a := newTestAgent(t, echoScore)
		a.hello = []KV{{"version", Str("1.0")}, {"max-frame-size", Uint32(1024)}, {"capabilities", Str("")}}
		c := NewClient(ClientConfig{RetryDelay: 10 * time.Millisecond, Dial: a.dial})
		defer c.Close()
		_, err := notifyOne(t, c, 1, 1, "x", 100*time.Millisecond)
		require.Equal(t, ErrCodeTimeout, code(err))
		require.ErrorContains(t, err, "unsupported version '1.0'")
	})
	t.Run("frame size over ours", func(t *testing.T) {
		a := newTestAgent(t, echoScore)
		a.hello = []KV{{"version", Str("2.0")}, {"max-frame-size", Uint32(70000)}, {"capabilities", Str("")}}
		c := NewClient(ClientConfig{RetryDelay: 10 * time.Millisecond, Dial: a.dial})
		defer c.Close()
		_, err := notifyOne(t, c, 1, 1, "x", 100*time.Millisecond)
		require.ErrorContains(t, err, "max-frame-size too big or too small (70000)")
	})
	t.Run("message over the agent's frame size", func(t *testing.T) {
		a := newTestAgent(t, echoScore)
		a.frame = 256
		c := NewClient(ClientConfig{Dial: a.dial})
		defer c.Close()
		_, err := notifyOne(t, c, 1, 1, string(make([]byte, 300)), 5*time.Second)
		require.Equal(t, ErrCodeTooBig, code(err))
		// The connection stays usable for a frame that fits.
		_, err = notifyOne(t, c, 1, 2, "ok", 5*time.Second)
		require.NoError(t, err)
	})
	t.Run("closed while retrying", func(t *testing.T) {
		addr := testnet.RefusedAddr(t)
		c := NewClient(ClientConfig{RetryDelay: 10 * time.Millisecond, Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}})
		done := make(chan error, 1)
		go func() { _, err := notifyOne(t, c, 1, 1, "x", time.Hour); done <- err }()
		time.Sleep(30 * time.Millisecond) // a few attempts
		require.NoError(t, c.Close())
		require.Equal(t, ErrCodeInterrupt, code(testnet.Signalled(t, done, "the exchange's end")))
	})
	t.Run("closed client", func(t *testing.T) {
		a := newTestAgent(t, echoScore)
		c := NewClient(ClientConfig{Dial: a.dial})
		require.NoError(t, c.Close())
		_, err := notifyOne(t, c, 1, 1, "x", 5*time.Second)
		require.Equal(t, ErrCodeInterrupt, code(err))
	})
}

// An idle connection is closed after IdleTimeout, with a DISCONNECT
// the agent answers; the next exchange opens another.
func TestClientIdleTimeout(t *testing.T) {
	testnet.LeakCheck(t)
	a := newTestAgent(t, echoScore)
	c := NewClient(ClientConfig{IdleTimeout: 50 * time.Millisecond, Dial: a.dial})
	defer c.Close()
	_, err := notifyOne(t, c, 1, 1, "x", 5*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.conns) == 0
	}, 5*time.Second, 5*time.Millisecond, "the idle connection closes")
	_, err = notifyOne(t, c, 2, 1, "x", 5*time.Second)
	require.NoError(t, err)
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 2, a.conns)
}

// maxconnrate: over the rate, an exchange finding its connection busy
// waits for it rather than opening another, and one finding no
// connection at all fails at once with ErrCodeResource.
func TestClientMaxConnRate(t *testing.T) {
	testnet.LeakCheck(t)
	release := make(chan struct{})
	a := newTestAgent(t, func(c net.Conn, f Frame, msgs []Message) []Action {
		if f.StreamID == 1 {
			<-release
		}
		return echoScore(c, f, msgs)
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the agent stops, should the test fail
	a.caps = ""     // one frame at a time on a connection
	c := NewClient(ClientConfig{MaxConnRate: 1, Dial: a.dial})
	defer c.Close()

	first := make(chan error, 1)
	go func() {
		_, err := notifyOne(t, c, 1, 1, "a", 5*time.Second)
		first <- err
	}()
	require.Eventually(t, func() bool { return c.Stats().Waiting == 1 }, 5*time.Second, time.Millisecond)
	second := make(chan error, 1)
	go func() {
		_, err := notifyOne(t, c, 2, 1, "b", 5*time.Second)
		second <- err
	}()
	require.Eventually(t, func() bool { return c.Stats().Sending == 1 }, 5*time.Second, time.Millisecond, "the second exchange waits for the busy connection")
	free()
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	a.mu.Lock()
	require.Equal(t, 1, a.conns, "one connection for both")
	a.mu.Unlock()

	// The connection ends: the next exchange fails at once.
	c.mu.Lock()
	for _, ac := range c.conns {
		_ = ac.nc.Close()
	}
	c.mu.Unlock()
	require.Eventually(t, func() bool { return c.Stats().Conns == 0 }, 5*time.Second, time.Millisecond)
	var tm Timing
	_, err := c.Notify(time.Now().Add(5*time.Second), 3, 1, AppendMessage(nil, "m", nil), nil, &tm)
	var se *Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, ErrCodeResource, se.Code)
	require.True(t, tm.Queued.IsZero() && tm.Sent.IsZero())
	a.mu.Lock()
	require.Equal(t, 1, a.conns)
	a.mu.Unlock()
}

// With no server available, nothing is dialled and an exchange with no
// connection open fails at once.
func TestClientNoServerAvailable(t *testing.T) {
	testnet.LeakCheck(t)
	a := newTestAgent(t, echoScore)
	var up sync.Mutex
	available := false
	c := NewClient(ClientConfig{Dial: a.dial, Available: func() bool { up.Lock(); defer up.Unlock(); return available }})
	defer c.Close()
	_, err := notifyOne(t, c, 1, 1, "a", 5*time.Second)
	var se *Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, ErrCodeResource, se.Code)
	up.Lock()
	available = true
	up.Unlock()
	_, err = notifyOne(t, c, 2, 1, "a", 5*time.Second)
	require.NoError(t, err)
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 1, a.conns)
}
