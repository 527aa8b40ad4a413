package h2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// readIdleAfter is how long the reader waits for the next frame on its
// goroutine. Past it, with nothing buffered, the wait goes on in the
// shared idle poller (xprt.IdleWait), with no goroutine and no buffer,
// and a new reader goroutine starts when bytes come: on a raw socket,
// and over TLS once the transport holds no record whole (xprt.Idler).
const readIdleAfter = 100 * time.Millisecond

// errReadIdle says the reader waited readIdleAfter at a frame boundary.
var errReadIdle = errors.New("h2: no frame for a while")

// readLoop is the connection's reader goroutine: it reads every frame
// and hands it to its stream, until the connection ends. While the peer
// sends nothing it parks (see readIdleAfter) and returns; the poller
// runs readLoop again.
func (m *Mux) readLoop() {
	err := m.serve()
	for err == errReadIdle {
		_ = m.t.SetReadDeadline(time.Time{})
		m.trimIdle()
		if m.readParkFn == nil {
			m.readParkFn = m.readLoop // one method value per connection
		}
		werr := m.idle.Wait(m.br.idleSocket(), time.Time{}, m.readParkFn)
		if werr == nil {
			m.parks.Add(1)
			return
		}
		if werr != xprt.ErrWoken {
			m.noPark = true // no poller, or a socket it cannot watch
		}
		err = m.serve()
	}
	defer m.reader.Done()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = io.EOF
	} else if _, ok := err.(*GoAwayError); !ok {
		err = fmt.Errorf("h2: reading from %s: %w", m.t.RemoteAddr(), err)
	}
	m.closeWith(err, http2.ErrCodeNo, false)
}

// Past these capacities, an idle connection gives its scratch buffers
// back rather than keep them for the next burst.
const (
	keepHeaderBuf = 1 << 10
	keepAcceptQ   = 4
)

// trimIdle lets go what a reader about to park keeps for a busy
// connection: the scratch of cookie crumbs, the HPACK encoder's table
// and a large header block buffer (when no writer holds them), a long
// accept queue's array and the map of streams when none is open.
func (m *Mux) trimIdle() {
	m.hs.cookie = nil
	if m.wmu.TryLock() {
		if cap(m.hblock) > keepHeaderBuf {
			m.hblock = nil
		}
		// The encoder's table and the bytes it indexes are made again,
		// emptied, for the next answer (newEncoder).
		m.henc = nil
		m.wmu.Unlock()
	}
	m.mu.Lock()
	if len(m.acceptQ) == 0 && cap(m.acceptQ) > keepAcceptQ {
		m.acceptQ = nil
	}
	if len(m.streams) == 0 {
		m.streams = nil // a map keeps the room of its busiest time
	}
	m.mu.Unlock()
}

func (m *Mux) serve() error {
	if m.side == mux.SideFront && !m.prefaceRead {
		var p [24]byte
		if _, err := io.ReadFull(&m.br, p[:]); err != nil {
			return err
		}
		if !bytes.Equal(p[:], clientPreface) {
			return m.connError(http2.ErrCodeProtocol, "invalid connection preface")
		}
		m.prefaceRead = true
	}
	for {
		// At a frame boundary, with nothing buffered and no header block
		// open, the wait for the next frame may end in a park.
		m.br.idleArm = !m.noPark && m.settingsRead && m.hs.id == 0 && m.br.mayPark() && m.br.r == m.br.w
		var f http2.Frame
		fh, err := m.fr.ReadFrameHeader()
		if err == errReadIdle {
			return err
		}
		if err == nil {
			if fh.Type == http2.FrameData && m.settingsRead {
				if err := m.readData(fh); err != nil {
					return err
				}
				continue
			}
			if fh.Type == http2.FrameHeaders && m.settingsRead && plainHeaders(fh) {
				if err := m.readHeaders(fh); err != nil {
					return err
				}
				continue
			}
			f, err = m.fr.ReadFrameForHeader(fh)
		}
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				if !m.settingsRead {
					return m.connError(http2.ErrCodeProtocol, "first frame is not SETTINGS")
				}
				m.resetStream(se.StreamID, se.Code)
				continue
			case errors.As(err, &ce):
				detail := "invalid frame"
				if d := m.fr.ErrorDetail(); d != nil {
					detail = d.Error()
				}
				return m.connError(http2.ErrCode(ce), "%s", detail)
			case errors.Is(err, http2.ErrFrameTooLarge):
				return m.connError(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
			}
			return err
		}
		if !m.settingsRead {
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				return m.connError(http2.ErrCodeProtocol, "first frame is not SETTINGS")
			}
			m.settingsRead = true
		}
		if err := m.handle(f); err != nil {
			return err
		}
	}
}

func (m *Mux) handle(f http2.Frame) error {
	if m.hs.id != 0 {
		if cf, ok := f.(*http2.ContinuationFrame); ok {
			return m.onContinuation(cf)
		}
		// The framer enforces contiguous header blocks.
		return m.connError(http2.ErrCodeProtocol, "header block interrupted")
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return m.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			_ = m.write(true, func() error { return m.fr.WritePing(true, data) })
		}
	case *http2.GoAwayFrame:
		m.onGoAway(f)
	case *http2.WindowUpdateFrame:
		return m.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return m.onReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			m.resetStream(f.StreamID, http2.ErrCodeProtocol)
		}
	case *http2.PushPromiseFrame:
		return m.connError(http2.ErrCodeProtocol, "PUSH_PROMISE is not accepted")
	case *http2.HeadersFrame:
		selfDep := f.HasPriority() && f.Priority.StreamDep == f.StreamID
		return m.onHeaders(f.StreamID, f.StreamEnded(), f.HeadersEnded(), selfDep, f.HeaderBlockFragment())
	case *http2.ContinuationFrame:
		return m.connError(http2.ErrCodeProtocol, "CONTINUATION without HEADERS")
	case *http2.DataFrame:
		// Not reached today: serve reads DATA itself once SETTINGS came,
		// and a DATA frame before them ends the connection first. Kept
		// so that a DATA frame never falls to the unknown-frame case
		// below; the framer's frame has its padding off already.
		fh := f.FrameHeader
		fh.Flags &^= http2.FlagDataPadded
		return m.onData(fh, f.Data())
	}
	// Unknown frame types are ignored (RFC 9113 §5.5).
	return nil
}

// idleLocked reports whether id names a stream not opened yet.
func (m *Mux) idleLocked(id uint32) bool {
	if id%2 == 0 {
		return true // neither side opens even streams: push is off
	}
	if m.side == mux.SideFront {
		return id > m.maxPeerID
	}
	return id >= m.nextID
}

func (m *Mux) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	// The settings take effect with the writer held and the ACK is
	// queued before it is released, so that no frame that uses them
	// (DATA on a window the new SETTINGS_INITIAL_WINDOW_SIZE opened, a
	// header block sized to the new limits) leaves before the ACK
	// (RFC 9113 §6.5.3: the ACK is emitted as soon as they are applied).
	var err error
	_ = m.write(true, func() error {
		var tableSize uint32
		var haveTable bool
		m.mu.Lock()
		err = f.ForeachSetting(func(s http2.Setting) error {
			if err := s.Valid(); err != nil {
				return err
			}
			switch s.ID {
			case http2.SettingHeaderTableSize:
				tableSize, haveTable = s.Val, true
			case http2.SettingInitialWindowSize:
				delta := int64(s.Val) - m.peerInitWin
				for _, st := range m.streams {
					if st.sendWin+delta > maxWindow {
						return http2.ConnectionError(http2.ErrCodeFlowControl)
					}
					st.sendWin += delta
				}
				m.peerInitWin = int64(s.Val)
			case http2.SettingMaxFrameSize:
				m.peerMaxFrame = s.Val
			case http2.SettingMaxConcurrentStreams:
				m.peerMaxStrm = s.Val
			case http2.SettingMaxHeaderListSize:
				m.peerMaxList = s.Val
			}
			return nil
		})
		m.cond.Broadcast()
		m.mu.Unlock()
		if err != nil {
			return nil // no ACK: the connection ends below
		}
		if haveTable {
			m.peerTable = tableSize
			if m.henc != nil {
				m.henc.setLimit(tableSize)
			}
		}
		return m.fr.WriteSettingsAck()
	})
	if err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return m.connError(http2.ErrCode(ce), "invalid SETTINGS value")
		}
		return m.connError(http2.ErrCodeProtocol, "invalid SETTINGS: %v", err)
	}
	return nil
}

func (m *Mux) onGoAway(f *http2.GoAwayFrame) {
	m.mu.Lock()
	m.goawayRecv = true
	m.peerLast = f.LastStreamID
	if f.ErrCode != http2.ErrCodeNo && m.err == nil {
		m.err = &GoAwayError{Code: f.ErrCode, Remote: true, Debug: string(f.DebugData())}
	}
	if m.side == mux.SideBack {
		for id, s := range m.streams {
			if id > f.LastStreamID {
				s.resetLocked(fmt.Errorf("%w: stream %d beyond the last of GOAWAY (%d)", ErrRefused, id, f.LastStreamID))
			}
		}
	}
	m.cond.Broadcast()
	m.mu.Unlock()
}

func (m *Mux) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	m.mu.Lock()
	if f.StreamID == 0 {
		m.sendWin += inc
		over := m.sendWin > maxWindow
		m.cond.Broadcast()
		m.mu.Unlock()
		if over {
			return m.connError(http2.ErrCodeFlowControl, "connection window over 2^31-1")
		}
		return nil
	}
	s := m.streams[f.StreamID]
	if s == nil {
		idle := m.idleLocked(f.StreamID)
		m.mu.Unlock()
		if idle {
			return m.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE on idle stream %d", f.StreamID)
		}
		return nil
	}
	s.sendWin += inc
	over := s.sendWin > maxWindow
	m.cond.Broadcast()
	m.mu.Unlock()
	if over {
		m.resetStream(f.StreamID, http2.ErrCodeFlowControl)
		m.returnConnCredit(0, false)
	}
	return nil
}

func (m *Mux) onReset(f *http2.RSTStreamFrame) error {
	m.mu.Lock()
	s := m.streams[f.StreamID]
	if s == nil {
		idle := m.idleLocked(f.StreamID)
		m.mu.Unlock()
		if idle {
			return m.connError(http2.ErrCodeProtocol, "RST_STREAM on idle stream %d", f.StreamID)
		}
		return nil
	}
	if m.side == mux.SideBack && f.ErrCode == http2.ErrCodeNo && s.recvEOF {
		// The server answered in full and wants no more of the request
		// (RFC 9113 §8.1): the response stays readable.
		s.noSend, s.sentEOF = true, true
		m.removeLocked(s)
		m.mu.Unlock()
		return nil
	}
	early := m.side == mux.SideFront && !s.sentEOF
	s.resetLocked(&ResetError{StreamID: f.StreamID, Code: f.ErrCode, Remote: true})
	m.mu.Unlock()
	m.returnConnCredit(0, false)
	if early {
		// Rapid reset (CVE-2023-44487): each stream reset before its
		// response completes cost a request's work for nothing.
		now := int64(time.Since(epoch))
		if m.resetsAt == 0 || now-m.resetsAt > int64(m.cfg.ResetWindow) {
			m.resetsAt, m.resets = now, 0
		}
		m.resets++
		if m.resets > m.cfg.MaxResets {
			return m.connError(http2.ErrCodeEnhanceYourCalm, "too many streams reset (%d within %v)", m.resets, m.cfg.ResetWindow)
		}
	}
	return nil
}

// readData reads the payload of a DATA frame whose header was read and
// acts on it: in place when the reader holds it all, else read into a
// buffer borrowed for the frame (the framer would keep one as large as
// the largest frame for the connection's life).
// A DATA payload fits a read buffer: the framer refuses frames over
// defaultMaxFrame before readData sees them, and this fails to compile
// should the two constants part.
var _ [readBufSize - defaultMaxFrame]struct{}

func (m *Mux) readData(fh http2.FrameHeader) error {
	if payload, ok := m.br.take(int(fh.Length)); ok {
		return m.onData(fh, payload)
	}
	var b *[]byte
	var payload []byte
	if fh.Length > 0 {
		b = readBufPool.Get().(*[]byte)
		payload = (*b)[:fh.Length]
		if _, err := io.ReadFull(&m.br, payload); err != nil {
			readBufPool.Put(b)
			return err
		}
	}
	err := m.onData(fh, payload)
	if b != nil {
		readBufPool.Put(b)
	}
	return err
}

// onData acts on a DATA frame: its header and its payload, padding
// included.
func (m *Mux) onData(fh http2.FrameHeader, payload []byte) error {
	if fh.StreamID == 0 {
		return m.connError(http2.ErrCodeProtocol, "DATA frame with stream ID 0")
	}
	data := payload
	if fh.Flags.Has(http2.FlagDataPadded) {
		if len(payload) == 0 {
			return m.connError(http2.ErrCodeFrameSize, "padded DATA frame without its pad length")
		}
		pad := int(payload[0])
		if pad > len(payload)-1 {
			return m.connError(http2.ErrCodeProtocol, "pad size larger than data payload")
		}
		data = payload[1 : len(payload)-pad]
	}
	id := fh.StreamID
	n := int64(fh.Length)
	ended := fh.Flags.Has(http2.FlagDataEndStream)
	m.mu.Lock()
	if n > m.recvWin {
		m.mu.Unlock()
		return m.connError(http2.ErrCodeFlowControl, "DATA exceeds the connection window")
	}
	m.recvWin -= n
	s := m.streams[id]
	if s == nil {
		idle := m.idleLocked(id)
		quiet := m.recentlyResetLocked(id)
		m.mu.Unlock()
		if idle {
			return m.connError(http2.ErrCodeProtocol, "DATA on idle stream %d", id)
		}
		m.returnConnCredit(n, false)
		if !quiet {
			m.resetStream(id, http2.ErrCodeStreamClosed)
		}
		return nil
	}
	if s.recvEOF || (m.side == mux.SideBack && !s.gotFinal) {
		m.mu.Unlock()
		m.returnConnCredit(n, false)
		if s.recvEOF {
			m.resetStream(id, http2.ErrCodeStreamClosed)
		} else {
			m.resetStream(id, http2.ErrCodeProtocol)
		}
		return nil
	}
	if n > s.recvWin {
		m.mu.Unlock()
		m.returnConnCredit(n, false)
		m.resetStream(id, http2.ErrCodeFlowControl)
		return nil
	}
	s.recvWin -= n
	s.recvd += int64(len(data))
	if s.clSet && (s.recvd > s.cl || (ended && s.recvd != s.cl)) {
		m.mu.Unlock()
		m.returnConnCredit(n, false)
		m.resetStream(id, http2.ErrCodeProtocol)
		return nil
	}
	pad := n - int64(len(data))
	if s.userClosed {
		pad = n // nobody reads it: give it all back
	} else {
		s.rbuf = append(s.rbuf, data...)
	}
	if pad > 0 {
		s.recvUnacked += pad
	}
	if ended {
		s.endRecvLocked()
	}
	s.readCond.Broadcast()
	m.mu.Unlock()
	if pad > 0 {
		m.returnConnCredit(pad, false)
	}
	return nil
}

// headerKind says what a header block being decoded is.
type headerKind uint8

const (
	hdrDiscard headerKind = iota
	hdrRequest
	hdrResponse
	hdrTrailers
)

// headerState is the header block being decoded, across its HEADERS and
// CONTINUATION frames.
type headerState struct {
	id         uint32
	kind       headerKind
	s          *Stream
	msg        *htx.Message
	endStream  bool
	rstCode    http2.ErrCode // reset the stream once the block is decoded
	rst        bool
	refuse     bool // a request refused for concurrency
	conts      int
	bytes      int
	listSize   int
	oversize   bool
	bad        string // the first malformation found
	sawRegular bool
	method     string
	scheme     string
	authority  string
	path       string
	status     string
	pseudo     uint8
	cookie     []byte
	clSet      bool
	cl         int64
}

const (
	pMethod = 1 << iota
	pScheme
	pAuthority
	pPath
	pStatus
)

// plainHeaders reports whether a HEADERS frame holds a whole header
// block, without padding, on a stream: readHeaders reads it without the
// framer, which would make a frame value for it. Any other goes through
// the framer and its checks.
func plainHeaders(fh http2.FrameHeader) bool {
	return fh.StreamID != 0 && fh.Flags.Has(http2.FlagHeadersEndHeaders) && !fh.Flags.Has(http2.FlagHeadersPadded) &&
		(!fh.Flags.Has(http2.FlagHeadersPriority) || fh.Length >= 5)
}

// readHeaders reads the payload of a HEADERS frame plainHeaders
// accepted and acts on it: in place when the reader holds it all, else
// read into a buffer borrowed for the frame.
func (m *Mux) readHeaders(fh http2.FrameHeader) error {
	payload, ok := m.br.take(int(fh.Length))
	var b *[]byte
	if !ok {
		b = readBufPool.Get().(*[]byte)
		payload = (*b)[:fh.Length]
		if _, err := io.ReadFull(&m.br, payload); err != nil {
			readBufPool.Put(b)
			return err
		}
	}
	selfDep := false
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		// Stream dependency (31 bits, after the exclusive flag), then
		// weight (RFC 9113 §6.2): only a stream depending on itself
		// matters.
		selfDep = binary.BigEndian.Uint32(payload)&(1<<31-1) == fh.StreamID
		payload = payload[5:]
	}
	err := m.onHeaders(fh.StreamID, fh.Flags.Has(http2.FlagHeadersEndStream), true, selfDep, payload)
	if b != nil {
		readBufPool.Put(b)
	}
	return err
}

// onHeaders acts on a HEADERS frame: its stream, flags and header block
// fragment.
func (m *Mux) onHeaders(id uint32, endStream, endHeaders, selfDep bool, frag []byte) error {
	hs := &m.hs
	cookie := hs.cookie[:0]
	*hs = headerState{id: id, endStream: endStream, cookie: cookie}
	if selfDep {
		hs.rst, hs.rstCode = true, http2.ErrCodeProtocol
	}
	m.mu.Lock()
	s := m.streams[id]
	switch {
	case id%2 == 0:
		m.mu.Unlock()
		return m.connError(http2.ErrCodeProtocol, "HEADERS on even stream %d", id)
	case s != nil:
		switch {
		case s.recvEOF:
			hs.rst, hs.rstCode = true, http2.ErrCodeStreamClosed
		case m.side == mux.SideBack && !s.gotFinal:
			hs.kind, hs.s, hs.msg = hdrResponse, s, msgPool.Get().(*htx.Message)
		case !hs.endStream:
			hs.rst, hs.rstCode = true, http2.ErrCodeProtocol
		default:
			hs.kind, hs.s, hs.msg = hdrTrailers, s, &s.trl
		}
	case m.side == mux.SideBack:
		idle, quiet := m.idleLocked(id), m.recentlyResetLocked(id)
		m.mu.Unlock()
		if idle {
			return m.connError(http2.ErrCodeProtocol, "HEADERS on idle stream %d", id)
		}
		if !quiet {
			return m.connError(http2.ErrCodeStreamClosed, "HEADERS on closed stream %d", id)
		}
		m.mu.Lock()
	case id <= m.maxPeerID:
		quiet := m.recentlyResetLocked(id)
		m.mu.Unlock()
		if !quiet {
			return m.connError(http2.ErrCodeStreamClosed, "HEADERS on closed stream %d", id)
		}
		m.mu.Lock()
	default:
		m.maxPeerID = id
		switch {
		case m.goawaySent || m.closed:
			// Beyond our GOAWAY: decoded for the HPACK state, then dropped.
		case m.active >= int(m.cfg.MaxConcurrentStreams):
			hs.rst, hs.rstCode, hs.refuse = true, http2.ErrCodeRefusedStream, true
		default:
			s = m.newStream(id)
			hs.kind, hs.s, hs.msg = hdrRequest, s, &s.in
		}
	}
	m.mu.Unlock()
	if err := m.headerFragment(frag, false); err != nil {
		return err
	}
	if endHeaders {
		return m.endHeaders()
	}
	return nil
}

func (m *Mux) onContinuation(f *http2.ContinuationFrame) error {
	if err := m.headerFragment(f.HeaderBlockFragment(), true); err != nil {
		return err
	}
	if f.HeadersEnded() {
		return m.endHeaders()
	}
	return nil
}

func (m *Mux) headerFragment(p []byte, cont bool) error {
	hs := &m.hs
	if cont {
		hs.conts++
		if hs.conts > m.cfg.MaxContinuations {
			return m.connError(http2.ErrCodeEnhanceYourCalm, "more than %d CONTINUATION frames in one header block", m.cfg.MaxContinuations)
		}
	}
	hs.bytes += len(p)
	if hs.bytes > int(m.cfg.MaxHeaderListSize) {
		return m.connError(http2.ErrCodeEnhanceYourCalm, "header block over %d bytes", m.cfg.MaxHeaderListSize)
	}
	if _, err := m.hdec.Write(p); err != nil {
		return m.connError(http2.ErrCodeCompression, "header block: %v", err)
	}
	return nil
}

// endHeaders acts on a complete header block, then forgets it, so that
// an idle connection keeps neither its stream nor its strings.
func (m *Mux) endHeaders() error {
	err := m.actOnHeaders()
	m.hs = headerState{cookie: m.hs.cookie[:0]}
	return err
}

// actOnHeaders acts on the header block m.hs holds.
func (m *Mux) actOnHeaders() error {
	hs := &m.hs
	id := hs.id
	hs.id = 0
	if err := m.hdec.Close(); err != nil {
		return m.connError(http2.ErrCodeCompression, "header block: %v", err)
	}
	if hs.rst {
		if hs.kind == hdrRequest {
			m.dropNew(hs.s)
		}
		if hs.refuse {
			m.mu.Lock()
			m.rememberResetLocked(id)
			m.mu.Unlock()
			_ = m.write(true, func() error { return m.fr.WriteRSTStream(id, hs.rstCode) })
			return nil
		}
		m.resetStream(id, hs.rstCode)
		return nil
	}
	switch hs.kind {
	case hdrDiscard:
		return nil
	case hdrRequest:
		if hs.oversize {
			m.dropNew(hs.s)
			m.answerStatus(id, 431, hs.endStream)
			return nil
		}
		if hs.bad == "" {
			hs.bad = hs.finishRequest()
		}
		if hs.bad != "" {
			m.cfg.Logger.Debug("h2: malformed request", "peer", m.t.RemoteAddr(), "stream", id, "reason", hs.bad)
			m.dropNew(hs.s)
			m.mu.Lock()
			m.rememberResetLocked(id)
			m.mu.Unlock()
			_ = m.write(true, func() error { return m.fr.WriteRSTStream(id, http2.ErrCodeProtocol) })
			return nil
		}
		s := hs.s
		s.clSet, s.cl = hs.clSet, hs.cl
		s.bodyless = hs.endStream
		s.reqHead = s.in.Flags&htx.FlagHead != 0
		s.reqConnect = s.in.Flags&htx.FlagConnect != 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil
		}
		if hs.endStream {
			s.endRecvLocked()
		}
		m.acceptQ = append(m.acceptQ, s)
		m.signalAcceptLocked()
		m.mu.Unlock()
		m.notifyAccept()
		return nil
	case hdrResponse:
		s := hs.s
		if hs.oversize {
			hs.bad = "response header list too large"
		}
		if hs.bad == "" {
			hs.bad = hs.finishResponse(s)
		}
		if hs.bad != "" {
			m.cfg.Logger.Debug("h2: malformed response", "peer", m.t.RemoteAddr(), "stream", id, "reason", hs.bad)
			m.resetStream(id, http2.ErrCodeProtocol)
			m.returnConnCredit(0, false)
			return nil
		}
		final := hs.msg.Status >= 200
		m.mu.Lock()
		s.heads = append(s.heads, hs.msg)
		if final {
			s.gotFinal = true
			s.clSet, s.cl = hs.clSet, hs.cl
			if s.reqHead || hs.msg.Status == 304 || hs.msg.Status == 204 || (s.reqConnect && hs.msg.Status < 300) {
				s.clSet = false
			}
		}
		if hs.endStream {
			s.endRecvLocked()
		}
		s.readCond.Broadcast()
		m.mu.Unlock()
		return nil
	case hdrTrailers:
		s := hs.s
		bad := hs.bad != "" || hs.oversize || (s.clSet && s.recvd != s.cl)
		if bad {
			m.resetStream(id, http2.ErrCodeProtocol)
			m.returnConnCredit(0, false)
			return nil
		}
		m.mu.Lock()
		s.endRecvLocked()
		s.readCond.Broadcast()
		m.mu.Unlock()
	}
	return nil
}

// dropNew forgets a request stream that was never accepted.
func (m *Mux) dropNew(s *Stream) {
	if s == nil {
		return
	}
	m.mu.Lock()
	m.removeLocked(s)
	m.mu.Unlock()
}

// answerStatus answers a refused request with an empty response, and
// resets the stream when the client has more to send.
func (m *Mux) answerStatus(id uint32, status int, ended bool) {
	m.mu.Lock()
	m.rememberResetLocked(id)
	m.mu.Unlock()
	_ = m.write(true, func() error {
		m.hblock = m.hblock[:0]
		m.encodeString(":status", statusText(status))
		m.encodeString("content-length", "0")
		if err := m.writeBlock(id, true); err != nil {
			return err
		}
		if !ended {
			return m.fr.WriteRSTStream(id, http2.ErrCodeNo)
		}
		return nil
	})
}
