package spoe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
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

func (e *Error) Error() string {
	return fmt.Sprintf("spoe: error %d: %v", e.Code, e.Err)
}

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
	wg      sync.WaitGroup
}

type callKey struct{ sid, fid uint64 }

type call struct {
	done chan struct{}
	ack  []byte
	err  error
	conn *agentConn
}

// agentConn is one connection whose HELLO handshake succeeded.
type agentConn struct {
	c        *Client
	nc       net.Conn
	maxFrame int
	pipeline bool
	async    bool
	wmu      sync.Mutex
	waiting  int // frames sent on it still waiting, under c.mu
	dead     bool
	wbuf     []byte
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
	return &Client{cfg: cfg, pending: map[callKey]*call{}}
}

// errClosed is returned once Close has run.
var errClosed = errors.New("spoe: client closed")

// Notify sends the messages (a NOTIFY payload, as AppendMessage builds
// it) for stream sid, frame fid, and returns the ACK's payload. It
// gives up with an *Error when ctx ends first (ErrCodeTimeout), when the
// frame is larger than the agent takes (ErrCodeTooBig) or when the agent
// fails the exchange (256 plus the SPOP status).
func (c *Client) Notify(ctx context.Context, sid, fid uint64, msgs []byte) ([]byte, error) {
	k := callKey{sid, fid}
	cl := &call{done: make(chan struct{})}
	var ac *agentConn
	var why error
	for {
		var err error
		ac, err = c.acquire(ctx, k, cl)
		if err == nil {
			break
		}
		if errors.Is(err, errClosed) {
			return nil, &Error{Code: ErrCodeInterrupt, Err: err}
		}
		// The reason reported is the last one not due to the
		// deadline itself.
		if why == nil || ctx.Err() == nil {
			why = err
		}
		// The agent is unreachable or refused the handshake: try
		// again while the deadline allows, as HAProxy waits for an
		// agent until its processing timeout.
		t := time.NewTimer(c.cfg.RetryDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{Code: ErrCodeTimeout, Err: fmt.Errorf("no agent answered: %w", why)}
		case <-t.C:
		}
	}
	if err := ac.send(FrameNotify, sid, fid, msgs); err != nil {
		c.forget(k, cl)
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		ac.fail(err)
		return nil, &Error{Code: 256 + StatusIO, Err: err}
	}
	select {
	case <-cl.done:
		return cl.ack, cl.err
	case <-ctx.Done():
		c.forget(k, cl)
		return nil, &Error{Code: ErrCodeTimeout, Err: ctx.Err()}
	}
}

// acquire registers cl under k on a connection with room for it,
// opening one when none has.
func (c *Client) acquire(ctx context.Context, k callKey, cl *call) (*agentConn, error) {
	c.mu.Lock()
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
	c.mu.Unlock()
	ac, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
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

// register notes cl as waiting on ac; c.mu is held.
func (c *Client) register(ac *agentConn, k callKey, cl *call) {
	cl.conn = ac
	c.pending[k] = cl
	if ac.waiting == 0 {
		_ = ac.nc.SetReadDeadline(time.Time{})
	}
	ac.waiting++
}

// forget drops a call that will not wait for its ACK any more.
func (c *Client) forget(k callKey, cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[k] == cl {
		delete(c.pending, k)
		c.release(cl.conn)
	}
}

// release counts one frame less waiting on ac; c.mu is held.
func (c *Client) release(ac *agentConn) {
	ac.waiting--
	if ac.waiting == 0 && c.cfg.IdleTimeout > 0 && !ac.dead {
		_ = ac.nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
	}
}

// dial opens a connection and runs the HELLO handshake.
func (c *Client) dial(ctx context.Context) (*agentConn, error) {
	hctx := ctx
	if c.cfg.HelloTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, c.cfg.HelloTimeout)
		defer cancel()
	}
	if c.cfg.Dial == nil {
		return nil, errors.New("spoe: no way to reach the agents")
	}
	nc, err := c.cfg.Dial(hctx)
	if err != nil {
		return nil, err
	}
	if d, ok := hctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
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
	ac.wmu.Lock()
	_ = ac.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = ac.nc.Write(FinishFrame(b, 0))
	ac.wmu.Unlock()
}

// send writes one frame.
func (ac *agentConn) send(t FrameType, sid, fid uint64, payload []byte) error {
	ac.wmu.Lock()
	defer ac.wmu.Unlock()
	b := AppendFrameHead(ac.wbuf[:0], t, FlagFin, sid, fid)
	b = append(b, payload...)
	ac.wbuf = b[:0]
	if len(b)-4 > ac.maxFrame {
		return &Error{Code: ErrCodeTooBig, Err: fmt.Errorf("frame of %d bytes, the agent takes %d", len(b)-4, ac.maxFrame)}
	}
	_, err := ac.nc.Write(FinishFrame(b, 0))
	return err
}

// read dispatches the agent's frames until the connection ends.
func (ac *agentConn) read() {
	c := ac.c
	defer c.wg.Done()
	var buf []byte
	for {
		var f Frame
		var err error
		f, buf, err = ReadFrame(ac.nc, buf, ac.maxFrame)
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
				cl.ack = append([]byte(nil), f.Payload...)
				close(cl.done)
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
			close(cl.done)
		}
	}
	c.mu.Unlock()
	_ = ac.nc.Close()
}

// Close closes every connection; exchanges under way end with
// ErrCodeInterrupt. It waits for the connections' readers.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
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
