package peers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/stick"
)

// Timings of the protocol, HAProxy's (variables for the tests).
var (
	// heartbeatEvery is how long a session stays silent before it sends
	// a heartbeat.
	heartbeatEvery = 3 * time.Second
	// reconnectAfter is both the delay before a failed connection is
	// tried again and the liveness window: a session that receives
	// nothing for two windows in a row is closed.
	reconnectAfter = 5 * time.Second
	// resyncTimeout bounds the wait for a peer to teach this one.
	resyncTimeout = 5 * time.Second
)

// maxUpdatesAtOnce bounds the updates sent in one pass (HAProxy's
// tune.peers.max-updates-at-once).
const maxUpdatesAtOnce = 200

// Peer is a remote peer of a section: its name, as the remote calls
// itself, and the address it listens on.
type Peer struct {
	Name string
	// Addr is where the peer is reached: host:port for the default
	// dialer, or whatever Config.Dial reads.
	Addr string
}

// Config describes a peers section as seen by one of its members.
type Config struct {
	// Name names the section in logs.
	Name string
	// Local is this peer's name: remotes connect to it under this name.
	Local string
	// Peers are the remote peers. This peer connects to each of them and
	// accepts their connections.
	Peers []Peer
	// Tables are the shared tables, each made with stick.Config.Sync.
	// They are matched with the remote peers' tables by name, key type
	// and key length.
	Tables []*stick.Table
	// Dial connects to a remote peer; nil uses a net.Dialer with a 1 s
	// timeout, HAProxy's connect timeout for peers, over TCP, which
	// then needs each Peer.Addr to be host:port.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Taught tells the section that its tables already hold a full copy
	// from a process that was in sync (on a reload, what Teach carried
	// from the old process's tables): it then asks no peer for a resync
	// and counts as synced from Start, as HAProxy's new process does once
	// its old one has taught it through the local peer.
	Taught bool
	// Logf, if set, receives one line per session event (connected,
	// closed and why, resync finished).
	Logf func(format string, args ...any)
}

// Section runs HAProxy's peers protocol for one peers section: it keeps a
// session with every remote peer, pushes the local updates of the shared
// tables to each, stores what they push, and on start asks a peer for a
// full copy of the tables (a resync). Sessions are wire-compatible with
// HAProxy's (protocol 2.1), so a Section syncs with HAProxy processes as
// well as with other Sections.
type Section struct {
	cfg    Config
	tables []*shared

	helloSeq atomic.Uint64 // counts the hellos said and accepted

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	remotes  map[string]*remote
	order    []*remote
	ln       net.Listener
	pending  map[net.Conn]struct{} // connections still in their hello, either way
	learned  atomic.Bool           // the initial resync is over (set under mu)
	teacher  *remote               // the peer teaching this one, if any
	resyncAt time.Time             // when to give up waiting for a lesson
	started  bool
	closed   bool
}

// remote is one remote peer and what outlives its sessions.
type remote struct {
	Peer
	sess *session
	// acked is, per shared table, the last update the peer acknowledged:
	// where pushing starts again after a reconnect.
	acked []atomic.Uint32
	// notUpToDate marks a peer that answered a resync with a partial
	// lesson: another is asked.
	notUpToDate bool
	// v20 marks a peer that speaks protocol 2.0 (its hello said so, or it
	// refused ours with 502): it is sent no timed updates, and our hellos
	// to it say 2.0.
	v20 bool
	// wake tells the dialer the session ended.
	wake  chan struct{}
	retry time.Duration
}

// PeerStatus describes one remote peer.
type PeerStatus struct {
	Name, Addr string
	// Connected reports a session in message mode.
	Connected bool
	// Teaching and Learning report a resync in progress with this peer.
	Teaching, Learning bool
}

// Errors returned by New.
var (
	// ErrConfig reports an invalid section.
	ErrConfig = errors.New("peers: invalid configuration")
)

// New checks the section and prepares it; Start runs it.
func New(cfg Config) (*Section, error) {
	if !validName(cfg.Local) {
		return nil, fmt.Errorf("%w: section %q: local peer name %q must be a non-empty word", ErrConfig, cfg.Name, cfg.Local)
	}
	s := &Section{cfg: cfg, remotes: map[string]*remote{}, pending: map[net.Conn]struct{}{}}
	for _, p := range cfg.Peers {
		if !validName(p.Name) {
			return nil, fmt.Errorf("%w: section %q: peer name %q must be a non-empty word", ErrConfig, cfg.Name, p.Name)
		}
		if p.Name == cfg.Local {
			return nil, fmt.Errorf("%w: section %q: peer %q is the local peer", ErrConfig, cfg.Name, p.Name)
		}
		if s.remotes[p.Name] != nil {
			return nil, fmt.Errorf("%w: section %q: peer %q listed twice", ErrConfig, cfg.Name, p.Name)
		}
		if _, _, err := net.SplitHostPort(p.Addr); err != nil && cfg.Dial == nil {
			return nil, fmt.Errorf("%w: section %q: peer %q: address %q: %v", ErrConfig, cfg.Name, p.Name, p.Addr, err)
		}
		r := &remote{Peer: p, acked: make([]atomic.Uint32, len(cfg.Tables)), wake: make(chan struct{}, 1)}
		s.remotes[p.Name] = r
		s.order = append(s.order, r)
	}
	names := map[string]bool{}
	for i, t := range cfg.Tables {
		st, err := newShared(t, uint64(i+1))
		if err != nil {
			return nil, fmt.Errorf("%w: section %q: %v", ErrConfig, cfg.Name, err)
		}
		if names[st.name] {
			return nil, fmt.Errorf("%w: section %q: table %q shared twice", ErrConfig, cfg.Name, st.name)
		}
		names[st.name] = true
		s.tables = append(s.tables, st)
	}
	if s.cfg.Dial == nil {
		d := net.Dialer{Timeout: time.Second}
		s.cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func (s *Section) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// Start runs the section: it serves the remote peers' connections on ln
// (the local peer's address; nil accepts none) and connects to each
// remote peer. It returns at once; Close stops everything.
func (s *Section) Start(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.ln = ln
	s.resyncAt = time.Now().Add(resyncTimeout)
	if len(s.order) == 0 || s.cfg.Taught {
		s.learned.Store(true)
	}
	if ln != nil {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	for _, r := range s.order {
		s.wg.Add(1)
		go s.dialLoop(r)
	}
	s.wg.Add(1)
	go s.resyncTimer()
}

// Close stops accepting, closes every session and waits for the
// section's goroutines. It does not close the tables.
func (s *Section) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.pending {
		c.Close()
	}
	for _, r := range s.order {
		if r.sess != nil {
			r.sess.c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Status returns the state of each remote peer, in configuration order.
func (s *Section) Status() []PeerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerStatus, 0, len(s.order))
	for _, r := range s.order {
		ps := PeerStatus{Name: r.Name, Addr: r.Addr}
		if r.sess != nil {
			ps.Connected = true
			r.sess.mu.Lock()
			ps.Teaching = r.sess.teaching
			ps.Learning = r.sess.learning
			r.sess.mu.Unlock()
		}
		out = append(out, ps)
	}
	return out
}

// Synced reports whether the initial resync is over: a peer taught this
// one all its tables, or none could within 5 seconds of Start.
func (s *Section) Synced() bool { return s.learned.Load() }

// resyncTimer ends the wait for a lesson when no peer gave one in time.
func (s *Section) resyncTimer() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if s.learned.Load() {
			s.mu.Unlock()
			return
		}
		d := time.Until(s.resyncAt)
		if d <= 0 && s.teacher == nil {
			s.learned.Store(true)
			s.mu.Unlock()
			s.logf("peers %s: no peer taught the tables within %v; going on with what is here", s.cfg.Name, resyncTimeout)
			return
		}
		s.mu.Unlock()
		if d <= 0 {
			d = 100 * time.Millisecond
		}
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// askLesson picks a teacher among the connected peers while the initial
// resync is not over; s.mu is held.
func (s *Section) askLesson() {
	if s.learned.Load() || s.teacher != nil {
		return
	}
	for _, r := range s.order {
		if r.sess != nil && !r.notUpToDate {
			s.teacher = r
			r.sess.mu.Lock()
			r.sess.learning = true
			r.sess.askResync = true
			r.sess.mu.Unlock()
			r.sess.kick()
			return
		}
	}
}

// lessonOver ends a lesson from r: full (the peer had everything) or not.
func (s *Section) lessonOver(r *remote, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teacher != r {
		return
	}
	s.teacher = nil
	if full {
		if !s.learned.Load() {
			s.logf("peers %s: tables learned from peer %s", s.cfg.Name, r.Name)
		}
		s.learned.Store(true)
		return
	}
	r.notUpToDate = true
	s.resyncAt = time.Now().Add(resyncTimeout)
	s.askLesson()
}

func (s *Section) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.logf("peers %s: accept: %v", s.cfg.Name, err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.pending[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveAccepted(c)
	}
}

// serveAccepted reads a remote peer's hello, answers it, and runs the
// session. The newest session with a peer replaces an older one.
func (s *Section) serveAccepted(c net.Conn) {
	defer s.wg.Done()
	r, br, v20, seq, err := s.acceptHello(c)
	s.mu.Lock()
	delete(s.pending, c)
	if err == nil {
		r.v20 = v20
	}
	if err != nil || s.closed {
		s.mu.Unlock()
		if err != nil {
			s.logf("peers %s: connection from %s refused: %v", s.cfg.Name, c.RemoteAddr(), err)
		}
		c.Close()
		return
	}
	sess := s.install(r, c, seq)
	s.mu.Unlock()
	if sess != nil {
		sess.run(br)
	}
}

// install makes a new session r's current one, closing the old; s.mu is
// held. The session whose hello came last wins: a connection whose hello
// came before the current session's is closed, and install returns nil.
func (s *Section) install(r *remote, c net.Conn, seq uint64) *session {
	if old := r.sess; old != nil && old.hello > seq {
		c.Close()
		return nil
	}
	if old := r.sess; old != nil {
		old.replaced = true
		old.c.Close()
	}
	sess := newSession(s, r, c)
	sess.hello = seq
	r.sess = sess
	s.logf("peers %s: session with %s (%s) established", s.cfg.Name, r.Name, c.RemoteAddr())
	s.askLesson()
	return sess
}

// ended removes a finished session.
func (s *Section) ended(sess *session, err error) {
	s.mu.Lock()
	r := sess.r
	if r.sess == sess {
		r.sess = nil
	}
	if s.teacher == r && sess.learning {
		s.teacher = nil
		s.resyncAt = time.Now().Add(resyncTimeout)
		// Another session may be up already: a newer one with the same
		// peer, which replaced this one, or one with another peer.
		if !s.closed {
			s.askLesson()
		}
	}
	closed := s.closed
	// Reconnect after a random 50 to 2049 ms, as HAProxy does after it
	// drops a session: two peers that replaced each other's sessions at
	// once then do not collide again.
	r.retry = time.Duration(50+rand.IntN(2000)) * time.Millisecond
	s.mu.Unlock()
	if !closed && !sess.replaced {
		s.logf("peers %s: session with %s closed: %v", s.cfg.Name, r.Name, err)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dialLoop keeps a session with r: whenever there is none, it connects.
func (s *Section) dialLoop(r *remote) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		s.mu.Lock()
		busy := r.sess != nil
		s.mu.Unlock()
		if busy {
			select {
			case <-s.ctx.Done():
				return
			case <-r.wake:
			}
			s.mu.Lock()
			delay = r.retry
			s.mu.Unlock()
			continue
		}
		if s.ctx.Err() != nil {
			return
		}
		err := s.connect(r)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			s.logf("peers %s: connecting to %s (%s): %v", s.cfg.Name, r.Name, r.Addr, err)
			delay = reconnectAfter
			continue
		}
		s.mu.Lock()
		delay = r.retry
		s.mu.Unlock()
	}
}

// connect dials r, says hello and runs the session until it ends.
func (s *Section) connect(r *remote) error {
	ctx, cancel := context.WithTimeout(s.ctx, time.Second)
	c, err := s.cfg.Dial(ctx, r.Addr)
	cancel()
	if err != nil {
		return err
	}
	// Close must not wait for a hello's answer.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return nil
	}
	s.pending[c] = struct{}{}
	v20 := r.v20
	s.mu.Unlock()
	br, seq, err := s.sayHello(c, r, v20)
	s.mu.Lock()
	delete(s.pending, c)
	if errors.Is(err, errDowngrade) {
		// As HAProxy: the next hello says 2.0.
		r.v20 = true
	}
	if err != nil || s.closed {
		s.mu.Unlock()
		c.Close()
		return err
	}
	sess := s.install(r, c, seq)
	s.mu.Unlock()
	if sess != nil {
		sess.run(br)
	}
	return nil
}
