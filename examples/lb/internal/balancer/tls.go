package balancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// SessionStoreFunc returns the session store of one ssl bind line, or nil
// to keep the one the configuration selects: the ssl-session-cache when
// set, else the built-in resumption (tickets, or an in-process cache with
// no-tls-tickets). bind.Pos tells the lines apart.
type SessionStoreFunc func(bind config.Bind) (tls.SessionStore, error)

// openSessionCache opens the TLS session cache that ssl-session-cache
// (a file shared by lb processes) or ssl-session-sync (sessions sent to
// other hosts, kept in a cache private to the process when there is no
// file) asks for, sized by tune.ssl.cachesize and tune.ssl.lifetime. With
// neither, or with tune.ssl.cachesize 0, there is none and resumption is
// what xprt/tls does by itself.
func (b *Balancer) openSessionCache() error {
	g := &b.cfg.Global
	if g.SessionCache == nil && g.SessionSync == nil {
		return nil
	}
	d := g.SSL
	if d == nil {
		d = tls.NewDefaults()
	}
	if d.CacheSize == 0 {
		return nil
	}
	opts := sslcache.Options{Size: d.CacheSize, Lifetime: d.Lifetime, Logger: b.log}
	where := "in the process"
	if g.SessionCache != nil {
		opts.Path = g.SessionCache.Path
		where = g.SessionCache.Pos.String()
	}
	c, err := sslcache.Open(opts)
	if err != nil {
		return fmt.Errorf("balancer: ssl-session-cache (%s): %w", where, err)
	}
	if ss := g.SessionSync; ss != nil {
		sc := ss.Config
		sc.Logger = b.log
		s, err := sslsync.Start(c, sc)
		if err != nil {
			_ = c.Close()
			return fmt.Errorf("balancer: %s (%s): %w", sslsync.Keyword, ss.Pos, err)
		}
		b.sslSync = s
	}
	b.sslCache = c
	return nil
}

// closeSessionCache stops the session sync and unmaps the cache; the
// file stays for the other processes.
func (b *Balancer) closeSessionCache() {
	if b.sslSync != nil {
		_ = b.sslSync.Close()
	}
	if b.sslCache != nil {
		_ = b.sslCache.Close()
	}
}

// SSLSessionCache returns the TLS session cache of ssl-session-cache or
// ssl-session-sync, or nil when there is none.
func (b *Balancer) SSLSessionCache() *sslcache.Cache { return b.sslCache }

// SSLSessionSync returns the running ssl-session-sync, or nil.
func (b *Balancer) SSLSessionSync() *sslsync.Sync { return b.sslSync }

// sessionStore picks the session store of an ssl bind line: the one
// Options gives, else the shared cache, except on a line with
// tls-ticket-keys, whose tickets already resume across processes and
// hosts sharing the key file. Nil keeps what xprt/tls built.
func (b *Balancer) sessionStore(bind config.Bind) (tls.SessionStore, error) {
	if b.opts.SessionStore != nil {
		store, err := b.opts.SessionStore(bind)
		if err != nil || store != nil {
			return store, err
		}
	}
	if b.sslCache != nil && bind.SSL.Config.TicketKeys == "" {
		return b.sslCache, nil
	}
	return nil, nil
}

// bindTLS makes a listener of an ssl bind line serve TLS. The handshake
// runs in each connection's goroutine (conn.Conn.Handshake), bounded by
// the frontend's timeout client.
func (b *Balancer) bindTLS(bind config.Bind, lc *conn.ListenConfig) error {
	if !bind.SSL.Enabled {
		return nil
	}
	in := bind.SSL.Inbound
	store, err := b.sessionStore(bind)
	if err != nil {
		return fmt.Errorf("session store: %w", err)
	}
	// tune.ssl.capture-buffer-size: the hellos are kept for the
	// ssl_fc_cipherlist_* fetches.
	capture := b.cfg.Global.SSLCaptureSize > 0
	if store != nil || capture {
		bc := bind.SSL.Config
		bc.SessionStore = store
		bc.CaptureHello = capture
		if in, err = tls.NewInbound(bc, b.cfg.Global.SSL); err != nil {
			return err
		}
	}
	if in == nil {
		return errors.New("ssl bind line was not built (config not parsed by config.Parse?)")
	}
	lc.Transport = func(c net.Conn) (xprt.Transport, error) { return in.Server(c), nil }
	if bind.SSL.HandshakeTimeout > 0 {
		lc.HandshakeTimeout = bind.SSL.HandshakeTimeout
	} else {
		lc.HandshakeTimeout = conn.DefaultHandshakeTimeout
	}
	return nil
}

// serverTLS sets up the dialer of an ssl server line: TLS with the
// server's options, the handshake bounded by timeout connect, and a v2
// PROXY header when send-proxy-v2-ssl asks for one.
func serverTLS(s *Server, d *conn.Dialer) {
	sc := s.cfg.SSL
	if sc.SendProxyV2SSL {
		d.SendProxy = 2
	}
	if !sc.Enabled || sc.Outbound == nil {
		return
	}
	out := sc.Outbound
	d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.Client(c), nil }
	if t := s.be.cfg.Timeouts.Connect; t > 0 {
		d.HandshakeTimeout = t
	}
}

// connDialer returns the dialer for one connection to s on behalf of a
// client: the server's own, or a copy sending the SNI worked out for
// this client (pp.sni: sni ssl_fc_sni or an expression). It also adds
// to ph the TLVs a v2 header carries.
func connDialer(s *Server, ph *conn.ProxyHeader, pp ppFacts) *conn.Dialer {
	sc := &s.cfg.SSL
	if s.dialer.SendProxy == 2 {
		addTLVs(s.cfg, ph, pp)
	}
	if !sc.Enabled || sc.Outbound == nil || !pp.sniSet {
		return s.dialer
	}
	d := *s.dialer
	out, sni := sc.Outbound, pp.sni
	d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.ClientSNI(c, sni), nil }
	return &d
}

// dynamicSNI is the SNI a connection to s sends on behalf of a client
// whose context is ctx and TLS state client, when the server's sni
// changes with the client (ssl_fc_sni, an expression); ok is false for
// a fixed one. An expression without a sample sends none, as in
// HAProxy.
func dynamicSNI(s *Server, ctx acl.Context, client xprt.Info) (sni string, ok bool) {
	sc := &s.cfg.SSL
	if !sc.Enabled || sc.Outbound == nil {
		return "", false
	}
	switch {
	case sc.SNI.Fetch == "ssl_fc_sni":
		return sc.SNI.Eval(client.ServerName), true
	case s.sniFn != nil:
		if smp, found := s.sniFn(ctx); found {
			return smp.String(), true
		}
		return "", true
	}
	return "", false
}

// ppFacts is what a server's v2 PROXY header may tell of the client's
// side beyond its addresses: its TLS state, the authority its own PROXY
// header gave ("" for none), and its stream's unique ID (nil for none).
type ppFacts struct {
	client    xprt.Info
	authority string
	uniqueID  func() (string, bool)
	// sni is the SNI to send when sniSet (dynamicSNI).
	sni    string
	sniSet bool
}

// addTLVs adds to a v2 header the TLVs HAProxy sends, in its order: the
// checksum (proxy-v2-options crc32c), the client's ALPN whenever it
// negotiated one, the authority (authority: from the client's own PROXY
// header, else its SNI), the unique ID (unique-id) and the SSL TLV
// (send-proxy-v2-ssl[-cn], proxy-v2-options ssl, cert-cn, ssl-cipher).
func addTLVs(s *config.Server, ph *conn.ProxyHeader, pp ppFacts) {
	o := s.PPv2
	if o.CRC32C {
		ph.AddCRC32C()
	}
	if pp.client.ALPN != "" {
		_ = ph.AddTLV(conn.TLVALPN, []byte(pp.client.ALPN))
	}
	if o.Authority {
		if a := cmp.Or(pp.authority, pp.client.ServerName); a != "" {
			_ = ph.AddTLV(conn.TLVAuthority, []byte(a))
		}
	}
	if o.UniqueID && pp.uniqueID != nil {
		if id, ok := pp.uniqueID(); ok && id != "" {
			_ = ph.AddTLV(conn.TLVUniqueID, []byte(id))
		}
	}
	if s.SSL.SendProxyV2SSL || o.SSL {
		_ = ph.AddSSL(sslTLV(pp.client, s.SSL.SendProxyV2SSLCN || o.CertCN, o.SSLCipher))
	}
}

// sslTLV describes the client's connection the way HAProxy's SSL TLV
// does: nothing but the TLV for a plain client; for a TLS one the client
// flags, verify (the certificate's check, 0 without one), the version
// and, when asked, the certificate's CN and the cipher.
func sslTLV(i xprt.Info, cn, cipher bool) conn.SSLInfo {
	var v conn.SSLInfo
	if !i.TLS {
		return v
	}
	v.Client, v.Version = conn.SSLClientSSL, tls.VersionName(i.Version)
	if len(i.PeerCertificates) > 0 {
		v.Client |= conn.SSLClientCertSess
		if !i.Resumed {
			v.Client |= conn.SSLClientCertConn
		}
		if !i.Verified {
			v.Verify = 1
		}
		if cn {
			v.CN = i.PeerCertificates[0].Subject.CommonName
		}
	}
	if cipher {
		v.Cipher = tls.CipherName(i.CipherSuite)
	}
	return v
}

// tlsHandshakeFailed counts and logs a failed TLS handshake on an ssl
// bind, in HAProxy's format for connections that never became a
// session: "client:port [date] frontend/listener: message".
func (s *session) tlsHandshakeFailed(err error) {
	if !s.bind.SSL.Enabled || errors.Is(err, conn.ErrProxyHeader) || errors.Is(err, conn.ErrProxyShort) || s.b.ctx.Err() != nil {
		return
	}
	fe := s.fe
	fe.sslFailures.Add(1)
	msg := handshakeMessage(err)
	s.b.log.Debug("TLS handshake failed", "frontend", fe.cfg.Name, "client", s.client.SocketRemote(), "err", err)
	if !fe.logs.enabled() {
		return
	}
	src := s.client.Src()
	line := make([]byte, 0, 128)
	line = append(line, src.Addr().Unmap().String()...)
	line = append(line, ':')
	line = strconv.AppendUint(line, uint64(src.Port()), 10)
	line = append(line, " ["...)
	line = s.accepted.AppendFormat(line, "02/Jan/2006:15:04:05.000")
	line = append(line, "] "...)
	line = append(line, fe.cfg.Name...)
	line = append(line, '/')
	line = append(line, listenerName(fe.cfg, *s.bind)...)
	line = append(line, ": "...)
	line = append(line, msg...)
	level := levelInfo
	if fe.cfg.Options.LogSeparateErrors {
		level = levelErr
	}
	fe.logs.emit(level, string(line))
}

// handshakeMessage words a handshake error as HAProxy's connection error
// strings do, with the TLS library's reason after a plain failure.
func handshakeMessage(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return "Timeout during SSL handshake"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return "Connection closed during SSL handshake"
	}
	// The innermost cause holds the TLS library's own words; the layers
	// above only add where it happened, which the line already says.
	for {
		if m, ok := err.(interface{ Unwrap() []error }); ok && len(m.Unwrap()) > 0 {
			errs := m.Unwrap()
			err = errs[len(errs)-1]
		} else if u := errors.Unwrap(err); u != nil {
			err = u
		} else {
			break
		}
	}
	reason := err.Error()
	return "SSL handshake failure (" + reason + ")"
}

// listenerName is the bind's name, or its 1-based position among the
// frontend's bind lines, as HAProxy numbers unnamed listeners.
func listenerName(px *config.Proxy, bind config.Bind) string {
	if bind.Name != "" {
		return bind.Name
	}
	n := 1
	for _, bl := range px.Binds {
		if bl.Pos == bind.Pos {
			break
		}
		n += len(bl.Addrs)
	}
	return strconv.Itoa(n)
}

// SSLHandshakeFailures returns how many TLS handshakes failed on the ssl
// binds of a frontend (or listen) since Start.
func (b *Balancer) SSLHandshakeFailures(frontend string) uint64 {
	var n uint64
	for _, fe := range b.fronts {
		if fe.cfg.Name == frontend {
			n += fe.sslFailures.Load()
		}
	}
	return n
}

// showSSLCache answers the lb-only runtime command "show ssl-cache": the
// session cache's counters, one "Name: value" line each as "show info"
// prints them.
func (b *Balancer) showSSLCache(w io.Writer) {
	if b.sslCache == nil {
		_, _ = io.WriteString(w, "No TLS session cache (ssl-session-cache or ssl-session-sync) configured.\n")
		return
	}
	st := b.sslCache.Stats()
	writeCounters(w, []counter{
		{"Stores", st.Stores}, {"LocalHits", st.LocalHits}, {"SharedHits", st.SharedHits},
		{"PeerHits", st.PeerHits}, {"Misses", st.Misses}, {"Expired", st.Expired},
		{"Rejected", st.Rejected}, {"Deletes", st.Deletes}, {"TooLarge", st.TooLarge},
		{"StoreErrors", st.StoreErrors}, {"Local", uint64(st.Local)},
	})
}

// showSSLSync answers the lb-only runtime command "show ssl-sync": the
// session sync's message counters. Every packet received is counted in
// Received and in one of Accepted, Forged (bad signature: another key or
// altered), Replayed (timestamp outside the window, or seen before),
// Malformed or Looped.
func (b *Balancer) showSSLSync(w io.Writer) {
	if b.sslSync == nil {
		_, _ = io.WriteString(w, "No ssl-session-sync configured.\n")
		return
	}
	st := b.sslSync.Stats()
	_, _ = fmt.Fprintf(w, "Bind: %s\n", b.sslSync.LocalAddr())
	writeCounters(w, []counter{
		{"Received", st.Received}, {"Accepted", st.Accepted}, {"Forged", st.Forged},
		{"Replayed", st.Replayed}, {"Malformed", st.Malformed}, {"Looped", st.Looped},
		{"Sent", st.Sent}, {"SendErrors", st.SendErrors}, {"Imported", st.Imported},
		{"Deleted", st.Deleted}, {"Answered", st.Answered}, {"Fetched", st.Fetched},
		{"FetchTimeouts", st.FetchTimeouts},
	})
}

type counter struct {
	name string
	v    uint64
}

func writeCounters(w io.Writer, cs []counter) {
	buf := make([]byte, 0, 32*len(cs))
	for _, c := range cs {
		buf = append(buf, c.name...)
		buf = append(buf, ": "...)
		buf = strconv.AppendUint(buf, c.v, 10)
		buf = append(buf, '\n')
	}
	_, _ = w.Write(buf)
}
