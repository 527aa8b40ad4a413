package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// SessionStoreFunc returns the session store of one ssl bind line, or nil
// to keep the built-in resumption (tickets, or an in-process cache with
// no-tls-tickets). It is where a cache shared between processes plugs in
// (ssl-session-cache); bind.Pos tells the lines apart.
type SessionStoreFunc func(bind config.Bind) (tls.SessionStore, error)

// bindTLS makes a listener of an ssl bind line serve TLS. The handshake
// runs in each connection's goroutine (conn.Conn.Handshake), bounded by
// the frontend's timeout client.
func (b *Balancer) bindTLS(bind config.Bind, lc *conn.ListenConfig) error {
	if !bind.SSL.Enabled {
		return nil
	}
	in := bind.SSL.Inbound
	if b.opts.SessionStore != nil {
		store, err := b.opts.SessionStore(bind)
		if err != nil {
			return fmt.Errorf("session store: %w", err)
		}
		if store != nil {
			bc := bind.SSL.Config
			bc.SessionStore = store
			if in, err = tls.NewInbound(bc, b.cfg.Global.SSL); err != nil {
				return err
			}
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
// client whose transport negotiated client: the server's own, or a copy
// sending the client's SNI (sni ssl_fc_sni). It also adds the SSL TLV to
// ph when the server asks for it and the client came over TLS.
func connDialer(s *Server, ph *conn.ProxyHeader, client xprt.Info) *conn.Dialer {
	sc := &s.cfg.SSL
	if sc.SendProxyV2SSL && client.TLS {
		_ = ph.AddSSL(sslTLV(client, sc.SendProxyV2SSLCN))
	}
	if !sc.Enabled || sc.Outbound == nil || sc.SNI.Fetch != "ssl_fc_sni" {
		return s.dialer
	}
	d := *s.dialer
	out, sni := sc.Outbound, sc.SNI.Eval(client.ServerName)
	d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.ClientSNI(c, sni), nil }
	return &d
}

// sslTLV describes the client's TLS connection the way HAProxy's
// send-proxy-v2-ssl does: the client flags, verify (0 when a certificate
// was presented and verified), the version and, with -cn, the CN.
func sslTLV(i xprt.Info, cn bool) conn.SSLInfo {
	v := conn.SSLInfo{Client: conn.SSLClientSSL, Verify: 1, Version: tls.VersionName(i.Version)}
	if len(i.PeerCertificates) > 0 {
		v.Client |= conn.SSLClientCertConn | conn.SSLClientCertSess
		if i.Verified {
			v.Verify = 0
		}
		if cn {
			v.CN = i.PeerCertificates[0].Subject.CommonName
		}
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
	line = append(line, listenerName(fe.cfg, s.bind)...)
	line = append(line, ": "...)
	line = append(line, msg...)
	fe.logs.emit(levelInfo, string(line))
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
