package balancer

import (
	"cmp"
	"context"
	"net"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HTTP checks with "http-check connect": the rules run in order as
// HAProxy runs them. Each connect opens the check's next connection,
// closing the one before; the send after it sends a request there (the
// first one the check's own, as option httpchk and the first send make
// it, even with no send of its own), and the expects after that judge
// its answer. A connect that ends the rules passes at Layer 4.

// httpCheckSequence runs hc's rules on s and returns the last connection
// still open, for the caller to close, or the failure worded as HAProxy
// words it: without the step, as HAProxy's HTTP checks say nothing of
// it.
func (b *Balancer) httpCheckSequence(ctx context.Context, s *Server, hc *config.HTTPCheck) (net.Conn, error) {
	state, soft404 := s.httpCheckState(b, hc)
	var (
		c      *conn.Conn
		linger bool
	)
	// A connection the next connect replaces is closed, as HAProxy
	// closes it, with a FIN; the last one as the check ends.
	end := func() {
		if c != nil {
			_ = c.Close()
			c = nil
		}
	}
	rules := hc.Rules
	first := true
	for i := 0; i < len(rules); {
		// Parsing saw to it that the rules begin with a connect and that
		// each other one follows an expect.
		r := &rules[i].Connect
		i++
		end()
		d, err := s.ruleDialer(r, false)
		if err == nil {
			c, err = dialCheckWith(ctx, d, s.checkTarget(r.Port, r.Addr))
		}
		if err != nil {
			return nil, err
		}
		linger = r.Linger
		var req *config.HTTPCheck
		if i < len(rules) && rules[i].Action == config.TCPCheckSend {
			req = rules[i].Request
			i++
		}
		if first {
			// The check's own request, which the first send completes,
			// goes on the first connection whether or not it has one.
			req, first = hc, false
		}
		var expects []config.HTTPExpect
		for ; i < len(rules) && rules[i].Action == config.TCPCheckExpect; i++ {
			expects = append(expects, rules[i].Expect)
		}
		if req == nil {
			continue // a connect alone, the last rule
		}
		g := *req
		g.Expects, g.SendState, g.DisableOn404, g.Rules = expects, hc.SendState, hc.DisableOn404, nil
		proto, alpnPicks := r.Proto, len(r.ALPN) > 0
		if r.Default {
			proto = cmp.Or(proto, s.serverCheckProto())
			alpnPicks = alpnPicks || len(s.cfg.CheckALPN) > 0
		}
		xctx, cancel := afterConnect(ctx)
		err = s.runHTTPCheck(xctx, c, &g, state, soft404, checkSpeaksH2(c.Transport(), proto, alpnPicks))
		cancel()
		if err != nil {
			return nil, err
		}
	}
	return checkConn(c, linger), nil
}

// checkConn is c as a check ends it: reset, unless its connect rule
// asked for a graceful close (linger).
func checkConn(c *conn.Conn, linger bool) net.Conn {
	if linger {
		return lingerConn{c}
	}
	return c
}

// lingerConn hides its connection's Abort, so that closeCheck closes it
// with a FIN.
type lingerConn struct{ net.Conn }

// ruleDialer is the dialer of a connect rule: a plain TCP connect, or
// with default the one of the server's checks, then what the rule's own
// options add: a PROXY header, the server's SOCKS4 proxy, TLS with the
// server's TLS settings and the rule's server name. serverFirst tells
// that the server speaks first (see checkSocket).
func (s *Server) ruleDialer(r *config.TCPCheckRule, serverFirst bool) (*conn.Dialer, error) {
	d := &conn.Dialer{Control: checkSocket, SelfHeader: true}
	if r.Default {
		var err error
		if d, err = s.checkDialer(serverFirst); err != nil {
			return nil, err
		}
	}
	if r.SendProxy && d.SendProxy == 0 {
		d.SendProxy = 1
		if s.cfg.SendProxyV2 {
			d.SendProxy = 2
		}
	}
	if r.ViaSOCKS4 && s.cfg.SOCKS4 != "" {
		d.SOCKS4, d.SOCKS4UserID = s.cfg.SOCKS4, socks4UserID
	}
	out := s.cfg.SSL.Outbound
	sni := r.SNI
	if sni == "" && r.Default {
		sni = s.cfg.CheckSNI
	}
	if out != nil && len(r.ALPN) > 0 {
		// The rule's alpn: the protocols its TLS handshake offers.
		out = out.WithALPN(r.ALPN)
	}
	switch {
	case out == nil:
	case (r.SSL || d.Transport != nil && len(r.ALPN) > 0) && sni == "":
		d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.Client(c), nil }
	case r.SSL || (d.Transport != nil && (r.SNI != "" || len(r.ALPN) > 0)):
		d.Transport = func(c net.Conn) (xprt.Transport, error) { return out.ClientSNI(c, sni), nil }
	}
	if serverFirst && !r.Default && d.SendProxy == 0 && d.Transport == nil && d.SOCKS4 == "" {
		// Nothing goes out first to carry the handshake's last ACK.
		d.Control = nil
	}
	return d, nil
}
