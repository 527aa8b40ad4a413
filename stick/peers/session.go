package peers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/stick"
)

// Handshake statuses.
const (
	statusOK       = 200
	statusBadHello = 501 // not "HAProxyS", or a malformed line
	statusBadVers  = 502 // unsupported protocol version
	statusNotMe    = 503 // the hello is for another peer
	statusUnknown  = 504 // the sender is not a peer of this section
)

const (
	helloTimeout = 5 * time.Second
	writeTimeout = 5 * time.Second
	// readBuf holds the largest body accepted plus its header.
	readBuf = maxBody + 16
)

// errDowngrade reports a peer that refused protocol 2.1 (status 502).
var errDowngrade = errors.New("the peer refuses protocol 2.1")

// sayHello sends the initiator's hello to r, in protocol 2.0 if v20, and
// reads the status.
func (s *Section) sayHello(c net.Conn, r *remote, v20 bool) (*bufio.Reader, uint64, error) {
	c.SetDeadline(time.Now().Add(helloTimeout))
	vers := "2.1"
	if v20 {
		vers = "2.0"
	}
	hello := fmt.Sprintf("HAProxyS %s\n%s\n%s %d 1\n", vers, r.Name, s.cfg.Local, os.Getpid())
	if _, err := io.WriteString(c, hello); err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(c, readBuf)
	line, err := readLine(br)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the hello status: %w", err)
	}
	code, err := strconv.Atoi(line)
	if err != nil {
		return nil, 0, fmt.Errorf("hello status %q is not a number", line)
	}
	if code == statusBadVers && !v20 {
		return nil, 0, fmt.Errorf("peer refused the hello with status %d (%s): %w", code, statusText(code), errDowngrade)
	}
	if code != statusOK {
		return nil, 0, fmt.Errorf("peer refused the hello with status %d (%s)", code, statusText(code))
	}
	seq := s.helloSeq.Add(1)
	c.SetDeadline(time.Time{})
	return br, seq, nil
}

func statusText(code int) string {
	switch code {
	case statusBadHello:
		return "bad hello"
	case statusBadVers:
		return "unsupported protocol version"
	case statusNotMe:
		return "the peer's name is not the one this section gives it"
	case statusUnknown:
		return "this peer is unknown to the remote section"
	case 300:
		return "the peer refuses a second local session"
	}
	return "unknown status"
}

// readLine reads one hello line, without its LF and optional CR.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("hello line too long")
		}
		return "", err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte("\r"))
	return string(b), nil
}

// acceptHello reads a remote peer's hello and answers it, reporting a
// peer that speaks protocol 2.0. On an invalid hello it sends the status
// that says why and returns an error.
func (s *Section) acceptHello(c net.Conn) (_ *remote, _ *bufio.Reader, v20 bool, seq uint64, _ error) {
	c.SetDeadline(time.Now().Add(helloTimeout))
	br := bufio.NewReaderSize(c, readBuf)
	refuse := func(code int, err error) (*remote, *bufio.Reader, bool, uint64, error) {
		fmt.Fprintf(c, "%d\n", code)
		return nil, nil, false, 0, fmt.Errorf("status %d: %w", code, err)
	}
	l1, err := readLine(br)
	if err != nil {
		return nil, nil, false, 0, err
	}
	vers, ok := strings.CutPrefix(l1, "HAProxyS ")
	if !ok {
		return refuse(statusBadHello, fmt.Errorf("hello %q does not start with \"HAProxyS \"", l1))
	}
	maj, min, ok := strings.Cut(vers, ".")
	mj, err1 := strconv.ParseUint(maj, 10, 32)
	mn, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil || mj != 2 || mn > 1 {
		return refuse(statusBadVers, fmt.Errorf("protocol version %q is not 2.0 or 2.1", vers))
	}
	l2, err := readLine(br)
	if err != nil {
		return nil, nil, false, 0, err
	}
	if l2 != s.cfg.Local {
		return refuse(statusNotMe, fmt.Errorf("hello for peer %q, this is %q", l2, s.cfg.Local))
	}
	l3, err := readLine(br)
	if err != nil {
		return nil, nil, false, 0, err
	}
	name, _, ok := strings.Cut(l3, " ")
	if !ok {
		return refuse(statusBadHello, fmt.Errorf("hello line %q lacks the pid", l3))
	}
	r := s.remotes[name]
	if r == nil {
		return refuse(statusUnknown, fmt.Errorf("peer %q is not in section %q", name, s.cfg.Name))
	}
	// The order of the hellos, not of the installs, decides which of two
	// sessions with a peer is the newest.
	seq = s.helloSeq.Add(1)
	if _, err := io.WriteString(c, "200\n"); err != nil {
		return nil, nil, false, 0, err
	}
	c.SetDeadline(time.Time{})
	return r, br, mn == 0, seq, nil
}

// session is one connection with a remote peer in message mode. Its
// reader runs in the goroutine that called run; a writer goroutine
// pushes updates, acknowledgements and control messages.
type session struct {
	s        *Section
	r        *remote
	c        net.Conn
	replaced bool   // closed because a newer session took its place (s.mu)
	hello    uint64 // the order of its hello among the section's

	wake chan struct{}
	stop []func()

	wmu    sync.Mutex // serialises writes to c
	failed bool       // an error message was sent: nothing more is (wmu)

	mu sync.Mutex
	// Reader to writer.
	askResync bool // send a resync request
	learning  bool // this peer is learning from the remote
	teachReq  bool // the remote asked for a resync
	teaching  bool // teaching the remote; live pushes wait
	taught    bool // the lesson was sent; waiting for its confirmation
	confirms  int  // resync confirmations to send
	confirmed bool // the remote confirmed a lesson
	tabs      []tabState
	defs      map[uint64]*remoteDef // the remote's tables by its ids
	v20       bool                  // the peer speaks 2.0: no timed updates
	// Writer only.
	lastTab int    // table of the last update sent, -1 before any
	lastID  uint32 // id of the last update sent
	scratch []byte
}

// entry is an entry of a shared table.
type entry = *stick.Entry

// walk calls fn on the entries of sh in update order after the sequence
// after, until fn returns false.
func walk(sh *shared, after uint32, fn func(uint32, entry) bool) {
	for seq, e := range sh.t.UpdatesAfter(after) {
		if !fn(seq, e) {
			return
		}
	}
}

// tabState is a session's cursor over one shared table.
type tabState struct {
	lastPushed uint32
	origin     uint32 // teaching origin
	stage      int    // teaching: 1 from lastPushed to the end, 2 from the start to origin, 3 done
}

func newSession(s *Section, r *remote, c net.Conn) *session {
	sess := &session{s: s, r: r, c: c, wake: make(chan struct{}, 1), defs: map[uint64]*remoteDef{}, lastTab: -1, v20: r.v20}
	sess.tabs = make([]tabState, len(s.tables))
	for i := range sess.tabs {
		acked := r.acked[i].Load()
		sess.tabs[i].lastPushed = acked
		_, local := s.tables[i].t.LastUpdate()
		if int32(local-acked) < 0 {
			// The peer acknowledged updates this process never made (it
			// restarted): send everything.
			sess.tabs[i].lastPushed = local + 1<<31
		}
	}
	for _, st := range s.tables {
		sess.stop = append(sess.stop, st.t.NotifyUpdates(sess.wake))
	}
	return sess
}

func (sess *session) kick() {
	select {
	case sess.wake <- struct{}{}:
	default:
	}
}

// run serves the session until it fails or the section closes.
func (sess *session) run(br *bufio.Reader) {
	done := make(chan struct{})
	werr := make(chan error, 1)
	go func() { werr <- sess.writer(done) }()
	err := sess.reader(br)
	close(done)
	sess.c.Close()
	if e := <-werr; err == nil || errors.Is(err, net.ErrClosed) {
		err = e
	}
	for _, stop := range sess.stop {
		stop()
	}
	sess.s.ended(sess, err)
}

// errFailed stops the writer once an error message is sent.
var errFailed = errors.New("session ended by an error message")

// write sends b unless an error message went first: after it, as in
// HAProxy, nothing more is sent.
func (sess *session) write(b []byte) error {
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	if sess.failed {
		return errFailed
	}
	sess.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := sess.c.Write(b)
	return err
}

// fail sends an error message, the session's last, and returns err.
func (sess *session) fail(code byte, err error) error {
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	if !sess.failed {
		sess.failed = true
		sess.c.SetWriteDeadline(time.Now().Add(time.Second))
		sess.c.Write([]byte{classError, code})
	}
	return err
}

func (sess *session) protoErr(class, typ byte, err error) error {
	return sess.fail(errProto, &ProtocolError{Peer: sess.r.Name, Msg: msgName(class, typ), Err: err})
}

// reader reads and applies messages until the connection ends.
func (sess *session) reader(br *bufio.Reader) error {
	var hdr [2]byte
	var lastDeadline time.Time
	var cur *remoteDef
	for {
		// Two liveness windows without a message end the session; the
		// peer sends a heartbeat every 3 s when idle.
		if now := time.Now(); now.Sub(lastDeadline) > reconnectAfter/5 {
			sess.c.SetReadDeadline(now.Add(2 * reconnectAfter))
			lastDeadline = now
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("closed by the peer")
			}
			return err
		}
		class, typ := hdr[0], hdr[1]
		var body []byte
		if typ&0x80 != 0 {
			n, err := readVarint(br)
			if err != nil {
				return sess.protoErr(class, typ, fmt.Errorf("length: %w", err))
			}
			if n > maxBody {
				return sess.fail(errSize, &ProtocolError{Peer: sess.r.Name, Msg: msgName(class, typ), Err: fmt.Errorf("body of %d bytes exceeds %d", n, maxBody)})
			}
			b, err := br.Peek(int(n))
			if err != nil {
				return err
			}
			body = b
		}
		err := sess.handle(class, typ, body, &cur)
		if body != nil {
			br.Discard(len(body))
		}
		if err != nil {
			return err
		}
	}
}

// readVarint reads a length: at most 5 bytes.
func readVarint(br *bufio.Reader) (uint64, error) {
	var b [5]byte
	for i := range b {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		b[i] = c
		if (i == 0 && c < 0xf0) || (i > 0 && c < 0x80) {
			r := reader{b: b[:i+1]}
			return r.varint(), nil
		}
	}
	return 0, errors.New("longer than 5 bytes")
}

// handle applies one message.
func (sess *session) handle(class, typ byte, body []byte, cur **remoteDef) error {
	switch class {
	case classControl:
		return sess.control(typ)
	case classError:
		// The peer closes after an error; nothing to do.
		return nil
	case classReserve:
		return sess.protoErr(class, typ, errors.New("reserved class"))
	case classTable:
	default:
		return nil
	}
	switch typ {
	case msgDefine:
		d, err := parseDefine(body, sess.s.tables)
		if err != nil {
			return sess.protoErr(class, typ, err)
		}
		sess.mu.Lock()
		if old := sess.defs[d.id]; old != nil && d.st != nil && old.st == d.st {
			d.lastGet, d.acked, d.got = old.lastGet, old.acked, old.got
		}
		sess.defs[d.id] = d
		sess.mu.Unlock()
		*cur = d
	case msgSwitch:
		r := reader{b: body}
		id := r.varint()
		if r.err != nil {
			return sess.protoErr(class, typ, r.err)
		}
		sess.mu.Lock()
		*cur = sess.defs[id]
		sess.mu.Unlock()
	case msgUpdate, msgIncUpdate, msgUpdateTimed, msgIncUpdateTimed:
		d := *cur
		if d == nil || d.st == nil {
			return nil
		}
		inc := typ == msgIncUpdate || typ == msgIncUpdateTimed
		timed := typ == msgUpdateTimed || typ == msgIncUpdateTimed
		sess.mu.Lock()
		prev := d.lastGet
		sess.mu.Unlock()
		id, err := applyUpdate(body, d, prev, inc, timed)
		if err != nil {
			return sess.protoErr(class, typ, err)
		}
		sess.mu.Lock()
		d.lastGet, d.got = id, true
		sess.mu.Unlock()
		sess.kick()
	case msgAck:
		r := reader{b: body}
		id, upd := r.varint(), r.u32()
		if r.err != nil {
			return sess.protoErr(class, typ, r.err)
		}
		if id == 0 || id > uint64(len(sess.s.tables)) {
			return nil
		}
		sess.mu.Lock()
		teaching := sess.teaching
		sess.mu.Unlock()
		if !teaching {
			sess.r.acked[id-1].Store(upd)
		}
	}
	return nil
}

// control handles a control message.
func (sess *session) control(typ byte) error {
	switch typ {
	case ctrlResyncRequest:
		sess.mu.Lock()
		sess.teachReq = true
		sess.mu.Unlock()
		sess.kick()
	case ctrlResyncFinished, ctrlResyncPartial:
		sess.mu.Lock()
		was := sess.learning
		sess.learning = false
		sess.confirms++
		sess.mu.Unlock()
		if was {
			sess.s.lessonOver(sess.r, typ == ctrlResyncFinished)
		}
		sess.kick()
	case ctrlResyncConfirm:
		sess.mu.Lock()
		sess.confirmed = true
		sess.mu.Unlock()
		sess.kick()
	case ctrlHeartbeat:
	default:
		// Ignored, as HAProxy ignores control types it does not know.
	}
	return nil
}

// writer sends what the session owes the peer whenever woken, and a
// heartbeat after 3 s of silence.
func (sess *session) writer(done <-chan struct{}) error {
	hb := time.NewTimer(heartbeatEvery)
	defer hb.Stop()
	var buf []byte
	for {
		var more bool
		buf, more = sess.fill(buf[:0])
		if len(buf) > 0 {
			if err := sess.write(buf); err != nil {
				return err
			}
			hb.Reset(heartbeatEvery)
		}
		if more {
			select {
			case <-done:
				return nil
			default:
			}
			continue
		}
		select {
		case <-done:
			return nil
		case <-sess.wake:
		case <-hb.C:
			if err := sess.write([]byte{classControl, ctrlHeartbeat}); err != nil {
				return err
			}
			hb.Reset(heartbeatEvery)
		}
	}
}

// fill appends the messages due to the peer: control messages, acks, then
// updates, at most maxUpdatesAtOnce of them. more reports updates left.
func (sess *session) fill(b []byte) (_ []byte, more bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.askResync {
		sess.askResync = false
		b = append(b, classControl, ctrlResyncRequest)
	}
	for ; sess.confirms > 0; sess.confirms-- {
		b = append(b, classControl, ctrlResyncConfirm)
	}
	for _, d := range sess.defs {
		if d.got && d.lastGet != d.acked {
			body := appendU32(AppendVarint(sess.scratch[:0], d.id), d.lastGet)
			sess.scratch = body
			b = appendMsg(b, classTable, msgAck, body)
			d.acked = d.lastGet
		}
	}
	if sess.teachReq {
		sess.teachReq = false
		sess.teaching, sess.taught, sess.confirmed = true, false, false
		for i := range sess.tabs {
			st := &sess.tabs[i]
			st.origin = sess.r.acked[i].Load()
			st.lastPushed, st.stage = st.origin, 1
		}
	}
	if sess.teaching && sess.confirmed {
		// Back to live pushes from where the lesson started.
		sess.teaching, sess.taught, sess.confirmed = false, false, false
		for i := range sess.tabs {
			sess.tabs[i].lastPushed = sess.tabs[i].origin
			sess.r.acked[i].Store(sess.tabs[i].origin)
		}
	}
	budget := maxUpdatesAtOnce
	switch {
	case sess.teaching && !sess.taught:
		for i := range sess.tabs {
			b = sess.teach(b, i, &budget)
			if budget == 0 {
				return b, true
			}
		}
		sess.taught = true
		if sess.s.learned.Load() {
			b = append(b, classControl, ctrlResyncFinished)
		} else {
			b = append(b, classControl, ctrlResyncPartial)
		}
	case sess.teaching, sess.learning:
		// No live pushes while a lesson is under way either way.
	default:
		for i := range sess.tabs {
			b = sess.push(b, i, &budget)
			if budget == 0 {
				return b, true
			}
		}
	}
	return b, false
}

// push appends the local updates of table i not yet sent.
func (sess *session) push(b []byte, i int, budget *int) []byte {
	st := &sess.tabs[i]
	sh := sess.s.tables[i]
	_, local := sh.t.LastUpdate()
	lp := st.lastPushed
	if lp == local {
		return b
	}
	first := true
	beyond := false
	visit := func(seq uint32, e entry) bool {
		if seq-lp > local-lp || seq == lp {
			beyond = true
			return false
		}
		b = sess.appendUpdate(b, i, seq, e, first, false)
		first = false
		lp = seq
		*budget--
		return *budget > 0
	}
	walk(sh, lp, visit)
	if !beyond && *budget > 0 {
		walk(sh, 0, visit)
	}
	if *budget > 0 {
		lp = local
	}
	st.lastPushed = lp
	return b
}

// teach appends table i's whole content for a lesson, in two stages: from
// the teaching origin to the end of the update order, then from its start
// back to the origin.
func (sess *session) teach(b []byte, i int, budget *int) []byte {
	st := &sess.tabs[i]
	sh := sess.s.tables[i]
	first := true
	for st.stage < 3 && *budget > 0 {
		stop := false
		walk(sh, st.lastPushed, func(seq uint32, e entry) bool {
			if st.stage == 2 && seq > st.origin {
				stop = true
				return false
			}
			b = sess.appendUpdate(b, i, seq, e, first, true)
			first = false
			st.lastPushed = seq
			*budget--
			return *budget > 0
		})
		if *budget == 0 && !stop {
			return b
		}
		if st.stage == 1 {
			st.stage, st.lastPushed = 2, 0
		} else {
			st.stage = 3
		}
	}
	return b
}

// appendUpdate appends one update, preceded by the table's definition when
// the last update sent was another table's, or none, as HAProxy does.
func (sess *session) appendUpdate(b []byte, i int, seq uint32, e entry, first, timed bool) []byte {
	sh := sess.s.tables[i]
	if sess.lastTab != i {
		b = append(b, sh.def...)
		sess.lastTab = i
		first = true
	}
	timed = timed && !sess.v20
	typ := byte(msgUpdate)
	inc := !first && seq == sess.lastID+1
	switch {
	case inc && timed:
		typ = msgIncUpdateTimed
	case inc:
		typ = msgIncUpdate
	case timed:
		typ = msgUpdateTimed
	}
	body := sh.appendEntry(sess.scratch[:0], e, seq, inc, timed)
	sess.scratch = body
	b = appendMsg(b, classTable, typ, body)
	sess.lastID = seq
	e.MarkSeen()
	return b
}
