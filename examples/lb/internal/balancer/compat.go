package balancer

import (
	"fmt"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// proxiedRequest tells a request sent to a proxy, as HAProxy's option
// http-use-proxy-header sees it: one whose target starts with neither
// '/' nor '*' (an absolute URI, a CONNECT's authority, and every HTTP/2
// request, whose target HAProxy writes as an absolute URI).
func proxiedRequest(m *htx.Message) bool {
	return m.Form == htx.FormAbsolute || m.Flags&htx.FlagConnect != 0 ||
		m.Version == htx.Version20 && len(m.Scheme()) > 0
}

// authAnswer is the answer of an http-request auth rule (see
// basicAuthAnswer).
func (ex *exchange) authAnswer(r *httpRule) *localAnswer {
	if !ex.hf.s.fe.cfg.Options.UseProxyHeader || !proxiedRequest(ex.req) {
		return ex.returnAnswer(r)
	}
	challenge, _ := r.answer.head.Get("www-authenticate")
	return ex.basicAuthAnswer(string(challenge))
}

// basicAuthAnswer asks for credentials with challenge: 401 with
// WWW-Authenticate, or, for a proxied request to a frontend with option
// http-use-proxy-header, 407 with Proxy-Authenticate, as HAProxy does.
func (ex *exchange) basicAuthAnswer(challenge string) *localAnswer {
	status, field := 401, "www-authenticate"
	if ex.hf.s.fe.cfg.Options.UseProxyHeader && proxiedRequest(ex.req) {
		status, field = 407, "proxy-authenticate"
	}
	return answerWithReason(status, reasonOf(status), "text/html", builtinAnswer(status).body, [][2]string{
		{"cache-control", "no-cache"},
		{field, challenge},
	})
}

// pretendKeepAlive leaves out the "Connection: close" a request to the
// server would carry in a close mode when the backend has option
// http-pretend-keepalive (an HTTP/1.0 one says keep-alive instead); the
// server connection still closes after the response.
func (ex *exchange) pretendKeepAlive() {
	if ex.mode != config.ConnKeepAlive && ex.be.cfg.Options.PretendKeepAlive {
		ex.req.Flags &^= htx.FlagClose
		// An HTTP/1.0 request says keep-alive, as HAProxy's does.
		if ex.req.Version == htx.Version10 {
			ex.req.Flags |= htx.FlagKeepAlive
		}
	}
}

// errorFileAnswer builds a proxy's answer for an error status: an
// errorfile's response, or an http-error line's answer, made as a
// return rule's.
func errorFileAnswer(ef config.ErrorFile) (*localAnswer, error) {
	if r := ef.Reply; r != nil {
		return newAnswer(r.Status, r.ContentType, r.Body, r.Headers), nil
	}
	return parseAnswer(ef.Data)
}

// ruleErrorFile is the answer of a return rule naming an errorfile: the
// file's response as it is, logged with the rule's status, as HAProxy
// does.
func ruleErrorFile(r *config.HTTPRule) (*localAnswer, error) {
	a, err := parseAnswer(r.ErrorFile)
	if err != nil {
		return nil, fmt.Errorf("%s: '%s' errorfile: %w", r.Pos, r.Action, err)
	}
	a.logStatus = r.Status
	return a, nil
}

// statsRulesStop runs the page's "stats http-request" rules: the first
// whose condition holds decides; deny answers 403 and auth asks for
// credentials, and both stop the page (logged with the status sent,
// where HAProxy 2.6 logs 400, as for stats auth). allow, or no rule,
// lets the page be served.
func (ex *exchange) statsRulesStop(page *config.StatsPage) bool {
	for i := range page.Rules {
		r := &page.Rules[i]
		if r.Cond != nil && !r.Cond.Eval(ex) {
			continue
		}
		switch r.Action {
		case "allow":
			return false
		case "deny":
			ex.log.term = [2]byte{'P', 'R'}
			ex.answer(builtinAnswer(403))
		case "auth":
			ex.answer(ex.basicAuthAnswer(`Basic realm="` + r.Realm + `"`))
		}
		return true
	}
	return false
}

// logASAP writes the request's line as soon as the server's response
// head went to the client, under option logasap, as HAProxy does: the
// total time and the bytes sent so far, marked '+'. The line is not
// written again at the end.
func (ex *exchange) logASAP() {
	l := &ex.log
	if !ex.hf.s.fe.cfg.Options.LogASAP || ex.loggedASAP {
		return
	}
	l.ta, l.asap = time.Since(l.date), true
	l.bodyIn = ex.bodyIn.Load()
	ex.hf.emitLog(l, ex)
	ex.loggedASAP = true
}
