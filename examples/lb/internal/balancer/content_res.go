package balancer

import (
	"errors"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/mux"
)

// TCP-mode response inspection: a backend's "tcp-response content" rules
// look at what the server sends before any of it reaches the client. As
// in haproxy, they first run as soon as the server connection is up, on
// nothing yet; while a condition cannot decide on the bytes there are,
// they run again on each arrival, from the first rule, until "tcp-response
// inspect-delay" (counted from the connection) has passed, when they
// decide on what came. Meanwhile the client's bytes go on to the server.
// They run as the tunnel's response analyser, so nothing is spliced past
// them; a session whose backend has no such rule has no analyser at all.

// errResponseRule ends a tunnel whose response rules rejected or closed
// the session.
var errResponseRule = errors.New("balancer: tcp-response content rule")

// resAnalysis is a session's response rules while they run.
type resAnalysis struct {
	s   *session
	cr  *contentRules
	ctx *contentCtx
	// client is the tunnel's client side, which a close writes the bytes
	// seen to before the server is reset.
	client mux.Tunnel
	// scratch joins the input when it wraps in the buffer.
	scratch []byte
	// verdict is "reject" or "close" once a rule so decided.
	verdict string
	// start is when the rules first ran, the server connection up.
	start time.Time
	// edited marks a response Lua actions changed: the log counts the
	// bytes the server sent, not those the client got.
	edited bool
}

// startResponse runs the backend's response rules once the server
// connection is up, on nothing yet, and returns the analysis still to
// run on the server's bytes, nil when the rules accepted already. It
// reports false when they rejected or closed the session: the caller
// then finishes it, term set.
func (s *session) startResponse(client mux.Tunnel) (*resAnalysis, bool) {
	be := s.be
	ctx := &contentCtx{tracked: s.ruleCtx(be.cfg.Name), res: true, data: []byte{}, final: be.resp.delay <= 0, sid: s.rt(), sess: s}
	if s.x != nil {
		ctx.spoe = s.x.spoe
	}
	ra := &resAnalysis{s: s, cr: be.resp, ctx: ctx, client: client, start: time.Now()}
	verdict, wait := be.resp.verdict(ctx)
	if ctx.edit != nil {
		// Lua actions sent data ahead of the server's: it goes now.
		ra.edited = true
		s.extra().res = ra
		d := ctx.edit
		ctx.edit, ctx.data = nil, d.In
		if out := append(d.Out, d.In...); len(out) > 0 {
			_ = client.SetWriteDeadline(time.Now().Add(max(s.fe.cfg.Timeouts.Client, time.Second)))
			_, err := client.Write(out)
			_ = client.SetWriteDeadline(time.Time{})
			if err != nil {
				s.term = [2]byte{'C', 'D'}
				return nil, false
			}
		}
	}
	if wait {
		s.extra().res = ra
		return ra, true
	}
	ra.decided(verdict)
	switch verdict {
	case "reject":
		s.term = [2]byte{'P', 'D'}
		return nil, false
	case "silent-drop":
		s.term = [2]byte{'P', 'R'}
		s.client.SilentDrop(ctx.dropTTL)
		return nil, false
	case "close":
		s.resetServer()
		return nil, false
	}
	s.storeResponse(ctx)
	return nil, true
}

// storeResponse applies the backend's "stick store-response" rules in
// mode tcp, as haproxy does once the response rules accepted: at the
// server connection's start when the backend has none, on nothing, or
// on what the rules inspected.
func (s *session) storeResponse(ctx *contentCtx) {
	be := s.be
	for i := range be.stick {
		if be.stick[i].cfg.StoreResponse {
			if ctx == nil {
				ctx = &contentCtx{tracked: s.ruleCtx(be.cfg.Name), res: true, data: []byte{}, final: true, sid: s.rt()}
			}
			be.stickStore(ctx, s.b.tables, s.srv, true, s.b.log.Debug)
			return
		}
	}
}

// decided applies what the rules decided: the log level they set, the
// SPOE state they made, the denied response counted.
func (ra *resAnalysis) decided(verdict string) {
	s, ctx := ra.s, ra.ctx
	ra.verdict = verdict
	if ctx.level != 0 {
		s.logLevel = int8(ctx.level)
	}
	if ctx.spoe != nil {
		s.extra().spoe = ctx.spoe
	}
	if verdict == "silent-drop" {
		// As haproxy counts a silent drop: a denied request, on the
		// frontend and the backend.
		s.fe.st.denied.Add(1)
		s.be.st.denied.Add(1)
	}
	if verdict == "reject" {
		s.b.log.Debug("response rejected", "backend", s.be.cfg.Name, "client", ctx.src)
		s.fe.st.dresp.Add(1)
		s.be.st.dresp.Add(1)
		if s.srv != nil {
			s.srv.st.dresp.Add(1)
		}
	}
}

// analyse is the tunnel's response analyser: the rules on the server's
// bytes so far, final once the inspect delay is over, the buffer is full
// or the server ended its side.
func (ra *resAnalysis) analyse(c *channel.Channel) (channel.Verdict, error) {
	first, second := c.Input()
	data := first
	if len(second) > 0 {
		ra.scratch = append(append(ra.scratch[:0], first...), second...)
		data = ra.scratch
	}
	if data == nil {
		data = []byte{}
	}
	ctx := ra.ctx
	ctx.data = data
	ctx.final = ra.cr.delay <= 0 || c.AnalyseExpired() || c.ShutR() || c.InputFull()
	verdict, wait := ra.cr.verdict(ctx)
	if ctx.edit != nil {
		var err error
		if data, err = ra.writeBack(c); err != nil {
			return channel.More, err
		}
	}
	if wait {
		return channel.More, nil
	}
	ra.decided(verdict)
	switch verdict {
	case "reject":
		// Nothing the server sent goes on; both sides close.
		return channel.More, errResponseRule
	case "silent-drop":
		// Nothing goes on, and the client learns nothing.
		ra.s.client.SilentDrop(ctx.dropTTL)
		return channel.More, errResponseRule
	case "close":
		// What came goes on to the client, then the server is reset and
		// the client gets its end of stream.
		if len(data) > 0 {
			_ = ra.client.SetWriteDeadline(time.Now().Add(max(ra.s.fe.cfg.Timeouts.Client, time.Second)))
			_, _ = ra.client.Write(data)
		}
		ra.s.resetServer()
		return channel.More, errResponseRule
	}
	ctx.final = true
	ra.s.storeResponse(ctx)
	return channel.Done, nil
}

// writeBack puts the data Lua actions took or changed into the channel
// in place of its input: what they sent or forwarded leaves first, with
// the bytes a forward still covers, and the rest is the input the rules
// read from then on, which it returns.
func (ra *resAnalysis) writeBack(c *channel.Channel) ([]byte, error) {
	ctx := ra.ctx
	d := ctx.edit
	ctx.edit, ra.edited = nil, true
	out := len(d.Out)
	if err := c.Replace(0, c.InputLen(), append(d.Out, d.In...)); err != nil {
		return nil, err
	}
	c.Forward(int64(out) + d.ToForward)
	ctx.data = d.In
	return d.In, nil
}

// resetServer makes the server connection's close a reset, as haproxy
// kills it on a tcp-response close.
func (s *session) resetServer() {
	s.mu.Lock()
	sc := s.server
	s.mu.Unlock()
	if sc == nil {
		return
	}
	if tc, ok := sc.Socket().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// responseDone settles a tunnel's result after response rules stopped
// it: a reject is logged PD, a silent drop PR, a close as a normal end,
// and in all the
// bytes counted are those read from the server, as haproxy counts them.
func (s *session) responseDone(res channel.Result) bool {
	x := s.x
	if x == nil || x.res == nil {
		return false
	}
	if x.res.edited {
		s.bytesOut = res.Response.In
	}
	if x.res.verdict == "" || x.res.verdict == "accept" {
		return false
	}
	s.bytesIn, s.bytesOut = res.Request.In, res.Response.In
	switch x.res.verdict {
	case "reject":
		s.term = [2]byte{'P', 'D'}
	case "silent-drop":
		s.term = [2]byte{'P', 'R'}
	default:
		s.term = [2]byte{'-', '-'}
	}
	return true
}
