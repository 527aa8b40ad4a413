package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// Side names an end of a tunnel.
type Side uint8

// The sides of a tunnel.
const (
	SideNone Side = iota
	SideClient
	SideServer
)

// String returns the side's name.
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	}
	return "none"
}

// Cause is why a tunnel ended.
type Cause uint8

// The causes of a tunnel's end, each with the letter HAProxy's logs use
// as the first character of the termination state.
const (
	CauseNormal   Cause = iota // both sides closed cleanly: '-'
	CauseTimeout               // a side stayed inactive too long: 'c' or 's'
	CauseError                 // a side reset or failed: 'C' or 'S'
	CauseAnalyser              // an analyser refused the data: 'P'
	CauseCanceled              // the context was canceled: 'K'
)

// String returns the cause's name.
func (c Cause) String() string {
	switch c {
	case CauseNormal:
		return "normal"
	case CauseTimeout:
		return "timeout"
	case CauseError:
		return "error"
	case CauseAnalyser:
		return "analyser"
	case CauseCanceled:
		return "canceled"
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// TunnelConfig sets up a [Tunnel]. The balancer maps its configuration
// onto it: tune.bufsize and tune.maxrewrite are the Pool's, tune.pipesize
// and maxpipes the Pipes', option splice-request sets SpliceRequest to
// SpliceAlways, splice-response sets SpliceResponse, and splice-auto sets
// both to SpliceAuto.
type TunnelConfig struct {
	// Pool lends the buffers; buffer.DefaultPool() when nil.
	Pool *buffer.Pool
	// Pipes lends the pipes; no splicing when nil.
	Pipes *buffer.PipePool
	// SpliceRequest and SpliceResponse say when each direction splices.
	SpliceRequest, SpliceResponse SpliceMode
	// ClientTimeout is timeout client: the client side may stay inactive
	// (nothing read from it, nothing written to it) that long. 0 is none.
	ClientTimeout time.Duration
	// ServerTimeout is timeout server, the same for the server side.
	ServerTimeout time.Duration
	// TunnelTimeout is timeout tunnel: once both directions have no
	// analyser left, it replaces both timeouts. 0 keeps them.
	TunnelTimeout time.Duration
	// ClientFinTimeout is timeout client-fin: once the client has been
	// sent a FIN (the server ended its side), the client side may stay
	// silent only that long, in place of the client or tunnel timeout.
	// ServerFinTimeout is timeout server-fin, the same for the server
	// side once it has been sent a FIN. 0 keeps the other timeouts.
	ClientFinTimeout, ServerFinTimeout time.Duration
	// RequestAnalysers and ResponseAnalysers analyse each direction.
	RequestAnalysers, ResponseAnalysers []Analyser
	// Go runs a direction on a goroutine for Start and Drive; nil means a
	// go statement each time. A proxy can pass a pool of goroutines kept
	// from earlier sessions, whose stacks have already grown to what
	// ending a tunnel takes. Directions woken from the idle poller run on
	// the poller's goroutines.
	Go func(func())
}

// Result is how a tunnel went.
type Result struct {
	// Request counts client to server bytes, Response server to client.
	Request, Response Stats
	// FirstShut is the side that closed (or failed) first.
	FirstShut Side
	// Cause is why the tunnel ended, and Side the side blamed for an
	// abnormal end (SideNone when normal, canceled or refused by an
	// analyser).
	Cause Cause
	Side  Side
	// Phase is the second character of the termination state: 'R' while
	// request analysers still ran, 'H' while response analysers did, 'D'
	// in the data phase, '-' after a normal end.
	Phase byte
	// Err is the error that ended the tunnel, nil when normal.
	Err error
	// Duration is how long Run took.
	Duration time.Duration
}

// TermState is the two-character termination state of HAProxy's logs:
// "--" for a normal end, "cD"/"sD" for a client or server timeout, "CD"/
// "SD" for a client or server abort, "PR" for an analyser refusing the
// request, "KD" when the context was canceled.
func (r Result) TermState() string {
	var first byte
	switch r.Cause {
	case CauseNormal:
		return "--"
	case CauseTimeout:
		first = 's'
		if r.Side == SideClient {
			first = 'c'
		}
	case CauseError:
		first = 'S'
		if r.Side == SideClient {
			first = 'C'
		}
	case CauseAnalyser:
		first = 'P'
	case CauseCanceled:
		first = 'K'
	}
	return string([]byte{first, r.Phase})
}

// Tunnel runs both directions of a stream between a client and a server
// transport, each on a goroutine only while it has bytes to move or has
// been waiting for less than a moment.
//
// Every idle connection keeps one, so it carries nothing twice: the
// client and server transports are its channels' sources.
type Tunnel struct {
	req, res    *Channel
	tunnelTO    time.Duration
	clientFin   time.Duration // ClientFinTimeout
	serverFin   time.Duration // ServerFinTimeout
	spawn       func(func())  // TunnelConfig.Go
	clientClock clock
	serverClock clock
	started     int64 // on mono's clock
	onDone      func(Result)

	// Guarded by mu: the first side to close, and how the tunnel ended
	// when not normally.
	mu       sync.Mutex
	ended    bool
	first    Side
	failSide Side
	cause    Cause
	pending  atomic.Int32 // directions still running or parked
	err      error

	// The tunnel's place among those its context cancels (cancel.go),
	// guarded by cancels.mu.
	cg         *cancelGroup
	prev, next *Tunnel
}

// NewTunnel prepares a tunnel between client and server.
func NewTunnel(client, server xprt.Transport, cfg TunnelConfig) (*Tunnel, error) {
	if cfg.ClientTimeout < 0 || cfg.ServerTimeout < 0 || cfg.TunnelTimeout < 0 || cfg.ClientFinTimeout < 0 || cfg.ServerFinTimeout < 0 {
		return nil, fmt.Errorf("channel: negative tunnel timeout (client %v, server %v, tunnel %v, client-fin %v, server-fin %v)",
			cfg.ClientTimeout, cfg.ServerTimeout, cfg.TunnelTimeout, cfg.ClientFinTimeout, cfg.ServerFinTimeout)
	}
	t := &Tunnel{tunnelTO: cfg.TunnelTimeout, clientFin: cfg.ClientFinTimeout, serverFin: cfg.ServerFinTimeout, spawn: cfg.Go}
	// Activity on a side counts for both directions touching it, as
	// HAProxy refreshes a side's read timeout when it writes to it.
	req, err := newChannel(client, server, Config{
		Pool: cfg.Pool, Pipes: cfg.Pipes, Splice: cfg.SpliceRequest,
		ReadTimeout: cfg.ClientTimeout, WriteTimeout: cfg.ServerTimeout,
		Analysers: cfg.RequestAnalysers,
	}, &t.clientClock, &t.serverClock)
	if err != nil {
		return nil, fmt.Errorf("channel: request: %w", err)
	}
	res, err := newChannel(server, client, Config{
		Pool: cfg.Pool, Pipes: cfg.Pipes, Splice: cfg.SpliceResponse,
		ReadTimeout: cfg.ServerTimeout, WriteTimeout: cfg.ClientTimeout,
		Analysers: cfg.ResponseAnalysers,
	}, &t.serverClock, &t.clientClock)
	if err != nil {
		return nil, fmt.Errorf("channel: response: %w", err)
	}
	t.req, t.res = req, res
	req.tun, res.tun = t, t
	return t, nil
}

// RunTunnel is NewTunnel followed by Run.
func RunTunnel(ctx context.Context, client, server xprt.Transport, cfg TunnelConfig) (Result, error) {
	t, err := NewTunnel(client, server, cfg)
	if err != nil {
		_ = client.Close()
		_ = server.Close()
		return Result{Cause: CauseError, Err: err}, err
	}
	return t.Run(ctx)
}

// Request is the client to server channel, for its live counters.
func (t *Tunnel) Request() *Channel { return t.req }

// Response is the server to client channel.
func (t *Tunnel) Response() *Channel { return t.res }

func (t *Tunnel) established() bool { return t.req.isAnalysed() && t.res.isAnalysed() }

// sideOf is the side c reads from.
func (t *Tunnel) sideOf(c *Channel) Side {
	if c == t.req {
		return SideClient
	}
	return SideServer
}

// finTimeout is the half-closed timeout in force for c's source side,
// 0 when none: client-fin once the response direction has shut its write
// side (a FIN went to the client), server-fin once the request direction
// has (a FIN went to the server), as HAProxy sets a side's read timeout
// when it shuts the write side towards it.
func (t *Tunnel) finTimeout(c *Channel) time.Duration {
	if c == t.req {
		if t.clientFin > 0 && t.res.Flags()&FlagShutW != 0 {
			return t.clientFin
		}
		return 0
	}
	if t.serverFin > 0 && t.req.Flags()&FlagShutW != 0 {
		return t.serverFin
	}
	return 0
}

// shutWrote runs once c has shut its destination's write side: the other
// direction, reading from that side, takes its half-closed timeout now,
// counted from now, whether it waits in a read or parked.
func (t *Tunnel) shutWrote(c *Channel) {
	other, fin := t.res, t.serverFin
	if c == t.res {
		other, fin = t.req, t.clientFin
	}
	if fin > 0 {
		// As in HAProxy, the half-closed timeout runs from the shutdown.
		other.srcClock.touch(mono())
		other.retime()
	}
}

func (t *Tunnel) shut(s Side) {
	t.mu.Lock()
	if t.first == SideNone {
		t.first = s
	}
	t.mu.Unlock()
}

// Run forwards both ways until both directions have ended, then closes
// both transports. Half-closes propagate: when one side closes, the
// other's write side is shut once the bytes in flight have left. A side
// silent past its timeout ends its direction the same way, as in HAProxy
// (its peer gets a FIN, the other direction goes on until it ends in its
// turn), and the tunnel keeps the timeout as its cause ("cD", "sD"). A
// failure, a write timeout or ctx being done ends both directions at
// once. Every buffer and pipe is given back before Run returns. The
// error is Result.Err.
//
// While a direction waits for its source it holds a goroutine only
// briefly: once idle it parks in a shared poller (see the package doc),
// so an idle tunnel costs Run's own goroutine and nothing else. [Tunnel.Start]
// does without that one too.
func (t *Tunnel) Run(ctx context.Context) (Result, error) {
	var r Result
	ch := make(chan struct{})
	if err := t.begin(ctx, func(res Result) { r = res; close(ch) }); err != nil {
		return Result{Cause: CauseError, Err: err}, err
	}
	go t.req.drive()
	t.res.drive()
	<-ch
	return r, r.Err
}

// Start is Run without waiting: it returns at once, and done is called
// with the result once both directions have ended, both transports are
// closed and every buffer and pipe is back, on the goroutine of the
// direction that ended last. An idle tunnel started this way holds no
// goroutine at all. It fails with ErrRunning if the tunnel already ran.
func (t *Tunnel) Start(ctx context.Context, done func(Result)) error {
	if done == nil {
		return errors.New("channel: Tunnel.Start needs a done function")
	}
	if err := t.begin(ctx, done); err != nil {
		return err
	}
	t.goDrive(t.req)
	t.goDrive(t.res)
	return nil
}

// goDrive runs c's drive on a goroutine of its own.
func (t *Tunnel) goDrive(c *Channel) {
	if t.spawn == nil {
		go c.drive()
		return
	}
	t.spawn(c.drive)
}

// Drive is Start, except that the calling goroutine drives the request
// direction itself, and returns only once that direction has ended or
// first parks; the response direction gets a goroutine of its own, as
// with Start. A caller that would return right after Start, such as the
// goroutine a proxy gives each accepted connection, saves a goroutine,
// and the stack it has already grown: a short connection is served on
// it from end to end. done may run before Drive returns, on the calling
// goroutine. It fails with ErrRunning if the tunnel already ran.
func (t *Tunnel) Drive(ctx context.Context, done func(Result)) error {
	if done == nil {
		return errors.New("channel: Tunnel.Drive needs a done function")
	}
	if err := t.begin(ctx, done); err != nil {
		return err
	}
	t.goDrive(t.res)
	t.req.drive()
	return nil
}

func (t *Tunnel) begin(ctx context.Context, done func(Result)) error {
	if t.req.setRunning() || t.res.setRunning() {
		return ErrRunning
	}
	t.started = mono()
	t.onDone = done
	t.watch(ctx)
	t.pending.Store(2)
	t.req.start()
	t.res.start()
	return nil
}

// complete runs once, when both directions have ended.
func (t *Tunnel) complete() {
	t.mu.Lock()
	t.ended = true // a cancellation from now on comes too late to matter
	t.mu.Unlock()
	t.unwatch()
	_ = t.req.src.Close() // the client
	_ = t.res.src.Close() // the server

	t.mu.Lock()
	r := Result{FirstShut: t.first, Side: t.failSide, Cause: t.cause, Err: t.err}
	t.mu.Unlock()
	r.Request, r.Response = t.req.Stats(), t.res.Stats()
	r.Duration = time.Duration(mono() - t.started)
	if r.Cause == CauseNormal {
		r.Phase = '-'
	} else {
		switch {
		case !t.req.isAnalysed():
			r.Phase = 'R'
		case !t.res.isAnalysed():
			r.Phase = 'H'
		default:
			r.Phase = 'D'
		}
	}
	t.onDone(r)
}

// finish is called once by each direction as it ends.
func (t *Tunnel) finish(c *Channel, err error) {
	t.settle(c, err)
	if t.pending.Add(-1) == 0 {
		t.complete()
	}
}

// settle records how a channel ended and, on an error, stops the other.
func (t *Tunnel) settle(c *Channel, err error) {
	if err == nil || errors.Is(err, errStopped) {
		return
	}
	src, dst := SideClient, SideServer
	if c == t.res {
		src, dst = SideServer, SideClient
	}
	var oe *OpError
	side, cause := src, CauseError
	if errors.As(err, &oe) {
		switch {
		case oe.Op == OpAnalyse:
			side, cause = SideNone, CauseAnalyser
		case errors.Is(err, ErrReadTimeout):
			side, cause = src, CauseTimeout
		case errors.Is(err, ErrWriteTimeout):
			side, cause = dst, CauseTimeout
		case oe.Op == OpWrite:
			side = dst
		}
	}
	t.fail(side, cause, fmt.Errorf("channel: tunnel %s side: %w", side, err))
}

// fail records the first abnormal end and stops both channels; later
// failures are consequences of the first, and a read timeout recorded
// before stays the cause.
func (t *Tunnel) fail(side Side, cause Cause, err error) {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	t.ended = true
	t.recordLocked(side, cause, err)
	t.mu.Unlock()
	t.req.interrupt()
	t.res.interrupt()
}

// readTimedOut records that c's source stayed silent past its timeout.
// Unlike fail, it stops nothing: c ends as on an end of stream and the
// other direction goes on, as HAProxy half-closes on a read timeout.
func (t *Tunnel) readTimedOut(c *Channel, err error) {
	side := t.sideOf(c)
	if side == SideServer && t.clientDue(c) {
		side = SideClient
	}
	t.mu.Lock()
	if !t.ended {
		t.recordLocked(side, CauseTimeout, fmt.Errorf("channel: tunnel %s side: %w", side, err))
	}
	t.mu.Unlock()
}

// clientDue reports whether the client side's read timeout falls due no
// later than the server side's, res's, within HAProxy's millisecond
// tick: HAProxy, finding both sides expired together, blames the client
// (cD), where two timers here fire in either order.
func (t *Tunnel) clientDue(res *Channel) bool {
	to := t.req.readTimeout()
	if to <= 0 {
		return false
	}
	return t.clientClock.last.Load()+int64(to) <= t.serverClock.last.Load()+int64(res.readTimeout())+int64(time.Millisecond)
}

// recordLocked keeps the first abnormal end's side, cause and error.
func (t *Tunnel) recordLocked(side Side, cause Cause, err error) {
	if t.cause != CauseNormal || t.err != nil {
		return
	}
	t.failSide, t.cause, t.err = side, cause, err
	if t.first == SideNone && side != SideNone {
		t.first = side
	}
}
