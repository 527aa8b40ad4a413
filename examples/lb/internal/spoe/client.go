package spoe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
)

// Engine-level error codes, as the set-on-error variable reports them;
// a SPOP status N from the agent is reported as 256+N.
const (
	ErrCodeTimeout   = 1
	ErrCodeResource  = 2
	ErrCodeTooBig    = 3
	ErrCodeFragment  = 4
	ErrCodeInterrupt = 5
	ErrCodeUnknown   = 255
)

// Error is a failed exchange with an agent; Code is what set-on-error
// stores.
type Error struct {
	Code int
	Err  error
}

// Error says the code and the cause.
func (e *Error) Error() string {
	return fmt.Sprintf("spoe: error %d: %v", e.Code, e.Err)
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

// ClientConfig configures a Client: one engine's connections to its
// agents.
type ClientConfig struct {
	// EngineID is announced in each HAPROXY-HELLO.
	EngineID string
	// MaxFrameSize is the largest frame announced; 0 is 16380
	// (tune.bufsize less four), and it is raised to MinFrameSize.
	MaxFrameSize int
	// Pipelining and Async are announced when set, and used when the
	// agent announces them too.
	Pipelining, Async bool
	// MaxWaiting bounds the frames waiting for their ACK on one
	// connection when pipelining (max-waiting-frames; 0 is 20).
	MaxWaiting int
	// HelloTimeout bounds the HELLO handshake; IdleTimeout closes a
	// connection with nothing to wait for. Zero means no limit.
	HelloTimeout, IdleTimeout time.Duration
	// Dial opens a connection to an agent.
	Dial func(ctx context.Context) (net.Conn, error)
	// RetryDelay is the pause between attempts to reach an agent while
	// an exchange's deadline allows (0 is 100ms).
	RetryDelay time.Duration
	// MaxConnRate bounds the connections opened per second (0: no
	// limit). Over it, an exchange with no connection open fails at
	// once (ErrCodeResource) and one with connections open waits for
	// room on them, or for the rate, until its deadline.
	MaxConnRate int
	// Available, when set, reports whether a connection may be opened
	// at all (a server of the agents is up); while it reports false,
	// exchanges fare as over MaxConnRate.
	Available func() bool
}

// Timing is when an exchange reached each step, zero for a step it did
// not reach: queued for a connection, its frame sent, its ACK received.
type Timing struct {
	Queued, Sent, Acked time.Time
}

// Stats are a client's counts at one moment: connections with room for
// a frame (idle) and open (conns), exchanges not sent yet (sending) and
// sent, waiting for their ACK (waiting).
type Stats struct {
	Idle, Conns, Sending, Waiting int
}

// Client sends NOTIFY frames to an engine's agents and returns their
// ACKs. It opens connections as exchanges need them, keeps them for the
// next ones and closes them after IdleTimeout.
type Client struct {
	cfg ClientConfig

	mu      sync.Mutex
	conns   []*agentConn
	pending map[callKey]*call // every frame waiting for its ACK
	closed  bool
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
	// rate counts the connections opened (MaxConnRate); room, made
	// while exchanges wait for a connection, is closed when one may
	// have room.
	rate *freq.Counter
	room chan struct{}
	// dialing counts the connections being opened, which exchanges
	// over the rate may wait for as for open ones.
	dialing int
	// sending counts the exchanges not sent yet, waiting those sent
	// and waiting for their ACK.
	sending, waiting atomic.Int64
}

type callKey struct{ sid, fid uint64 }

// call is one exchange waiting for its ACK. It is pooled: done holds at
// most the one delivery, and ack is the caller's buffer, which the
// reader fills only while the call is pending.
type call struct {
	done  chan struct{}
	timer *time.Timer
	ack   []byte
	err   error
	conn  *agentConn
}

var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan struct{}, 1), timer: t}
}}

// agentConn is one connection whose HELLO handshake succeeded.
type agentConn struct {
	c        *Client
	nc       net.Conn
	maxFrame int
	pipeline bool
	async    bool
	waiting  int // frames sent on it still waiting, under c.mu
	dead     bool
	// wq holds frames to write; the sender that finds no write under
	// way (writing) writes them, and those queued meanwhile, in one
	// system call per batch.
	wmu     sync.Mutex
	wq      []byte
	wspare  []byte
	writing bool
	werr    error
}

// NewClient makes a client; nothing is dialled until the first Notify.
func NewClient(cfg ClientConfig) *Client {
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = 16380
	}
	cfg.MaxFrameSize = max(cfg.MaxFrameSize, MinFrameSize)
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = 20
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 100 * time.Millisecond
	}
	c := &Client{cfg: cfg, pending: map[callKey]*call{}, done: make(chan struct{})}
	if cfg.MaxConnRate > 0 {
		c.rate = freq.NewCounter(nil)
	}
	return c
}

// errNoConn fails an exchange that finds no connection open while none
// may be opened.
var errNoConn = errors.New("no connection to an agent, and none may open (no server up, or maxconnrate reached)")

// readBufSize is the reader's buffer: several ACKs a read.
const readBufSize = 16 << 10

// errClosed is returned once Close has run.
var errClosed = errors.New("spoe: client closed")

// errDeadline is the cause of an exchange that ran out of time.
var errDeadline = errors.New("no ACK before the processing timeout")

// Notify sends the messages (a NOTIFY payload, as AppendMessage builds
// it) for stream sid, frame fid, and appends the ACK's payload to ack.
// It gives up with an *Error at the deadline (ErrCodeTimeout; a zero
// deadline waits without limit), when the frame is larger than the agent
// takes (ErrCodeTooBig) or when the agent fails the exchange (256 plus
// the SPOP status). tm, when not nil, is told when the exchange reached
// each step.
func (c *Client) Notify(deadline time.Time, sid, fid uint64, msgs, ack []byte, tm *Timing) ([]byte, error) {
	k := callKey{sid, fid}
	cl := callPool.Get().(*call)
	cl.ack, cl.err, cl.conn = ack[:0], nil, nil
	if !deadline.IsZero() {
		cl.timer.Reset(time.Until(deadline))
	}
	var scratch Timing
	if tm == nil {
		tm = &scratch
	}
	ack, err := c.notify(deadline, k, cl, msgs, tm)
	cl.timer.Stop()
	select {
	case <-cl.timer.C: // a Go before 1.23's timer may hold a tick
	default:
	}
	cl.ack, cl.conn = nil, nil
	callPool.Put(cl)
	return ack, err
}

func (c *Client) notify(deadline time.Time, k callKey, cl *call, msgs []byte, tm *Timing) ([]byte, error) {
	tm.Queued = time.Now()
	c.sending.Add(1)
	ac, err := c.connFor(deadline, k, cl)
	if err != nil {
		c.sending.Add(-1)
		if errors.Is(err, errNoConn) {
			tm.Queued = time.Time{}
		}
		return nil, err
	}
	err = ac.send(FrameNotify, k.sid, k.fid, msgs)
	c.sending.Add(-1)
	if err != nil {
		if !c.forget(k, cl) {
			<-cl.done // failed with the connection meanwhile
		}
		return nil, err
	}
	tm.Sent = time.Now()
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case <-cl.done:
	case <-cl.timer.C:
		if c.forget(k, cl) {
			return nil, &Error{Code: ErrCodeTimeout, Err: errDeadline}
		}
		// Delivered as the deadline passed: take it.
		<-cl.done
	}
	if cl.err == nil {
		tm.Acked = time.Now()
	}
	return cl.ack, cl.err
}

// connFor registers cl under k on a connection, trying again while the
// deadline allows when none can be had.
func (c *Client) connFor(deadline time.Time, k callKey, cl *call) (*agentConn, error) {
	var ac *agentConn
	var why error
	for {
		var err error
		ac, err = c.acquire(deadline, k, cl, why != nil)
		if err == nil {
			break
		}
		if errors.Is(err, errClosed) {
			return nil, &Error{Code: ErrCodeInterrupt, Err: err}
		}
		if errors.Is(err, errNoConn) {
			return nil, err
		}
		if errors.Is(err, errDeadline) {
			if why != nil {
				err = &Error{Code: ErrCodeTimeout, Err: fmt.Errorf("no agent answered: %w", why)}
			}
			return nil, err
		}
		// The reason reported is the last one not due to the
		// deadline itself.
		late := !deadline.IsZero() && !time.Now().Before(deadline)
		if why == nil || !late {
			why = err
		}
		// The agent is unreachable or refused the handshake: try
		// again while the deadline allows, as HAProxy waits for an
		// agent until its processing timeout.
		pause := time.NewTimer(c.cfg.RetryDelay)
		select {
		case <-cl.timer.C:
			pause.Stop()
			return nil, &Error{Code: ErrCodeTimeout, Err: fmt.Errorf("no agent answered: %w", why)}
		case <-c.done:
			pause.Stop()
			return nil, &Error{Code: ErrCodeInterrupt, Err: errClosed}
		case <-pause.C:
		}
	}
	return ac, nil
}

// acquire registers cl under k on a connection with room for it,
// opening one when none has, a server is available and the connection
// rate allows. Otherwise, it fails at once when no connection is open
// (unless queued: the exchange waited already), and else waits for
// room, a server or the rate, until the exchange's timer fires
// (errDeadline).
func (c *Client) acquire(deadline time.Time, k callKey, cl *call, queued bool) (*agentConn, error) {
	c.mu.Lock()
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for {
		if c.closed {
			c.mu.Unlock()
			return nil, errClosed
		}
		for _, ac := range c.conns {
			if !ac.dead && (ac.waiting == 0 || ac.pipeline && ac.waiting < c.cfg.MaxWaiting) {
				c.register(ac, k, cl)
				c.mu.Unlock()
				return ac, nil
			}
		}
		avail := c.cfg.Available == nil || c.cfg.Available()
		if avail && (c.rate == nil || c.rate.Allow(uint32(c.cfg.MaxConnRate))) {
			break
		}
		if len(c.conns) == 0 && c.dialing == 0 && !queued {
			c.mu.Unlock()
			return nil, &Error{Code: ErrCodeResource, Err: errNoConn}
		}
		// Wait for a connection with room, or for the rate.
		queued = true
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		d := c.cfg.RetryDelay // for a server to come up
		if avail {
			d = c.rate.NextEventDelay(uint32(c.cfg.MaxConnRate))
		}
		if wait == nil {
			wait = time.NewTimer(d)
		} else {
			wait.Reset(d)
		}
		var late bool
		select {
		case <-room:
		case <-wait.C:
		case <-cl.timer.C:
			late = true
		}
		c.mu.Lock()
		if late {
			c.mu.Unlock()
			return nil, &Error{Code: ErrCodeTimeout, Err: errDeadline}
		}
	}
	c.dialing++
	c.mu.Unlock()
	ac, err := c.dial(deadline)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing--
	c.wake()
	if err != nil {
		return nil, err
	}
	if c.closed {
		_ = ac.nc.Close()
		return nil, errClosed
	}
	c.conns = append(c.conns, ac)
	c.register(ac, k, cl)
	c.wg.Add(1)
	go ac.read()
	return ac, nil
}

// wake tells the exchanges waiting for a connection that one may have
// room; c.mu is held.
func (c *Client) wake() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// Stats returns the client's counts now.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Conns: len(c.conns), Sending: int(c.sending.Load()), Waiting: int(c.waiting.Load())}
	for _, ac := range c.conns {
		if !ac.dead && (ac.waiting == 0 || ac.pipeline && ac.waiting < c.cfg.MaxWaiting) {
			st.Idle++
		}
	}
	return st
}

// register notes cl as waiting on ac; c.mu is held.
func (c *Client) register(ac *agentConn, k callKey, cl *call) {
	cl.conn = ac
	c.pending[k] = cl
	if ac.waiting == 0 {
		_ = ac.nc.SetReadDeadline(time.Time{})
	}
	ac.waiting++
}

// forget drops a call that will not wait for its ACK any more; false
// means the call was delivered (or failed) already.
func (c *Client) forget(k callKey, cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[k] != cl {
		return false
	}
	delete(c.pending, k)
	c.release(cl.conn)
	return true
}

// release counts one frame less waiting on ac; c.mu is held.
func (c *Client) release(ac *agentConn) {
	ac.waiting--
	c.wake()
	if ac.waiting == 0 && c.cfg.IdleTimeout > 0 && !ac.dead {
		_ = ac.nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
	}
}

// dial opens a connection and runs the HELLO handshake, within the
// hello timeout and the exchange's deadline.
func (c *Client) dial(deadline time.Time) (*agentConn, error) {
	if c.cfg.Dial == nil {
		return nil, errors.New("spoe: no way to reach the agents")
	}
	if t := c.cfg.HelloTimeout; t > 0 {
		if d := time.Now().Add(t); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	nc, err := c.cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(deadline)
	ac := &agentConn{c: c, nc: nc, maxFrame: c.cfg.MaxFrameSize}
	if err := ac.hello(); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return ac, nil
}

// capabilities is what the client announces.
func (c *Client) capabilities() string {
	var caps []string
	if c.cfg.Pipelining {
		caps = append(caps, "pipelining")
	}
	if c.cfg.Async {
		caps = append(caps, "async")
	}
	return strings.Join(caps, ",")
}

// AppendHello appends a HAPROXY-HELLO frame announcing maxFrame and
// caps; a health check says so.
func AppendHello(b []byte, maxFrame int, caps, engineID string, healthcheck bool) []byte {
	start := len(b)
	b = AppendFrameHead(b, FrameHAProxyHello, FlagFin, 0, 0)
	b = AppendKV(b, "supported-versions", Str("2.0"))
	b = AppendKV(b, "max-frame-size", Uint32(uint32(maxFrame)))
	b = AppendKV(b, "capabilities", Str(caps))
	if healthcheck {
		b = AppendKV(b, "healthcheck", Bool(true))
	}
	if engineID != "" {
		b = AppendKV(b, "engine-id", Str(engineID))
	}
	return FinishFrame(b, start)
}

// AppendAgentHello appends an agent's AGENT-HELLO frame: SPOP 2.0, the
// largest frame it takes (at most what the HAPROXY-HELLO offered) and
// its capabilities.
func AppendAgentHello(b []byte, maxFrame int, caps string) []byte {
	start := len(b)
	b = AppendFrameHead(b, FrameAgentHello, FlagFin, 0, 0)
	b = AppendKV(b, "version", Str("2.0"))
	b = AppendKV(b, "max-frame-size", Uint32(uint32(maxFrame)))
	b = AppendKV(b, "capabilities", Str(caps))
	return FinishFrame(b, start)
}

// HelloReply is what an AGENT-HELLO announced.
type HelloReply struct {
	Version      string
	MaxFrameSize int
	Capabilities []string
}

// ReadHello reads the agent's answer to a HAPROXY-HELLO that announced
// maxFrame: an AGENT-HELLO, checked as the protocol requires, or an
// AGENT-DISCONNECT, returned as an error with its status.
func ReadHello(nc net.Conn, maxFrame int) (HelloReply, error) {
	f, _, err := ReadFrame(nc, nil, maxFrame)
	if err != nil {
		return HelloReply{}, err
	}
	return ParseHello(f, maxFrame)
}

// ParseHello checks an agent's answer to a HAPROXY-HELLO that announced
// maxFrame, as ReadHello does.
func ParseHello(f Frame, maxFrame int) (HelloReply, error) {
	kvs, err := ParseKVList(f.Payload)
	if err != nil {
		return HelloReply{}, &Error{Code: 256 + StatusInvalid, Err: fmt.Errorf("%s: %w", StatusText(StatusInvalid), err)}
	}
	switch f.Type {
	case FrameAgentHello:
	case FrameAgentDisconnect:
		return HelloReply{}, disconnectError(kvs)
	default:
		return HelloReply{}, &Error{Code: 256 + StatusInvalid, Err: fmt.Errorf("%s: %s frame where AGENT-HELLO was expected", StatusText(StatusInvalid), f.Type)}
	}
	var h HelloReply
	v, ok := Lookup(kvs, "version")
	if !ok || v.Type != TypeString {
		return h, &Error{Code: 256 + StatusNoVersion, Err: errors.New(StatusText(StatusNoVersion))}
	}
	h.Version = strings.TrimSpace(string(v.Bytes))
	major, _, _ := strings.Cut(h.Version, ".")
	if n, err := strconv.Atoi(major); err != nil || n != 2 {
		return h, &Error{Code: 256 + StatusBadVersion, Err: fmt.Errorf("%s '%s'", StatusText(StatusBadVersion), h.Version)}
	}
	v, ok = Lookup(kvs, "max-frame-size")
	if !ok || (v.Type != TypeUint32 && v.Type != TypeUint64 && v.Type != TypeInt32 && v.Type != TypeInt64) {
		return h, &Error{Code: 256 + StatusNoFrameSize, Err: errors.New(StatusText(StatusNoFrameSize))}
	}
	size := v.Uint
	if v.Type == TypeInt32 || v.Type == TypeInt64 {
		size = uint64(v.Int)
	}
	if size < MinFrameSize || size > uint64(maxFrame) {
		return h, &Error{Code: 256 + StatusBadFrameSize, Err: fmt.Errorf("%s (%d)", StatusText(StatusBadFrameSize), size)}
	}
	h.MaxFrameSize = int(size)
	v, ok = Lookup(kvs, "capabilities")
	if !ok || v.Type != TypeString {
		return h, &Error{Code: 256 + StatusNoCaps, Err: errors.New(StatusText(StatusNoCaps))}
	}
	for _, c := range strings.Split(string(v.Bytes), ",") {
		if c = strings.TrimSpace(c); c != "" {
			h.Capabilities = append(h.Capabilities, c)
		}
	}
	return h, nil
}

// Has reports whether the agent announced capability name.
func (h HelloReply) Has(name string) bool {
	for _, c := range h.Capabilities {
		if c == name {
			return true
		}
	}
	return false
}

// disconnectError turns a DISCONNECT's items into an *Error.
func disconnectError(kvs []KV) error {
	code := uint64(StatusUnknown)
	if v, ok := Lookup(kvs, "status-code"); ok {
		code = v.Uint
		if v.Type == TypeInt32 || v.Type == TypeInt64 {
			code = uint64(v.Int)
		}
	}
	msg := StatusText(uint32(code))
	if v, ok := Lookup(kvs, "message"); ok && len(v.Bytes) > 0 {
		msg = string(v.Bytes)
	}
	return &Error{Code: 256 + int(code), Err: fmt.Errorf("agent disconnected: %s", msg)}
}

func (ac *agentConn) hello() error {
	c := ac.c
	if _, err := ac.nc.Write(AppendHello(nil, c.cfg.MaxFrameSize, c.capabilities(), c.cfg.EngineID, false)); err != nil {
		return err
	}
	h, err := ReadHello(ac.nc, c.cfg.MaxFrameSize)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code > 256 && e.Code != 256+StatusIO {
			ac.disconnect(uint32(e.Code - 256))
		}
		return err
	}
	ac.maxFrame = h.MaxFrameSize
	ac.pipeline = c.cfg.Pipelining && h.Has("pipelining")
	ac.async = c.cfg.Async && h.Has("async")
	return nil
}

// disconnect sends a HAPROXY-DISCONNECT with status code.
func (ac *agentConn) disconnect(code uint32) {
	b := AppendFrameHead(nil, FrameHAProxyDisconn, FlagFin, 0, 0)
	b = AppendKV(b, "status-code", Uint32(code))
	b = AppendKV(b, "message", Str(StatusText(code)))
	_ = ac.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ac.write(FinishFrame(b, 0))
}

// send queues one frame and, unless another sender is writing, writes
// the queue. A frame larger than the agent takes is refused with
// ErrCodeTooBig; a failed write fails the connection.
func (ac *agentConn) send(t FrameType, sid, fid uint64, payload []byte) error {
	ac.wmu.Lock()
	start := len(ac.wq)
	b := AppendFrameHead(ac.wq, t, FlagFin, sid, fid)
	b = append(b, payload...)
	if len(b)-start-4 > ac.maxFrame {
		ac.wq = b[:start]
		ac.wmu.Unlock()
		return &Error{Code: ErrCodeTooBig, Err: fmt.Errorf("frame of %d bytes, the agent takes %d", len(b)-start-4, ac.maxFrame)}
	}
	ac.wq = FinishFrame(b, start)
	return ac.flushLocked()
}

// write queues b, then writes as send does.
func (ac *agentConn) write(b []byte) error {
	ac.wmu.Lock()
	ac.wq = append(ac.wq, b...)
	return ac.flushLocked()
}

// flushLocked writes the queue in batches until it is empty, unless a
// write is under way, whose writer takes the new frames too. It is
// called with wmu held and releases it.
func (ac *agentConn) flushLocked() error {
	if ac.writing {
		err := ac.werr
		ac.wmu.Unlock()
		return err
	}
	ac.writing = true
	var err error
	for len(ac.wq) > 0 && err == nil {
		buf := ac.wq
		ac.wq = ac.wspare[:0]
		ac.wmu.Unlock()
		_, err = ac.nc.Write(buf)
		ac.wmu.Lock()
		ac.wspare = buf[:0]
	}
	ac.writing = false
	if err != nil {
		ac.werr = err
		ac.wq = ac.wq[:0]
	}
	ac.wmu.Unlock()
	if err != nil {
		ac.fail(&Error{Code: 256 + StatusIO, Err: err})
		return &Error{Code: 256 + StatusIO, Err: err}
	}
	return nil
}

// read dispatches the agent's frames until the connection ends.
func (ac *agentConn) read() {
	c := ac.c
	defer c.wg.Done()
	r := bufio.NewReaderSize(ac.nc, readBufSize)
	var buf []byte
	for {
		var f Frame
		var err error
		f, buf, err = ReadFrame(r, buf, ac.maxFrame)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.mu.Lock()
				idle := ac.waiting == 0
				c.mu.Unlock()
				if !idle {
					// An exchange began as the idle deadline passed,
					// and lifted it: read on.
					continue
				}
				ac.disconnect(StatusTimeout)
			} else if errors.Is(err, ErrTooBig) {
				ac.disconnect(StatusTooBig)
			}
			ac.fail(&Error{Code: 256 + StatusIO, Err: err})
			return
		}
		switch f.Type {
		case FrameAck:
			if f.Flags&FlagFin == 0 {
				// Fragmented ACKs are not announced, so not expected.
				ac.disconnect(StatusFragNotSupp)
				ac.fail(&Error{Code: 256 + StatusFragNotSupp, Err: errors.New(StatusText(StatusFragNotSupp))})
				return
			}
			c.mu.Lock()
			k := callKey{f.StreamID, f.FrameID}
			cl := c.pending[k]
			if cl != nil && (cl.conn == ac || ac.async) {
				delete(c.pending, k)
				c.release(cl.conn)
				cl.ack = append(cl.ack, f.Payload...)
				cl.done <- struct{}{}
			}
			c.mu.Unlock()
		case FrameAgentDisconnect:
			kvs, _ := ParseKVList(f.Payload)
			ac.fail(disconnectError(kvs))
			return
		}
	}
}

// fail ends the connection, and every exchange waiting on it with err
// unless the agent may acknowledge it on another.
func (ac *agentConn) fail(err error) {
	c := ac.c
	c.mu.Lock()
	ac.dead = true
	c.wake()
	for i, x := range c.conns {
		if x == ac {
			c.conns = append(c.conns[:i], c.conns[i+1:]...)
			break
		}
	}
	for k, cl := range c.pending {
		// An agent working asynchronously may still acknowledge the
		// frame on another connection: it waits for its deadline, as
		// in HAProxy.
		if cl.conn == ac && (!ac.async || c.closed) {
			delete(c.pending, k)
			cl.err = err
			cl.done <- struct{}{}
		}
	}
	c.mu.Unlock()
	_ = ac.nc.Close()
}

// Close closes every connection; exchanges under way end with
// ErrCodeInterrupt. It waits for the connections' readers.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	c.wake()
	conns := append([]*agentConn(nil), c.conns...)
	c.mu.Unlock()
	for _, ac := range conns {
		ac.fail(&Error{Code: ErrCodeInterrupt, Err: errClosed})
	}
	c.wg.Wait()
	return nil
}

// AppendMessage appends one message of a NOTIFY payload: its name and
// its arguments.
func AppendMessage(b []byte, name string, args []Arg) []byte {
	b = append(AppendString(b, name), byte(len(args)))
	for _, a := range args {
		b = AppendValue(AppendString(b, a.Name), a.Value)
	}
	return b
}
