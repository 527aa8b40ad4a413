package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func init() {
	both := mux.SideFront | mux.SideBack
	mux.Register(mux.Entry{Name: "h1", Modes: mux.ModeHTTP, Sides: both, New: newMux})
	mux.Register(mux.Entry{Name: "", ALPN: "http/1.1", Modes: mux.ModeHTTP, Sides: both, New: newMux})
}

// Errors the mux returns.
var (
	// ErrClosed is returned by a closed mux or a stream of one.
	ErrClosed = errors.New("h1: mux closed")
	// ErrBusy is returned by Accept or Open while the connection's
	// stream has not ended: HTTP/1 carries one exchange at a time.
	ErrBusy = errors.New("h1: the connection's stream is still open")
	// ErrNotReusable is returned by Open on a connection that will not
	// carry another request (the server asked to close, or the last
	// exchange failed or became a tunnel).
	ErrNotReusable = errors.New("h1: connection cannot carry another request")
	// ErrState is returned when a stream method is called out of order,
	// such as Write before the head was written.
	ErrState = errors.New("h1: stream method called out of order")
	// ErrBodyLength is returned when the body written disagrees with the
	// Content-Length the head declared.
	ErrBodyLength = errors.New("h1: body length differs from Content-Length")
	// ErrNoTunnel is returned by Tunnel when the exchange did not switch
	// protocols (no 101, no successful CONNECT).
	ErrNoTunnel = errors.New("h1: exchange did not open a tunnel")
)

// errNoRequestYet is what Accept returns when the caller's read deadline
// passed before any byte of a request came.
var errNoRequestYet = fmt.Errorf("h1: waiting for a request (nothing received): %w", os.ErrDeadlineExceeded)

// bufPool holds read buffers of the default size. Buffers are borrowed
// while a message is being read and given back when the connection goes
// idle with nothing buffered, so an idle keep-alive connection holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, DefaultBufSize+bufReserve); return &b }}

// wbufSize is the capacity a stream's output buffer starts with: room
// for a usual head, which grows it no further.
const wbufSize = 256

// bufReserve lets a buffer hold one byte more than the head limit, so that
// a full buffer always means the limit was crossed.
const bufReserve = 1024

func newMux(t xprt.Transport, side mux.Side) (mux.Mux, error) { return New(t, side, Limits{}), nil }

// Mux is the HTTP/1 mux over one connection. On the front side Accept
// yields one stream per request, one after the other on a keep-alive
// connection; on the back side Open starts one exchange at a time.
type Mux struct {
	// A server may keep thousands of idle keep-alive connections, each
	// with its Mux: the fields are laid out for the struct to fit the
	// 128-byte size class, and the limits are kept only when they are
	// not the defaults.

	t xprt.Transport
	// lim is nil for the default limits (the zero Limits); see limits.
	lim *Limits

	mu sync.Mutex
	// Write side, used by one goroutine at a time; wmu lets the reading
	// side send what is buffered without racing with a body being
	// written.
	wmu sync.Mutex
	// smu guards the exchange's state that both sides change and read:
	// the ends of the two messages and what the exchange ends with.
	smu sync.Mutex

	// Read side, used by one goroutine at a time: Accept/ReadResponse and
	// the stream's Read.
	rb     *[]byte
	r, w   int
	recvFn func(fd uintptr) bool
	rn     int   // what recvFn read
	rerr   error // and the error it met

	// st is the exchange in progress or the last one, with what the
	// exchanges keep from one to the next (the parsers' state, the
	// request's storage, the output buffer). It is made by the first
	// exchange, and dropped by Trim while the connection waits idle.
	st *Stream

	nextID  uint32      // under mu
	holding atomic.Bool // rb != nil, readable from other goroutines
	side    mux.Side
	closed  bool // under mu
	busy    bool // a stream is out; under mu
	dead    bool // the connection will carry no further exchange; under mu
	eof     bool // read side
	one     [1]byte
}

// New builds an HTTP/1 mux over t for the given side.
func New(t xprt.Transport, side mux.Side, lim Limits) *Mux {
	m := &Mux{t: t, side: side}
	if lim != (Limits{}) {
		// A copy, so that lim itself does not escape: the defaults
		// cost no allocation.
		l := new(Limits)
		*l = lim
		m.lim = l
	}
	m.recvFn = m.recvReady
	return m
}

// NewShared is New with limits many muxes share: lim is kept as given,
// with no copy per mux, and must not change while they use it.
func NewShared(t xprt.Transport, side mux.Side, lim *Limits) *Mux {
	m := &Mux{t: t, side: side, lim: lim}
	m.recvFn = m.recvReady
	return m
}

// limits returns the connection's limits.
// fieldCase returns the spellings of the names the mux writes, nil for
// none.
func (m *Mux) fieldCase() *FieldCase {
	if m.lim == nil {
		return nil
	}
	return m.lim.FieldCase
}

func (m *Mux) limits() Limits {
	if m.lim == nil {
		return Limits{}
	}
	return *m.lim
}

// Trim lets go of what the connection keeps for its next exchange (the
// stream, the storage of the last request's head, the output buffer),
// so that a keep-alive connection waiting idle, as a server may keep
// thousands, holds no more than its own state; the next exchange makes
// them again. It does nothing while an exchange is in progress or bytes
// of the next message are buffered. Trim is called by the goroutine that
// reads the connection (between Accepts, say), not concurrently with it.
func (m *Mux) Trim() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy || m.holding.Load() {
		return
	}
	m.st = nil
}

// Name returns "h1".
func (m *Mux) Name() string { return "h1" }

// AvailStreams is 1 when the connection can start an exchange now.
func (m *Mux) AvailStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.busy || m.dead {
		return 0
	}
	return 1
}

// UsedStreams is 1 while an exchange is in progress.
func (m *Mux) UsedStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy && !m.closed {
		return 1
	}
	return 0
}

// Close closes the connection and gives back its buffer.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed, m.dead = true, true
	m.mu.Unlock()
	return m.t.Close()
}

// take starts an exchange and returns its stream.
func (m *Mux) take() (*Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case m.busy:
		return nil, ErrBusy
	case m.dead:
		return nil, ErrNotReusable
	}
	m.busy = true
	m.nextID++
	s := m.st
	if s == nil {
		// The output buffer is made at once to the size of a usual
		// head rather than grown to it by appends: one allocation, and
		// none of the small ones an idle connection's objects would
		// share their spans with.
		s = &Stream{m: m, wbuf: make([]byte, 0, wbufSize)}
		s.parser.Limits = m.limits()
		s.dec.Limits = s.parser.Limits
		m.st = s
	}
	s.reset(m.nextID)
	return s, nil
}

// release ends the exchange of s, the connection's stream.
func (m *Mux) release(s *Stream, kill, reader bool) {
	m.mu.Lock()
	m.busy = false
	if kill {
		m.dead = true
	}
	dead := m.dead
	m.mu.Unlock()
	// The read buffer belongs to the reading side: a failure on the
	// writing side leaves it, as the reader may be using it.
	if reader && m.r == m.w && !s.tunnel {
		m.putBuf()
	}
	if dead && m.side == mux.SideFront && !s.tunnel {
		_ = m.Close()
	}
}

// Accept reads the next request's head and returns its stream, a
// [*Stream]. It returns io.EOF when the client closed the connection
// between requests or the connection cannot carry another. A request the
// parser refuses is answered with its [Error] status and the connection
// closed. Cancelling ctx interrupts the wait through the transport's read
// deadline, which Accept clears when it returns. A read deadline of the
// caller's that passes is returned as an error wrapping
// os.ErrDeadlineExceeded and leaves the connection usable, with any part
// of a head it received still buffered ([Mux.Partial]): Accept may be
// called again, from any goroutine, to go on waiting (a server can let
// the goroutine of an idle connection go), or the caller answers and
// closes.
func (m *Mux) Accept(ctx context.Context) (mux.Stream, error) {
	s, err := m.take()
	if err != nil {
		if errors.Is(err, ErrNotReusable) {
			return nil, io.EOF
		}
		return nil, err
	}
	reqTimeout := m.limits().RequestTimeout
	if to := reqTimeout; to > 0 {
		_ = m.t.SetReadDeadline(time.Now().Add(to))
		// The deadline bounds the head only; the body is the caller's.
		defer func() { _ = m.t.SetReadDeadline(time.Time{}) }()
	}
	if s.headDone || m.r == m.w {
		// A new head: its start is still to come (or is now, for one
		// already buffered). A partial head keeps the start it had.
		s.headStart, s.headDone = time.Time{}, false
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = m.t.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				_ = m.t.SetReadDeadline(time.Time{})
			}
		}()
	}
	for {
		parse := m.r < m.w
		if parse && s.headStart.IsZero() {
			// The head's first byte is here (or was already).
			s.headStart = time.Now()
		}
		if parse && s.id == 1 && m.lim != nil && m.lim.H2Preface {
			// The first bytes of the connection: HTTP/2's preface, or a
			// part of it with the rest still coming, or HTTP/1.
			b := m.buf()
			n := min(len(b), len(h2Preface))
			if string(b[:n]) == h2Preface[:n] {
				if n == len(h2Preface) {
					m.release(s, false, false)
					return nil, ErrH2Preface
				}
				parse = false
			}
		}
		if parse {
			n, err := s.parser.ParseRequest(m.buf(), &s.in)
			if err == nil {
				m.r += n
				s.headDone, s.headEnd = true, time.Now()
				s.dec.Reset(&s.in)
				s.req = s.in.Flags
				s.reqVersion = s.in.Version
				s.bodyMsg = &s.in
				return s, nil
			}
			if err != ErrNeedMore {
				var e *Error
				if errors.As(err, &e) {
					m.answerError(e.Status)
				}
				m.release(s, true, true)
				return nil, fmt.Errorf("h1: request from %s: %w", m.t.RemoteAddr(), err)
			}
		}
		if err := m.fill(); err != nil {
			empty, got := m.r == m.w, m.w-m.r
			timedOut := reqTimeout > 0 && ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded)
			if !timedOut && !m.eof && ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
				// The caller's deadline passed: the connection is as it
				// was, with what came of a head still buffered, and
				// Accept may go on waiting, on this goroutine or another.
				m.release(s, false, true)
				if empty {
					// The usual case, a server letting an idle
					// connection's goroutine go: no message to build.
					return nil, errNoRequestYet
				}
				return nil, fmt.Errorf("h1: waiting for a request from %s (%d bytes of a head received): %w", m.t.RemoteAddr(), got, err)
			}
			if timedOut && !empty {
				// A head begun and not finished in time: 408, then close.
				m.answerError(408)
			}
			m.release(s, true, true)
			if err == io.EOF && empty {
				return nil, io.EOF
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("h1: accept: %w", ctx.Err())
			}
			if timedOut {
				if empty {
					return nil, fmt.Errorf("%w (%v, nothing received)", ErrRequestTimeout, reqTimeout)
				}
				return nil, fmt.Errorf("%w (%v, %d bytes of a head received, answered 408)", ErrRequestTimeout, reqTimeout, got)
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("h1: reading request head from %s: %w", m.t.RemoteAddr(), err)
		}
	}
}

// Partial reports whether part of a message is buffered and not yet
// complete. After Accept failed it tells a client that had begun a
// request (to be answered, 408 after a timeout) from one that sent
// nothing (closed quietly).
func (m *Mux) Partial() bool { return m.rb != nil && m.r < m.w }

// Open starts a new exchange on the back side and returns its stream, a
// [*Stream]: write the request with WriteRequest, then read the response
// with ReadResponse.
func (m *Mux) Open(context.Context) (mux.Stream, error) {
	s, err := m.take()
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (m *Mux) buf() []byte { return (*m.rb)[m.r:m.w] }

// fill reads more bytes into the buffer, borrowing one if the connection
// held none. On a raw socket a connection without a buffer receives
// straight from the socket into one borrowed for the attempt and given
// back when nothing is there, so a connection idle between requests
// costs no memory, and no more system calls than a plain read. A
// transport that transforms its bytes (TLS) is waited on with a one-byte
// read into a byte of the mux's own, and the buffer is borrowed once that
// byte came: an idle keep-alive TLS connection holds no buffer either.
// The rest of what the transport decoded is read by the next fill.
func (m *Mux) fill() error {
	if m.eof {
		return io.EOF
	}
	if m.rb == nil {
		if rc, ok := m.t.Raw(); ok {
			m.rn, m.rerr = 0, nil
			if err := rc.Read(m.recvFn); err != nil {
				return err
			}
			if m.rn > 0 {
				m.w += m.rn
				return nil
			}
			if m.rerr == io.EOF {
				m.eof = true
			}
			return m.rerr
		}
		n, err := m.t.Read(m.one[:])
		if n == 0 {
			if err == io.EOF {
				m.eof = true
			}
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		m.rb = m.getBuf()
		(*m.rb)[0] = m.one[0]
		m.r, m.w = 0, 1
		if err == io.EOF {
			m.eof = true // the byte goes first, the end with the next fill
		}
		return nil
	}
	b := *m.rb
	if m.r > 0 {
		m.w = copy(b, b[m.r:m.w])
		m.r = 0
	}
	if m.w == len(b) {
		return fmt.Errorf("h1: read buffer full (%d bytes)", len(b))
	}
	n, err := m.t.Read(b[m.w:])
	m.w += n
	if n > 0 {
		return nil
	}
	if err == io.EOF {
		m.eof = true
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (m *Mux) getBuf() *[]byte {
	m.holding.Store(true)
	size := m.limits().bufSize()
	if size == DefaultBufSize {
		return bufPool.Get().(*[]byte)
	}
	b := make([]byte, size+bufReserve)
	return &b
}

// putBuf gives the read buffer back; only the default size is pooled.
func (m *Mux) putBuf() {
	if m.rb == nil {
		return
	}
	if len(*m.rb) == DefaultBufSize+bufReserve {
		bufPool.Put(m.rb)
	}
	m.rb, m.r, m.w = nil, 0, 0
	m.holding.Store(false)
}

// recvReady is run by the runtime poller on a raw socket when the
// connection holds no buffer: it borrows one and receives into it; when
// nothing is there (EAGAIN) the buffer goes back and the poller waits.
// It takes the bytes the transport's Read would have returned: a
// transport offers its socket (Raw) only when reading it directly is the
// same as reading the transport.
func (m *Mux) recvReady(fd uintptr) bool {
	if m.rb == nil {
		m.rb = m.getBuf()
	}
	b := (*m.rb)[m.w:]
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			m.putBuf()
			return false
		case e != 0:
			m.rerr = fmt.Errorf("h1: reading from %s: %w", m.t.RemoteAddr(), os.NewSyscallError("recvfrom", e))
		case n == 0:
			m.rerr = io.EOF
		default:
			m.rn = int(n)
		}
		return true
	}
}

// answerError answers a refused request, as HAProxy's error pages do,
// and leaves the connection to be closed.
func (m *Mux) answerError(status int) {
	text := StatusText(status)
	body := "<html><body><h1>" + strconv.Itoa(status) + " " + text + "</h1>\n</body></html>\n"
	msg := "HTTP/1.1 " + strconv.Itoa(status) + " " + text + "\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n" + body
	_ = m.t.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(m.t, msg)
}

// Stream is one HTTP/1 exchange: a request and its response. On the front
// side the request head is read by Accept ([Stream.Request]), its body with
// Read, and the response sent with WriteResponse, Write and Finish; on the
// back side the request is sent with WriteRequest, Write and Finish, and
// the response read with ReadResponse and Read. Reading and writing may
// run in two goroutines; each direction is used by one at a time.
//
// The connection reuses one Stream value for each exchange, until
// [Mux.Trim] lets it go: a Stream must not be used after it ended (both
// messages complete, or Close).
type Stream struct {
	m  *Mux
	id uint32

	in         htx.Message // front: the request
	req        htx.Flags   // the request's flags (either side)
	reqVersion htx.Version
	resp       htx.Flags // back: the response's flags

	// read side
	inDone   bool
	bodyMsg  *htx.Message // the message Read adds trailers to
	pending  []byte       // body bytes decoded but not yet returned
	sent100  bool
	readHead bool // back: the final response head was read

	// parser reads the heads and dec the bodies; their state, and the
	// storage of in and wbuf, are kept from one exchange to the next.
	parser Parser
	dec    BodyDecoder
	wbuf   []byte // the output not yet written, under m.wmu

	// headStart is when the request head's first byte was seen (front),
	// headEnd when the head was read whole; headDone says it was.
	headStart, headEnd time.Time
	headDone           bool

	// write side
	wroteHead bool
	outDone   bool
	framing   Framing
	remain    int64
	closing   bool
	tunnel    bool
	canTunnel bool
	ended     atomic.Bool
	readers   atomic.Int32 // Reads in progress, which Finish must not disturb
}

func (s *Stream) reset(id uint32) {
	in := s.in
	in.Reset()
	// A head's start outlives an Accept that gave up waiting for its
	// end (Accept decides).
	*s = Stream{m: s.m, id: id, in: in, parser: s.parser, dec: s.dec, wbuf: s.wbuf[:0], headStart: s.headStart, headEnd: s.headEnd, headDone: s.headDone}
}

// ID numbers the exchanges of the connection from 1.
func (s *Stream) ID() uint32 { return s.id }

// HeadTimes are when the first byte of the request's head was seen and
// when the head was read whole, on the front side: the times a log
// counts the request from (HAProxy's TR runs from one to the other, its
// idle time up to the first). They are zero on the back side.
func (s *Stream) HeadTimes() (start, end time.Time) { return s.headStart, s.headEnd }

// Request returns the request head Accept read (front side). It stays
// valid until the stream ends.
func (s *Stream) Request() *htx.Message { return &s.in }

// Read reads the body of the incoming message (the request on the front
// side, the response on the back side, after ReadResponse). It returns
// io.EOF at the end of the body; trailers, if any, are then in the
// message's trailer list. On the front side, the first Read of a request
// that expects 100-continue sends the 100 response.
func (s *Stream) Read(p []byte) (int, error) {
	m := s.m
	s.readers.Add(1)
	defer s.readers.Add(-1)
	if s.inputDone() && len(s.pending) == 0 {
		return 0, io.EOF
	}
	if s.ended.Load() {
		return 0, ErrState
	}
	if m.side == mux.SideBack && !s.readHead {
		return 0, ErrState
	}
	if s.in.Flags&htx.FlagExpectContinue != 0 && m.side == mux.SideFront {
		if err := s.continue100(); err != nil {
			return 0, err
		}
	}
	for {
		if len(s.pending) > 0 {
			n := copy(p, s.pending)
			s.pending = s.pending[n:]
			return n, nil
		}
		if s.inputDone() {
			return 0, io.EOF
		}
		if s.dec.Done() {
			s.setInDone()
			return 0, io.EOF
		}
		if m.r < m.w {
			k, data, err := s.dec.Decode(m.buf(), s.bodyMsg)
			m.r += k
			if err == nil {
				s.pending = data
				continue
			}
			if err != ErrNeedMore {
				var e *Error
				if m.side == mux.SideFront && !s.wroteHead && errors.As(err, &e) {
					// No response started: answer the refusal, as for a
					// refused head (413 for a body over the limit).
					m.answerError(e.Status)
				}
				s.fail()
				return 0, fmt.Errorf("h1: reading body: %w", err)
			}
		}
		if err := m.fill(); err != nil {
			if err == io.EOF {
				if derr := s.dec.EOF(); derr == nil {
					m.mu.Lock()
					m.dead = true
					m.mu.Unlock()
					continue
				}
				err = io.ErrUnexpectedEOF
			}
			s.fail()
			return 0, fmt.Errorf("h1: reading body: %w", err)
		}
	}
}

// continue100 sends the client the 100 Continue it waits for before it
// sends its body, once, unless a response head went already; the writes'
// lock orders it with WriteResponse, which may forward a server's own.
func (s *Stream) continue100() error {
	s.m.wmu.Lock()
	defer s.m.wmu.Unlock()
	if s.sent100 || s.wroteHead {
		return nil
	}
	s.sent100 = true
	if _, err := io.WriteString(s.m.t, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
		return fmt.Errorf("h1: sending 100 Continue: %w", err)
	}
	return nil
}

// WriteResponse sends a response head (front side). An interim (1xx)
// response is sent at once and another WriteResponse must follow, except
// after 101, which switches the connection to a tunnel ([Stream.Tunnel]).
// The final head is sent with the first Write or with Finish. The
// connection is kept alive unless the request or m asks to close, the
// framing needs it, or the request body was not read to its end. A 100
// Continue goes once: after the stream's own (sent as the body is first
// read) a server's is dropped.
func (s *Stream) WriteResponse(m *htx.Message) error {
	if s.m.side != mux.SideFront || s.wroteHead || s.ended.Load() {
		return ErrState
	}
	s.m.wmu.Lock()
	defer s.m.wmu.Unlock()
	saved := m.Flags
	defer func() { m.Flags = saved }()
	s.m.smu.Lock()
	s.closing = s.closing || s.req&htx.FlagClose != 0 || m.Flags&htx.FlagClose != 0
	closing := s.closing
	s.m.smu.Unlock()
	if closing {
		m.Flags |= htx.FlagClose
	} else if s.reqVersion == htx.Version10 {
		m.Flags |= htx.FlagKeepAlive
	}
	if m.Status == 100 {
		// A client is told to go on once: the stream sends its own
		// when the body is first read, and a server's that follows is
		// dropped (or the server's goes, and the stream's is not sent).
		if s.sent100 {
			return nil
		}
		s.sent100 = true
	}
	if m.Status < 200 {
		if m.Status == 101 {
			if s.req&htx.FlagUpgrade == 0 {
				return fmt.Errorf("%w: 101 answers no upgrade request", ErrState)
			}
			m.Flags |= htx.FlagUpgrade
			m.Flags &^= htx.FlagClose
		}
		buf, _ := appendResponse(s.wbuf[:0], m, s.req, s.reqVersion, s.m.fieldCase())
		s.wbuf = buf[:0]
		if _, err := s.m.t.Write(buf); err != nil {
			s.failWrite()
			return fmt.Errorf("h1: writing interim response: %w", err)
		}
		if m.Status == 101 {
			s.m.smu.Lock()
			s.wroteHead, s.outDone, s.canTunnel = true, true, true
			s.m.smu.Unlock()
		}
		return nil
	}
	s.wbuf, s.framing = appendResponse(s.wbuf[:0], m, s.req, s.reqVersion, s.m.fieldCase())
	s.m.smu.Lock()
	if s.framing == FrameClose {
		s.closing = true
	}
	if s.req&htx.FlagConnect != 0 && m.Status < 300 {
		s.canTunnel = true
	}
	s.m.smu.Unlock()
	s.remain = m.ContentLength
	s.wroteHead = true
	if s.framing == FrameNone {
		return s.finish(nil)
	}
	return nil
}

// WriteRequest sends a request head (back side). A request without a
// body is sent at once and complete; otherwise the head goes with the
// first Write or with Finish.
func (s *Stream) WriteRequest(m *htx.Message) error {
	if s.m.side != mux.SideBack || s.wroteHead || s.ended.Load() {
		return ErrState
	}
	s.m.wmu.Lock()
	defer s.m.wmu.Unlock()
	s.req, s.reqVersion = m.Flags|htx.FlagRequest, htx.Version11
	s.m.smu.Lock()
	s.closing = m.Flags&htx.FlagClose != 0
	s.m.smu.Unlock()
	s.wbuf, s.framing = appendRequest(s.wbuf[:0], m, s.m.fieldCase())
	s.remain = m.ContentLength
	s.wroteHead = true
	if s.framing == FrameNone {
		return s.finish(nil)
	}
	return nil
}

// Write sends body bytes of the outgoing message, framed as its head
// declared.
func (s *Stream) Write(p []byte) (int, error) {
	if !s.wroteHead || s.outDone || s.ended.Load() {
		return 0, ErrState
	}
	if len(p) == 0 {
		return 0, nil
	}
	m := s.m
	m.wmu.Lock()
	defer m.wmu.Unlock()
	switch s.framing {
	case FrameNone:
		return 0, fmt.Errorf("%w: the message has no body", ErrBodyLength)
	case FrameLength:
		if int64(len(p)) > s.remain {
			return 0, fmt.Errorf("%w: %d bytes over", ErrBodyLength, int64(len(p))-s.remain)
		}
		s.remain -= int64(len(p))
	case FrameChunked:
		s.wbuf = AppendChunkHeader(s.wbuf, len(p))
	}
	if len(s.wbuf)+len(p) <= DefaultBufSize {
		s.wbuf = append(s.wbuf, p...)
		if s.framing == FrameChunked {
			s.wbuf = append(s.wbuf, "\r\n"...)
		}
		return len(p), s.flush(false)
	}
	if err := s.flush(false); err != nil {
		return 0, err
	}
	n, err := m.t.Write(p)
	if err != nil {
		s.failWrite()
		return n, fmt.Errorf("h1: writing body: %w", err)
	}
	if s.framing == FrameChunked {
		s.wbuf = append(s.wbuf, "\r\n"...)
	}
	return n, nil
}

// flush writes out the buffered bytes; the caller holds m.wmu. reader
// says the reading side calls it.
func (s *Stream) flush(reader bool) error {
	if len(s.wbuf) == 0 {
		return nil
	}
	_, err := s.m.t.Write(s.wbuf)
	s.wbuf = s.wbuf[:0]
	if err != nil {
		if reader {
			s.fail()
		} else {
			s.failWrite()
		}
		return fmt.Errorf("h1: writing: %w", err)
	}
	return nil
}

// Finish ends the outgoing message, sending trailers' trailer fields on a
// chunked body (trailers may be nil, and are dropped on other framings).
// A Content-Length body must be complete. A close-delimited body ends by
// closing the connection's write side.
func (s *Stream) Finish(trailers *htx.Message) error {
	s.m.wmu.Lock()
	defer s.m.wmu.Unlock()
	return s.finish(trailers)
}

// finish is Finish with m.wmu held.
func (s *Stream) finish(trailers *htx.Message) error {
	if !s.wroteHead || s.ended.Load() {
		return ErrState
	}
	if s.outDone {
		return nil
	}
	switch s.framing {
	case FrameLength:
		if s.remain != 0 {
			s.failWrite()
			return fmt.Errorf("%w: %d bytes missing", ErrBodyLength, s.remain)
		}
	case FrameChunked:
		s.wbuf = AppendLastChunk(s.wbuf, trailers)
	}
	if err := s.flush(false); err != nil {
		return err
	}
	if s.framing == FrameClose {
		_ = s.m.t.CloseWrite()
	}
	s.m.smu.Lock()
	s.outDone = true
	cut := s.m.side == mux.SideFront && !s.inDone
	busy := false
	if cut {
		// A Read running now owns the decoder and the buffer; a Read
		// starting later finds inDone and returns io.EOF.
		busy = s.readers.Load() > 0
		if busy || !s.dec.Done() {
			// The request body was not read to its end: its rest would
			// be taken for the next request, so the connection cannot be
			// reused.
			s.closing = true
		}
		if !busy {
			s.pending = nil
		}
		s.inDone = true
	}
	s.m.smu.Unlock()
	// A Read in progress keeps the read buffer: it is left to it.
	s.maybeEnd(!busy)
	return nil
}

// ReadResponse reads the next response head into resp (back side),
// sending first whatever of the request is still buffered. An interim
// (1xx) response is returned as is; call again for the final one. After
// a 101, or a 2xx answer to CONNECT, the connection is a tunnel
// ([Stream.Tunnel]). A response the parser refuses returns an [*Error]
// with status 502 and the connection is not reused.
func (s *Stream) ReadResponse(resp *htx.Message) error {
	m := s.m
	if m.side != mux.SideBack || !s.wroteHead || s.readHead || s.ended.Load() {
		return ErrState
	}
	// What the request left buffered goes first, unless a body is being
	// written meanwhile: that writer flushes it, and the server may
	// answer before taking the whole body.
	if m.wmu.TryLock() {
		err := s.flush(true)
		m.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	for {
		if m.rb != nil && m.r < m.w {
			n, err := s.parser.ParseResponse(m.buf(), resp, s.req)
			if err == nil {
				m.r += n
				if resp.Status < 200 && resp.Status != 101 {
					return nil
				}
				s.resp = resp.Flags
				m.smu.Lock()
				s.readHead = true
				if resp.Flags&htx.FlagClose != 0 {
					s.closing = true
				}
				if resp.Flags&htx.FlagTunnel != 0 {
					s.canTunnel = true
				}
				m.smu.Unlock()
				s.dec.Reset(resp)
				if s.dec.Done() {
					s.setInDone()
				} else {
					// Read appends trailers to the message the body
					// belongs to.
					s.bodyMsg = resp
				}
				return nil
			}
			if err != ErrNeedMore {
				s.fail()
				return fmt.Errorf("h1: response from %s: %w", m.t.RemoteAddr(), err)
			}
		}
		if err := m.fill(); err != nil {
			s.fail()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("h1: reading response head from %s: %w", m.t.RemoteAddr(), err)
		}
	}
}

// Buffered returns how many bytes were read from the connection past what
// was parsed: on the back side, right after ReadResponse, the start of
// the response's body that came with its head, as it was sent (chunked
// framing included).
func (s *Stream) Buffered() int {
	m := s.m
	if m.rb == nil {
		return 0
	}
	return m.w - m.r
}

// Tunnel returns the connection as a byte stream after a 101 response or
// a successful CONNECT, for WebSocket and other upgraded protocols. Bytes
// already read past the head are returned first. The HTTP exchange ends:
// the connection will carry no further request.
func (s *Stream) Tunnel() (mux.Tunnel, error) {
	if !s.canTunnel || s.ended.Load() {
		return nil, ErrNoTunnel
	}
	s.m.wmu.Lock()
	err := s.flush(true)
	s.m.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	m := s.m
	var rest []byte
	if m.rb != nil && m.r < m.w {
		rest = append([]byte(nil), m.buf()...)
	}
	m.putBuf()
	s.tunnel = true
	s.ended.Store(true)
	m.mu.Lock()
	m.busy, m.dead = false, true
	m.mu.Unlock()
	return &tunnel{Transport: m.t, m: m, rest: rest, id: s.id}, nil
}

// Close ends the stream. An exchange that has not completed is aborted by
// closing the connection.
func (s *Stream) Close() error {
	if s.ended.Load() {
		return nil
	}
	s.m.smu.Lock()
	complete := s.outDone && (s.inDone || s.dec.Done())
	s.m.smu.Unlock()
	if !complete {
		s.fail()
		return nil
	}
	s.maybeEnd(true)
	return nil
}

// fail ends the exchange and the connection after an error on the
// reading side (or with neither side busy).
func (s *Stream) fail() { s.failSide(true) }

// failWrite ends the exchange and the connection after an error on the
// writing side, leaving the read buffer to the reading side.
func (s *Stream) failWrite() { s.failSide(false) }

func (s *Stream) failSide(reader bool) {
	s.m.smu.Lock()
	if s.ended.Load() {
		s.m.smu.Unlock()
		return
	}
	s.ended.Store(true)
	s.m.smu.Unlock()
	s.m.release(s, true, reader)
	_ = s.m.Close()
}

// setInDone records the end of the incoming message, from the reading
// side.
func (s *Stream) setInDone() {
	s.m.smu.Lock()
	s.inDone = true
	s.m.smu.Unlock()
	s.maybeEnd(true)
}

// inputDone reports whether the incoming message ended, or was cut
// short by Finish on the front side.
func (s *Stream) inputDone() bool {
	s.m.smu.Lock()
	defer s.m.smu.Unlock()
	return s.inDone
}

// maybeEnd ends the exchange once both messages are complete; the side
// that completes last ends it. reader says the read buffer is free to
// give back.
func (s *Stream) maybeEnd(reader bool) {
	m := s.m
	m.smu.Lock()
	if s.ended.Load() || !s.outDone || !s.inDone || (m.side == mux.SideBack && !s.readHead) || s.canTunnel {
		// Not complete yet, or a tunnel the caller is expected to take.
		m.smu.Unlock()
		return
	}
	s.ended.Store(true)
	closing := s.closing
	m.smu.Unlock()
	m.release(s, closing, reader)
}

var _ mux.Stream = (*Stream)(nil)

// tunnel is the connection after an upgrade: leftover bytes first, then
// the transport.
type tunnel struct {
	xprt.Transport
	m    *Mux
	rest []byte
	id   uint32
}

func (t *tunnel) ID() uint32 { return t.id }

func (t *tunnel) Read(p []byte) (int, error) {
	if len(t.rest) > 0 {
		n := copy(p, t.rest)
		t.rest = t.rest[n:]
		return n, nil
	}
	return t.Transport.Read(p)
}

// Raw reports the socket only once the leftover bytes are consumed, so a
// splicing channel never skips them.
func (t *tunnel) Raw() (syscall.RawConn, bool) {
	if len(t.rest) > 0 {
		return nil, false
	}
	return t.Transport.Raw()
}

func (t *tunnel) Close() error { return t.m.Close() }

var _ net.Conn = (*tunnel)(nil)

var _ mux.HTTPStream = (*Stream)(nil)

// Unread returns what the mux read and has not parsed, and gives its
// buffer back: after [ErrH2Preface], the bytes another mux must read
// first.
func (m *Mux) Unread() []byte {
	if m.rb == nil || m.r >= m.w {
		return nil
	}
	b := append([]byte(nil), m.buf()...)
	m.r = m.w
	m.putBuf()
	return b
}
