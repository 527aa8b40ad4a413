package balancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// proxyHeaderTimeout bounds how long a client on an accept-proxy bind may
// take to send its header; the PROXY specification suggests at least 3 s.
const proxyHeaderTimeout = 3 * time.Second

// listen opens one bind address. limits are the frontend's maxconn and the
// global one, shared with the other listeners: while either is full the
// listener stops accepting and leaves clients in the backlog.
func (b *Balancer) listen(ctx context.Context, fe *frontend, addr string, bind config.Bind, limits []*conn.Slots) (*conn.Listener, error) {
	if fe.cfg.Mode != "http" {
		if _, err := mux.Best(bind.Proto, "", mux.SideFront, mux.ModeTCP); err != nil {
			return nil, fmt.Errorf("proto %s is not usable in mode tcp: %w", bind.Proto, err)
		}
	}
	network, laddr := config.NetAddr(addr)
	// An abstract socket has no file to take over or to own.
	file := network == "unix" && !strings.HasPrefix(laddr, "@")
	lc := conn.ListenConfig{
		Slots:            limits,
		AcceptProxy:      bind.AcceptProxy,
		HandshakeTimeout: proxyHeaderTimeout,
		Logger:           b.log,
		NoLinger:         fe.cfg.Options.NoLinger,
		MaxConn:          bind.MaxConn,
		// HAProxy sizes the accept queue by the first of these set.
		Backlog:     cmp.Or(bind.Backlog, fe.cfg.Backlog, bind.MaxConn, fe.cfg.MaxConn, b.cfg.Global.MaxConn),
		DelayAck:    network == "tcp" && smartAccept(fe.cfg, bind),
		DeferAccept: bind.DeferAccept,
		UserTimeout: bind.UserTimeout,
		MaxSeg:      bind.MaxSeg,
		Interface:   bind.Interface,
		Transparent: bind.Transparent,
	}
	// As HAProxy, SO_REUSEPORT unless noreuseport: a reload that changes
	// where a socket is placed opens the new one beside the old, and a
	// second lb may share the port. conn sets it on Linux only.
	lc.ReusePort = runtime.GOOS == "linux" && network != "unix" && !b.cfg.Global.NoReusePort
	switch bind.V6Only {
	case "v6only":
		lc.V6Only = conn.V6OnlyOn
	case "v4v6":
		lc.V6Only = conn.V6OnlyOff
	}
	if bind.FastOpen {
		// As HAProxy, the Fast Open queue is as long as the backlog.
		lc.FastOpen = cmp.Or(lc.Backlog, 1024)
	}
	if n := fe.cfg.RateLimitSessions; n > 0 {
		lc.RateLimit, lc.Rate = uint32(n), fe.rate
	}
	lc.Rates = b.globalRates
	if bind.SSL.Enabled && b.sslRate != nil {
		// maxsslrate: the ssl bind lines stop accepting at the rate of
		// new TLS sessions, as haproxy's do.
		lc.Rates = append(slices.Clip(b.globalRates), b.sslRate...)
	}
	lc.KeepAlive, lc.DisableKeepAlive = keepAlive(fe.cfg.CliTCPKA)
	if err := b.bindTLS(bind, &lc); err != nil {
		return nil, err
	}
	b.connRules(fe, &lc)
	key := bindKey(network, laddr, &lc)
	inherited := b.opts.Inherit.take(key)
	if inherited == nil {
		if inherited = b.opts.Inherit.takeRetunable(key); inherited != nil {
			// The backlog, keepalive, defer-accept, tfo, nolinger,
			// tcp-ut, mss or delayed acks changed: the socket is taken
			// over all the same and given the new options, as HAProxy
			// sets them again on the sockets it inherits. Connections
			// accepted before keep theirs.
			if err := lc.Retune(inherited, network); err != nil {
				_ = inherited.Close()
				return nil, fmt.Errorf("taking over the running configuration's socket: %w", err)
			}
		}
	}
	if inherited != nil {
		// A reload: the socket the previous configuration opened, on
		// which it keeps accepting until it stops.
		ln := lc.NewListener(inherited)
		if file {
			if err := socketFileOwner(laddr, bind); err != nil {
				_ = ln.Close()
				return nil, err
			}
		}
		b.addSocket(key, ln.Dup)
		return ln, nil
	}
	held := b.opts.Inherit.holds(key)
	if file {
		if err := removeStaleSocket(laddr); err != nil {
			return nil, err
		}
	}
	// lc opens the socket itself: it sets keepalive on the listening
	// socket, which the accepted ones inherit.
	ln, err := lc.Listen(ctx, network, laddr)
	if err != nil {
		// The caller's message names the address already; keep the
		// system's error without conn's wrapping, which repeats it.
		if oe := (*net.OpError)(nil); errors.As(err, &oe) {
			err = oe
		}
		if held {
			// The running configuration listens there with other
			// interface, transparent, v4v6/v6only, reuseport or mptcp
			// options: a new socket beside it needs SO_REUSEPORT on both.
			return nil, fmt.Errorf("%w: the running configuration listens there with other interface, transparent, v4v6/v6only or noreuseport options, and lb can neither take its socket over nor open a second one beside it: restart lb to apply them", err)
		}
		return nil, err
	}
	if file {
		if err := socketFileOwner(laddr, bind); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	b.addSocket(key, ln.Dup)
	return ln, nil
}

// removeStaleSocket removes a UNIX socket file left at path by an earlier
// process, as HAProxy takes the path over; anything else there is an
// error, not removed.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	return os.Remove(path)
}

// socketFileOwner gives a UNIX socket's file the mode and owner its bind
// line (or unix-bind) asks for.
func socketFileOwner(path string, bind config.Bind) error {
	if bind.UnixMode >= 0 {
		if err := os.Chmod(path, fs.FileMode(bind.UnixMode)); err != nil {
			return err
		}
	}
	if bind.UnixUID >= 0 || bind.UnixGID >= 0 {
		if err := os.Lchown(path, bind.UnixUID, bind.UnixGID); err != nil {
			return err
		}
	}
	return nil
}

// smartAccept reports whether a bind line's listener holds back the ACK
// of a client's first bytes: option tcp-smart-accept, on by default in
// HTTP mode and on ssl lines unless "no option tcp-smart-accept", as in
// HAProxy.
func smartAccept(fe *config.Proxy, bind config.Bind) bool {
	o := &fe.Options
	if o.SmartAcceptSet {
		return o.SmartAccept
	}
	return fe.Mode == "http" || bind.SSL.Enabled
}

// keepAlive maps one side's TCP keepalive settings onto conn's: off unless
// its option is on, as in HAProxy, and when on the system's value for each
// timing the configuration leaves out (conn would apply Go's own for a
// zero), since HAProxy only sets the ones it is given.
func keepAlive(ka config.TCPKeepAlive) (cfg net.KeepAliveConfig, disable bool) {
	if !ka.On {
		return net.KeepAliveConfig{}, true
	}
	cfg = net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	if ka.Idle > 0 {
		cfg.Idle = ka.Idle
	}
	if ka.Interval > 0 {
		cfg.Interval = ka.Interval
	}
	if ka.Count > 0 {
		cfg.Count = ka.Count
	}
	return cfg, false
}

// dialer returns the dialer of a server: its source address, its PROXY
// protocol version and timeout connect.
func (b *Balancer) dialer(s *Server) (*conn.Dialer, error) {
	if s.be.cfg.Mode != "http" {
		if _, err := mux.Best(s.cfg.Proto, "", mux.SideBack, mux.ModeTCP); err != nil {
			return nil, fmt.Errorf("server %s/%s (%s): proto %s is not usable in mode tcp: %w", s.be.cfg.Name, s.cfg.Name, s.cfg.Pos, s.cfg.Proto, err)
		}
	}
	d := &conn.Dialer{Timeout: s.be.cfg.Timeouts.Connect, NoLinger: s.be.cfg.Options.NoLinger,
		UserTimeout: s.cfg.UserTimeout, FastOpen: s.cfg.FastOpen}
	d.KeepAlive, d.DisableKeepAlive = keepAlive(s.be.cfg.SrvTCPKA)
	// A server's own source, else its backend's.
	if source := cmp.Or(s.cfg.Source, s.be.cfg.Source); source != "" && !s.unix() {
		src, err := resolveSource(source)
		if err != nil {
			return nil, fmt.Errorf("server %s/%s: source %s: %w", s.be.cfg.Name, s.cfg.Name, source, err)
		}
		d.Source = src
	}
	switch {
	case s.cfg.SendProxyV2:
		d.SendProxy = 2
	case s.cfg.SendProxy:
		d.SendProxy = 1
	}
	// option tcp-smart-connect, where bytes go as soon as the connection
	// is up: an HTTP request, a PROXY header, a TLS hello. In TCP mode
	// without those, the server may be the one to speak first, and HAProxy
	// holds the ACK back only when the client's bytes are already there.
	d.DelayAck = s.be.cfg.Options.SmartConnect && (s.be.cfg.Mode == "http" || d.SendProxy > 0 || s.cfg.SSL.Enabled)
	serverTLS(s, d)
	if s.cfg.SOCKS4 != "" {
		// As HAProxy: the proxy is asked for the server's address with
		// "HAProxy" for user id, and timeout connect bounds the wait for
		// its answer as it bounds the connection's other handshakes.
		d.SOCKS4, d.SOCKS4UserID = s.cfg.SOCKS4, socks4UserID
		if t := s.be.cfg.Timeouts.Connect; t > 0 {
			d.HandshakeTimeout = t
		}
	}
	return d, nil
}

// socks4UserID is the user id HAProxy's SOCKS4 requests carry.
const socks4UserID = "HAProxy"

func resolveSource(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "0"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("source must be an IP address: %w", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad source port %q: %w", port, err)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// dialServer connects to a server within timeout connect and sends the
// PROXY header it asks for, telling the client's addresses (and how its
// TLS connection went, with send-proxy-v2-ssl).
func (b *Balancer) dialServer(ctx context.Context, s *Server, src, dst netip.AddrPort, pp ppFacts) (*conn.Conn, error) {
	if s.dialer == nil {
		return nil, s.dialErr
	}
	ph := conn.NewProxyHeader(src, dst)
	if !src.IsValid() || !dst.IsValid() {
		// A client without IP addresses (a UNIX socket's): a LOCAL
		// header, "PROXY UNKNOWN" in v1, as HAProxy sends; TLVs go on.
		ph.Command = conn.CommandLocal
	}
	network, addr := config.NetAddr(s.cfg.DialAddr(s.address(), dst))
	c, err := connDialer(s, ph, pp).Dial(ctx, network, addr, ph)
	if err != nil {
		return nil, err
	}
	g := &b.cfg.Global
	setSockBufs(c.Socket(), g.RcvBufServer, g.SndBufServer)
	return c, nil
}

// setSockBufs applies tune.rcvbuf.* and tune.sndbuf.* to a TCP socket; a
// size of 0 leaves the kernel's automatic sizing. A refused size is not
// an error, as in HAProxy: the socket keeps the size it had.
func setSockBufs(c net.Conn, rcv, snd int) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if rcv > 0 {
		_ = tc.SetReadBuffer(rcv)
	}
	if snd > 0 {
		_ = tc.SetWriteBuffer(snd)
	}
}

// dialCheck is the health check: a bare connect (Layer 4), with a LOCAL
// PROXY header when the server expects one, as HAProxy's checks do, then
// the HTTP check's request, or the tcp-check rules instead (check_tcp.go),
// or the http-check rules in order when they open connections of their
// own (check_httpseq.go).
func (b *Balancer) dialCheck(ctx context.Context, s *Server) (net.Conn, error) {
	if s.be.cfg.TCPCheck != nil {
		return b.tcpCheck(ctx, s)
	}
	hc := s.be.cfg.HTTP.Check
	if hc != nil && hc.Sequenced() {
		return b.httpCheckSequence(ctx, s, hc)
	}
	c, err := b.dialCheckConn(ctx, s, s.checkTarget(0, ""), false)
	if err != nil {
		// Return a nil interface, not a nil *conn.Conn inside one.
		return nil, err
	}
	if hc != nil {
		state, soft404 := s.httpCheckState(b, hc)
		ctx, cancel := afterConnect(ctx)
		defer cancel()
		overH2 := checkSpeaksH2(c.Transport(), s.serverCheckProto(), len(s.cfg.CheckALPN) > 0)
		if err := s.runHTTPCheck(ctx, c, hc, state, soft404, overH2); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// runHTTPCheck sends hc's request on c, over HTTP/2 when overH2, and
// judges the answer, recording its status code; on a failure it aborts
// c.
func (s *Server) runHTTPCheck(ctx context.Context, c *conn.Conn, hc *config.HTTPCheck, state string, soft404, overH2 bool) error {
	run := httpCheck
	if overH2 {
		run = httpCheckH2
	}
	code, err := run(ctx, c.Transport(), hc, state, soft404)
	var pass *passReasonError
	if errors.As(err, &pass) {
		// Passed, worded by the expect rule.
		s.checker.setPassReason(pass.reason)
		s.checker.setHTTPCode(code)
		return nil
	}
	s.checker.setPassReason("")
	if err != nil {
		_ = c.Abort()
		if errors.Is(err, errCondPass) {
			s.checker.setHTTPCode(code)
		}
		return err
	}
	s.checker.setHTTPCode(code)
	return nil
}

// httpCheckState is what an HTTP check of s sends and allows beside its
// request: the X-Haproxy-Server-State value under http-check send-state
// ("" without), and whether a 404 passes conditionally.
func (s *Server) httpCheckState(b *Balancer, hc *config.HTTPCheck) (state string, soft404 bool) {
	if hc.SendState {
		node := b.cfg.Global.Node
		if node == "" {
			node = hostName
		}
		state = s.stateHeader(node)
	}
	// As in HAProxy, disable-on-404 is for a server that is not down: a
	// down one's 404 is a wrong status.
	s.be.mu.Lock()
	soft404 = hc.DisableOn404 && s.up
	s.be.mu.Unlock()
	return state, soft404
}

// checkElsewhere reports whether the server's checks go to another port
// or address than its traffic.
func (s *Server) checkElsewhere() bool { return s.checkPort.Load() != 0 || s.cfg.CheckAddr != "" }

// checkTLS reports whether the server's checks run over TLS.
func (s *Server) checkTLS() bool {
	return s.cfg.SSL.Enabled && (!s.checkElsewhere() || s.cfg.CheckSSL)
}

// dialCheckConn connects a health check to target as the server's
// traffic connects (PROXY header, TLS), a failed TLS handshake worded as
// a Layer6 failure.
func (b *Balancer) dialCheckConn(ctx context.Context, s *Server, target string, serverFirst bool) (*conn.Conn, error) {
	d, err := s.checkDialer(serverFirst)
	if err != nil {
		return nil, err
	}
	return dialCheckWith(ctx, d, target)
}

// dialCheckWith dials target with d for a check, a failed TLS handshake
// worded as a Layer6 failure.
func dialCheckWith(ctx context.Context, d *conn.Dialer, target string) (*conn.Conn, error) {
	w := watchHandshake(d)
	network, addr := config.NetAddr(target)
	dctx, cancel := connectCtx(ctx)
	c, err := d.Dial(dctx, network, addr, nil)
	cancel()
	if err != nil {
		return nil, w.classify(err)
	}
	return c, nil
}

// checkDialer is the dialer of the server's checks: its traffic's (PROXY
// header, TLS), as HAProxy's checks dial, with the check options' say.
func (s *Server) checkDialer(serverFirst bool) (*conn.Dialer, error) {
	if s.dialer == nil {
		return nil, s.dialErr
	}
	d := *s.dialer
	d.Timeout = 0 // the check's own timeout is in ctx
	d.Control = checkSocket
	// A check that sends nothing would never send its SYN under Fast
	// Open, whose connect waits for the first write.
	d.FastOpen = false
	if s.checkElsewhere() {
		// As in HAProxy, a check sent elsewhere than the traffic goes
		// plain and without the PROXY header unless asked for.
		if !s.cfg.CheckSSL {
			d.Transport, d.HandshakeTimeout = nil, 0
		}
		if !s.cfg.CheckSendProxy {
			d.SendProxy = 0
		}
	}
	if s.cfg.CheckSendProxy && d.SendProxy == 0 {
		d.SendProxy = 1
	}
	// As HAProxy's checks: a v1 header tells the check connection's own
	// addresses, a v2 one is LOCAL.
	d.SelfHeader = true
	if !s.cfg.CheckViaSOCKS4 {
		// As in HAProxy, checks go straight to the server unless
		// check-via-socks4 sends them through the server's proxy.
		d.SOCKS4 = ""
	}
	out := s.cfg.SSL.Outbound
	if alpn := s.cfg.CheckALPN; len(alpn) > 0 && d.Transport != nil && out != nil {
		// check-alpn: the protocols the TLS checks offer.
		out = out.WithALPN(alpn)
		d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.Client(c), nil }
	}
	if sni := s.cfg.CheckSNI; sni != "" && d.Transport != nil && out != nil {
		// check-sni: the TLS checks' own server name.
		d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.ClientSNI(c, sni), nil }
	}
	if serverFirst && d.SendProxy == 0 && d.Transport == nil && d.SOCKS4 == "" {
		// The server speaks first, over plain TCP: nothing would carry
		// the handshake's last ACK (checkSocket).
		d.Control = nil
	}
	// The check keeps the server's keepalive settings (srvtcpka), as
	// HAProxy's checks do.
	return &d, nil
}

// tunnelConfig maps a frontend and backend's timeouts and splice options
// onto a channel tunnel, the way HAProxy combines them: a splice option set
// on either proxy applies.
func (b *Balancer) tunnelConfig(fe, be *config.Proxy) channel.TunnelConfig {
	tc := channel.TunnelConfig{
		Pool:             b.pool,
		ClientTimeout:    fe.Timeouts.Client,
		ServerTimeout:    be.Timeouts.Server,
		TunnelTimeout:    be.Timeouts.Tunnel,
		ClientFinTimeout: fe.Timeouts.ClientFin,
		ServerFinTimeout: be.Timeouts.ServerFin,
	}
	if b.pipes == nil {
		return tc
	}
	tc.Pipes = b.pipes
	o := func(get func(config.Options) bool) bool { return get(fe.Options) || get(be.Options) }
	if o(func(x config.Options) bool { return x.SpliceAuto }) {
		tc.SpliceRequest, tc.SpliceResponse = channel.SpliceAuto, channel.SpliceAuto
	}
	if o(func(x config.Options) bool { return x.SpliceRequest }) {
		tc.SpliceRequest = channel.SpliceAlways
	}
	if o(func(x config.Options) bool { return x.SpliceResponse }) {
		tc.SpliceResponse = channel.SpliceAlways
	}
	return tc
}

// usesSplice reports whether any proxy asks for splicing, so that a pipe
// pool is only made when something will use it.
func usesSplice(cfg *config.Config) bool {
	if cfg.Global.NoSplice {
		return false
	}
	for _, px := range cfg.Proxies {
		o := px.Options
		if o.SpliceAuto || o.SpliceRequest || o.SpliceResponse {
			return true
		}
	}
	return false
}

// pipeLimits are the kernel's limits on pipe sizes: the largest size an
// unprivileged process may ask (fs.pipe-max-size) and the pages all of a
// user's pipes may hold before new ones are cut down to a sliver
// (fs.pipe-user-pages-soft, 0 for no limit).
type pipeLimits struct {
	maxSize   int
	softBytes int64
}

func readPipeLimits() pipeLimits {
	read := func(name string) int64 {
		b, err := os.ReadFile("/proc/sys/fs/" + name)
		if err != nil {
			return -1
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	l := pipeLimits{maxSize: int(read("pipe-max-size")), softBytes: read("pipe-user-pages-soft")}
	if l.softBytes > 0 {
		l.softBytes *= int64(os.Getpagesize())
	}
	return l
}

// kernelPipeSize is Linux's default pipe capacity, which HAProxy keeps
// when tune.pipesize is not set.
const kernelPipeSize = 64 << 10

// maxDefaultPipeSize caps the size chosen without tune.pipesize.
const maxDefaultPipeSize = 1 << 20

// defaultPipeSize is the pipe size used when tune.pipesize is not set.
// Each splice call moves at most a pipe's capacity, so a larger pipe means
// fewer calls per byte: on loopback, 1 MiB pipes take about 40 % less CPU
// per GiB than the kernel's 64 KiB (bench/results/lb.md). The size is
// chosen so that maxpipes pipes stay within half of the user's soft pipe
// budget, past which the kernel gives new pipes only a page or two; with
// no pipe limit, or a budget that cannot afford more than the default,
// the kernel's default stays (0).
func defaultPipeSize(maxPipes int, l pipeLimits) int {
	if maxPipes <= 0 || l.maxSize <= kernelPipeSize {
		return 0
	}
	size := min(maxDefaultPipeSize, l.maxSize)
	if l.softBytes > 0 {
		size = int(min(int64(size), l.softBytes/2/int64(maxPipes)))
	} else if l.softBytes < 0 {
		return 0 // limits unknown
	}
	// The kernel rounds up to a power of two pages; round down instead so
	// the budget holds.
	p := kernelPipeSize
	for p*2 <= size {
		p *= 2
	}
	if p <= kernelPipeSize {
		return 0
	}
	return p
}
