// Package balancer runs a parsed configuration: it listens on the
// frontends' binds, picks servers with the backends' algorithms, queues
// connections when servers are full, checks servers' health, forwards bytes
// both ways and writes HAProxy-style tcplog lines.
//
// Start returns a running Balancer; Close stops it hard (every connection
// closed), Shutdown stops it softly (listeners closed, live connections
// allowed to finish).
package balancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/httpcache"
	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/h2"
	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/proxyblocks/proxyblocks/stick/peers"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// ErrClosed is returned by operations on a stopped Balancer.
var ErrClosed = errors.New("balancer: closed")

// Options are what a Balancer needs beyond the configuration.
type Options struct {
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
	// Stdout and Stderr are where "log stdout" and "log stderr" lines go;
	// nil means the process's own.
	Stdout, Stderr io.Writer
	// SessionStore, when set, gives ssl bind lines a TLS session store
	// in place of the one the configuration selects (the
	// ssl-session-cache, or the built-in resumption); a nil store from
	// it keeps that one.
	SessionStore SessionStoreFunc
	// Lookup resolves the servers' host names at start, through their
	// init-addr methods ([config.Config.Resolve]); nil means the system's
	// resolver.
	Lookup config.LookupFunc
	// Inherit, on a reload, holds the listening sockets of the Balancer
	// being replaced: Start takes over those the configuration still
	// asks for rather than opening new ones ([Balancer.Handover]).
	Inherit *Handover
}

// Balancer is a running configuration.
type Balancer struct {
	cfg *config.Config
	// spoe are each proxy's SPOE engines (spoe.go).
	spoe map[*config.Proxy][]*spoeEngine
	// h1lim are the HTTP/1 limits tune.bufsize and tune.http.maxhdr set,
	// zero (the mux's defaults, HAProxy's) when neither moves them.
	h1lim h1.Limits
	// h1front are those limits with HTTP/2's preface looked for, shared
	// by the HTTP/1 front muxes of frontends without option
	// disable-h2-upgrade.
	h1front *h1.Limits
	// h1case and h1frontCase are h1lim and h1front with the header
	// names' spellings of h1-case-adjust, for the sides under option
	// h1-case-adjust-bogus-client or -server; nil without entries.
	h1case, h1frontCase *h1.Limits
	opts                Options
	log                 *slog.Logger
	ctx                 context.Context
	cancel              context.CancelFunc
	backends            map[string]*Backend
	fronts              []*frontend
	// resolvers are the resolvers sections' counters, in order
	// (resolver.go).
	resolvers []*resolversStats
	// global is the global maxconn, shared by every listener (unlimited
	// when the configuration sets none); globalMax is its value as "show
	// info" and "set maxconn global" see it, 0 for none.
	global    *conn.Slots
	globalMax atomic.Int64
	actconn   atomic.Int64
	accepts   atomic.Uint64 // connections accepted, for the trimmer
	// starting counts the sessions accepted and not yet settled (a TCP
	// tunnel started, an HTTP session serving, or the session over),
	// for the trimmer: their goroutines still hold stacks.
	starting atomic.Int64
	trims    atomic.Uint64 // times the trimmer gave memory back
	started  time.Time     // for show info's uptime
	// stopping is set once a soft stop closed the listeners: the
	// frontends' status reads STOP.
	stopping atomic.Bool
	// idents are the proxies' ids the state fetches read (state_ctx.go).
	idents identCache
	// httpHandOffs counts HTTP/1 client connections that went idle long
	// enough to be handed to a new goroutine (http.go, accept).
	httpHandOffs atomic.Uint64
	pool         *buffer.Pool
	pipes        *buffer.PipePool // nil when nothing splices
	procVars     varStore         // variables of scope proc
	// streams numbers the process's streams, TCP sessions and HTTP
	// requests alike, from 0 (%rt, HAProxy's request counter).
	streams atomic.Uint64
	// globalRates are maxconnrate and maxsessrate, shared by every
	// listener.
	globalRates []conn.SharedRate
	// sslRate is maxsslrate's, which the ssl bind lines share besides.
	sslRate []conn.SharedRate
	// scExprs are the values of the tcp-request rules' sc-set-gpt0, by
	// their text.
	scExprs map[string]acl.FetchFunc
	// connFmts are the formats of the tcp-request rules' set-var-fmt, by
	// their text.
	connFmts map[string]logFormat
	// sessVars holds each HTTP connection's variables of scope sess
	// (*httpFront to *varStore); sessVarsUsed says a rule may set one.
	sessVars     sync.Map
	sessVarsUsed bool

	wg      sync.WaitGroup // accept loops, sessions, workers, the trimmer
	workers workers        // goroutines waiting for the next session
	// streamWorkers are goroutines waiting for the next HTTP/2 stream.
	streamWorkers workers
	checksWG      sync.WaitGroup
	checkCtx      context.Context
	stopChk       context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
	idle     *sync.Cond // signalled when sessions empties
	closed   bool
	writers  map[any]*lockedWriter // log outputs, by writer or syslog address
	// rings are the ring sections' buffers, by name; ringWG waits for
	// the goroutines sending them to their servers.
	rings  map[string]*ringSink
	ringWG sync.WaitGroup
	httpPx map[*config.Proxy]*httpProxy // HTTP settings per proxy (http_rules.go)

	tables map[string]*stick.Table // stick tables by proxy name (stick.go)
	peers  []*peers.Section        // running peers sections (peers.go)
	// peersTaught describes the peers sections for a reload's
	// handover; peersMu guards it and peers.
	peersTaught []teacher
	peersMu     sync.Mutex
	caches      map[string]*httpcache.Cache // the "cache" sections (cache.go)
	clis        []*cliServer                // runtime API sockets (cli.go)
	// sockets are the listening sockets a Handover copies; guarded by
	// mu.
	sockets []socket

	// sslCache and sslSync share TLS sessions beyond the process
	// (ssl-session-cache, ssl-session-sync; tls.go); nil when not set.
	sslCache *sslcache.Cache
	sslSync  *sslsync.Sync
}

type frontend struct {
	cfg       *config.Proxy
	backend   *Backend
	listeners []*conn.Listener
	conns     atomic.Int64
	logs      *logSet
	// logCount numbers the lines its log-format writes (%lc).
	logCount atomic.Uint64
	// http is the proxy's HTTP settings and rules, nil in TCP mode.
	http *httpProxy
	// useDyn are the dynamic names of a TCP frontend's use_backend
	// rules, by index (nil: none dynamic).
	useDyn []logFormat
	// logFetch are the compiled sample expressions of the log-format,
	// by item (nil: none).
	logFetch []acl.FetchFunc
	// content are the "tcp-request content" rules of a TCP frontend,
	// nil without any.
	content *contentRules
	// uid is the unique-id-format, nil without it.
	uid *uniqueIDs
	// keepRT says a TCP session keeps its stream number: a format of
	// the frontend reads it (%rt, or the unique ID). keepBSrc says the
	// server connection's own address is kept (%bi, %bp).
	keepRT, keepBSrc bool
	// sslFailures counts failed TLS handshakes on the ssl binds.
	sslFailures atomic.Uint64
	// stick runs the tcp-request connection rules (stick.go).
	stick *frontStick
	// rate counts accepted connections for rate-limit sessions, over all
	// the frontend's listeners; nil without it.
	rate *freq.Counter
	// st are the frontend's statistics (stats.go); st.cum counts the
	// connections accepted since the start.
	st counters
	// slots is the frontend's maxconn, shared by its listeners
	// (unlimited when none applies); maxconn is its value as the slim
	// column and "set maxconn frontend" see it, -1 for none.
	slots   *conn.Slots
	maxconn atomic.Int64
	// paused and stopped are "disable frontend" and "shutdown frontend"
	// (runtime.go); guarded by the Balancer's mu.
	paused, stopped bool
}

// unlimitedSlots stands for no connection limit: more than any process
// can hold.
const unlimitedSlots = 1<<31 - 1

// slotsFor is the slot count of a maxconn, where 0 or less is none.
func slotsFor(maxconn int) int {
	if maxconn <= 0 {
		return unlimitedSlots
	}
	return maxconn
}

// Check compiles what Start compiles from cfg before it opens anything:
// the rules' expressions and formats (fetches, converters, map and
// pattern files, dynamic use_backend names), so that "lb -c" reports
// what would stop the start.
func Check(cfg *config.Config) error {
	b := &Balancer{cfg: cfg}
	if err := b.setupHTTP(); err != nil {
		return fmt.Errorf("balancer: %w", err)
	}
	if err := b.compileRuleExprs(); err != nil {
		return err
	}
	for _, px := range cfg.Proxies {
		if px.Kind.IsFrontend() && px.Mode != "http" {
			if _, err := compileUseBackends(px); err != nil {
				return fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err)
			}
		}
	}
	return nil
}

// compileRuleExprs compiles the expressions and formats of the
// tcp-request rules' sc-set-gpt0, set-var, set-var-fmt, set-src, set-dst
// and their port forms, kept by their text.
func (b *Balancer) compileRuleExprs() error {
	b.scExprs, b.connFmts = map[string]acl.FetchFunc{}, map[string]logFormat{}
	for _, px := range b.cfg.Proxies {
		for _, rules := range [][]config.ConnRule{px.Stick.ConnRules, px.Stick.SessRules, px.Stick.ContentRules, px.Stick.ResponseRules} {
			for _, r := range rules {
				switch {
				case (r.Action == "sc-set-gpt0" || r.Action == "sc-set-gpt") && b.scExprs[r.Key] == nil:
					fn, err := scValue(r.Key, px.ACLs.Refs)
					if err != nil {
						return fmt.Errorf("balancer: %s: sc-set-gpt0 '%s': %w", r.Pos, r.Key, err)
					}
					b.scExprs[r.Key] = fn
				case (r.Action == "set-var" || strings.HasPrefix(r.Action, "set-src") || strings.HasPrefix(r.Action, "set-dst")) && b.scExprs[r.Key] == nil:
					_, fn, err := px.ACLs.Refs.CompileFetch(r.Key)
					if err != nil {
						label := r.Action
						if r.Action == "set-var" {
							label = "set-var(" + r.Var + ")"
						}
						return fmt.Errorf("balancer: %s: %s '%s': %w", r.Pos, label, r.Key, err)
					}
					b.scExprs[r.Key] = fn
				case r.Action == "set-var-fmt" && b.connFmts[r.Key] == nil:
					f, err := parseLogFormat(r.Key, px.ACLs.Refs)
					if err != nil {
						return fmt.Errorf("balancer: %s: set-var-fmt(%s) '%s': %w", r.Pos, r.Var, r.Key, err)
					}
					b.connFmts[r.Key] = f
				}
			}
		}
	}
	return nil
}

// Start opens every listener, starts the health checks and begins
// accepting. On error nothing is left running.
func Start(ctx context.Context, cfg *config.Config, opts Options) (*Balancer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	// The local peer name decides which peers sections run; a caller
	// that did not settle it (lb's -L) gets HAProxy's default.
	if err := cfg.SetLocalPeer(""); err != nil {
		return nil, err
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Lookup == nil {
		opts.Lookup = config.SystemLookup
	}
	if err := cfg.Resolve(ctx, opts.Lookup); err != nil {
		return nil, err
	}
	b := &Balancer{
		cfg:           cfg,
		opts:          opts,
		log:           opts.Logger,
		backends:      map[string]*Backend{},
		sessions:      map[*session]struct{}{},
		workers:       newWorkers(maxIdleWorkers),
		streamWorkers: newWorkers(maxIdleStreamWorkers),
		writers:       map[any]*lockedWriter{},
		started:       time.Now(),
	}
	b.idle = sync.NewCond(&b.mu)
	b.workers.goFn = b.spawn
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	b.checkCtx, b.stopChk = context.WithCancel(b.ctx)
	var err error
	// abort undoes what Start has opened so far; each step below is a
	// no-op for what is not open yet.
	abort := func(err error) (*Balancer, error) {
		b.closeListeners()
		b.stopCLI()
		b.stopPeers()
		b.closeCaches()
		b.closeTables()
		b.closeSessionCache()
		b.cancel()
		b.stopRings()
		b.closeLogTargets()
		if b.pipes != nil {
			_ = b.pipes.Close()
		}
		return nil, err
	}
	if err := b.openLogTargets(); err != nil {
		return abort(err)
	}
	b.h1lim = h1Limits(&cfg.Global)
	b.h1front = new(h1.Limits)
	*b.h1front = b.h1lim
	b.h1front.H2Preface = true
	// As in HAProxy, an entry whose name is not in lower case never
	// matches.
	names := map[string]string{}
	for from, to := range cfg.Global.H1CaseAdjust {
		if from == strings.ToLower(from) {
			names[from] = to
		}
	}
	if len(names) > 0 {
		fc := h1.NewFieldCase(names)
		b.h1case, b.h1frontCase = new(h1.Limits), new(h1.Limits)
		*b.h1case, *b.h1frontCase = b.h1lim, *b.h1front
		b.h1case.FieldCase, b.h1frontCase.FieldCase = fc, fc
	}
	if b.pool, err = buffer.NewPool(buffer.PoolConfig{Size: cfg.Global.BufSize}); err != nil {
		return abort(fmt.Errorf("balancer: tune.bufsize %d: %w", cfg.Global.BufSize, err))
	}
	if usesSplice(cfg) {
		maxPipes := cfg.Global.MaxPipes
		if maxPipes == 0 && cfg.Global.MaxConn > 0 {
			// HAProxy's default: a quarter of maxconn.
			maxPipes = cfg.Global.MaxConn / 4
		}
		pipeSize := cfg.Global.PipeSize
		if pipeSize == 0 {
			pipeSize = defaultPipeSize(maxPipes, readPipeLimits())
		}
		if b.pipes, err = buffer.NewPipePool(buffer.PipePoolConfig{Size: pipeSize, Max: maxPipes}); err != nil {
			return abort(fmt.Errorf("balancer: pipes (tune.pipesize %d, maxpipes %d): %w", pipeSize, maxPipes, err))
		}
	}
	// The global maxconn's slots exist even without one, so that "set
	// maxconn global" can set one at run time.
	if b.global, err = conn.NewSlots(slotsFor(cfg.Global.MaxConn)); err != nil {
		return abort(fmt.Errorf("balancer: global maxconn: %w", err))
	}
	b.globalMax.Store(int64(max(cfg.Global.MaxConn, 0)))
	if err := b.openCaches(); err != nil {
		return abort(err)
	}
	if err := b.setupHTTP(); err != nil {
		return abort(err)
	}
	if err := b.openTables(); err != nil {
		return abort(err)
	}
	if err := b.startPeers(); err != nil {
		return abort(err)
	}
	if err := b.openSessionCache(); err != nil {
		return abort(err)
	}
	// The stats sockets listen before the traffic ports, so that whoever
	// waits for a traffic port to accept can use them at once; they
	// answer from serveCLI on, once the Balancer is complete.
	if err := b.startCLI(); err != nil {
		return abort(err)
	}
	for _, px := range cfg.Proxies {
		if px.Kind.IsBackend() {
			be := newBackend(px, b.newLogSet(px))
			if be.fixed != nil {
				be.fixed.dialer, be.fixed.dialErr = b.dialer(be.fixed)
			}
			for _, s := range be.servers {
				s.dialer, s.dialErr = b.dialer(s)
				if e := s.cfg.SSL.SNI; e.Fetch == "expr" {
					if _, s.sniFn, err = px.ACLs.Refs.CompileFetch(e.Value); err != nil {
						return abort(fmt.Errorf("balancer: server %s/%s: sni: %w", px.Name, s.cfg.Name, err))
					}
				}
			}
			b.backends[px.Name] = be
			be.http = b.httpPx[px]
			if err := be.compileUseServers(); err != nil {
				return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
			}
			if err := be.compileStick(); err != nil {
				return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
			}
			if px.Mode != "http" {
				var err error
				if be.content, err = b.compileContent(px); err != nil {
					return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
				}
				if be.resp, err = b.compileRules(px, "tcp-response content", px.Stick.ResponseRules, px.Stick.ResponseDelay); err != nil {
					return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
				}
			}
		}
	}
	track(b.backends)
	// HAProxy counts sessions a moment after connections (once the
	// connection rules have let them in); both are counted at accept here.
	for _, n := range []int{cfg.Global.MaxConnRate, cfg.Global.MaxSessRate} {
		if n > 0 {
			b.globalRates = append(b.globalRates, conn.SharedRate{Counter: freq.NewCounter(freq.SystemClock), Limit: uint32(n)})
		}
	}
	if err := b.compileRuleExprs(); err != nil {
		return abort(err)
	}
	// sess variables a converter sets are dropped with the connection too.
	b.sessVarsUsed = b.sessVarsUsed || acl.SessVarConverters()
	if n := cfg.Global.MaxSSLRate; n > 0 {
		b.sslRate = []conn.SharedRate{{Counter: freq.NewCounter(freq.SystemClock), Limit: uint32(n)}}
	}
	for _, px := range cfg.Proxies {
		if !px.Kind.IsFrontend() || px.Disabled {
			continue
		}
		fe := &frontend{cfg: px, logs: b.newLogSet(px), http: b.httpPx[px]}
		if fe.logFetch, err = compileLogFetches(px.LogFormat, px.ACLs.Refs); err != nil {
			return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
		}
		if fe.uid, err = compileUniqueID(px); err != nil {
			return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
		}
		fe.keepRT = fe.uid != nil || usesVar(px.LogFormat, "rt") || len(b.spoe) > 0
		fe.keepBSrc = usesVar(px.LogFormat, "bi", "bp") || usesVar(px.UniqueIDFormat, "bi", "bp")
		if px.Mode != "http" {
			if fe.useDyn, err = compileUseBackends(px); err != nil {
				return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
			}
			if fe.content, err = b.compileContent(px); err != nil {
				return abort(fmt.Errorf("balancer: %s '%s': %w", px.Kind, px.Name, err))
			}
		}
		if px.RateLimitSessions > 0 {
			fe.rate = freq.NewCounter(freq.SystemClock)
		}
		switch {
		case px.DefaultBackend != "":
			fe.backend = b.backends[px.DefaultBackend]
		case px.Kind == config.KindListen:
			fe.backend = b.backends[px.Name]
		}
		// The frontend's maxconn is shared by all its binds, the global
		// one by every frontend; a listener at either limit stops
		// accepting, leaving clients in the backlog as HAProxy does.
		// Without its own, a frontend's is the global one's value, as
		// HAProxy's frontends take it; without either it is unlimited
		// until "set maxconn frontend" sets one.
		limit := b.frontendLimit(px)
		fe.maxconn.Store(-1)
		if limit > 0 {
			fe.maxconn.Store(int64(limit))
		}
		fe.slots, _ = conn.NewSlots(slotsFor(limit))
		limits := []*conn.Slots{fe.slots, b.global}
		for _, bind := range px.Binds {
			for _, addr := range bind.Addrs {
				ln, err := b.listen(b.ctx, fe, addr, bind, limits)
				if err != nil {
					for _, l := range fe.listeners {
						_ = l.Close()
					}
					return abort(fmt.Errorf("balancer: %s '%s': cannot bind %s (%s): %w", px.Kind, px.Name, addr, bind.Pos, err))
				}
				fe.listeners = append(fe.listeners, ln)
			}
		}
		b.fronts = append(b.fronts, fe)
	}
	for _, be := range b.backends {
		be.fullconn = cmp.Or(be.cfg.FullConn, b.backendLimit(be))
	}
	b.linkHTTP()
	agents := b.newAgents()
	b.startChecks()
	b.runAgents(agents)
	b.startResolvers()
	b.serveCLI()
	b.startLua()
	b.wg.Add(1)
	go b.trimmer()
	for _, fe := range b.fronts {
		luids := listenerIDs(fe.cfg)
		for i, ln := range fe.listeners {
			b.wg.Add(1)
			go b.acceptLoop(fe, ln, b.bindOf(fe, i), luids[i])
		}
	}
	rsaSigner := "openssl"
	if err := tls.OpenSSLSigner(); err != nil {
		rsaSigner = "crypto/rsa (" + err.Error() + ")"
	}
	b.log.Debug("balancer started", "frontends", len(b.fronts), "backends", len(b.backends), "rsa-signer", rsaSigner)
	return b, nil
}

// bindOf returns the bind line the i-th listener of fe came from.
// h2Config is the HTTP/2 muxes' configuration: tune.h2.*, the mux's
// defaults for the rest.
func (b *Balancer) h2Config() h2.Config {
	g := &b.cfg.Global
	// The balancer uses no stream after closing it (finish), so streams
	// may serve later requests.
	return h2.Config{StreamWindow: g.H2InitialWindow, MaxConcurrentStreams: g.H2MaxStreams, ReuseStreams: true}
}

// listenerIDs numbers a frontend's listeners, one per bind address, as
// HAProxy does: a bind line's "id", else the lowest number no listener
// took yet, in order. A UNIX client's lines show it as its port.
func listenerIDs(px *config.Proxy) []uint16 {
	used := map[int]bool{}
	for _, bind := range px.Binds {
		if bind.ID != 0 {
			used[bind.ID] = true
		}
	}
	var ids []uint16
	next := 1
	for _, bind := range px.Binds {
		for range bind.Addrs {
			if bind.ID != 0 {
				ids = append(ids, uint16(bind.ID))
				continue
			}
			for used[next] {
				next++
			}
			used[next] = true
			ids = append(ids, uint16(next))
		}
	}
	return ids
}

func (b *Balancer) bindOf(fe *frontend, i int) *config.Bind {
	for k := range fe.cfg.Binds {
		if i < len(fe.cfg.Binds[k].Addrs) {
			return &fe.cfg.Binds[k]
		}
		i -= len(fe.cfg.Binds[k].Addrs)
	}
	return &config.Bind{}
}

func (b *Balancer) newLogSet(px *config.Proxy) *logSet {
	return newLogSet(b.cfg, px, b.log, b.logWriter)
}

// logWriter gives each output one lockedWriter, so that every proxy
// writing to stdout (or to one syslog server) shares one lock and lines
// never interleave. Syslog targets were opened by openLogTargets.
func (b *Balancer) logWriter(l config.Log) *lockedWriter {
	b.mu.Lock()
	defer b.mu.Unlock()
	var key any = l.Network + " " + l.Address
	if l.Ring != "" || strings.HasPrefix(l.Target, "ring@") {
		key = "ring@" + l.Ring
		if _, ok := b.writers[key]; !ok {
			b.writers[key] = &lockedWriter{w: b.rings[l.Ring]}
		}
		return b.writers[key]
	}
	if l.Network == "" {
		w := b.opts.Stdout
		if l.Target == "stderr" {
			w = b.opts.Stderr
		}
		key = w
		if _, ok := b.writers[key]; !ok {
			b.writers[key] = &lockedWriter{w: w}
		}
	}
	return b.writers[key]
}

// openLogTargets opens every syslog server the configuration logs to,
// once each.
func (b *Balancer) openLogTargets() error {
	if err := b.cfg.CheckLogRings(); err != nil {
		return err
	}
	b.startRings()
	logs := b.cfg.Global.Logs
	for _, px := range b.cfg.Proxies {
		logs = append(logs[:len(logs):len(logs)], px.Logs...)
		for _, f := range px.Filters {
			if f.Type == "spoe" {
				logs = append(logs, f.Engine.Agent.Logs...)
			}
		}
	}
	for _, l := range logs {
		key := l.Network + " " + l.Address
		if _, ok := b.writers[key]; ok || l.Network == "" {
			continue
		}
		c, err := dialSyslog(l.Network, l.Address)
		if err != nil {
			return fmt.Errorf("balancer: %s: log target '%s': %w", l.Pos, l.Target, err)
		}
		b.writers[key] = &lockedWriter{w: c}
	}
	return nil
}

// closeLogTargets closes the syslog sockets.
func (b *Balancer) closeLogTargets() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, lw := range b.writers {
		lw.close()
	}
}

// Addrs returns the addresses a frontend (or listen) listens on, which
// tells a caller the port chosen for a ":0" bind.
func (b *Balancer) Addrs(frontend string) []net.Addr {
	var out []net.Addr
	for _, fe := range b.fronts {
		if fe.cfg.Name == frontend {
			for _, ln := range fe.listeners {
				out = append(out, ln.Addr())
			}
		}
	}
	return out
}

// Backend returns the named backend, or nil.
func (b *Balancer) Backend(name string) *Backend { return b.backends[name] }

// Sessions returns the number of live client connections.
func (b *Balancer) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

func (b *Balancer) closeListeners() {
	for _, fe := range b.fronts {
		for _, ln := range fe.listeners {
			_ = ln.Close()
		}
	}
}

// logStopped says, as HAProxy does on a soft stop, that each proxy
// stopped and how many connections it took since the start: as a
// frontend (accepted) and as a backend (sessions, in HTTP mode requests,
// handed to it).
func (b *Balancer) logStopped() {
	for _, px := range b.cfg.Proxies {
		var ls *logSet
		var feCum, beCum uint64
		for _, fe := range b.fronts {
			if fe.cfg == px {
				ls, feCum = fe.logs, fe.st.cum.Load()
			}
		}
		if be := b.backends[px.Name]; be != nil && be.cfg == px {
			beCum = be.st.cum.Load()
			if ls == nil {
				ls = be.logs
			}
		}
		if ls != nil {
			ls.event(levelWarning, fmt.Sprintf("Proxy %s stopped (cumulated conns: FE: %d, BE: %d).", px.Name, feCum, beCum))
		}
	}
}

// Shutdown stops accepting and waits for live connections to finish, then
// stops everything. If ctx ends first, the remaining connections are closed
// and ctx's error returned.
func (b *Balancer) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.mu.Unlock()
	b.stopping.Store(true)
	b.closeListeners()
	b.stopPeers()
	b.logStopped()
	b.stopIdleHTTP()
	done := make(chan struct{})
	go func() {
		b.mu.Lock()
		for len(b.sessions) > 0 && !b.closed {
			b.idle.Wait()
		}
		b.mu.Unlock()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = b.Close()
	<-done
	return err
}

// Close stops accepting, closes every connection, stops the checks and
// waits for every goroutine the Balancer started.
func (b *Balancer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.idle.Broadcast()
	b.cancel()
	b.closeListeners()
	for s := range b.sessions {
		s.kill()
	}
	b.mu.Unlock()
	// Exchanges waiting for an agent end at once, not at their
	// processing timeout.
	b.closeSPOE()
	// Scripts still running end at once (a service looping on a closed
	// connection among them), and their tasks stop.
	b.stopLua()
	b.wg.Wait()
	b.checksWG.Wait()
	b.closeHTTPConns()
	b.stopPeers()
	b.closeCaches()
	b.stopStick()
	b.closeSessionCache()
	if b.pipes != nil {
		_ = b.pipes.Close()
	}
	b.stopRings()
	b.closeLogTargets()
	b.log.Debug("balancer stopped")
	return nil
}

func (b *Balancer) startChecks() {
	ids := proxyIDs(b.cfg)
	for _, be := range b.backends {
		var checked []*Server
		for _, s := range be.servers {
			if s.cfg.Check {
				checked = append(checked, s)
			}
		}
		for i, s := range checked {
			c := &checker{s: s, dial: b.dialCheck, hurry: make(chan struct{}, 1), spread: b.cfg.Global.SpreadChecks}
			c.status = s.seedCheck
			s.checker = c
			if tc := be.cfg.TCPCheck; tc != nil && tc.External {
				id := ids[be.cfg]
				c.ext = func(ctx context.Context) (int, error) { return b.extCheck(ctx, s, id) }
			}
			// Spread the first checks over one interval, as HAProxy
			// staggers them, so a big farm is not probed in one burst.
			first := s.cfg.Inter * time.Duration(i) / time.Duration(len(checked))
			b.checksWG.Add(1)
			go func() {
				defer b.checksWG.Done()
				c.run(b.checkCtx, first)
			}()
		}
	}
}

func (b *Balancer) acceptLoop(fe *frontend, ln *conn.Listener, bind *config.Bind, luid uint16) {
	defer b.wg.Done()
	for {
		// The listener waits for a free slot of the frontend's and the
		// global maxconn before it accepts; the connection gives them back
		// when it closes. It takes them only once a client is pending.
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || b.ctx.Err() != nil {
				return
			}
			b.log.Warn("accept failed", "frontend", fe.cfg.Name, "err", err)
			// Out of fds and the like: back off briefly rather than spin.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-b.ctx.Done():
				return
			}
			continue
		}
		setSockBufs(c.Socket(), b.cfg.Global.RcvBufClient, b.cfg.Global.SndBufClient)
		s := &session{b: b, fe: fe, bind: bind, client: c, accepted: time.Now(), be: fe.backend, luid: luid}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			_ = c.Close()
			return
		}
		b.sessions[s] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		b.actconn.Add(1)
		b.starting.Add(1)
		b.accepts.Add(1)
		maxI64(&fe.st.maxCur, fe.conns.Add(1))
		fe.st.session(s.accepted)
		b.spawn(s.run)
	}
}

func (b *Balancer) endSession(s *session) {
	s.fe.conns.Add(-1)
	b.actconn.Add(-1)
	b.mu.Lock()
	delete(b.sessions, s)
	if len(b.sessions) == 0 {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
	b.wg.Done()
}

// h1Limits are the HTTP/1 parsing limits the global section sets: a head
// fits a buffer (tune.bufsize) and has at most tune.http.maxhdr fields.
// Zero when both keep their defaults, which the mux has already.
func h1Limits(g *config.Global) h1.Limits {
	var l h1.Limits
	if g.BufSize > 0 && g.BufSize != h1.DefaultBufSize {
		l.BufSize = g.BufSize
	}
	if g.MaxHTTPHeaders > 0 && g.MaxHTTPHeaders != h1.DefaultMaxHeaders {
		l.MaxHeaders = g.MaxHTTPHeaders
	}
	return l
}

// httpMux makes the HTTP mux of a connection: HTTP/1 with the limits the
// configuration sets, or what proto (and ALPN) name. adjustCase spells
// the header names an HTTP/1 mux writes as h1-case-adjust gives them.
func (b *Balancer) httpMux(t xprt.Transport, proto string, side mux.Side, isH2, h2Upgrade, adjustCase bool) (mux.Mux, error) {
	adjustCase = adjustCase && b.h1case != nil
	if h2Upgrade && side == mux.SideFront && !isH2 && proto == "" {
		// An HTTP/1 front mux that hands a client opening with HTTP/2's
		// preface over to an HTTP/2 one (upgradeH2).
		if adjustCase {
			return h1.NewShared(t, side, b.h1frontCase), nil
		}
		return h1.NewShared(t, side, b.h1front), nil
	}
	if adjustCase && !isH2 && proto != "h2" {
		return h1.NewShared(t, side, b.h1case), nil
	}
	if b.h1lim != (h1.Limits{}) && !isH2 && proto != "h2" {
		return h1.New(t, side, b.h1lim), nil
	}
	// HTTP/2, when the registry picks it, is made here with the
	// balancer's settings (tune.h2.*, streams reused).
	if e, err := mux.Best(proto, t.Info().ALPN, side, mux.ModeHTTP); err == nil && e.Name == "h2" {
		m, err := h2.New(t, side, b.h2Config())
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return mux.New(t, proto, side, mux.ModeHTTP)
}
