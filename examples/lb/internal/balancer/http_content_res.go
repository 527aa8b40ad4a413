package balancer

import (
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// "tcp-response content" rules in mode http. As in HAProxy, where they
// are the response channel's first analyser, they run for each response:
// first once the request has gone to the server, on nothing yet (final
// unless "tcp-response inspect-delay" is set); when a condition could not
// decide then, once more on the response's head, which decides. When the
// inspect delay ends first, they decide then on nothing, as HAProxy's do,
// and a verdict that ends the exchange ends it there, the server's
// connection given up (not an HTTP/2 server's, which is shared: its
// rules decide on nothing once the head comes). HAProxy holds an HTTP
// response as HTTP messages (HTX), not as the bytes the server sent:
// res.len counts their HTX size (as the logs count bytes, htxsize.go),
// and the payload fetches find nothing, which HAProxy warns of at start.
//
// accept ends the rules; reject closes the client's connection without
// an answer, logged PD without status nor response time; silent-drop
// does so silently, logged PR. close, before the response, resets the
// server's connection, which the client learns as a 502 (SH); on the
// head, the response goes on and the server's connection is not kept.
// set-var, set-var-fmt, unset-var, set-log-level, the sc-* actions,
// set-mark, set-tos and send-spoe-group act as in the HTTP rules;
// set-nice changes nothing, as lb has no task scheduler.

// resHTTPCtx is the fetches' context while an HTTP response's
// tcp-response rules run (acl.HTTPResponseContentContext).
type resHTTPCtx struct {
	*exchange
	// n is the response's HTX size so far, final whether the rules
	// decide on it, may whether a fetch found too little to decide.
	n          int
	final, may bool
}

// Payload returns nothing: the request's bytes are not the response
// rules' to read.
func (c *resHTTPCtx) Payload() ([]byte, bool) { return nil, true }

// ResponsePayload returns no bytes: HAProxy holds an HTTP response as
// HTTP messages.
func (c *resHTTPCtx) ResponsePayload() ([]byte, bool, bool) { return nil, c.final, true }

// ResponseHTTPLen is the response's HTX size so far, which res.len reads.
func (c *resHTTPCtx) ResponseHTTPLen() int { return c.n }

// MayChange notes that a fetch needs more than there is.
func (c *resHTTPCtx) MayChange() { c.may = true }

var _ acl.HTTPResponseContentContext = (*resHTTPCtx)(nil)

// resHTTP is an HTTP response's tcp-response rules while they run.
type resHTTP struct {
	rules []httpRule
	// deadline is when the inspect delay ends, zero without one.
	deadline time.Time
	// sent marks the send-spoe-group rules that ran, which a second run
	// does not send again.
	sent []bool
	// dropTTL is silent-drop's rst-ttl.
	dropTTL int
}

// startTCPResponse runs the backend's tcp-response rules once the request
// has gone to the server, on nothing yet. It returns the rules still to
// run on the response's head (nil when they decided) and their verdict
// ("" for the response to go on, "reject", "silent-drop" or "close").
func (ex *exchange) startTCPResponse() (*resHTTP, string) {
	rules := ex.bhp.resContent
	if len(rules) == 0 {
		return nil, ""
	}
	rh := &resHTTP{rules: rules}
	if d := ex.be.cfg.Stick.ResponseDelay; d > 0 {
		rh.deadline = time.Now().Add(d)
	}
	verdict, wait := ex.runTCPResponse(rh, 0, rh.deadline.IsZero())
	if wait {
		return rh, ""
	}
	return nil, verdict
}

// headTCPResponse runs the rules that waited on the response's head,
// whose HTX size is n: on nothing when it came after the inspect delay,
// as HAProxy's rules decided then. It returns their verdict and the size
// they decided on.
func (ex *exchange) headTCPResponse(rh *resHTTP, n int64) (string, int64) {
	if time.Now().After(rh.deadline) {
		n = 0
	}
	verdict, _ := ex.runTCPResponse(rh, int(n), true)
	return verdict, n
}

// runTCPResponse runs the rules from the first on a response of HTX size
// n, and reports their verdict, or wait when a condition could not
// decide and more may come.
func (ex *exchange) runTCPResponse(rh *resHTTP, n int, final bool) (verdict string, wait bool) {
	ctx := &resHTTPCtx{exchange: ex, n: n, final: final}
	for i := range rh.rules {
		r := &rh.rules[i]
		ctx.may = false
		if r.cond != nil && !r.cond.Eval(ctx) {
			if ctx.may && !final {
				return "", true
			}
			continue
		}
		switch r.cfg.Action {
		case "accept":
			return "", false
		case "reject", "close":
			return r.cfg.Action, false
		case "silent-drop":
			rh.dropTTL = r.cfg.Status
			return r.cfg.Action, false
		case "set-var":
			if smp, ok := r.expr(ctx); ok {
				ex.SetVar(r.name, smp)
			}
		case "set-var-fmt":
			ex.SetVar(r.name, acl.Str(string(r.value.appendTo(nil, ctx))))
		case "unset-var":
			ex.UnsetVar(r.name)
		case "set-log-level":
			ex.log.level = r.cfg.LogLevel
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			ex.scAction(r)
		case "set-mark", "set-tos":
			ex.setSockopt(r)
		case "send-spoe-group":
			if rh.sent == nil {
				rh.sent = make([]bool, len(rh.rules))
			}
			if !rh.sent[i] {
				rh.sent[i] = true
				ex.sendSPOEGroup(r)
			}
		}
	}
	return "", false
}

// endByTCPResponse ends an exchange whose tcp-response rules rejected,
// dropped or closed it, n being the HTX size of the response read, and
// reports whether the response is still to go on (a close on the head).
func (ex *exchange) endByTCPResponse(rh *resHTTP, verdict string, n int64, head bool) (goOn bool) {
	l := &ex.log
	switch verdict {
	case "close":
		if head {
			// The head and what follows go on; the connection does
			// not stay for another request.
			ex.closeBack = true
			return true
		}
		ex.abortBack()
		ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
		return false
	case "reject":
		ex.countDeniedResponse()
		l.term = [2]byte{'P', 'D'}
		ex.abortBack()
		_ = ex.hf.s.client.Close()
	case "silent-drop":
		// As haproxy counts a silent drop: a denied request.
		ex.hf.s.fe.st.denied.Add(1)
		ex.be.st.denied.Add(1)
		l.term = [2]byte{'P', 'R'}
		ex.abortBack()
		ex.hf.s.client.SilentDrop(rh.dropTTL)
	}
	l.trSet, l.status = false, -1
	l.bytesOut += n
	return false
}

// countDeniedResponse counts a response the rules denied, on the
// frontend, the backend and the server.
func (ex *exchange) countDeniedResponse() {
	ex.hf.s.fe.st.dresp.Add(1)
	ex.be.st.dresp.Add(1)
	if ex.srv != nil {
		ex.srv.st.dresp.Add(1)
	}
}

// bodyCame is how much of resp's body came with its head, as HTX counts
// it: the bytes read past the head, up to the announced length; none for
// a chunked body, whose framing HTX does not count, nor for a stream that
// does not tell.
func bodyCame(st mux.HTTPStream, resp *htx.Message) int64 {
	b, ok := st.(interface{ Buffered() int })
	if !ok || resp.Flags&htx.FlagChunked != 0 {
		return 0
	}
	n := int64(b.Buffered())
	if resp.Flags&htx.FlagContentLength != 0 {
		n = min(n, resp.ContentLength)
	}
	return n
}

// resExpiry runs an HTTP/1 response's waiting rules when the inspect
// delay ends before its head: on nothing, as HAProxy's do then. A verdict
// that ends the exchange wakes the read of the head with a read deadline
// now, so that the exchange ends at the delay, as in HAProxy.
type resExpiry struct {
	timer *time.Timer
	mu    sync.Mutex
	// owner is who came first: "expiry" or "head". ran is set once the
	// rules ran on expiry, verdict what they decided; done is closed
	// then.
	owner   string
	ran     bool
	verdict string
	done    chan struct{}
}

// watchTCPResponse starts the expiry of rh's inspect delay, nil when
// there is no delay or the server connection is HTTP/2.
func (ex *exchange) watchTCPResponse(rh *resHTTP) *resExpiry {
	if rh == nil || rh.deadline.IsZero() || ex.bc == nil || ex.bc.h2 {
		return nil
	}
	e := &resExpiry{done: make(chan struct{})}
	tr := ex.bc.c.Transport()
	e.timer = time.AfterFunc(time.Until(rh.deadline), func() {
		if e.claim("expiry") != "expiry" {
			return
		}
		e.verdict, _ = ex.runTCPResponse(rh, 0, true)
		e.ran = true
		if e.verdict != "" {
			_ = tr.SetReadDeadline(time.Now())
		}
		close(e.done)
	})
	return e
}

// claim makes who the owner unless there is one, and returns the owner.
func (e *resExpiry) claim(who string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.owner == "" {
		e.owner = who
	}
	return e.owner
}

// settle is called once a head is read (or failed): it reports whether
// the rules ran on expiry, and their verdict, waiting for them to end.
func (e *resExpiry) settle() (ran bool, verdict string) {
	if e == nil || e.claim("head") == "head" {
		if e != nil {
			e.timer.Stop()
		}
		return false, ""
	}
	<-e.done
	return e.ran, e.verdict
}
