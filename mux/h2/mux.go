package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func init() {
	mux.Register(mux.Entry{
		Name:  "h2",
		ALPN:  "h2",
		Modes: mux.ModeHTTP,
		Sides: mux.SideFront | mux.SideBack,
		New:   func(t xprt.Transport, side mux.Side) (mux.Mux, error) { return New(t, side, Config{}) },
	})
}

// Errors the mux returns.
var (
	// ErrClosed is returned by a closed mux or a stream of one.
	ErrClosed = errors.New("h2: connection closed")
	// ErrNoStreams is returned by Open when the connection cannot carry
	// another stream now: the server's SETTINGS_MAX_CONCURRENT_STREAMS is
	// reached, it sent GOAWAY, or stream identifiers ran out. A pool
	// should open another connection.
	ErrNoStreams = errors.New("h2: no stream available on connection")
	// ErrStreamReset is wrapped by every [*ResetError].
	ErrStreamReset = errors.New("h2: stream reset")
	// ErrRefused is wrapped by errors of streams the peer never
	// processed (REFUSED_STREAM, or beyond the last stream of its
	// GOAWAY): the request may safely be retried on another connection.
	ErrRefused = errors.New("h2: stream refused by peer, safe to retry")
	// ErrState is returned when a stream method is called out of order,
	// such as Write before the head was written.
	ErrState = errors.New("h2: stream method called out of order")
	// ErrBodyLength is returned when the body written disagrees with the
	// Content-Length the head declared.
	ErrBodyLength = errors.New("h2: body length differs from Content-Length")
	// ErrNoTunnel is returned by Tunnel when the exchange was not a
	// CONNECT answered with 2xx.
	ErrNoTunnel = errors.New("h2: exchange did not open a tunnel")
	// ErrProtocol is wrapped by errors reporting a peer that broke the
	// protocol; the connection was closed with a GOAWAY.
	ErrProtocol = errors.New("h2: protocol error")
)

// ResetError reports a stream ended by RST_STREAM, sent by the peer
// (Remote) or by this end after a stream error.
type ResetError struct {
	StreamID uint32
	Code     http2.ErrCode
	Remote   bool
}

// Error describes the reset: the stream, who reset it and the code.
func (e *ResetError) Error() string {
	who := "by us"
	if e.Remote {
		who = "by peer"
	}
	return fmt.Sprintf("h2: stream %d reset %s: %v", e.StreamID, who, e.Code)
}

// Unwrap returns ErrStreamReset, and ErrRefused for REFUSED_STREAM from
// the peer.
func (e *ResetError) Unwrap() []error {
	if e.Remote && e.Code == http2.ErrCodeRefusedStream {
		return []error{ErrStreamReset, ErrRefused}
	}
	return []error{ErrStreamReset}
}

// GoAwayError reports a connection ended by a GOAWAY, received from the
// peer (Remote) or sent after a connection error.
type GoAwayError struct {
	Code   http2.ErrCode
	Remote bool
	Debug  string
}

// Error describes the connection error: the code and its debug data,
// and whether the peer sent it.
func (e *GoAwayError) Error() string {
	if e.Remote {
		return fmt.Sprintf("h2: peer sent GOAWAY %v %q", e.Code, e.Debug)
	}
	return fmt.Sprintf("h2: connection error %v: %s", e.Code, e.Debug)
}

// Unwrap returns ErrProtocol for errors this end detected.
func (e *GoAwayError) Unwrap() error {
	if !e.Remote && e.Code != http2.ErrCodeNo {
		return ErrProtocol
	}
	return nil
}

// Config tunes a connection. The zero value is the defaults.
type Config struct {
	// MaxConcurrentStreams is the number of streams the peer may open
	// at once (front side); excess streams are refused. Default 100.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize caps a received header list (names, values and
	// 32 bytes per field, RFC 9113 §6.5.2) and, encoded, a header block.
	// Default 64 KiB.
	MaxHeaderListSize uint32
	// MaxContinuations caps the CONTINUATION frames of one header block;
	// more closes the connection with ENHANCE_YOUR_CALM. Default 32.
	MaxContinuations int
	// StreamWindow is the receive window of each stream. Default 256 KiB.
	StreamWindow uint32
	// ConnWindow is the receive window of the connection, shared by its
	// streams. Default 1 MiB.
	ConnWindow uint32
	// MaxResets and ResetWindow bound the streams a client may reset
	// before their response completes: more than MaxResets within
	// ResetWindow closes the connection with GOAWAY ENHANCE_YOUR_CALM.
	// Defaults 200 and 10 s.
	MaxResets   int
	ResetWindow time.Duration
	// Logger receives connection errors at debug level. Default
	// slog.Default().
	Logger *slog.Logger
	// ReuseStreams lets a front-side stream whose request came without
	// a body serve a later request once Close returned and its calls in
	// progress ended, saving an allocation per request. The caller then
	// must not use a stream after closing it, nor close it twice: the
	// stream may be another request's by then. Off by default, where a
	// closed stream stays the caller's and a second Close is harmless.
	ReuseStreams bool
}

func (c *Config) setDefaults() {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 100
	}
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = 64 << 10
	}
	if c.MaxContinuations == 0 {
		c.MaxContinuations = 32
	}
	if c.StreamWindow == 0 {
		c.StreamWindow = 256 << 10
	}
	if c.StreamWindow > maxWindow {
		c.StreamWindow = maxWindow
	}
	if c.ConnWindow < initialWindow {
		c.ConnWindow = 1 << 20
	}
	if c.ConnWindow > maxWindow {
		c.ConnWindow = maxWindow
	}
	if c.MaxResets == 0 {
		c.MaxResets = 200
	}
	if c.ResetWindow == 0 {
		c.ResetWindow = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

const (
	initialWindow   = 65535
	maxWindow       = 1<<31 - 1
	defaultMaxFrame = 16384
	recentResets    = 64
)

// Mux is the HTTP/2 mux over one connection.
type Mux struct {
	t    xprt.Transport
	side mux.Side
	cfg  Config

	// Writing: wmu serialises the framer's write half, the HPACK encoder
	// and the buffered writer. Lock order: wmu may be held while taking
	// mu, never the reverse.
	wmu       sync.Mutex
	bw        lazyWriter
	fr        *http2.Framer
	henc      *hpackEncoder // nil once an idle connection let it go: see newEncoder
	peerTable uint32        // the peer's SETTINGS_HEADER_TABLE_SIZE
	hblock    []byte        // the header block being built
	needFlush bool
	werr      error
	lower     []byte
	num       []byte
	fhdr      [9]byte // a frame's header, written by writeData and writeBlock

	// flushing says a flusher goroutine runs: started by the write that
	// asks for a flush, it writes out what the writers left in bw once
	// they have all had their turn, and ends when a turn finds nothing
	// to flush, so an idle connection has none. noFlush, set by Close,
	// starts no more; flushEnd (on wmu) tells Close the last one ended.
	flushing bool
	noFlush  bool
	flushEnd sync.Cond
	flushFn  func() // flusher, bound once: a go statement with a receiver allocates

	// Reading, owned by the reader goroutine.
	br lazyReader
	// idle holds the socket while the reader is parked (readLoop);
	// readParkFn is readLoop, made once; noPark is set where parking is
	// not supported; parks counts the parks. prefaceRead and settingsRead
	// survive a park.
	idle         xprt.IdleWait
	readParkFn   func()
	noPark       bool
	parks        atomic.Uint32
	prefaceRead  bool
	settingsRead bool
	hdec         *hpack.Decoder
	hs           headerState
	resets       int
	resetsAt     int64 // since epoch, when the window of resets began; 0: none yet

	mu           sync.Mutex
	cond         sync.Cond          // signalled when send windows, streams or the connection change
	streams      map[uint32]*Stream // nil while none is open, once the reader parked
	active       int
	closed       bool
	err          error // why the connection ended
	goawaySent   bool
	goawayRecv   bool
	peerLast     uint32 // last stream id in the peer's GOAWAY
	maxPeerID    uint32 // highest stream id the peer opened
	nextID       uint32 // back side: next stream id
	sendWin      int64
	recvWin      int64 // what the peer may still send on the connection
	recvUnacked  int64 // consumed, not yet returned with WINDOW_UPDATE
	peerInitWin  int64
	peerMaxFrame uint32
	peerMaxStrm  uint32
	peerMaxList  uint32
	recentReset  *[recentResets]uint32 // made at the first reset
	recentN      int
	drained      chan struct{}

	// acceptQ holds the streams ready for Accept (front side), oldest
	// first; acceptSig, made by the first Accept that has to wait, holds
	// a token while acceptQ may not be empty. Both are guarded by mu.
	acceptQ   []*Stream
	acceptSig chan struct{}
	notify    func()         // AcceptNotify's, guarded by mu
	done      chan struct{}  // closed when the connection ends
	reader    sync.WaitGroup // the reader goroutine, until it ends
	closeOnce sync.Once
}

var clientPreface = []byte(http2.ClientPreface)

// epoch anchors the connections' clocks kept as nanoseconds since it.
var epoch = time.Now()

// New builds an HTTP/2 mux over t for the given side and starts its
// reader. The front side expects the client's preface; the back side
// sends it. Both send their SETTINGS at once.
func New(t xprt.Transport, side mux.Side, cfg Config) (*Mux, error) {
	if side != mux.SideFront && side != mux.SideBack {
		return nil, fmt.Errorf("h2: side must be front or back, got %v", side)
	}
	cfg.setDefaults()
	m := &Mux{
		t:            t,
		side:         side,
		cfg:          cfg,
		bw:           lazyWriter{w: t},
		br:           newLazyReader(t),
		sendWin:      initialWindow,
		recvWin:      int64(cfg.ConnWindow),
		peerInitWin:  initialWindow,
		peerMaxFrame: defaultMaxFrame,
		peerMaxStrm:  100, // until the peer's SETTINGS say otherwise
		nextID:       1,
		done:         make(chan struct{}),
		peerTable:    initialHeaderTable,
	}
	m.cond.L = &m.mu
	m.flushEnd.L = &m.wmu
	m.flushFn = m.flusher
	m.fr = http2.NewFramer(&m.bw, &m.br)
	m.fr.SetMaxReadFrameSize(defaultMaxFrame)
	m.henc = newHPACKEncoder(initialHeaderTable, initialHeaderTable)
	m.hdec = hpack.NewDecoder(4096, m.onField)
	m.hdec.SetMaxStringLength(int(cfg.MaxHeaderListSize))

	settings := []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: cfg.StreamWindow},
		{ID: http2.SettingMaxHeaderListSize, Val: cfg.MaxHeaderListSize},
	}
	if side == mux.SideFront {
		settings = append(settings, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: cfg.MaxConcurrentStreams})
	} else {
		settings = append(settings, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}
	err := m.writeNow(func() error {
		if side == mux.SideBack {
			if _, err := m.bw.Write(clientPreface); err != nil {
				return err
			}
		}
		if err := m.fr.WriteSettings(settings...); err != nil {
			return err
		}
		if cfg.ConnWindow > initialWindow {
			return m.fr.WriteWindowUpdate(0, cfg.ConnWindow-initialWindow)
		}
		return nil
	})
	if err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("h2: sending preface to %s: %w", t.RemoteAddr(), err)
	}
	m.reader.Add(1)
	go m.readLoop()
	return m, nil
}

// Name returns "h2".
func (m *Mux) Name() string { return "h2" }

// AvailStreams is how many more streams the connection can carry now:
// on the back side, what the server's SETTINGS_MAX_CONCURRENT_STREAMS
// leaves; on the front side, what ours leaves.
func (m *Mux) AvailStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.goawayRecv || m.goawaySent {
		return 0
	}
	limit := int(m.cfg.MaxConcurrentStreams)
	if m.side == mux.SideBack {
		limit = int(m.peerMaxStrm)
		if m.nextID > maxWindow {
			return 0
		}
	}
	if n := limit - m.active; n > 0 {
		return n
	}
	return 0
}

// UsedStreams is how many streams are open.
func (m *Mux) UsedStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active
}

// Accept waits for the next stream the client opens (front side) and
// returns it, a [*Stream] whose request head is ready. It returns io.EOF
// once the connection ended cleanly (the client closed it, or a graceful
// shutdown completed), and the connection's error otherwise.
func (m *Mux) Accept(ctx context.Context) (mux.Stream, error) {
	if m.side != mux.SideFront {
		return nil, fmt.Errorf("%w: Accept on a back-side connection", ErrState)
	}
	for {
		m.mu.Lock()
		if len(m.acceptQ) > 0 {
			s := m.acceptQ[0]
			n := copy(m.acceptQ, m.acceptQ[1:])
			m.acceptQ[n] = nil
			m.acceptQ = m.acceptQ[:n]
			if n > 0 {
				m.signalAcceptLocked() // for another Accept waiting
			}
			m.mu.Unlock()
			return s, nil
		}
		if m.closed {
			m.mu.Unlock()
			return nil, m.endErr()
		}
		if err := ctx.Err(); err != nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("h2: accept: %w", err)
		}
		if m.acceptSig == nil {
			m.acceptSig = make(chan struct{}, 1)
		}
		sig := m.acceptSig
		m.mu.Unlock()
		select {
		case <-sig:
		case <-m.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("h2: accept: %w", ctx.Err())
		}
	}
}

// signalAcceptLocked wakes an Accept waiting, if any.
func (m *Mux) signalAcceptLocked() {
	if m.acceptSig != nil {
		select {
		case m.acceptSig <- struct{}{}:
		default:
		}
	}
}

// AcceptNotify arranges for fn to be called once, on a goroutine of the
// mux's, when a stream is ready for Accept or the connection has ended,
// and reports true; it reports false, and fn is not kept, when either is
// so already: Accept then returns at once. A server can so let the
// goroutine that waits in Accept go while the client opens nothing, and
// start one again from fn. A later call replaces an earlier fn that has
// not been called.
func (m *Mux) AcceptNotify(fn func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.side != mux.SideFront || len(m.acceptQ) > 0 || m.closed {
		return false
	}
	m.notify = fn
	return true
}

// notifyAccept calls the function AcceptNotify left, if any.
func (m *Mux) notifyAccept() {
	m.mu.Lock()
	fn := m.notify
	m.notify = nil
	m.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (m *Mux) endErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil || errors.Is(m.err, io.EOF) || errors.Is(m.err, ErrClosed) {
		return io.EOF
	}
	var ga *GoAwayError
	if errors.As(m.err, &ga) && ga.Code == http2.ErrCodeNo {
		return io.EOF
	}
	return m.err
}

// Open starts a new stream towards the server (back side) and returns
// it, a [*Stream]: send the request with WriteRequest, then read the
// response with ReadResponse. It does not wait for a stream to become
// free: it fails with [ErrNoStreams] when the server's concurrency limit
// is reached or the connection is going away.
func (m *Mux) Open(ctx context.Context) (mux.Stream, error) {
	if m.side != mux.SideBack {
		return nil, fmt.Errorf("%w: Open on a front-side connection", ErrState)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("h2: open: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, fmt.Errorf("%w: %w", ErrClosed, m.errLocked())
	case m.goawayRecv || m.goawaySent:
		return nil, fmt.Errorf("%w: connection going away", ErrNoStreams)
	case m.active >= int(m.peerMaxStrm):
		return nil, fmt.Errorf("%w: server allows %d concurrent streams", ErrNoStreams, m.peerMaxStrm)
	case m.nextID > maxWindow:
		return nil, fmt.Errorf("%w: stream identifiers exhausted", ErrNoStreams)
	}
	m.active++
	s := m.newStream(0)
	return s, nil
}

func (m *Mux) errLocked() error {
	if m.err == nil {
		return ErrClosed
	}
	return m.err
}

// Close ends every stream and closes the connection, telling the peer
// with a GOAWAY when the writer is free. It waits for the reader
// goroutine to stop.
func (m *Mux) Close() error {
	m.closeWith(ErrClosed, http2.ErrCodeNo, true)
	m.reader.Wait()
	m.waitFlusher()
	return nil
}

// waitFlusher waits for a running flusher to end (the transport is
// closed by now, so it ends fast) and starts no more.
func (m *Mux) waitFlusher() {
	m.wmu.Lock()
	m.noFlush = true
	for m.flushing {
		m.flushEnd.Wait()
	}
	m.wmu.Unlock()
}

// Shutdown stops the connection gracefully: it sends GOAWAY with the
// last stream the peer opened (front side) so the peer opens no more,
// lets open streams finish, then closes. When ctx ends first, the
// connection is closed at once and ctx's error returned.
func (m *Mux) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.reader.Wait()
		m.waitFlusher()
		return nil
	}
	last := m.maxPeerID
	m.goawaySent = true
	if m.drained == nil {
		m.drained = make(chan struct{})
		if m.active == 0 {
			close(m.drained)
		}
	}
	drained := m.drained
	m.mu.Unlock()
	_ = m.writeNow(func() error { return m.fr.WriteGoAway(last, http2.ErrCodeNo, nil) })
	var err error
	select {
	case <-drained:
		m.flushOut()
	case <-m.done:
	case <-ctx.Done():
		err = fmt.Errorf("h2: shutdown: %w", ctx.Err())
	}
	m.closeWith(ErrClosed, http2.ErrCodeNo, false)
	m.reader.Wait()
	m.waitFlusher()
	return err
}

// flushOut writes out what the streams left in the buffer, waiting for
// a flush in progress first: closeWith flushes only what it finds with
// the writer free, and a flusher still writing the last response when
// the connection closes would cut it short.
func (m *Mux) flushOut() {
	m.waitFlusher()
	m.wmu.Lock()
	if m.werr != nil || m.bw.Buffered() == 0 {
		m.wmu.Unlock()
		return
	}
	_ = m.t.SetWriteDeadline(time.Now().Add(time.Second))
	_ = m.writeDone(m.bw.Flush()) // unlocks the writer
}

// closeWith ends the connection once: records why, fails every stream,
// sends a GOAWAY when sendGoAway is set and the writer is free, and
// closes the transport.
func (m *Mux) closeWith(why error, code http2.ErrCode, sendGoAway bool) {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		if m.err == nil {
			m.err = why
		}
		last := m.maxPeerID
		m.mu.Unlock()
		// What the writers left for the flusher goes out first, then
		// the GOAWAY, when the writer is free.
		if m.wmu.TryLock() {
			if m.werr == nil && (sendGoAway || m.bw.Buffered() > 0) {
				_ = m.t.SetWriteDeadline(time.Now().Add(time.Second))
				if sendGoAway {
					_ = m.fr.WriteGoAway(last, code, nil)
				}
				_ = m.bw.Flush()
			}
			m.wmu.Unlock()
		}
		_ = m.t.Close()
		m.idle.Wake() // a parked reader sees the close now
		// The streams still open: one the user closed meanwhile may
		// serve another stream by now (Stream.Close).
		m.mu.Lock()
		for _, s := range m.streams {
			s.connGone()
		}
		m.cond.Broadcast()
		m.mu.Unlock()
		close(m.done)
		m.notifyAccept()
	})
}

// write runs fn with the writer held. With flush set, what fn wrote
// leaves soon: the flusher writes it out once the writers ready to run
// have added theirs, so that frames of one response (HEADERS, DATA,
// END_STREAM) and of several streams leave in one write.
func (m *Mux) write(flush bool, fn func() error) error {
	m.wmu.Lock()
	err := m.werr
	start := false
	if err == nil {
		err = fn()
		if flush && err == nil && !m.needFlush {
			m.needFlush = true
			if !m.flushing && !m.noFlush {
				m.flushing, start = true, true
			}
		}
	}
	err = m.writeDone(err)
	if start {
		go m.flushFn()
	}
	return err
}

// writeData writes a DATA frame into the buffered writer: its header,
// then data, which the framer would first copy into a buffer of its own,
// kept as large as the largest frame for the connection's life. Called
// with the writer held.
func (m *Mux) writeData(id uint32, endStream bool, data []byte) error {
	var flags http2.Flags
	if endStream {
		flags = http2.FlagDataEndStream
	}
	if err := m.writeFrameHeader(http2.FrameData, flags, id, len(data)); err != nil {
		return err
	}
	return m.bw.copyIn(data)
}

// writeNow runs fn with the writer held and flushes at once.
func (m *Mux) writeNow(fn func() error) error {
	m.wmu.Lock()
	err := m.werr
	if err == nil {
		err = fn()
		if err == nil {
			m.needFlush = false
			err = m.bw.Flush()
		}
	}
	return m.writeDone(err)
}

// writeDone records a write error, which ends the connection, and
// releases the writer.
func (m *Mux) writeDone(err error) error {
	if err != nil && m.werr == nil {
		m.werr = err
		m.wmu.Unlock()
		m.closeWith(fmt.Errorf("h2: writing to %s: %w", m.t.RemoteAddr(), err), http2.ErrCodeInternal, false)
	} else {
		m.wmu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("h2: writing: %w", err)
	}
	return nil
}

// flusher writes out buffered frames. It lets the other goroutines
// ready to run go first, so that their frames join the same write, and
// ends when a turn finds nothing more to flush.
func (m *Mux) flusher() {
	for {
		runtime.Gosched()
		m.wmu.Lock()
		if !m.needFlush || m.werr != nil {
			m.flushing = false
			m.flushEnd.Broadcast()
			m.wmu.Unlock()
			return
		}
		m.needFlush = false
		_ = m.writeDone(m.bw.Flush())
	}
}

// connError ends the connection after a protocol error of the peer.
func (m *Mux) connError(code http2.ErrCode, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	m.cfg.Logger.Debug("h2: connection error", "peer", m.t.RemoteAddr(), "code", code, "reason", msg)
	ge := &GoAwayError{Code: code, Debug: msg}
	m.mu.Lock()
	if m.err == nil {
		m.err = ge
	}
	last := m.maxPeerID
	m.mu.Unlock()
	_ = m.writeNow(func() error { return m.fr.WriteGoAway(last, code, []byte(msg)) })
	return ge
}

// resetStream sends RST_STREAM for a stream and forgets it.
func (m *Mux) resetStream(id uint32, code http2.ErrCode) {
	m.mu.Lock()
	if s := m.streams[id]; s != nil {
		s.resetLocked(&ResetError{StreamID: id, Code: code})
	}
	m.rememberResetLocked(id)
	m.mu.Unlock()
	_ = m.write(true, func() error { return m.fr.WriteRSTStream(id, code) })
}

// rememberResetLocked keeps the ids of the last streams this end reset,
// whose frames still in flight are then dropped quietly (RFC 9113 §5.4.2).
func (m *Mux) rememberResetLocked(id uint32) {
	if m.recentReset == nil {
		m.recentReset = new([recentResets]uint32)
	}
	m.recentReset[m.recentN%recentResets] = id
	m.recentN++
}

func (m *Mux) recentlyResetLocked(id uint32) bool {
	if m.recentReset == nil {
		return false
	}
	for _, r := range m.recentReset {
		if r == id {
			return true
		}
	}
	return false
}

// addStreamLocked enters s under its id, making the map that an idle
// connection lets go (trimIdle).
func (m *Mux) addStreamLocked(s *Stream) {
	if m.streams == nil {
		m.streams = make(map[uint32]*Stream)
	}
	m.streams[s.id] = s
}

// removeLocked forgets a stream that reached the closed state.
func (m *Mux) removeLocked(s *Stream) {
	if !s.counted {
		return
	}
	s.counted = false
	if m.streams[s.id] == s {
		delete(m.streams, s.id)
	}
	m.active--
	if m.active == 0 && m.drained != nil {
		select {
		case <-m.drained:
		default:
			close(m.drained)
		}
	}
	m.cond.Broadcast()
}

// returnConnCredit gives the peer back n bytes of connection window,
// batching small amounts.
func (m *Mux) returnConnCredit(n int64, force bool) {
	if n <= 0 && !force {
		return
	}
	m.mu.Lock()
	m.recvUnacked += n
	inc := int64(0)
	if m.recvUnacked >= int64(m.cfg.ConnWindow)/4 || (force && m.recvUnacked > 0) {
		inc = m.recvUnacked
		m.recvUnacked = 0
		m.recvWin += inc
	}
	closed := m.closed
	m.mu.Unlock()
	if inc > 0 && !closed {
		_ = m.write(true, func() error { return m.fr.WriteWindowUpdate(0, uint32(inc)) })
	}
}
