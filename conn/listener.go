package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
)

// Verdict is what a connection rule decides.
type Verdict uint8

const (
	// Continue passes the connection to the next rule; after the last
	// rule it is accepted.
	Continue Verdict = iota
	// Accept accepts the connection and skips the remaining rules.
	Accept
	// Reject closes the connection with a reset (SO_LINGER 0): the client
	// learns at once, and no FIN or TIME_WAIT is spent on it.
	Reject
	// SilentDrop frees the connection without telling the client
	// anything, so an attacker keeps waiting on a dead connection; see
	// [ListenConfig.SilentDropTTL].
	SilentDrop
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Continue:
		return "continue"
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case SilentDrop:
		return "silent-drop"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Rule is a connection rule, HAProxy's "tcp-request connection". It runs
// in the accept loop on the bare socket, before any PROXY header, handshake
// or buffer, so it must decide from layer-4 facts ([Conn.Src] is still the
// socket's peer) and must not block. It may call [Conn.ExpectProxy].
// Rejected and dropped connections do not count toward the accept rate.
type Rule func(c *Conn) Verdict

// DefaultHandshakeTimeout bounds a connection's handshake phase when the
// configuration gives none; the PROXY specification suggests at least 3 s.
const DefaultHandshakeTimeout = 10 * time.Second

// V6Only is whether an IPv6 listener accepts IPv4 clients too
// ([ListenConfig.V6Only]).
type V6Only uint8

// The V6Only settings.
const (
	V6OnlyDefault V6Only = iota // Go's choice for the network
	V6OnlyOn                    // IPv6 clients only (IPV6_V6ONLY 1)
	V6OnlyOff                   // IPv4 clients too (IPV6_V6ONLY 0)
)

// ListenConfig configures a [Listener]. The zero value listens with Go's
// defaults: keepalive on (15 s idle, 15 s between probes, 9 probes),
// TCP_NODELAY on, no connection limit, raw transport, no PROXY header.
type ListenConfig struct {
	// ReusePort sets SO_REUSEPORT, so several listeners share the port.
	ReusePort bool
	// Backlog sizes the kernel's queue of connections waiting to be
	// accepted (listen(2)'s backlog, capped by net.core.somaxconn); 0
	// keeps Go's, which is somaxconn. Supported on Linux.
	Backlog int
	// KeepAlive tunes TCP keepalive on accepted sockets: Idle, Interval
	// and Count as in net.KeepAliveConfig (zero: Go's defaults, negative:
	// the system's). Its Enable field is not consulted; keepalive is on
	// unless DisableKeepAlive. On Linux the options are set once, on the
	// listening socket, whose accepted sockets inherit them, so accepting
	// makes no system call for them.
	KeepAlive net.KeepAliveConfig
	// DisableKeepAlive turns TCP keepalive off on accepted sockets
	// (HAProxy's default, without option tcpka or clitcpka).
	DisableKeepAlive bool
	// DisableNoDelay turns Nagle's algorithm back on for accepted sockets.
	DisableNoDelay bool
	// MultipathTCP opens a Multipath TCP listening socket, which also
	// accepts plain TCP clients (Go's net.Listen does so by default on
	// Linux). Off by default, as HAProxy's listeners: an MPTCP listening
	// socket refuses some TCP options, TCP_QUICKACK among them (DelayAck).
	MultipathTCP bool
	// DelayAck asks the kernel to hold back the acknowledgement of a
	// client's first bytes so that it leaves with the answer (TCP_QUICKACK
	// off on the listening socket, HAProxy's "option tcp-smart-accept"),
	// saving a packet per request-response exchange. It suits protocols
	// where the client speaks first and the answer follows quickly (HTTP).
	// It is a hint: kernels that refuse the option on a listening socket
	// (recent Linux does) leave the behaviour as it was, as they do for
	// HAProxy. Linux only.
	DelayAck bool
	// DeferAccept has the kernel hand over a connection only once the
	// client has sent something (TCP_DEFER_ACCEPT, HAProxy's
	// "defer-accept"): a client that connects and stays silent costs no
	// accept, and the first read finds bytes. Not for protocols where the
	// server speaks first. Linux only; elsewhere Listen refuses it.
	DeferAccept bool
	// FastOpen enables TCP Fast Open on the listener (TCP_FASTOPEN, with
	// this many pending requests at most; HAProxy's "tfo"): a returning
	// client's first bytes ride on its SYN. The kernel serves it only
	// where net.ipv4.tcp_fastopen allows servers (bit 2). 0 leaves it off.
	// Linux only; elsewhere Listen refuses it.
	FastOpen int
	// NoLinger makes accepted connections close with a reset (SO_LINGER
	// 0), however they are closed, as HAProxy's "option nolinger" does
	// on a frontend: no FIN, no TIME_WAIT, and bytes not yet sent are
	// lost. On Linux the option is set once, on the listening socket,
	// whose accepted sockets inherit it; elsewhere on each accepted one.
	NoLinger bool
	// UserTimeout bounds how long sent bytes may stay unacknowledged
	// before the kernel gives the connection up (TCP_USER_TIMEOUT, in
	// milliseconds, HAProxy's "tcp-ut"); 0 keeps the system's. Set on
	// the listening socket, which accepted ones inherit. Linux only.
	UserTimeout time.Duration
	// MaxSeg is the TCP maximum segment size advertised to clients
	// (TCP_MAXSEG, HAProxy's "mss"): positive, set on the listening
	// socket; negative, each accepted connection's MSS is lowered by that
	// much. 0 keeps the system's. Linux only.
	MaxSeg int
	// Interface binds the listener to a network interface, so that it
	// accepts only connections that came in through it (SO_BINDTODEVICE,
	// HAProxy's "interface"; needs CAP_NET_RAW). Linux only.
	Interface string
	// Transparent lets the listener bind an address that is not local,
	// for traffic redirected to it (IP_TRANSPARENT, HAProxy's
	// "transparent"; needs CAP_NET_ADMIN). Linux only.
	Transparent bool
	// V6Only, on an IPv6 listener, says whether it accepts IPv6 clients
	// only (V6OnlyOn, HAProxy's "v6only") or IPv4 ones too (V6OnlyOff,
	// "v4v6"); the zero value keeps Go's choice: both on "tcp", IPv6 only
	// on "tcp6".
	V6Only V6Only
	// MaxConn caps the connections alive at once (0: no cap). When the cap
	// is reached the listener stops accepting, leaving new connections in
	// the kernel's backlog, until one closes; it never refuses them.
	MaxConn int
	// Slots are connection limits shared with other listeners (a
	// frontend's maxconn over several bind lines, the global maxconn),
	// applied in addition to MaxConn: a connection takes one slot of each,
	// in order, before it is accepted, and gives them back on Close. Give
	// every listener its shared limits in the same order.
	Slots []*Slots
	// RateLimit caps accepted connections per second (0: no cap). Accepts
	// over the rate are delayed, not refused.
	RateLimit uint32
	// RateClock is the clock of the rate limit; nil means the system
	// clock. Tests set a fake one.
	RateClock freq.Clock
	// Rate is a counter of accepts shared with other listeners (a
	// frontend's rate-limit sessions over several bind lines): when set,
	// RateLimit caps the accepts it counts, all listeners together, and
	// RateClock is unused (the counter has its own clock).
	Rate *freq.Counter
	// Rates are further accept-rate limits shared with other listeners
	// (a process-wide rate such as HAProxy's maxconnrate), applied with
	// RateLimit: an accept waits until every one of them allows it, and
	// counts in each.
	Rates []SharedRate
	// AcceptProxy requires a PROXY header (v1 or v2) on every connection.
	AcceptProxy bool
	// MaxProxyHeaderLen bounds an incoming PROXY header; 0 means
	// DefaultMaxProxyHeaderLen.
	MaxProxyHeaderLen int
	// HandshakeTimeout bounds the handshake phase (PROXY header and
	// transport handshake); 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Transport builds each connection's transport; nil means raw.
	Transport TransportFunc
	// Rules run in order on every new socket.
	Rules []Rule
	// SilentDropTTL is the TTL given to the reset of a silent drop. 0
	// tries TCP_REPAIR first (nothing at all is sent; needs CAP_NET_ADMIN)
	// and falls back to a TTL of 1.
	SilentDropTTL int
	// Logger receives accept errors and, at debug level, rule decisions
	// and handshake failures; nil means slog.Default().
	Logger *slog.Logger
}

// SharedRate is an accept-rate limit shared by listeners: at most Limit
// accepts per second, counted in Counter.
type SharedRate struct {
	Counter *freq.Counter
	Limit   uint32
}

// Listener accepts connections: it enforces the connection cap and the
// accept rate, runs the connection rules and hands out [Conn]s whose
// handshake phase has not started yet.
type Listener struct {
	ln   net.Listener
	cfg  ListenConfig
	log  *slog.Logger
	rate *freq.Counter

	slots  *Slots   // the listener's own, nil without MaxConn
	shared []*Slots // ListenConfig.Slots
	// pending, with shared slots, lets Accept wait for a client before
	// it takes them; nil without shared slots.
	pending *pendingWatch
	// canNudge: the listening socket takes deadlines, so an accept(2)
	// sitting on shared slots can be woken by a listener sharing them
	// (Slots.join, Slots.nudgeHolders).
	canNudge bool
	done     chan struct{}
	closed   sync.Once

	pmu    sync.Mutex
	nudged bool // an accept was woken by a listener sharing the slots; guarded by pmu
	// holding: Accept took the shared slots before a client was pending,
	// and may sit on them in accept(2).
	holding  atomic.Bool
	paused   bool
	resumeCh chan struct{} // closed on Resume
	// fixedPort: Listen opened the socket on a port it was given, which
	// the socket keeps while it stops listening (Suspend); unlistened:
	// Suspend stopped it listening, and Resume listens again. Guarded by
	// pmu.
	fixedPort, unlistened bool
	// inAccept is read-held around the accept(2) of an Accept; Pause
	// write-locks it once, to wait for those in flight to see the pause.
	inAccept sync.RWMutex

	active                                    atomic.Int64
	accepted, rejected, dropped, handshakeErr atomic.Uint64
	rateWaits, fullWaits                      atomic.Uint64
}

// Listen opens a listener on network ("tcp", "tcp4", "tcp6" or "unix") and
// address.
func (lc ListenConfig) Listen(ctx context.Context, network, address string) (*Listener, error) {
	nlc := lc.netListenConfig()
	nlc.SetMultipathTCP(lc.MultipathTCP)
	ln, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("conn: listen on %s %s: %w", network, address, err)
	}
	if lc.Backlog > 0 {
		if err := setBacklog(ln, lc.Backlog); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("conn: listen on %s %s: backlog %d: %w", network, address, lc.Backlog, err)
		}
	}
	if lc.DelayAck {
		delayAckListener(ln)
	}
	l := lc.NewListener(ln)
	if _, port, err := net.SplitHostPort(address); err == nil && port != "" && port != "0" {
		l.fixedPort = true
	}
	return l, nil
}

// Retune sets, on ln, an open listening socket such as one inherited
// across a reload, the options of lc that can change while a socket
// listens: Backlog, KeepAlive and DisableKeepAlive, NoLinger,
// DeferAccept, FastOpen, UserTimeout, MaxSeg and DelayAck. An option lc
// leaves unset is turned back to the system's default, so that the
// socket ends as a new one opened with lc would be; accepted sockets
// inherit the new options from then on, while those accepted before keep
// theirs. The options that place the socket (its address, ReusePort,
// MultipathTCP, Interface, Transparent, V6Only) cannot change: a caller
// compares them before. network is the one ln was opened on. Linux only;
// elsewhere Retune returns an error.
func (lc ListenConfig) Retune(ln net.Listener, network string) error {
	if err := retune(lc, ln, network); err != nil {
		return fmt.Errorf("conn: retuning a listening socket: %w", err)
	}
	return nil
}

// NewListener wraps an open listener, such as one inherited across a
// reload. Pause needs it to support SetDeadline, as *net.TCPListener and
// *net.UnixListener do.
func (lc ListenConfig) NewListener(ln net.Listener) *Listener {
	l := &Listener{ln: ln, cfg: lc, log: lc.Logger, done: make(chan struct{})}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.cfg.HandshakeTimeout <= 0 {
		l.cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.cfg.Transport == nil {
		l.cfg.Transport = RawTransport
	}
	if lc.MaxConn > 0 {
		l.slots, _ = NewSlots(lc.MaxConn)
	}
	for _, s := range lc.Slots {
		if s != nil {
			l.shared = append(l.shared, s)
		}
	}
	if len(l.shared) > 0 {
		l.pending = newPendingWatch(ln)
		_, l.canNudge = ln.(deadliner)
		for _, s := range l.shared {
			s.join(l)
		}
	}
	if lc.RateLimit > 0 {
		clock := lc.RateClock
		if clock == nil {
			clock = freq.SystemClock
		}
		l.rate = lc.Rate
		if l.rate == nil {
			l.rate = freq.NewCounter(clock)
		}
	}
	return l
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Dup returns a second listener on the listening socket, for a successor
// (a new configuration, say) to accept on while this one stops: clients
// keep being accepted by one or the other, and none is refused between
// them. The socket stays open until both are closed. A UNIX socket's
// file is left in place when this listener closes: the copy serves it.
// Wrap the copy with [ListenConfig.NewListener].
func (l *Listener) Dup() (net.Listener, error) {
	return DupListener(l.ln)
}

// DupListener returns a second listener on ln's socket, as
// [Listener.Dup] does, for a *net.TCPListener or *net.UnixListener.
func DupListener(ln net.Listener) (net.Listener, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("conn: cannot duplicate a %T listener", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("conn: duplicate listener %v: %w", ln.Addr(), err)
	}
	// Not through File: the descriptor net's File returns is put in
	// blocking mode when read with Fd, as net.FileListener reads it, and
	// the mode belongs to the socket, which ln shares: an Accept of ln's
	// running at that moment would block in the kernel, where closing ln
	// no longer ends it.
	nfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { nfd, derr = dupCloseOnExec(int(fd)) }); err != nil {
		return nil, fmt.Errorf("conn: duplicate listener %v: %w", ln.Addr(), err)
	}
	if derr != nil {
		return nil, fmt.Errorf("conn: duplicate listener %v: %w", ln.Addr(), derr)
	}
	file := os.NewFile(uintptr(nfd), "listener")
	defer file.Close()
	dup, err := net.FileListener(file)
	if err != nil {
		return nil, fmt.Errorf("conn: duplicate listener %v: %w", ln.Addr(), err)
	}
	if u, ok := ln.(*net.UnixListener); ok {
		u.SetUnlinkOnClose(false)
	}
	return dup, nil
}

// dupCloseOnExec duplicates fd, the copy closed on exec.
func dupCloseOnExec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, os.NewSyscallError("dup", err)
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}

// ListenerStats are a listener's counters.
type ListenerStats struct {
	// Active is the number of connections alive (accepted and not closed).
	Active int64
	// Accepted counts connections the rules accepted.
	Accepted uint64
	// Rejected and SilentDropped count the rules' other verdicts.
	Rejected, SilentDropped uint64
	// HandshakeFailed counts handshake phases that failed under Serve.
	HandshakeFailed uint64
	// RateWaits counts the times accepting waited for the rate limit.
	RateWaits uint64
	// FullWaits counts the times accepting waited for a free slot, its
	// own (MaxConn) or a shared one (Slots).
	FullWaits uint64
}

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{
		Active: l.active.Load(), Accepted: l.accepted.Load(),
		Rejected: l.rejected.Load(), SilentDropped: l.dropped.Load(),
		HandshakeFailed: l.handshakeErr.Load(),
		RateWaits:       l.rateWaits.Load(), FullWaits: l.fullWaits.Load(),
	}
}

// Accept waits for the next connection the rules accept and returns it
// before its handshake phase: the caller runs [Conn.Handshake] in the
// connection's own goroutine (as [Listener.Serve] does). It blocks while
// the listener is paused, full (MaxConn) or over its rate. After Close it
// returns [ErrClosed].
func (l *Listener) Accept() (*Conn, error) {
	for {
		if err := l.waitResumed(); err != nil {
			return nil, err
		}
		watch := l.pending != nil && l.crowded()
		if watch {
			if err := l.pending.wait(); err != nil {
				if l.isClosed() {
					return nil, ErrClosed
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue // woken by Pause
				}
				return nil, fmt.Errorf("conn: waiting for a client on %v: %w", l.ln.Addr(), err)
			}
		}
		// Without the watch, the shared slots are taken before a client
		// is pending: a listener that finds none free can wake this one.
		holding := l.pending != nil && !watch
		if holding {
			l.holding.Store(true)
		}
		if err := l.acquire(); err != nil {
			l.holding.Store(false)
			return nil, err
		}
		if err := l.waitRate(); err != nil {
			l.holding.Store(false)
			l.releaseSlot()
			return nil, err
		}
		l.inAccept.RLock()
		sock, err := l.ln.Accept()
		l.inAccept.RUnlock()
		if holding {
			l.holding.Store(false)
		}
		if err != nil {
			l.releaseSlot()
			if l.isClosed() {
				return nil, ErrClosed
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				l.unnudge()
				continue // woken by Pause, or by a listener sharing the slots
			}
			return nil, fmt.Errorf("conn: accept on %v: %w", l.ln.Addr(), err)
		}
		if l.cfg.Rate != nil || len(l.cfg.Rates) > 0 {
			// Another listener may have used the shared rate up while this
			// one waited in accept: the client waits, accepted, until the
			// rate allows it.
			if err := l.waitRate(); err != nil {
				_ = sock.Close()
				l.releaseSlot()
				return nil, err
			}
		}
		if c := l.admit(sock); c != nil {
			return c, nil
		}
	}
}

// admit runs the rules on a new socket and builds its Conn, or disposes of
// the socket and returns nil. The caller holds a slot, which the Conn then
// owns or which is released here.
func (l *Listener) admit(sock net.Conn) *Conn {
	l.active.Add(1)
	c := &Conn{sock: sock, ln: l}
	if l.cfg.AcceptProxy {
		c.setFlag(FlagAcceptProxy)
	}
	if l.cfg.DisableNoDelay {
		if tc, ok := sock.(*net.TCPConn); ok {
			tc.SetNoDelay(false)
		}
	}
	if l.cfg.MaxSeg < 0 {
		_, _ = lowerMSS(sock, -l.cfg.MaxSeg)
	}
	if l.cfg.NoLinger {
		c.setFlag(FlagNoLinger)
		if !lingerInherited {
			setLinger0(sock)
		}
		c.lingerSet = true
	}
	v := Accept
rules:
	for _, r := range l.cfg.Rules {
		switch v = r(c); v {
		case Continue:
			v = Accept
		default:
			break rules
		}
	}
	switch v {
	case Reject:
		l.rejected.Add(1)
		l.log.Debug("connection rejected by rule", "listener", l.ln.Addr(), "src", sock.RemoteAddr())
		c.Abort()
		return nil
	case SilentDrop:
		l.dropped.Add(1)
		l.log.Debug("connection silently dropped by rule", "listener", l.ln.Addr(), "src", sock.RemoteAddr())
		c.closing.Store(true)
		c.phase.Store(uint32(PhaseClosed))
		silentDrop(sock, l.cfg.SilentDropTTL)
		l.release()
		return nil
	case Accept:
	default:
		l.log.Error("connection rule returned an unknown verdict; rejecting", "verdict", v.String())
		c.Abort()
		return nil
	}
	tr, err := l.cfg.Transport(sock)
	if err != nil {
		l.log.Error("building transport", "listener", l.ln.Addr(), "src", sock.RemoteAddr(), "err", err)
		c.Abort()
		return nil
	}
	c.tr = tr
	l.accepted.Add(1)
	if l.rate != nil {
		l.rate.Add(1)
	}
	for _, r := range l.cfg.Rates {
		r.Counter.Add(1)
	}
	return c
}

// release gives a connection's slot back; Conn.Close calls it once.
func (l *Listener) release() {
	l.active.Add(-1)
	l.releaseSlot()
}

// crowded reports whether Accept must wait for a client before it takes
// its shared slots: others share one of them, which has no more slots
// free than listeners, so that another listener could starve behind a
// slot taken by an accept(2) with nobody to accept. Otherwise Accept
// skips the wait and its poll(2), one system call per connection; should
// the slots run out meanwhile, a listener that needs one wakes those
// holding slots in accept(2) ([Slots] nudgeHolders).
func (l *Listener) crowded() bool {
	if !l.canNudge {
		return true
	}
	for _, s := range l.shared {
		if s.scarce() {
			return true
		}
	}
	return false
}

// nudge wakes an accept(2) that may be waiting with the shared slots
// taken, so that Accept gives them back and looks again whether it must
// wait for a client first.
func (l *Listener) nudge() {
	if !l.canNudge {
		return // always crowded
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	l.nudged = true
	if !l.paused {
		_ = l.ln.(deadliner).SetDeadline(time.Unix(1, 0))
	}
}

// unnudge clears a nudge's deadline once its accept has woken.
func (l *Listener) unnudge() {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.nudged {
		l.nudged = false
		if !l.paused {
			_ = l.ln.(deadliner).SetDeadline(time.Time{})
		}
	}
}

func (l *Listener) releaseSlot() {
	for i := len(l.shared) - 1; i >= 0; i-- {
		l.shared[i].give()
	}
	l.slots.give()
}

// acquire takes the listener's own slot, then one of each shared limit;
// a listener waiting on a shared limit keeps the slots it already has,
// which only delays its own next accept.
func (l *Listener) acquire() error {
	if !l.slots.take(l.done, &l.fullWaits) {
		return ErrClosed
	}
	for i, s := range l.shared {
		if !s.take(l.done, &l.fullWaits) {
			for j := i - 1; j >= 0; j-- {
				l.shared[j].give()
			}
			l.slots.give()
			return ErrClosed
		}
	}
	return nil
}

func (l *Listener) waitRate() error {
	if l.rate == nil && len(l.cfg.Rates) == 0 {
		return nil
	}
	for {
		var d time.Duration
		if l.rate != nil {
			d = l.rate.NextEventDelay(l.cfg.RateLimit)
		}
		for _, r := range l.cfg.Rates {
			d = max(d, r.Counter.NextEventDelay(r.Limit))
		}
		if d <= 0 {
			return nil
		}
		l.rateWaits.Add(1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return ErrClosed
		}
	}
}

func (l *Listener) waitResumed() error {
	for {
		l.pmu.Lock()
		paused, ch := l.paused, l.resumeCh
		l.pmu.Unlock()
		if l.isClosed() {
			return ErrClosed
		}
		if !paused {
			return nil
		}
		select {
		case <-ch:
		case <-l.done:
			return ErrClosed
		}
	}
}

type deadliner interface{ SetDeadline(time.Time) error }

// Pause stops accepting until Resume, leaving new connections in the
// kernel backlog, as a soft stop does; live connections are untouched. A
// blocked Accept is woken and waits. Once Pause returns, no connection is
// accepted until Resume: one that came while Pause ran may have been.
func (l *Listener) Pause() error {
	if err := l.pause(); err != nil {
		return err
	}
	// The runtime wakes an accept(2) waiting when its deadline passes,
	// but a client arriving before the woken goroutine runs wins, and
	// the accept takes it. Waiting for the accepts in flight to return
	// makes a client that comes after Pause stay in the backlog.
	l.inAccept.Lock()
	//lint:ignore SA2001 the empty section is the wait for the readers
	l.inAccept.Unlock()
	return nil
}

func (l *Listener) pause() error {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.paused {
		return nil
	}
	d, ok := l.ln.(deadliner)
	if !ok {
		return fmt.Errorf("conn: listener %v cannot be paused: no SetDeadline", l.ln.Addr())
	}
	l.paused = true
	l.resumeCh = make(chan struct{})
	if l.pending != nil {
		l.pending.setDeadline(time.Unix(1, 0))
	}
	return d.SetDeadline(time.Unix(1, 0))
}

// Suspend pauses the listener as Pause does and, where it can, stops
// its socket listening too, so that the system refuses new clients (and
// resets those waiting in the backlog) until Resume, as HAProxy's
// "disable frontend" does on Linux. It can on Linux, for a TCP listener
// that Listen opened on a given port: one the system chose could be lost
// meanwhile. Elsewhere clients wait in the backlog, as under Pause. It
// reports whether the socket stopped listening.
func (l *Listener) Suspend() (refusing bool, err error) {
	if err := l.Pause(); err != nil {
		return false, err
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.paused || l.unlistened || !l.fixedPort || l.isClosed() {
		return l.unlistened, nil
	}
	if err := stopListening(l.ln); err != nil {
		return false, nil // still paused, clients waiting in the backlog
	}
	l.unlistened = true
	return true, nil
}

// Resume undoes Pause and Suspend.
func (l *Listener) Resume() error {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.paused {
		return nil
	}
	if l.unlistened {
		n := l.cfg.Backlog
		if n <= 0 {
			n = maxBacklog
		}
		if err := setBacklog(l.ln, n); err != nil {
			return fmt.Errorf("conn: listen again on %v: %w", l.ln.Addr(), err)
		}
		l.unlistened = false
	}
	l.paused = false
	close(l.resumeCh)
	if l.pending != nil {
		l.pending.setDeadline(time.Time{})
	}
	return l.ln.(deadliner).SetDeadline(time.Time{})
}

// Paused reports whether the listener is paused.
func (l *Listener) Paused() bool {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	return l.paused
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close stops the listener: pending and later Accept calls return
// [ErrClosed]. Accepted connections stay open; their owners close them.
func (l *Listener) Close() error {
	err := ErrClosed
	l.closed.Do(func() {
		close(l.done)
		err = l.ln.Close()
		if l.pending != nil {
			l.pending.close()
			for _, s := range l.shared {
				s.leave(l)
			}
		}
	})
	return err
}

// Serve accepts connections until the listener is closed or ctx is done
// (which closes it), and runs each one in its own goroutine: the handshake
// phase, bounded by the handshake timeout, then handle. A connection whose
// handshake fails is closed and never reaches handle; every connection is
// closed when handle returns. After Close, Serve cancels the context it
// gave its goroutines, waits for them all to return, and returns nil, so
// handle should watch ctx. To stop accepting while connections finish
// their work, Pause the listener instead of closing it.
func (l *Listener) Serve(ctx context.Context, handle func(context.Context, *Conn)) error {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	// Cancel before waiting, so pending handshakes and handlers that
	// watch ctx end.
	defer wg.Wait()
	defer cancel()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off as net/http
			// does rather than spin, and keep serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Error("accept failed; retrying", "listener", l.ln.Addr(), "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			if err := c.Handshake(ctx); err != nil {
				l.handshakeErr.Add(1)
				if !errors.Is(err, io.EOF) {
					l.log.Debug("handshake failed", "listener", l.ln.Addr(), "src", c.SocketRemote(), "err", err)
				}
				return
			}
			handle(ctx, c)
		}()
	}
}
