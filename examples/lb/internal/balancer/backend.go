package balancer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Errors of server selection, which the traffic log turns into termination
// states.
var (
	// ErrNoServer means no server of the backend is usable (all down,
	// disabled or of zero weight): the connection is closed at once.
	ErrNoServer = errors.New("no server available")
	// ErrQueueTimeout means the connection waited in a queue longer than
	// "timeout queue" without getting a slot.
	ErrQueueTimeout = errors.New("queue timeout")
	// ErrQueueFull means the server the algorithm chose is full and so
	// is its queue (maxqueue); the assignment names the server.
	ErrQueueFull = errors.New("server queue full")
	// ErrClientGone means the client closed its side while its request
	// waited, under option abortonclose.
	ErrClientGone = errors.New("client closed while waiting")
)

// goneInterval is how often a waiting request's client is looked at
// under option abortonclose.
const goneInterval = 50 * time.Millisecond

// Backend is a running backend: its servers, their counters and queues, and
// the balancing algorithm. One mutex guards all of it; every operation under
// it is a few comparisons, far below the cost of the connects it decides.
type Backend struct {
	cfg  *config.Proxy
	logs *logSet
	http *httpProxy // HTTP-mode settings (http_rules.go)
	// content are a TCP backend's "tcp-request content" rules, nil
	// without any.
	content *contentRules
	// resp are a TCP backend's "tcp-response content" rules, nil
	// without any.
	resp *contentRules
	// useSrv are the "use-server" rules (useserver.go).
	useSrv []useServerRule
	// stick are the "stick" rules (stick.go).
	stick []stickRule
	// fixed, for a backend without a balance algorithm but with a
	// dispatch address or option transparent, is where its connections
	// go that persistence sends to no server: a server outside the list,
	// named <NOSRV>, at that address or at 0.0.0.0 with mapped ports.
	fixed *Server

	// dyn is the state of the dynamic cookies (dyncookie.go).
	dyn atomic.Pointer[dynCookie]

	mu      sync.Mutex
	servers []*Server
	algo    algorithm
	queue   []*pending // the backend queue, oldest first
	served  int64      // connections the backend queue handed a server
	waiting int        // connections in the backend and server queues, and one arriving
	conns   int        // beconn: connections currently assigned a server
	// fullconn is the load at which servers with a minconn reach their
	// maxconn (set once the frontends are known).
	fullconn int
	cands    []*Server // usable servers; rebuilt on state changes
	dirty    bool
	noneLog  bool // "no server available" was logged for the current outage

	// st are the backend's statistics (stats.go), st.cum counting the
	// sessions (HTTP: requests) handed to the backend; the fields below them
	// are guarded by mu: the peaks of conns and of the queue, how often
	// the backend lost its last server, when its state last changed
	// (Unix seconds), and its downtime.
	st         counters
	smax, qmax int
	chkDown    int
	lastChange int64
	down       outage
}

// Server is one running server.
type Server struct {
	cfg    *config.Server
	be     *Backend
	weight int
	// addr is where the server's connections go, host:port; "set server
	// addr" changes it at run time (address, setAddr).
	addr atomic.Pointer[string]
	// dyn is the dynamic cookie last made for the server (dyncookie.go).
	dyn     atomic.Pointer[dynValue]
	checker *checker
	agent   *agent // the agent check (agent.go), nil for none
	dialer  *conn.Dialer
	// sniFn is the server's sni expression when the balancer evaluates
	// it for each connection (any but str() and ssl_fc_sni); nil else.
	sniFn   acl.FetchFunc
	dialErr error       // why dialer is nil
	conns   serverConns // kept HTTP connections (http_pool.go)

	// Guarded by be.mu.
	up     bool
	health int
	// eweight is the effective weight the dynamic algorithms use, on
	// HAProxy's scale: weight×16, or a share of it while the server warms
	// up after coming back (slowstart), from lastUp, a Unix second, with
	// starting set.
	eweight  int
	starting bool
	lastUp   int64
	cur      int
	queue    []*pending
	served   int64 // connections the server queue handed a slot
	rr       rrState
	lc       lcNode
	live     map[*session]struct{} // TCP sessions connected
	// maint and drain are the administrative states ("disabled", "set
	// server ... state"): in maintenance the server takes nothing and is
	// not checked; draining, it takes no new connection.
	maint, drain bool
	// stopping is HAProxy's SRV_ST_STOPPING, shown NOLB: a running
	// server whose check answered 404 under http-check disable-on-404
	// takes no new client but those persistence sends it.
	stopping bool
	// maxconn is the server's connection limit, its configured one
	// until an agent or "set maxconn server" changes it; 0 for none.
	maxconn int
	// cmaint: the configuration says "disabled" (HAProxy's CMAINT, kept
	// after the server leaves that maintenance). checkOff and agentOff are
	// "disable health" and "disable agent": the check does not run and
	// the statistics leave it out. checkPort is the health check's port
	// ("port", "set server check-port"), 0 for the server's. seedCheck
	// is the check status a state file kept, shown until a check runs.
	cmaint, checkOff, agentOff bool
	checkPort                  atomic.Int32
	seedCheck                  string
	// rmaint is HAProxy's RMAINT: the server's resolvers found no
	// address for it (resolver.go); it takes nothing, is not checked,
	// and has no address until they find one.
	rmaint bool
	// hostname is the target of the SRV record the server took, ""
	// for none (srv.go); hmaint, HAProxy's HMAINT, tells that an SRV
	// record gave it its host name once.
	hostname string
	hmaint   bool
	// srvSeen (when an answer last held the server's record) and
	// target (the resolution of its host name's address, nil when the
	// answer gave it) belong to the resolvers' goroutine.
	srvSeen time.Time
	target  *resolution
	// tracked is the server whose operational state this one takes
	// ("track"), nil for none; trackers are those that track this one.
	// Both are set before the balancer starts.
	tracked  *Server
	trackers []*Server
	// imaint and idrain are the maintenance and drain a tracking server
	// inherits from the server it tracks (HAProxy's IMAINT and IDRAIN),
	// beside its own, forced ones (maint, drain).
	imaint, idrain bool
	// Statistics (stats.go), and under be.mu the peaks of cur and of the
	// queue, the checks failed while up, the times it went down, when
	// its state last changed (Unix seconds) and its downtime.
	st               counters
	smax, qmax       int
	chkFail, chkDown int
	lastChange       int64
	down             outage
}

// pending is a connection waiting in a queue. It is handed a server by
// whoever frees a slot, under the backend lock, and woken through ready.
type pending struct {
	src   netip.Addr
	srv   *Server // set when a slot was given
	ready chan struct{}
	// mark is the served count of the queue p is in when p entered it,
	// minus one; srvPos and bePos add up, as HAProxy's %sq and %bq do,
	// the connections each queue served while p waited in it, plus one
	// for p: the first in line reports 1.
	mark          int64
	srvPos, bePos int
	// class and at order the queues, as HAProxy's priority keys: the
	// lower class first (set-priority-class), then the earlier at, the
	// arrival in Unix milliseconds moved by set-priority-offset; equal
	// ones in arrival order.
	class int
	at    int64
}

// Priority is a request's place in the queues: HAProxy's
// set-priority-class (-2047 to 2047, lower first) and
// set-priority-offset (milliseconds, -524287 to 524287, added to its
// arrival).
type Priority struct {
	Class, Offset int
}

// before reports whether p is served before q.
func (p *pending) before(q *pending) bool {
	return p.class < q.class || p.class == q.class && p.at < q.at
}

// enqueue inserts p into a queue after every connection served before or
// with it.
func enqueue(queue []*pending, p *pending) []*pending {
	i := len(queue)
	for i > 0 && p.before(queue[i-1]) {
		i--
	}
	return slices.Insert(queue, i, p)
}

func newBackend(cfg *config.Proxy, logs *logSet) *Backend {
	b := &Backend{cfg: cfg, logs: logs, algo: newProxyAlgorithm(cfg), dirty: true, lastChange: time.Now().Unix()}
	b.initDynCookie()
	for _, sc := range cfg.Servers {
		if cfg.Disabled {
			break // a disabled backend has no server: its traffic gets 503
		}
		b.servers = append(b.servers, makeServer(b, sc))
	}
	b.follow()
	if !cfg.BalanceSet && (cfg.Dispatch != "" || cfg.Options.Transparent) {
		// As in HAProxy, the dispatch address before the client's own.
		sc := &config.Server{Name: "<NOSRV>", Addr: cfg.Dispatch, Weight: 1}
		if sc.Addr == "" {
			sc.Addr, sc.MapPorts = "0.0.0.0:0", true
		}
		b.fixed = makeServer(b, sc)
	}
	return b
}

// makeServer is a server of b as it starts: up, at full health and weight.
func makeServer(b *Backend, sc *config.Server) *Server {
	now := time.Now().Unix()
	s := &Server{cfg: sc, be: b, weight: sc.Weight, eweight: sc.Weight * weightScale, up: true, health: sc.Rise,
		maint: sc.Disabled, cmaint: sc.Disabled, lastChange: now, maxconn: sc.MaxConn}
	s.addr.Store(&sc.Addr)
	if sc.Unresolved && sc.Resolvers != "" {
		// Waiting for its resolvers, at no health, as HAProxy starts
		// such a server.
		s.rmaint, s.health = true, 0
		s.clearAddr()
	}
	s.checkPort.Store(int32(sc.CheckPort))
	if sc.State != nil {
		s.restore(sc.State, now)
	}
	s.down.set(s.inMaint() || s.rmaint || !s.up, now)
	return s
}

// Name returns the backend's name.
func (b *Backend) Name() string { return b.cfg.Name }

// Server returns the named server, or nil.
func (b *Backend) Server(name string) *Server {
	for _, s := range b.servers {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

// Name returns the server's name.
func (s *Server) Name() string { return s.cfg.Name }

// address is where the server's new connections go, host:port, or
// unix@PATH for a UNIX socket.
func (s *Server) address() string { return *s.addr.Load() }

// unix reports whether the server is a UNIX socket.
func (s *Server) unix() bool {
	return strings.HasPrefix(s.cfg.Addr, config.UnixPrefix) || strings.HasPrefix(s.cfg.Addr, config.AbnsPrefix)
}

// Up reports whether health checks consider the server up (servers
// without checks are always up).
func (s *Server) Up() bool {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.up
}

// CurConns returns the connections the server is handling now.
func (s *Server) CurConns() int {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.cur
}

// inUse reports whether the server may take connections now (up, not
// disabled, with a weight).
func (s *Server) inUse() bool {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.usable()
}

// Queued returns the connections waiting in the server's own queue
// (HAProxy's qcur for a server).
func (s *Server) Queued() int {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return len(s.queue)
}

// full reports whether the server is at its maxconn, which ramps up with
// the weight while the server warms up.
func (s *Server) full() bool {
	return s.maxconn != 0 && s.cur >= s.limit()
}

// limit is the server's maxconn now: lower under a minconn while the
// backend's load is under its fullconn, and while the server warms up.
func (s *Server) limit() int {
	if s.starting {
		return s.maxConn(time.Now().Unix())
	}
	return s.dynamicMax()
}

// dynamicMax is HAProxy's dynamic maxconn: with a minconn below the
// maxconn, max(minconn, maxconn×beconn/fullconn) until the backend's
// connections (queued and arriving ones included) reach its fullconn.
// Called with be.mu held.
func (s *Server) dynamicMax() int {
	b := s.be
	if s.cfg.MinConn == 0 || s.cfg.MinConn >= s.maxconn || b.fullconn == 0 {
		return s.maxconn
	}
	beconn := b.conns + b.waiting
	if beconn >= b.fullconn {
		return s.maxconn
	}
	return max(s.cfg.MinConn, beconn*s.maxconn/b.fullconn)
}

// weightScale is HAProxy's BE_WEIGHT_SCALE: an effective weight is the
// configured one times this, so that slowstart can hand out fractions.
const weightScale = 16

// maxConn is the server's connection limit at Unix second now: maxconn,
// or while it warms up the elapsed share of the slowstart period of it,
// at least 1, as HAProxy's srv_dynamic_maxconn computes it. Called with
// be.mu held.
func (s *Server) maxConn(now int64) int {
	limit := s.dynamicMax()
	if ss := int64(s.cfg.SlowStart / time.Second); s.starting && now >= s.lastUp && now < s.lastUp+ss {
		ratio := 100 * (now - s.lastUp) / ss
		limit = max(1, int(int64(limit)*ratio/100))
	}
	return limit
}

// recalcWeight sets the effective weight for Unix second now, as
// HAProxy's server_recalc_eweight: while the server warms up, and only
// for the algorithms that follow weight changes, weight×w with w running
// from 1 to 16 over the slowstart period; once the period is over the
// server is no longer starting. Called with be.mu held.
func (s *Server) recalcWeight(now int64, dynamic bool) {
	ss := int64(s.cfg.SlowStart / time.Second)
	if s.starting && (now < s.lastUp || now >= s.lastUp+ss) {
		s.starting = false
	}
	w := int64(weightScale)
	if s.starting && dynamic {
		w = (weightScale*(now-s.lastUp) + ss) / ss
	}
	s.eweight = s.weight * int(w)
}

// usable reports whether the server may take traffic at all.
func (s *Server) usable() bool {
	return s.up && !s.stopping && !s.inMaint() && !s.rmaint && !s.draining() && s.weight > 0
}

// inMaint and draining report the server in maintenance or drain, forced
// or inherited. Called with be.mu held.
func (s *Server) inMaint() bool  { return s.maint || s.imaint }
func (s *Server) draining() bool { return s.drain || s.idrain }

// persistable reports whether persistence (a cookie, a stick table, an
// RDP token) may still send a client to the server: as in HAProxy, any
// running server, so a draining one (or one of weight 0) takes no new
// client but keeps those bound to it.
func (s *Server) persistable() bool { return s.up && !s.inMaint() && !s.rmaint }

// takesPersistent is persistable under the backend's lock.
func (s *Server) takesPersistent() bool {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.persistable()
}

// retryPlan decides, as HAProxy does, how the retry numbered retries of
// a failed connect to srv goes. Under option redispatch, a connection not
// bound to its server by persistence (direct) moves at once to another one
// when the algorithm hashes nothing (every one but source, uri, hdr and
// url_param) and several active servers are usable; otherwise the retries
// its interval names move (the last one by default), or any retry once
// srv is down. A retry waits the
// turn-around time first when it stays on srv or has no other active
// server to go to, since a refused connect is likely to be refused again
// at once; a connect that timed out has waited already.
func (b *Backend) retryPlan(srv *Server, retries int, direct, timedOut bool) (move, wait bool) {
	active := b.activeServers()
	if b.cfg.Options.Redispatch {
		spread := !direct && !b.hashed() && active > 1
		move = spread || b.redispatchDue(retries) || !srv.Up()
	}
	return move, !timedOut && (!move || active <= 1)
}

// redispatchDue reports whether option redispatch's interval moves the
// retries-th retry, as HAProxy counts it: every interval-th one, or for
// a negative interval -N every (retries+1-N)-th one, the last by
// default.
func (b *Backend) redispatchDue(retries int) bool {
	n := b.cfg.Options.RedispatchAfter
	if n == 0 {
		n = -1 // a proxy built without the option's parser
	}
	if n < 0 {
		n += b.cfg.Retries + 1
	}
	return n > 0 && retries%n == 0
}

// connectTimedOut tells a connect that ran out of time (timeout connect)
// from one that failed: the log says sC rather than SC, and no
// turn-around comes before the retry.
func connectTimedOut(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

// turnAround waits HAProxy's turn-around time before a connection retry,
// min(1 s, timeout connect). It reports false when ctx ends meanwhile.
func (b *Backend) turnAround(ctx context.Context) bool {
	d := time.Second
	if c := b.cfg.Timeouts.Connect; c > 0 && c < d {
		d = c
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hashed reports whether the backend's algorithm hashes a part of the
// connection or request (source, uri, hdr, url_param): HAProxy's kind of
// algorithm that keeps a failed connection on its server until the last
// retry.
func (b *Backend) hashed() bool {
	_, ok := b.algo.(*hashAlgo)
	return ok
}

// activeServers counts the usable servers that are not backups.
func (b *Backend) activeServers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.servers {
		if !s.cfg.Backup && s.usable() {
			n++
		}
	}
	return n
}

// candidates returns the servers the algorithm chooses among: the usable
// active servers, or if none, the first usable backup (all of them with
// option allbackups). Called with b.mu held.
func (b *Backend) candidates() []*Server {
	if !b.dirty {
		return b.cands
	}
	b.dirty = false
	b.cands = b.cands[:0]
	for _, s := range b.servers {
		if !s.cfg.Backup && s.usable() {
			b.cands = append(b.cands, s)
		}
	}
	if len(b.cands) == 0 {
		for _, s := range b.servers {
			if s.cfg.Backup && s.usable() {
				b.cands = append(b.cands, s)
				if !b.cfg.Options.AllBackups {
					break
				}
			}
		}
	}
	return b.cands
}

// assignment is the outcome of getting a server, for the log line.
type assignment struct {
	srv      *Server
	queued   bool
	waited   time.Duration
	srvQueue int // %sq: the server queue's position, as HAProxy counts it
	beQueue  int // %bq: the backend queue's position
}

// assign finds a server with a free slot for a connection from src,
// waiting in a queue (bounded by timeout queue, then timeout connect, as
// HAProxy does) when every usable server is full. key is what a request
// hashing algorithm reads (balance uri, hdr, url_param, rdp-cookie; nil
// for none). avoid excludes a server (the one that just failed, on
// redispatch) when another is usable. direct is a server persistence
// named (a cookie, a stick table, an RDP routing token): when it is usable,
// or down under option persist, it is taken without the algorithm, its
// own queue holding the connection when it is full, as HAProxy's direct
// access; force (force-persist) takes it down too.
func (b *Backend) assign(ctx context.Context, src netip.Addr, key []byte, avoid, direct *Server, force bool, gone func() bool, prio Priority) (assignment, error) {
	b.mu.Lock()
	// The arriving connection counts in the backend's load (beconn) as
	// the servers' dynamic maxconn is worked out, as in HAProxy.
	b.waiting++
	var s *Server
	var queueOn bool
	if direct != nil && (direct.persistable() || b.cfg.Options.Persist || force) {
		s, queueOn = direct, direct.full() || len(direct.queue) > 0
	} else if b.fixed != nil {
		// No algorithm: the dispatch address or the client's own
		// destination, which the log names <NOSRV>, as HAProxy does.
		b.waiting--
		b.fixed.cur++
		b.conns++
		b.mu.Unlock()
		return assignment{srv: b.fixed}, nil
	} else {
		cands := b.candidates()
		if len(cands) == 0 {
			b.waiting--
			b.mu.Unlock()
			return assignment{}, ErrNoServer
		}
		if len(cands) == 1 && cands[0] == avoid {
			avoid = nil
		}
		s, queueOn = b.pick(cands, src, key, avoid)
		if s != nil {
			s.st.lbtot.Add(1)
			b.st.lbtot.Add(1)
		}
	}
	if s != nil && !queueOn {
		b.waiting--
		s.cur++
		b.conns++
		b.took(s)
		b.moved(s)
		b.mu.Unlock()
		return assignment{srv: s}, nil
	}
	if queueOn && s.cfg.MaxQueue > 0 && len(s.queue) >= s.cfg.MaxQueue {
		b.waiting--
		b.mu.Unlock()
		return assignment{srv: s}, ErrQueueFull
	}
	p := &pending{src: src, ready: make(chan struct{}, 1), class: prio.Class, at: time.Now().UnixMilli() + int64(prio.Offset)}
	var a assignment
	a.queued = true
	if queueOn {
		p.mark = s.served - 1
		s.queue = enqueue(s.queue, p)
		s.qmax = max(s.qmax, len(s.queue))
	} else {
		p.mark = b.served - 1
		b.queue = enqueue(b.queue, p)
		b.qmax = max(b.qmax, len(b.queue))
	}
	b.smax = max(b.smax, b.conns+b.waiting)
	b.mu.Unlock()

	start := time.Now()
	timeout := b.cfg.Timeouts.Queue
	if timeout == 0 {
		timeout = b.cfg.Timeouts.Connect
	}
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	var poll <-chan time.Time
	if gone != nil {
		t := time.NewTicker(goneInterval)
		defer t.Stop()
		poll = t.C
	}
	var err error
wait:
	for {
		select {
		case <-p.ready:
		case <-timer:
			err = ErrQueueTimeout
		case <-ctx.Done():
			err = ctx.Err()
		case <-poll:
			if !gone() {
				continue
			}
			err = ErrClientGone
		}
		break wait
	}
	a.waited = time.Since(start)
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.srv != nil && (ctx.Err() != nil || err == ErrClientGone) {
		// Stopping, or the client left: a slot handed over at the last
		// moment goes back.
		p.srv.cur--
		b.conns--
		b.moved(p.srv)
		b.serveQueues()
		a.srvQueue, a.beQueue = p.srvPos, p.bePos
		if err != ErrClientGone {
			err = ctx.Err()
		}
		return a, err
	}
	if p.srv != nil {
		// A slot arrived, possibly racing with the timer: take it.
		a.srv = p.srv
		a.srvQueue, a.beQueue = p.srvPos, p.bePos
		return a, nil
	}
	b.unqueue(p)
	a.srvQueue, a.beQueue = p.srvPos, p.bePos
	if queueOn {
		a.srv = s // named on the line, as HAProxy names the server whose queue it left
	}
	return a, err
}

// unqueue removes p from whichever queue holds it, noting its position
// there. Called with b.mu held.
func (b *Backend) unqueue(p *pending) {
	var ok bool
	if b.queue, ok = removePending(b.queue, p); ok {
		p.bePos += int(b.served - p.mark)
		b.waiting--
		return
	}
	for _, s := range b.servers {
		if s.queue, ok = removePending(s.queue, p); ok {
			p.srvPos += int(s.served - p.mark)
			b.waiting--
			return
		}
	}
}

func removePending(q []*pending, p *pending) ([]*pending, bool) {
	for i, x := range q {
		if x == p {
			return append(q[:i], q[i+1:]...), true
		}
	}
	return q, false
}

// release frees s's slot and hands it to the oldest waiter of s's queue,
// else of the backend queue. It returns the counts a log line shows for
// the connection that gave the slot back (as counts does), taken before
// the hand-over: HAProxy logs a closing connection before the waiter it
// woke counts on the server.
func (b *Backend) release(s *Server) (beconn, srvconn int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s.cur--
	b.conns--
	b.moved(s)
	beconn, srvconn = b.conns+b.waiting, s.cur
	b.serveQueues()
	return beconn, srvconn
}

// serveQueues gives free slots to waiting connections: first each server's
// own queue, then the backend queue through the algorithm. Called with b.mu
// held, after anything that may free a slot or bring a server up.
func (b *Backend) serveQueues() {
	for _, s := range b.servers {
		// A server's own queue holds what persistence sent it, which a
		// draining or stopping server still takes, as in HAProxy.
		for len(s.queue) > 0 && s.persistable() && !s.full() {
			p := s.queue[0]
			s.queue = s.queue[1:]
			p.srvPos += int(s.served - p.mark)
			s.served++
			b.grant(p, s)
		}
	}
	for len(b.queue) > 0 {
		cands := b.candidates()
		if len(cands) == 0 {
			return
		}
		p := b.queue[0]
		s, queueOn := b.algo.pick(cands, p.src, nil)
		if s == nil {
			return
		}
		b.queue = b.queue[1:]
		p.bePos += int(b.served - p.mark)
		b.served++
		// As in HAProxy, a connection the backend's queue hands on is
		// not counted as balanced (lbtot).
		if queueOn {
			p.mark = s.served - 1
			s.queue = enqueue(s.queue, p)
			s.qmax = max(s.qmax, len(s.queue))
			continue
		}
		b.grant(p, s)
	}
}

func (b *Backend) grant(p *pending, s *Server) {
	b.waiting--
	s.cur++
	b.conns++
	b.took(s)
	b.moved(s)
	p.srv = s
	p.ready <- struct{}{}
}

// counts returns beconn and the server's current connections, for logs.
// As HAProxy's beconn, the first counts the connections waiting in the
// backend's queues too.
func (b *Backend) counts(s *Server) (beconn, srvconn int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s != nil {
		srvconn = s.cur
	}
	return b.conns + b.waiting, srvconn
}

// setState moves a server up or down after a check and logs it the way
// HAProxy does.
func (b *Backend) setState(s *Server, up bool, reason string, dur time.Duration) {
	// With option log-health-checks the check's own line gave the
	// reason, and HAProxy leaves it out here.
	why := fmt.Sprintf(", reason: %s, check duration: %dms", reason, dur.Milliseconds())
	switch {
	case b.cfg.Options.LogHealthChecks:
		why = ""
	case dur < 0:
		why = ", reason: " + reason // no check ran (observe)
	}
	b.changeState(s, up, why)
}

// track links every server that tracks another ("track") to it, and
// starts it in that server's state. It runs before any check.
func track(backends map[string]*Backend) {
	for _, be := range backends {
		for _, s := range be.servers {
			if s.cfg.TrackBackend == "" {
				continue
			}
			if tb := backends[s.cfg.TrackBackend]; tb != nil {
				if t := tb.Server(s.cfg.TrackServer); t != nil {
					s.tracked = t
					t.trackers = append(t.trackers, s)
				}
			}
		}
	}
	// Chains take their state from their root, and its maintenance (a
	// "disabled" server's) as an inherited one.
	for _, be := range backends {
		for _, s := range be.servers {
			if s.tracked == nil {
				continue
			}
			root := s
			for root.tracked != nil && root.tracked != s {
				root = root.tracked
				if root.inMaint() {
					s.imaint = true
				}
			}
			if !s.maint {
				s.up = root.up
			}
			s.down.set(s.inMaint() || s.rmaint || !s.up, s.lastChange)
		}
	}
}

// changeState moves s up or down and logs it, why following "is UP" or
// "is DOWN", then moves the servers that track s, as HAProxy does: their
// lines say "via" where s's gave the reason. A tracking server in
// maintenance keeps its state, and takes the tracked one's when it
// leaves (backFromMaint).
func (b *Backend) changeState(s *Server, up bool, why string) {
	b.mu.Lock()
	if s.tracked != nil && s.inMaint() {
		b.mu.Unlock()
		return
	}
	wasStopping := s.stopping
	if s.up == up && !(up && wasStopping) {
		b.mu.Unlock()
		return
	}
	defer func() {
		via := fmt.Sprintf(" via %s/%s", b.cfg.Name, s.cfg.Name)
		for _, t := range s.trackers {
			t.be.changeState(t, up, via)
		}
	}()
	s.up, s.stopping = up, false
	b.dirty = true
	// A server back up after a failure warms up over slowstart; never at
	// start, since servers start up.
	s.starting = up && s.cfg.SlowStart >= time.Second
	s.lastUp = time.Now().Unix()
	if !up {
		s.chkDown++
	}
	s.noteState(s.lastUp)
	s.recalcWeight(s.lastUp, b.dynamicWeights())
	b.follow()
	active, backup := b.usableCounts()
	requeued := 0
	if !up {
		// Connections waiting for this server go back to the backend queue
		// so another server can take them.
		requeued = b.requeue(s)
	}
	b.serveQueues()
	b.noteState(s.lastUp)
	cur, inQueue, drain := s.cur, len(b.queue), s.drain
	// on-marked-down and on-marked-up: the sessions to close, taken now
	// and closed once the lock is released.
	var shut []*session
	switch {
	case !up && s.cfg.OnMarkedDown != "":
		shut = liveSessions(shut, s)
	case up && s.cfg.OnMarkedUp != "" && !s.cfg.Backup:
		for _, x := range b.servers {
			if x.cfg.Backup {
				shut = liveSessions(shut, x)
			}
		}
	}
	none := b.noneLine(active, backup)
	b.mu.Unlock()
	defer func() {
		for _, x := range shut {
			x.shutDown()
		}
	}()

	kind := "Server"
	if s.cfg.Backup {
		kind = "Backup Server"
	}
	onBackup := runningOnBackup(active, backup)
	if up {
		b.logs.event(levelNotice, fmt.Sprintf("%s %s/%s is UP%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
			kind, b.cfg.Name, s.cfg.Name, why, active, backup, onBackup, 0, inQueue))
		return
	}
	// As in HAProxy, a stopping server going down is only a notice.
	level := levelAlert
	if wasStopping {
		level = levelNotice
	}
	b.logs.event(level, fmt.Sprintf("%s %s/%s is DOWN%s. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		kind, b.cfg.Name, s.cfg.Name, why, active, backup, onBackup, cur, requeued, inQueue))
	if drain {
		b.logs.event(levelNotice, fmt.Sprintf("%s %s/%s remains in forced drain mode.", kind, b.cfg.Name, s.cfg.Name))
	}
	if none != "" {
		b.logs.event(levelEmerg, none)
	}
}

// setStopping moves a server whose check conditionally passed into
// HAProxy's stopping state (NOLB): it leaves the load balancing, keeps
// what persistence sends it and its queue, and is logged "is stopping",
// why giving the reason; the servers tracking it follow.
func (b *Backend) setStopping(s *Server, why string) {
	b.mu.Lock()
	if s.stopping || s.tracked != nil && s.inMaint() {
		b.mu.Unlock()
		return
	}
	s.up, s.stopping = true, true
	b.dirty = true
	now := time.Now().Unix()
	s.noteState(now)
	b.follow()
	active, backup := b.usableCounts()
	b.serveQueues()
	b.noteState(now)
	inQueue := len(b.queue)
	none := b.noneLine(active, backup)
	b.mu.Unlock()
	kind := "Server"
	if s.cfg.Backup {
		kind = "Backup Server"
	}
	b.logs.event(levelNotice, fmt.Sprintf("%s %s/%s is stopping%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		kind, b.cfg.Name, s.cfg.Name, why, active, backup, runningOnBackup(active, backup), 0, inQueue))
	if none != "" {
		b.logs.event(levelEmerg, none)
	}
	via := fmt.Sprintf(" via %s/%s", b.cfg.Name, s.cfg.Name)
	for _, t := range s.trackers {
		t.be.setStopping(t, via)
	}
}

// noneLine notes whether b has a usable server left, given the counts,
// and returns the line HAProxy logs when a change has just left it with
// none, "" otherwise. Called with b.mu held.
func (b *Backend) noneLine(active, backup int) string {
	none := active+backup == 0
	was := b.noneLog
	b.noneLog = none
	if !none || was {
		return ""
	}
	// HAProxy names a listen section a "proxy" here.
	what := "backend"
	if b.cfg.Kind.IsFrontend() {
		what = "proxy"
	}
	return fmt.Sprintf("%s %s has no server available!", what, b.cfg.Name)
}

// runningOnBackup is what HAProxy's server state lines add after the
// servers left or online when only backup servers are.
func runningOnBackup(active, backup int) string {
	if active == 0 && backup > 0 {
		return " Running on backup."
	}
	return ""
}

// follow tells round robin at once of a change in the usable servers or
// their weights, as HAProxy's algorithms hear of each change when it
// happens: a server that goes down and comes back between two
// connections leaves its place and takes a new one, and the turns are
// laid out at start from the servers as they start; the consistent
// hashes' round robin fallback moves its last point off a server that
// leaves the ring, as HAProxy's does. Called with b.mu
// held (or before b is shared).
func (b *Backend) follow() {
	switch a := b.algo.(type) {
	case *roundRobin:
		a.sync(b.candidates())
	case *hashAlgo:
		a.follow()
	case *leastConn:
		a.follow(b.servers)
	}
}

// moved tells leastconn that s took or gave back a connection, which
// places it again, as HAProxy repositions a server in its tree then.
// Called with b.mu held.
func (b *Backend) moved(s *Server) {
	if a, ok := b.algo.(*leastConn); ok && s.lc.in {
		a.place(s)
	}
}

// dynamicWeights reports whether the backend's algorithm follows weight
// changes at run time, HAProxy's BE_LB_PROP_DYN: every one but static-rr
// and the map-based hashes. Only those see a warming server's weight ramp.
func (b *Backend) dynamicWeights() bool {
	switch a := b.algo.(type) {
	case *staticRR:
		return false
	case *hashAlgo:
		return a.consistent
	}
	return true
}

// warmup brings a warming server's weight and maxconn to where the time
// elapsed since it came up puts them, and lets queued connections take
// the room that made, as HAProxy's warmup task does once a second. It
// reports whether the server is still warming up.
func (b *Backend) warmup(s *Server) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.starting {
		return false
	}
	s.recalcWeight(time.Now().Unix(), b.dynamicWeights())
	b.follow()
	b.serveQueues()
	return s.starting
}

// liveSessions appends the TCP sessions connected to s; the caller holds
// s.be.mu.
func liveSessions(to []*session, s *Server) []*session {
	for x := range s.live {
		to = append(to, x)
	}
	return to
}

// addLive and dropLive keep a server's live TCP sessions, for
// on-marked-down, on-marked-up and "shutdown sessions server".
func (b *Backend) addLive(s *Server, x *session) {
	b.mu.Lock()
	if s.live == nil {
		s.live = map[*session]struct{}{}
	}
	s.live[x] = struct{}{}
	b.mu.Unlock()
}

func (b *Backend) dropLive(s *Server, x *session) {
	b.mu.Lock()
	delete(s.live, x)
	b.mu.Unlock()
}

// warming reports whether the server is warming up after coming back.
func (s *Server) warming() bool {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.starting
}
