package h2

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// Stream is one HTTP/2 stream: a request and its response. On the front
// side the request head is ready when Accept returns ([Stream.Request]),
// its body comes from Read, and the response goes out with
// WriteResponse, Write and Finish. On the back side the request goes out
// with WriteRequest, Write and Finish, and the response comes back with
// ReadResponse and Read. Reading and writing may run in two goroutines;
// each direction is used by one at a time. Close every stream: a stream
// left open holds a concurrency slot and its unread data's window. Under
// [Config.ReuseStreams] a closed front-side stream must not be used
// again: it may serve a later request once Close returned and its calls
// in progress ended.
type Stream struct {
	m  *Mux
	id uint32

	// calls counts the calls in progress, plus callsClosed once Close
	// found the stream fit to serve again (poolable): the last of them
	// to leave puts it back in streamPool (release).
	calls atomic.Int32

	// Guarded by m.mu.
	counted     bool // in m.streams (once it has an id) and in m.active
	sendWin     int64
	recvWin     int64
	recvUnacked int64
	rbuf        []byte
	roff        int
	recvEOF     bool
	sentEOF     bool
	rst         error
	heads       []*htx.Message
	gotFinal    bool
	userClosed  bool
	noSend      bool // the server asked for no more of the request
	readCond    sync.Cond
	rdl, wdl    time.Time
	timers      [2]*time.Timer

	// Written by the reader goroutine before the stream is shared or
	// under m.mu.
	clSet      bool
	cl         int64
	recvd      int64
	reqHead    bool
	reqConnect bool
	bodyless   bool // the request's HEADERS ended the stream
	timed      bool // a deadline's timer was set
	in         htx.Message
	inStore    *htx.Message // holder of in's storage, back to msgPool once done
	trl        htx.Message

	// Reading side, one goroutine.
	readHead  bool
	bodyMsg   *htx.Message
	trlCopied bool

	// Writing side, one goroutine.
	wroteHead bool
	outFinal  bool
	outDone   bool
	outCLSet  bool
	outCL     int64
	outSent   int64
	canTunnel bool
	tunnel    bool
}

// newStream makes a stream counted in the connection's streams. The
// caller holds m.mu.
func (m *Mux) newStream(id uint32) *Stream {
	var s *Stream
	if id != 0 {
		s = streamPool.Get().(*Stream)
	} else {
		s = new(Stream)
	}
	s.m, s.id, s.counted, s.sendWin, s.recvWin = m, id, true, m.peerInitWin, int64(m.cfg.StreamWindow)
	s.readCond.L = &m.mu
	if id != 0 {
		// A request's head is decoded into storage earlier streams used.
		s.inStore = msgPool.Get().(*htx.Message)
		s.in, *s.inStore = *s.inStore, htx.Message{}
	}
	if id != 0 {
		m.addStreamLocked(s)
		m.active++
	}
	return s
}

// msgPool holds the storage of messages the reader decodes into: the
// request heads of streams done with, and response heads once copied out.
var msgPool = sync.Pool{New: func() any { return new(htx.Message) }}

// streamPool holds the front-side streams done with (Close), zeroed.
var streamPool = sync.Pool{New: func() any { return new(Stream) }}

// callsClosed is added to Stream.calls by a Close that found the stream
// fit to serve again.
const callsClosed = 1 << 30

// enter and leave bracket a call on the stream, so that Close does not
// give the stream to another request while the call still uses it.
func (s *Stream) enter() { s.calls.Add(1) }

func (s *Stream) leave() {
	if s.calls.Add(-1) == callsClosed {
		s.release()
	}
}

// poolable reports whether a stream being closed may serve a later
// request once its calls in progress ended (Config.ReuseStreams): a
// front-side request that
// came whole in its HEADERS, whose storage went back (recycleLocked), no
// longer known to the reader, never a tunnel nor given a deadline (whose
// timer might still fire). The caller holds m.mu.
func (s *Stream) poolable() bool {
	return s.m.cfg.ReuseStreams && s.m.side == mux.SideFront && s.bodyless && s.userClosed && !s.counted && s.recvEOF &&
		s.inStore == nil && !s.tunnel && !s.canTunnel && !s.timed
}

// release zeroes the stream and puts it back in streamPool, once: the
// last call to leave after Close, or Close itself, does it.
func (s *Stream) release() {
	if !s.calls.CompareAndSwap(callsClosed, 0) {
		return
	}
	m := s.m
	m.mu.Lock() // ordered with the reader's and closeWith's look at it
	*s = Stream{}
	m.mu.Unlock()
	streamPool.Put(s)
}

// recycleLocked gives the request head's storage back once the user
// closed the stream and the reader is done with it: the stream left the
// connection after its END_STREAM came, so no frame can reach it. The
// caller holds m.mu.
func (s *Stream) recycleLocked() {
	if s.inStore == nil || s.counted || !s.recvEOF {
		return
	}
	*s.inStore, s.in = s.in, htx.Message{}
	s.inStore.Reset()
	s.trl.Reset()
	msgPool.Put(s.inStore)
	s.inStore = nil
}

// ID is the stream's identifier. On the back side it is 0 until
// WriteRequest sends the request head, since identifiers must reach the
// server in increasing order.
func (s *Stream) ID() uint32 {
	s.enter()
	defer s.leave()
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.id
}

// Request returns the request head (front side). It stays valid until
// the stream is closed, after which its storage serves later streams;
// trailers are added to it once Read returns
// io.EOF.
func (s *Stream) Request() *htx.Message { return &s.in }

// endRecvLocked marks END_STREAM received.
func (s *Stream) endRecvLocked() {
	s.recvEOF = true
	if s.sentEOF {
		s.m.removeLocked(s)
	}
}

// resetLocked ends the stream after RST_STREAM (either way) or a GOAWAY
// it was beyond. Unread data's window goes back to the connection.
func (s *Stream) resetLocked(err error) {
	if s.rst == nil {
		s.rst = err
	}
	s.m.recvUnacked += int64(len(s.rbuf) - s.roff)
	s.rbuf, s.roff = nil, 0
	s.m.removeLocked(s)
	s.readCond.Broadcast()
	s.m.cond.Broadcast()
}

// connGone wakes the stream's waiters when the connection ends.
func (s *Stream) connGone() {
	s.readCond.Broadcast()
}

func (s *Stream) deadErrLocked() error {
	if s.rst != nil {
		return s.rst
	}
	if s.m.closed {
		return fmt.Errorf("%w: %w", ErrClosed, s.m.errLocked())
	}
	return nil
}

// Read reads the body of the incoming message (the request on the front
// side, the response on the back side after ReadResponse). It returns
// io.EOF at the end of the body; trailers, if any, are then in that
// message's trailer list. Consumed bytes are returned to the peer as
// flow-control credit.
func (s *Stream) Read(p []byte) (int, error) {
	s.enter()
	defer s.leave()
	m := s.m
	if m.side == mux.SideBack && !s.readHead {
		return 0, ErrState
	}
	m.mu.Lock()
	for {
		if s.rst != nil {
			err := s.rst
			m.mu.Unlock()
			return 0, err
		}
		if s.roff < len(s.rbuf) {
			n := copy(p, s.rbuf[s.roff:])
			s.roff += n
			if s.roff == len(s.rbuf) {
				s.rbuf, s.roff = s.rbuf[:0], 0
			}
			s.recvUnacked += int64(n)
			var sinc int64
			if !s.recvEOF && s.recvUnacked >= int64(m.cfg.StreamWindow)/4 {
				sinc = s.recvUnacked
				s.recvUnacked = 0
				s.recvWin += sinc
			}
			m.recvUnacked += int64(n)
			var cinc int64
			if m.recvUnacked >= int64(m.cfg.ConnWindow)/4 {
				cinc = m.recvUnacked
				m.recvUnacked = 0
				m.recvWin += cinc
			}
			id := s.id
			m.mu.Unlock()
			if sinc > 0 || cinc > 0 {
				_ = m.write(true, func() error {
					if sinc > 0 {
						if err := m.fr.WriteWindowUpdate(id, uint32(sinc)); err != nil {
							return err
						}
					}
					if cinc > 0 {
						return m.fr.WriteWindowUpdate(0, uint32(cinc))
					}
					return nil
				})
			}
			return n, nil
		}
		if s.recvEOF {
			m.mu.Unlock()
			s.copyTrailers()
			return 0, io.EOF
		}
		if err := s.deadErrLocked(); err != nil {
			m.mu.Unlock()
			return 0, err
		}
		if !s.rdl.IsZero() && !time.Now().Before(s.rdl) {
			m.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		s.readCond.Wait()
	}
}

func (s *Stream) copyTrailers() {
	if s.trlCopied {
		return
	}
	s.trlCopied = true
	dst := s.bodyMsg
	if s.m.side == mux.SideFront {
		dst = &s.in
	}
	if dst == nil {
		return
	}
	for i := 0; i < s.trl.NumTrailers(); i++ {
		n, v := s.trl.Trailer(i)
		dst.AddTrailerBytes(n, v)
	}
}

// WriteResponse sends a response head (front side). An interim (1xx)
// response leaves at once and another must follow; 101 does not exist
// in HTTP/2. A final head without body (HEAD, 204, 304, a zero
// Content-Length, FlagBodyless) ends the stream; otherwise the body
// follows with Write and Finish, and the head leaves with the first of
// them.
func (s *Stream) WriteResponse(msg *htx.Message) error {
	s.enter()
	defer s.leave()
	m := s.m
	if m.side != mux.SideFront || s.outFinal {
		return ErrState
	}
	if msg.Status == 101 || msg.Status < 100 || msg.Status > 999 {
		return fmt.Errorf("%w: status %d cannot be sent over HTTP/2", ErrState, msg.Status)
	}
	interim := msg.Status < 200
	tunnel := s.reqConnect && msg.Status >= 200 && msg.Status < 300
	bodyless := !interim && !tunnel && (s.reqHead || msg.Status == 204 || msg.Status == 304 ||
		msg.Flags&htx.FlagBodyless != 0 || (msg.Flags&htx.FlagContentLength != 0 && msg.ContentLength == 0))
	if err := s.writeHead(msg, bodyless, interim || bodyless || tunnel, func() {
		m.encodeString(":status", statusText(msg.Status))
		m.encodeFields(msg, false, false)
		if msg.Flags&htx.FlagContentLength != 0 && msg.Status != 204 && !interim && !tunnel {
			m.encodeInt("content-length", msg.ContentLength)
		}
	}); err != nil {
		return err
	}
	if interim {
		return nil
	}
	s.outFinal = true
	s.canTunnel = tunnel
	s.outCLSet, s.outCL = msg.Flags&htx.FlagContentLength != 0 && !bodyless, msg.ContentLength
	return nil
}

// WriteRequest sends a request head (back side), giving the stream its
// identifier. A request without a body (FlagBodyless, or a zero
// Content-Length) ends the stream; otherwise the body follows with Write
// and Finish. It fails with an error wrapping [ErrRefused] when the
// server's GOAWAY came first.
func (s *Stream) WriteRequest(msg *htx.Message) error {
	m := s.m
	if m.side != mux.SideBack || s.wroteHead {
		return ErrState
	}
	connect := msg.Flags&htx.FlagConnect != 0 || msg.MethodIs("CONNECT")
	bodyless := !connect && (msg.Flags&htx.FlagBodyless != 0 ||
		(msg.Flags&htx.FlagContentLength != 0 && msg.ContentLength == 0))
	s.reqHead = msg.Flags&htx.FlagHead != 0 || msg.MethodIs("HEAD")
	s.reqConnect = connect
	authority := msg.Authority()
	if len(authority) == 0 {
		if h, ok := msg.Get("host"); ok {
			authority = h
		}
	}
	if err := s.writeHead(msg, bodyless, true, func() {
		m.encode(pseudoMethod, msg.Method())
		if !connect {
			scheme := msg.Scheme()
			if len(scheme) == 0 {
				scheme = schemeHTTP
				if m.t.Info().TLS {
					scheme = schemeHTTPS
				}
			}
			m.encode(pseudoScheme, scheme)
		}
		if len(authority) != 0 {
			m.encode(pseudoAuthority, authority)
		}
		if !connect {
			path := msg.Path()
			if len(path) == 0 {
				path = rootPath
			}
			m.encode(pseudoPath, path)
		}
		m.encodeFields(msg, false, true)
		if msg.HasToken("te", "trailers") {
			m.encodeString("te", "trailers")
		}
		if msg.Flags&htx.FlagContentLength != 0 && !connect {
			m.encodeInt("content-length", msg.ContentLength)
		}
	}); err != nil {
		return err
	}
	s.canTunnel = connect
	s.outCLSet, s.outCL = msg.Flags&htx.FlagContentLength != 0 && !bodyless && !connect, msg.ContentLength
	return nil
}

// writeHead encodes and sends a header block. On the back side the
// first one also gives the stream its identifier, inside the writer's
// lock so that identifiers leave in increasing order.
func (s *Stream) writeHead(msg *htx.Message, endStream, flush bool, build func()) error {
	m := s.m
	if s.outDone {
		return ErrState
	}
	var refused, dead error
	err := m.write(flush, func() error {
		m.mu.Lock()
		if err := s.deadErrLocked(); err != nil {
			dead = err
			m.mu.Unlock()
			return nil
		}
		if s.id == 0 {
			if m.goawayRecv {
				refused = fmt.Errorf("%w: server sent GOAWAY", ErrRefused)
				m.removeLocked(s)
				m.mu.Unlock()
				return nil
			}
			s.id = m.nextID
			m.nextID += 2
			m.addStreamLocked(s)
		}
		id := s.id
		if endStream {
			s.markSentLocked()
		}
		m.mu.Unlock()
		m.hblock = m.hblock[:0]
		build()
		return m.writeBlock(id, endStream)
	})
	switch {
	case refused != nil:
		return refused
	case dead != nil:
		return dead
	case err != nil:
		return err
	}
	s.wroteHead = true
	s.outDone = endStream
	return nil
}

// markSentLocked records END_STREAM as sent. It runs before the frame
// leaves, with the writer held, so that the peer's next frame on the
// stream always finds the state the END_STREAM made.
func (s *Stream) markSentLocked() {
	s.sentEOF = true
	if s.recvEOF {
		s.m.removeLocked(s)
	}
}

// Write sends body data of the outgoing message, as the peer's flow
// control windows allow; it blocks while they are closed. Frames leave
// shortly after, batched with what other streams write meanwhile; the
// last bytes of a body whose Content-Length was declared leave with
// Finish.
func (s *Stream) Write(p []byte) (int, error) {
	s.enter()
	defer s.leave()
	if !s.wroteHead || s.outDone || (s.m.side == mux.SideFront && !s.outFinal) {
		return 0, ErrState
	}
	if s.outCLSet && s.outSent+int64(len(p)) > s.outCL {
		return 0, fmt.Errorf("%w: %d bytes over", ErrBodyLength, s.outSent+int64(len(p))-s.outCL)
	}
	m := s.m
	m.mu.Lock()
	discard := s.noSend
	m.mu.Unlock()
	if discard {
		s.outSent += int64(len(p))
		return len(p), nil
	}
	written := 0
	for len(p) > 0 {
		m.mu.Lock()
		for {
			if err := s.deadErrLocked(); err != nil {
				m.mu.Unlock()
				return written, err
			}
			if s.noSend {
				m.mu.Unlock()
				s.outSent += int64(len(p))
				return written + len(p), nil
			}
			if s.sendWin > 0 && m.sendWin > 0 {
				break
			}
			if !s.wdl.IsZero() && !time.Now().Before(s.wdl) {
				m.mu.Unlock()
				return written, os.ErrDeadlineExceeded
			}
			m.cond.Wait()
		}
		n := int64(len(p))
		n = min(n, s.sendWin, m.sendWin, int64(m.peerMaxFrame))
		s.sendWin -= n
		m.sendWin -= n
		id := s.id
		m.mu.Unlock()
		chunk := p[:n]
		p = p[n:]
		// The flusher sends the chunk, with whatever follows it before
		// this goroutine waits (more data, END_STREAM, other streams).
		// The end of a Content-Length body waits for Finish, so that
		// END_STREAM (or the trailers) leave in the same write.
		last := s.outCLSet && s.outSent+n == s.outCL
		if err := m.write(!last, func() error { return m.writeData(id, false, chunk) }); err != nil {
			return written, err
		}
		written += int(n)
		s.outSent += n
	}
	return written, nil
}

// Finish ends the outgoing message, with trailers' trailer fields in a
// last HEADERS frame when there are any. A Content-Length body must be
// complete; if it is not, the stream is reset.
func (s *Stream) Finish(trailers *htx.Message) error {
	s.enter()
	defer s.leave()
	m := s.m
	if !s.wroteHead || (m.side == mux.SideFront && !s.outFinal) {
		return ErrState
	}
	if s.outDone {
		return nil
	}
	if s.outCLSet && s.outSent != s.outCL {
		m.resetStream(s.id, http2.ErrCodeInternal)
		return fmt.Errorf("%w: %d bytes missing", ErrBodyLength, s.outCL-s.outSent)
	}
	var dead error
	err := m.write(true, func() error {
		m.mu.Lock()
		dead = s.deadErrLocked()
		skip := s.noSend
		if dead == nil && !skip {
			s.markSentLocked()
		}
		m.mu.Unlock()
		if dead != nil || skip {
			return nil
		}
		if trailers != nil && trailers.NumTrailers() > 0 {
			m.hblock = m.hblock[:0]
			m.encodeFields(trailers, true, false)
			return m.writeBlock(s.id, true)
		}
		return m.writeData(s.id, true, nil)
	})
	if dead != nil {
		return dead
	}
	if err != nil {
		return err
	}
	s.outDone = true
	return nil
}

// ReadResponse reads the next response head into resp (back side). An
// interim (1xx) response is returned as is; call again for the final
// one.
func (s *Stream) ReadResponse(resp *htx.Message) error {
	m := s.m
	if m.side != mux.SideBack || !s.wroteHead || s.readHead {
		return ErrState
	}
	m.mu.Lock()
	for len(s.heads) == 0 {
		if err := s.deadErrLocked(); err != nil {
			m.mu.Unlock()
			return err
		}
		if s.recvEOF {
			m.mu.Unlock()
			return fmt.Errorf("%w: stream %d ended without a response", ErrProtocol, s.id)
		}
		if !s.rdl.IsZero() && !time.Now().Before(s.rdl) {
			m.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
		s.readCond.Wait()
	}
	h := s.heads[0]
	s.heads[0] = nil
	s.heads = s.heads[1:]
	m.mu.Unlock()
	resp.CopyFrom(h)
	h.Reset()
	msgPool.Put(h)
	if resp.Status >= 200 {
		s.readHead = true
		s.bodyMsg = resp
	}
	return nil
}

// Tunnel turns the stream into a byte stream after a CONNECT request
// answered with 2xx: Read and Write carry DATA frames, CloseWrite ends
// the outgoing side with END_STREAM.
func (s *Stream) Tunnel() (mux.Tunnel, error) {
	s.enter()
	defer s.leave()
	if !s.canTunnel || (s.m.side == mux.SideBack && !s.readHead) || s.tunnel {
		return nil, ErrNoTunnel
	}
	s.tunnel = true
	return &tunnel{s: s}, nil
}

// Close ends the stream. A stream whose messages are not both complete
// is reset: with CANCEL, or NO_ERROR when the response was complete and
// the request body is no longer wanted (RFC 9113 §8.1).
func (s *Stream) Close() error {
	m := s.m
	m.mu.Lock()
	if s.userClosed {
		m.mu.Unlock()
		return nil
	}
	s.userClosed = true
	for i, t := range s.timers {
		if t != nil {
			t.Stop()
			s.timers[i] = nil
		}
	}
	id := s.id
	rst := s.counted && s.rst == nil && !m.closed && id != 0
	code := http2.ErrCodeCancel
	if m.side == mux.SideFront && s.sentEOF {
		code = http2.ErrCodeNo
	}
	if rst {
		s.resetLocked(&ResetError{StreamID: id, Code: code})
		m.rememberResetLocked(id)
	} else {
		m.recvUnacked += int64(len(s.rbuf) - s.roff)
		s.rbuf, s.roff = nil, 0
		m.removeLocked(s)
	}
	s.recycleLocked()
	pool := s.poolable()
	m.mu.Unlock()
	if rst {
		_ = m.write(true, func() error { return m.fr.WriteRSTStream(id, code) })
	}
	m.returnConnCredit(0, false)
	if pool && s.calls.Add(callsClosed) == callsClosed {
		s.release()
	}
	return nil
}

func (s *Stream) setDeadline(t time.Time, read, write bool) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	set := func(i int, dl *time.Time) {
		*dl = t
		if s.timers[i] != nil {
			s.timers[i].Stop()
			s.timers[i] = nil
		}
		if !t.IsZero() {
			s.timed = true
			s.timers[i] = time.AfterFunc(time.Until(t), func() {
				m.mu.Lock()
				s.readCond.Broadcast()
				m.cond.Broadcast()
				m.mu.Unlock()
			})
		}
	}
	if read {
		set(0, &s.rdl)
	}
	if write {
		set(1, &s.wdl)
	}
	s.readCond.Broadcast()
	m.cond.Broadcast()
}

var _ mux.HTTPStream = (*Stream)(nil)

// tunnel is a stream after CONNECT, seen as a transport.
type tunnel struct {
	s *Stream
}

func (t *tunnel) ID() uint32                         { return t.s.ID() }
func (t *tunnel) Read(p []byte) (int, error)         { return t.s.Read(p) }
func (t *tunnel) Write(p []byte) (int, error)        { return t.s.Write(p) }
func (t *tunnel) Close() error                       { return t.s.Close() }
func (t *tunnel) CloseWrite() error                  { return t.s.Finish(nil) }
func (t *tunnel) LocalAddr() net.Addr                { return t.s.m.t.LocalAddr() }
func (t *tunnel) RemoteAddr() net.Addr               { return t.s.m.t.RemoteAddr() }
func (t *tunnel) Name() string                       { return "h2" }
func (t *tunnel) Handshake(context.Context) error    { return nil }
func (t *tunnel) Raw() (syscall.RawConn, bool)       { return nil, false }
func (t *tunnel) Info() xprt.Info                    { return t.s.m.t.Info() }
func (t *tunnel) SetDeadline(d time.Time) error      { t.s.setDeadline(d, true, true); return nil }
func (t *tunnel) SetReadDeadline(d time.Time) error  { t.s.setDeadline(d, true, false); return nil }
func (t *tunnel) SetWriteDeadline(d time.Time) error { t.s.setDeadline(d, false, true); return nil }

var _ mux.Tunnel = (*tunnel)(nil)
