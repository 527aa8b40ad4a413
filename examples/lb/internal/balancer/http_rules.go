package balancer

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/httpcache"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// httpProxy is a proxy's HTTP settings compiled once at start: rules with
// their conditions and value formats, use_backend targets, answers read
// from errorfiles.
type httpProxy struct {
	px          *config.Proxy
	reqRules    []httpRule
	respRules   []httpRule
	redirects   []httpRule
	afterRules  []httpRule
	useBackends []useBackend
	// content are the proxy's tcp-request content rules, which run for
	// each request in mode http (http_content.go).
	content []httpRule
	// resContent are a backend's tcp-response content rules, which run
	// for each response in mode http (http_content_res.go).
	resContent []httpRule
	errors     map[int]*localAnswer
	reuse      string
	// xffName and xotName are the field names option forwardfor and
	// option originalto set, when the proxy names its own.
	xffName, xotName []byte
	// spoe are the proxy's SPOE engines.
	spoe []*spoeEngine
}

type httpRule struct {
	cfg   *config.HTTPRule
	cond  *acl.Cond
	value logFormat
	name  string
	nameB []byte
	// answer is the prepared response of deny, return and redirect
	// location.
	answer *localAnswer
	// expr is set-var's sample expression.
	expr acl.FetchFunc
	// spoe and group are send-spoe-group's engine and messages.
	spoe  *spoeEngine
	group *spoeMsgs
	// cache is the cache of cache-use and cache-store.
	cache *httpcache.Cache
	// ref is the file set-map, del-map, add-acl and del-acl change;
	// value is then the key's format, mapValue set-map's value's.
	ref      *acl.Ref
	mapValue logFormat
	// dynAnswer is the body's and the fields' formats of a return rule
	// whose answer is made for each request; nil when it is fixed.
	dynAnswer *dynAnswer
}

// dynAnswer is a "return" answer with formats: its body (lf-string,
// lf-file) or a field's value holds %[...] samples.
type dynAnswer struct {
	body logFormat // nil: the body is fixed
	hdrs []logFormat
}

// compileReturn compiles the formats of a return rule; nil when its
// answer is the same for every request.
func compileReturn(r *config.HTTPRule, rs *acl.Refs) (*dynAnswer, error) {
	dyn := false
	for _, h := range r.Headers {
		dyn = dyn || strings.Contains(h[1], "%[")
	}
	if !r.BodyFormat && !dyn {
		return nil, nil
	}
	d := &dynAnswer{}
	var err error
	if r.BodyFormat {
		if d.body, err = parseLogFormat(string(r.Body), rs); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	}
	for _, h := range r.Headers {
		f, err := parseLogFormat(h[1], rs)
		if err != nil {
			return nil, fmt.Errorf("hdr '%s': %w", h[0], err)
		}
		d.hdrs = append(d.hdrs, f)
	}
	return d, nil
}

// returnAnswer makes a return rule's answer for this request.
func (ex *exchange) returnAnswer(r *httpRule) *localAnswer {
	d := r.dynAnswer
	if d == nil {
		return r.answer
	}
	body := r.cfg.Body
	if d.body != nil {
		body = d.body.appendTo(nil, ex)
	}
	hdrs := make([][2]string, len(r.cfg.Headers))
	for i, h := range r.cfg.Headers {
		hdrs[i] = [2]string{h[0], string(d.hdrs[i].appendTo(nil, ex))}
	}
	return newAnswer(r.cfg.Status, r.cfg.ContentType, body, hdrs)
}

type useBackend struct {
	name string
	be   *Backend // set once the backends exist (linkHTTP)
	cond *acl.Cond
	// dyn makes the backend's name per request, nil for a fixed one.
	dyn logFormat
}

// compileUseBackends compiles the dynamic names of a proxy's use_backend
// rules (nil where a name is fixed).
func compileUseBackends(px *config.Proxy) ([]logFormat, error) {
	var dyn []logFormat
	for i := range px.HTTP.UseBackends {
		u := &px.HTTP.UseBackends[i]
		if !u.Dynamic() {
			continue
		}
		f, err := parseLogFormat(u.Backend, px.ACLs.Refs)
		if err != nil {
			return nil, fmt.Errorf("%s: use_backend '%s': %w", u.Pos, u.Backend, err)
		}
		if dyn == nil {
			dyn = make([]logFormat, len(px.HTTP.UseBackends))
		}
		dyn[i] = f
	}
	return dyn, nil
}

// dynamicBackend is the backend a dynamic use_backend names for ctx, of
// mode; nil when it names none, and the default backend serves.
func (b *Balancer) dynamicBackend(f logFormat, ctx acl.Context, buf []byte, mode string) (*Backend, []byte) {
	buf = f.appendTo(buf[:0], ctx)
	be := b.backends[string(buf)]
	if be == nil || be.cfg.Mode != mode {
		return nil, buf
	}
	return be, buf
}

// linkHTTP points use_backend rules at the running backends.
func (b *Balancer) linkHTTP() {
	for _, hp := range b.httpPx {
		for i := range hp.useBackends {
			hp.useBackends[i].be = b.backends[hp.useBackends[i].name]
		}
	}
}

// localAnswer is a response the balancer sends itself.
type localAnswer struct {
	head htx.Message
	body []byte
	raw  []byte // the whole response in HTTP/1, for answers outside a stream
	// silent is an empty errorfile's answer: none, the connection is
	// closed, as in HAProxy.
	silent bool
	// logStatus is the status the log shows, when not the answer's own:
	// an errorfile's or errorloc's code (a redirect answering a 503
	// is logged 503, as in HAProxy).
	logStatus int
}

// setupHTTP compiles every proxy's HTTP settings.
func (b *Balancer) setupHTTP() error {
	if err := b.setupSPOE(); err != nil {
		return err
	}
	b.httpPx = map[*config.Proxy]*httpProxy{}
	for _, px := range b.cfg.Proxies {
		hp, err := b.compileHTTP(px)
		if err != nil {
			return err
		}
		b.httpPx[px] = hp
	}
	return nil
}

func (b *Balancer) compileHTTP(px *config.Proxy) (*httpProxy, error) {
	hp := &httpProxy{px: px, errors: map[int]*localAnswer{}, reuse: px.HTTP.Reuse,
		xffName: []byte(px.HTTP.ForwardForHeader), xotName: []byte(px.HTTP.OriginalToHeader), spoe: b.spoe[px]}
	if hp.reuse == "" {
		hp.reuse = "safe"
	}
	for _, ef := range px.HTTP.ErrorFiles {
		a, err := errorFileAnswer(ef)
		if err != nil {
			return nil, fmt.Errorf("%s: errorfile %d '%s': %w", ef.Pos, ef.Status, ef.Path, err)
		}
		a.logStatus = ef.Status
		hp.errors[ef.Status] = a
	}
	compile := func(rules []config.HTTPRule) ([]httpRule, error) {
		var out []httpRule
		for i := range rules {
			r := &rules[i]
			hr := httpRule{cfg: r, cond: r.Cond, name: r.Name, nameB: []byte(r.Name)}
			var err error
			switch r.Action {
			case "set-var", "set-var-fmt", "unset-var":
				scope, _, err := acl.ParseVarName(r.Name)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", r.Pos, err)
				}
				b.sessVarsUsed = b.sessVarsUsed || scope == "sess"
			}
			if r.Action == "do-resolve" {
				if scope, _, err := acl.ParseVarName(r.Name); err == nil {
					b.sessVarsUsed = b.sessVarsUsed || scope == "sess"
				}
			}
			isExpr := r.Action == "set-var" || r.Action == "do-resolve" || r.Action == "set-priority-class" || r.Action == "set-priority-offset" || strings.HasPrefix(r.Action, "set-src") || strings.HasPrefix(r.Action, "set-dst") || r.Action == "capture" || r.Action == "track-sc" || (r.Action == "sc-set-gpt0" || r.Action == "sc-set-gpt") || r.Action == "set-timeout" && r.Value != ""
			if n, perr := strconv.ParseInt(r.Value, 10, 64); (r.Action == "sc-set-gpt0" || r.Action == "sc-set-gpt") && perr == nil {
				// sc-set-gpt0 with an integer rather than an expression.
				hr.expr = func(acl.Context) (acl.Sample, bool) { return acl.Int(n), true }
			} else if isExpr {
				if _, hr.expr, err = px.ACLs.Refs.CompileFetch(r.Value); err != nil {
					return nil, fmt.Errorf("%s: '%s' expression '%s': %w", r.Pos, r.Action, r.Value, err)
				}
			} else if r.Redirect.Literal {
				// An older "redirect" line's location is taken as
				// written, as haproxy 2.6 takes it: no %[...] samples.
				hr.value = logFormat{{lit: r.Value}}
			} else if hr.value, err = parseLogFormat(r.Value, px.ACLs.Refs); err != nil {
				return nil, fmt.Errorf("%s: '%s' value '%s': %w", r.Pos, r.Action, r.Value, err)
			}
			switch r.Action {
			case "set-map", "del-map":
				hr.ref = px.ACLs.Refs.Named(r.Name, acl.RefMap)
				if r.Action == "set-map" {
					if hr.mapValue, err = parseLogFormat(r.MapValue, px.ACLs.Refs); err != nil {
						return nil, fmt.Errorf("%s: 'set-map' value '%s': %w", r.Pos, r.MapValue, err)
					}
				}
			case "add-acl", "del-acl":
				hr.ref = px.ACLs.Refs.Named(r.Name, acl.RefACL)
			case "send-spoe-group":
				hr.spoe, hr.group = b.spoeGroup(px, r.Name, r.Value)
			case "cache-use", "cache-store":
				hr.cache = b.caches[r.Name] // nil under Check
			case "deny", "tarpit":
				hr.answer = builtinAnswer(r.Status)
				if a := hp.errors[r.Status]; a != nil {
					hr.answer = a
				}
				if r.OwnAnswer {
					hr.answer = newAnswer(r.Status, r.ContentType, r.Body, r.Headers)
					if hr.dynAnswer, err = compileReturn(r, px.ACLs.Refs); err != nil {
						return nil, fmt.Errorf("%s: '%s': %w", r.Pos, r.Action, err)
					}
				}
			case "return":
				if r.ErrorFile != nil {
					if hr.answer, err = ruleErrorFile(r); err != nil {
						return nil, err
					}
					break
				}
				hr.answer = newAnswer(r.Status, r.ContentType, r.Body, r.Headers)
				if hr.dynAnswer, err = compileReturn(r, px.ACLs.Refs); err != nil {
					return nil, fmt.Errorf("%s: 'return': %w", r.Pos, err)
				}
			case "auth":
				realm := cmp.Or(r.Value, px.Name)
				hr.answer = newAnswer(401, "text/html", builtinAnswer(401).body, [][2]string{
					{"cache-control", "no-cache"},
					{"www-authenticate", `Basic realm="` + realm + `"`},
				})
			}
			out = append(out, hr)
		}
		return out, nil
	}
	var err error
	if hp.reqRules, err = compile(px.HTTP.RequestRules); err != nil {
		return nil, err
	}
	if hp.respRules, err = compile(px.HTTP.ResponseRules); err != nil {
		return nil, err
	}
	if hp.redirects, err = compile(px.HTTP.Redirects); err != nil {
		return nil, err
	}
	if hp.afterRules, err = compile(px.HTTP.AfterResponseRules); err != nil {
		return nil, err
	}
	if hp.content, err = b.compileHTTPContent(px); err != nil {
		return nil, err
	}
	if hp.resContent, err = b.compileHTTPConnRules(px, "tcp-response content", px.Stick.ResponseRules); err != nil {
		return nil, err
	}
	dyn, err := compileUseBackends(px)
	if err != nil {
		return nil, err
	}
	for i, u := range px.HTTP.UseBackends {
		ub := useBackend{name: u.Backend, cond: u.Cond}
		if dyn != nil {
			ub.dyn = dyn[i]
		}
		hp.useBackends = append(hp.useBackends, ub)
	}
	return hp, nil
}

// parseAnswer reads an errorfile: an HTTP/1 response head and its body;
// an empty one answers nothing.
func parseAnswer(data []byte) (*localAnswer, error) {
	a := &localAnswer{raw: data}
	if len(data) == 0 {
		a.silent = true
		return a, nil
	}
	var p h1.Parser
	n, err := p.ParseResponse(data, &a.head, htx.FlagRequest)
	if err != nil {
		return nil, fmt.Errorf("not a valid HTTP/1 response: %w", err)
	}
	a.body = data[n:]
	if a.head.Flags&htx.FlagContentLength != 0 && int64(len(a.body)) > a.head.ContentLength {
		a.body = a.body[:a.head.ContentLength]
	}
	a.head.Flags &^= htx.FlagChunked
	a.head.Flags |= htx.FlagContentLength
	a.head.ContentLength = int64(len(a.body))
	return a, nil
}

// builtinMessages are HAProxy's default error texts.
var builtinMessages = map[int]string{
	200: "Service ready.",
	400: "Your browser sent an invalid request.",
	401: "You need a valid user and password to access this content.",
	403: "Request forbidden by administrative rules.",
	404: "The resource could not be found.",
	405: "A request was made of a resource using a request method not supported by that resource",
	407: "You need a valid user and password to access this content.",
	408: "Your browser didn't send a complete request in time.",
	410: "The resource is no longer available and will not be available again.",
	413: "The request entity exceeds the maximum allowed.",
	425: "Your browser sent a request that may be replayed.",
	429: "You have sent too many requests in a given amount of time.",
	500: "An internal server error occurred.",
	501: ".The server does not support the functionality required to fulfill the request.", // the leading dot is haproxy's
	502: "The server returned an invalid or incomplete response.",
	503: "No server is available to handle this request.",
	504: "The server didn't respond in time.",
}

// haproxyReasons are the reason phrases of HAProxy's own answers where
// they differ from the registry's (h1.StatusText).
var haproxyReasons = map[int]string{
	400: "Bad request",
	407: "Unauthorized",
	408: "Request Time-out",
	410: "Gone",
	413: "Payload Too Large",
	414: "Request-URI Too Long",
	504: "Gateway Time-out",
}

// reasonOf is the reason phrase of an error page lb makes itself, as
// HAProxy words it.
func reasonOf(status int) string {
	if r, ok := haproxyReasons[status]; ok {
		return r
	}
	return h1.StatusText(status)
}

// ruleReasons are the reason phrases HAProxy gives the statuses of its
// rules (return, deny with an answer of its own, set-status, redirect)
// where they differ from its error pages' and the registry's.
var ruleReasons = map[int]string{
	400: "Bad Request", 407: "Proxy Authentication Required", 413: "Request Entity Too Large",
	502: "Bad Gateway or Proxy Error", 208: "Success", 416: "Requested range unsatisfiable",
	417: "Expectation failed", 424: "Method failure", 506: "Variant also negotiate",
	507: "Insufficient storage", 508: "Loop detected", 510: "Not extended",
	511: "Network authentication required",
}

// statusReason is the reason phrase of a status a rule sets, as HAProxy
// words it.
func statusReason(status int) string {
	if r, ok := ruleReasons[status]; ok {
		return r
	}
	return reasonOf(status)
}

// builtinAnswer builds HAProxy's default answer for status.
func builtinAnswer(status int) *localAnswer {
	text := reasonOf(status)
	msg, ok := builtinMessages[status]
	if !ok {
		msg = text + "."
	}
	body := "<html><body><h1>" + strconv.Itoa(status) + " " + text + "</h1>\n" + msg + "\n</body></html>\n"
	return answerWithReason(status, text, "text/html", []byte(body), [][2]string{{"cache-control", "no-cache"}})
}

// newAnswer builds a rule's answer: status, content type, body, fields.
func newAnswer(status int, ctype string, body []byte, hdrs [][2]string) *localAnswer {
	return answerWithReason(status, statusReason(status), ctype, body, hdrs)
}

func answerWithReason(status int, reason, ctype string, body []byte, hdrs [][2]string) *localAnswer {
	a := &localAnswer{body: body}
	a.head.SetResponse(status, reason)
	a.head.Flags |= htx.FlagContentLength
	a.head.ContentLength = int64(len(body))
	if ctype != "" {
		a.head.Add("content-type", ctype)
	}
	for _, h := range hdrs {
		a.head.Add(h[0], h[1])
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "HTTP/1.1 %d %s\r\ncontent-length: %d\r\n", status, reason, len(body))
	for i := 0; i < a.head.NumFields(); i++ {
		k, v := a.head.Field(i)
		fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
	}
	sb.WriteString("connection: close\r\n\r\n")
	sb.Write(body)
	a.raw = []byte(sb.String())
	return a
}

// errorFile returns the raw HTTP/1 answer for status: the backend's
// errorfile, the frontend's, or the built-in one.
func (hp *httpProxy) errorFile(be *httpProxy, status int) []byte {
	return hp.answerFor(be, status).raw
}

func (hp *httpProxy) answerFor(be *httpProxy, status int) *localAnswer {
	if be != nil {
		if a := be.errors[status]; a != nil {
			return a
		}
	}
	if hp != nil {
		if a := hp.errors[status]; a != nil {
			return a
		}
	}
	return builtinAnswer(status)
}

// answerError answers the client with an error status (the errorfile of
// the backend, else of the frontend, else built in) and logs the
// termination state.
func (ex *exchange) answerError(be *httpProxy, status int, term [2]byte) {
	ex.log.term = term
	if term[1] == 'H' && (status == 502 || status == 504) {
		// A server that failed to answer, as HAProxy counts it.
		ex.countFail()
	}
	ex.answer(ex.hf.s.fe.http.answerFor(be, status))
}

// answer sends a local response.
func (ex *exchange) answer(a *localAnswer) {
	if a.silent {
		ex.log.status = a.logStatus
		_ = ex.hf.s.client.Close()
		return
	}
	resp := &ex.resp
	resp.CopyFrom(&a.head)
	ex.log.status = cmp.Or(a.logStatus, resp.Status)
	if ex.hasAfterRules() {
		ex.inResp = true
		ex.applyAfterResponse()
	}
	if err := ex.fst.WriteResponse(resp); err != nil {
		return
	}
	ex.log.bytesOut += htxResponseSize(resp)
	if len(a.body) > 0 && ex.req.Flags&htx.FlagHead == 0 {
		if _, err := ex.fst.Write(a.body); err != nil {
			return
		}
		ex.log.bytesOut += int64(len(a.body))
		_ = ex.fst.Finish(nil)
	}
}

// applyRequestRules runs a proxy's http-request rules; it reports true
// when a rule answered the request (deny, return, redirect).
func (ex *exchange) applyRequestRules(hp *httpProxy) bool {
	if front := hp == ex.hf.s.fe.http; front {
		ex.spoeEvent(true, "on-frontend-http-request")
	} else {
		ex.spoeEvent(false, "on-backend-http-request")
	}
	req := ex.req
	ex.strk.own = hp.px.Name
rules:
	for i := range hp.reqRules {
		r := &hp.reqRules[i]
		if r.cond != nil && !r.cond.Eval(ex) {
			continue
		}
		switch r.cfg.Action {
		case "allow", "deny", "tarpit":
			ex.lastRule = r.cfg // as haproxy notes its final rules
		}
		switch r.cfg.Action {
		case "allow":
			// The proxy's other http-request rules are skipped; its
			// redirect rules and the next proxy's rules still run.
			break rules
		case "set-header":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.Del(r.name)
			req.AddBytes(r.nameB, ex.tmp)
		case "add-header":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.AddBytes(r.nameB, ex.tmp)
		case "del-header":
			req.Del(r.name)
		case "set-path":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.SetPath(string(ex.tmp))
		case "replace-header", "replace-value":
			ex.replaceFields(req, r)
		case "set-var", "set-var-fmt", "unset-var":
			ex.varAction(r)
		case "do-resolve":
			ex.hf.s.b.doResolve(r.cfg.Resolve, r.name, r.expr, ex)
		case "send-spoe-group":
			ex.sendSPOEGroup(r)
		case "set-map", "del-map", "add-acl", "del-acl":
			ex.mapAction(r)
		case "set-priority-class", "set-priority-offset":
			ex.setPriority(r)
		case "replace-path":
			if v, ok := ex.replaced(r, req.PathOnly()); ok {
				req.SetPath(string(v))
			}
		case "replace-uri", "replace-pathq":
			// lb keeps a request's path and query apart from its
			// authority, so both match and replace those.
			if v, ok := ex.replaced(r, req.Path()); ok {
				req.SetURI(string(v))
			}
		case "set-uri", "set-pathq":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.SetURI(string(ex.tmp))
		case "set-query":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.SetURI(withQuery(req.Path(), ex.tmp))
		case "set-method":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			req.SetMethod(ex.tmp)
		case "track-sc":
			ex.track(r)
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			ex.scAction(r)
		case "set-src", "set-dst", "set-src-port", "set-dst-port":
			ex.setAddr(r)
		case "set-mark", "set-tos":
			ex.setSockopt(r)
		case "deny":
			ex.countErr()
			ex.log.term = [2]byte{'P', 'R'}
			ex.answer(ex.returnAnswer(r))
			return true
		case "tarpit":
			// Held for timeout tarpit (else timeout connect) of the
			// proxy whose rule this is, then answered with its error.
			d := cmp.Or(hp.px.Timeouts.Tarpit, hp.px.Timeouts.Connect)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ex.hf.s.b.ctx.Done():
			}
			t.Stop()
			ex.countErr()
			ex.log.term = [2]byte{'P', 'T'}
			ex.answer(r.answer)
			return true
		case "disable-l7-retry":
			ex.noL7Retry = true
		case "capture":
			ex.captureRule(r, false)
		case "set-timeout":
			ex.setTimeout(r)
		case "reject", "silent-drop":
			// The connection is closed without an answer, as HAProxy
			// does, HTTP/2 connections whole; silent-drop tells the
			// client nothing at all.
			ex.log.term = [2]byte{'P', 'R'}
			ex.log.tr = -1
			if r.cfg.Action == "silent-drop" {
				ex.hf.s.client.SilentDrop(r.cfg.Status)
			} else {
				_ = ex.hf.s.client.Close()
			}
			return true
		case "return", "auth":
			if r.cfg.Action == "auth" {
				ex.countErr()
			}
			// Answered by the proxy itself, as HAProxy logs it: LR.
			ex.log.term = [2]byte{'L', 'R'}
			if r.cfg.Action == "auth" {
				ex.answer(ex.authAnswer(r))
				return true
			}
			ex.answer(ex.returnAnswer(r))
			return true
		case "redirect":
			a := ex.redirect(r)
			if a == nil {
				continue // ignore-empty, and the location is empty
			}
			ex.log.term = [2]byte{'L', 'R'}
			ex.answer(a)
			return true
		case "use-service":
			if strings.HasPrefix(r.cfg.Name, "lua.") {
				ex.serveLua(hp, r.cfg.Name)
				return true
			}
			ex.servePrometheus(hp) // prometheus.go
			return true
		case "lua":
			switch ex.luaRequestAction(r) {
			case luaStop:
				break rules
			case luaAnswered:
				return true
			}
		case "cache-use":
			ex.cacheUse(r, hp)
		case "set-log-level":
			ex.log.level = r.cfg.LogLevel
		case "wait-for-body":
			if !ex.waitForBody(r) {
				return true
			}
		case "early-hint":
			ex.earlyHint(r)
		}
	}
	// The "redirect" rules come after the http-request rules.
	for i := range hp.redirects {
		r := &hp.redirects[i]
		if r.cond == nil || r.cond.Eval(ex) {
			a := ex.redirect(r)
			if a == nil {
				continue
			}
			ex.log.term = [2]byte{'L', 'R'}
			ex.answer(a)
			return true
		}
	}
	return false
}

// replaced evaluates r's replacement for subject, as HAProxy's replace
// actions do: when r's regex matches somewhere in subject, the whole of
// subject becomes the replacement, its \1..\9 standing for the groups
// matched (\xHH for a byte, \ before any other character for that
// character). It reports false when the regex does not match.
func (ex *exchange) replaced(r *httpRule, subject []byte) ([]byte, bool) {
	m := r.cfg.Regex.FindSubmatchIndex(subject)
	if m == nil {
		return nil, false
	}
	ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
	return acl.ExpandRefs(nil, ex.tmp, subject, m), true
}

// replaceFields runs replace-header (on each field's whole value) or
// replace-value (on each comma-separated value of each field) over the
// fields r names.
func (ex *exchange) replaceFields(m *htx.Message, r *httpRule) {
	for i := 0; i < m.NumFields(); i++ {
		name, value := m.Field(i)
		if !htx.EqualFold(name, r.name) {
			continue
		}
		if r.cfg.Action == "replace-header" {
			if v, ok := ex.replaced(r, value); ok {
				m.SetFieldValue(i, v)
			}
			continue
		}
		var out []byte
		changed := false
		for j, part := range bytes.Split(value, []byte(",")) {
			lead := len(part) - len(bytes.TrimLeft(part, " \t"))
			trail := len(part) - len(bytes.TrimRight(part, " \t"))
			core := part[lead : len(part)-trail]
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, part[:lead]...)
			if v, ok := ex.replaced(r, core); ok {
				out, changed = append(out, v...), true
			} else {
				out = append(out, core...)
			}
			out = append(out, part[len(part)-trail:]...)
		}
		if changed {
			m.SetFieldValue(i, out)
		}
	}
}

// withQuery is uri with its query string replaced by q, as HAProxy's
// set-query: a '?' is added only for a non-empty q, and one already
// there stays even when q is empty.
func withQuery(uri, q []byte) string {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return string(uri[:i+1]) + string(q)
	}
	if len(q) == 0 {
		return string(uri)
	}
	return string(uri) + "?" + string(q)
}

// redirect builds a redirect answer: location as given, prefix before the
// request's path, or the request's URL with a new scheme, with the rule's
// options (drop-query, append-slash, set-cookie, clear-cookie); nil for
// an ignore-empty location that came out empty, which the rules pass by.
func (ex *exchange) redirect(r *httpRule) *localAnswer {
	o := &r.cfg.Redirect
	loc := string(r.value.appendTo(nil, ex))
	path := string(ex.req.Path())
	if o.DropQuery {
		path, _, _ = strings.Cut(path, "?")
	}
	if path == "" {
		path = "/"
	}
	switch r.cfg.RedirectType {
	case "prefix":
		// The prefix is taken as it is, a trailing '/' included, as
		// haproxy takes it; only an older "redirect prefix /" adds
		// nothing, so that a rule can send a request to itself.
		if o.Literal && loc == "/" {
			loc = ""
		}
		loc += path
	case "scheme":
		loc = loc + "://" + string(ex.req.Authority()) + path
	default:
		if loc == "" && o.IgnoreEmpty {
			return nil
		}
	}
	if o.AppendSlash && r.cfg.RedirectType != "location" && loc != "" && !strings.HasSuffix(loc, "/") {
		loc += "/"
	}
	hdrs := [][2]string{{"location", loc}}
	switch r.cfg.Status {
	case 302, 303, 307:
		// A temporary redirect is not to be cached, as haproxy says.
		hdrs = append(hdrs, [2]string{"cache-control", "no-cache"})
	}
	if o.Cookie != "" {
		hdrs = append(hdrs, [2]string{"set-cookie", o.Cookie})
	}
	return newAnswer(r.cfg.Status, "", nil, hdrs)
}

// applyResponseRules runs a proxy's http-response rules on ex.resp.
func (ex *exchange) applyResponseRules(hp *httpProxy) {
	if hp == ex.bhp {
		// Once, before the first proxy's rules: every engine of the
		// stream sees the response.
		ex.spoeEvent(false, "on-http-response")
	}
	ex.strk.own = hp.px.Name
	ex.applyRespRules(hp.respRules)
}

// applyAfterResponse runs the http-after-response rules on ex.resp, the
// backend's then the frontend's, as HAProxy does on every answer.
func (ex *exchange) applyAfterResponse() {
	fe := ex.hf.s.fe.http
	if ex.bhp != nil && ex.bhp != fe && len(ex.bhp.afterRules) > 0 {
		ex.strk.own = ex.bhp.px.Name
		ex.applyRespRules(ex.bhp.afterRules)
	}
	if len(fe.afterRules) > 0 {
		ex.strk.own = fe.px.Name
		ex.applyRespRules(fe.afterRules)
	}
}

// applyRespRules runs response actions on ex.resp.
func (ex *exchange) applyRespRules(rules []httpRule) {
	resp := &ex.resp
	for i := range rules {
		r := &rules[i]
		if r.cond != nil && !r.cond.Eval(ex) {
			continue
		}
		switch r.cfg.Action {
		case "allow":
			ex.lastRule = r.cfg
			return // this list's other rules are skipped
		case "lua":
			if ex.luaResponseAction(r) {
				return
			}
		case "set-mark", "set-tos":
			ex.setSockopt(r)
		case "silent-drop":
			// The answer never leaves: forwardResponse drops the
			// client's connection without a word.
			ex.respDrop = r
			return
		case "wait-for-body":
			if !ex.holdResponseBody(r) {
				// Not whole in time: a 504 in place of the answer, the
				// line ending sR, as HAProxy's.
				ex.log.term = [2]byte{'s', 'R'}
				ex.respAnswer = ex.hf.s.fe.http.answerFor(ex.bhp, 504)
				return
			}
		case "deny", "return", "redirect":
			// The server's answer gives way to the rule's, which
			// forwardResponse sends: a deny logged PH, as a bad answer
			// from the server, a return or redirect LH.
			ex.log.term = [2]byte{'P', 'H'}
			switch r.cfg.Action {
			case "deny":
				ex.lastRule = r.cfg
				ex.respAnswer = ex.returnAnswer(r)
				ex.be.st.dresp.Add(1)
				ex.hf.s.fe.st.dresp.Add(1)
				if ex.srv != nil {
					ex.srv.st.dresp.Add(1)
				}
			case "return":
				ex.log.term[0] = 'L'
				ex.respAnswer = ex.returnAnswer(r)
			default:
				a := ex.redirect(r)
				if a == nil {
					continue // ignore-empty, and the location is empty
				}
				ex.log.term[0] = 'L'
				ex.respAnswer = a
			}
			return
		case "set-header":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			resp.Del(r.name)
			resp.AddBytes(r.nameB, ex.tmp)
		case "add-header":
			ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
			resp.AddBytes(r.nameB, ex.tmp)
		case "del-header":
			resp.Del(r.name)
		case "replace-header", "replace-value":
			ex.replaceFields(resp, r)
		case "set-var", "set-var-fmt", "unset-var":
			ex.varAction(r)
		case "send-spoe-group":
			ex.sendSPOEGroup(r)
		case "set-map", "del-map", "add-acl", "del-acl":
			ex.mapAction(r)
		case "capture":
			ex.captureRule(r, true)
		case "cache-store":
			ex.cacheStore(r)
		case "track-sc":
			ex.trackResponse(r)
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			ex.scAction(r)
		case "set-log-level":
			ex.log.level = r.cfg.LogLevel
		case "set-status":
			reason := r.cfg.Reason
			if reason == "" {
				reason = statusReason(r.cfg.Status)
			}
			resp.SetResponse(r.cfg.Status, reason)
			ex.log.status = r.cfg.Status
		}
	}
}

// logFormat is a compiled value format: literal text and %[fetch]
// samples, HAProxy's log-format subset that rules use most.
type logFormat []fmtPart

type fmtPart struct {
	lit   string
	fetch acl.FetchFunc
}

func parseLogFormat(s string, rs *acl.Refs) (logFormat, error) {
	var f logFormat
	for s != "" {
		i := strings.Index(s, "%[")
		if i < 0 {
			f = append(f, fmtPart{lit: strings.ReplaceAll(s, "%%", "%")})
			break
		}
		if i > 0 {
			f = append(f, fmtPart{lit: strings.ReplaceAll(s[:i], "%%", "%")})
		}
		end := acl.SampleEnd(s[i+1:]) + 1
		if end < 1 {
			return nil, fmt.Errorf("missing ']' after '%s'", s[i:])
		}
		_, fn, err := rs.CompileFetch(s[i+2 : i+end])
		if err != nil {
			return nil, err
		}
		f = append(f, fmtPart{fetch: fn})
		s = s[i+end+1:]
	}
	return f, nil
}

func (f logFormat) appendTo(dst []byte, ctx acl.Context) []byte {
	for _, p := range f {
		if p.fetch == nil {
			dst = append(dst, p.lit...)
			continue
		}
		if smp, ok := p.fetch(ctx); ok {
			dst = append(dst, smp.String()...)
		}
	}
	return dst
}

// varAction runs set-var (the expression's sample; none leaves the
// variable as it was), set-var-fmt (the format's text) or unset-var.
func (ex *exchange) varAction(r *httpRule) {
	switch r.cfg.Action {
	case "set-var":
		if smp, ok := r.expr(ex); ok {
			ex.SetVar(r.name, smp)
		}
	case "set-var-fmt":
		ex.SetVar(r.name, acl.Str(string(r.value.appendTo(nil, ex))))
	case "unset-var":
		ex.UnsetVar(r.name)
	}
}

// setPriority runs set-priority-class and set-priority-offset: the
// expression's integer, held within HAProxy's bounds, places the request
// in the queues; no integer leaves the place as it was.
func (ex *exchange) setPriority(r *httpRule) {
	if smp, ok := r.expr(ex); ok {
		ex.prio = ex.prio.with(r.cfg.Action == "set-priority-class", smp)
	}
}

// with is p after set-priority-class (class) or set-priority-offset set
// by smp: an integer, or text read as its leading digits, clamped to
// haproxy's ranges; p unchanged when smp reads as no number.
func (p Priority) with(class bool, smp acl.Sample) Priority {
	n := smp.Int
	if smp.Type == acl.TypeStr {
		var err error
		if n, err = strconv.ParseInt(leadingDigits(smp.Str), 10, 64); err != nil {
			return p
		}
	}
	if class {
		p.Class = int(min(max(n, -2047), 2047))
	} else {
		p.Offset = int(min(max(n, -524287), 524287))
	}
	return p
}

// mapAction runs set-map (the key's entries take the value, or it is
// added), del-map and del-acl (the key's entries go) and add-acl (the
// key is added unless there). A file no ACL or map reads is left alone,
// as in HAProxy.
func (ex *exchange) mapAction(r *httpRule) {
	if r.ref == nil {
		return // under Check
	}
	ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
	key := string(ex.tmp)
	switch r.cfg.Action {
	case "set-map":
		ex.tmp = r.mapValue.appendTo(ex.tmp[:0], ex)
		r.ref.SetOrAdd(key, string(ex.tmp))
	case "add-acl":
		r.ref.AddOnce(key)
	default:
		r.ref.DeleteKey(key)
	}
}

// hasAfterRules reports whether any http-after-response rule applies.
func (ex *exchange) hasAfterRules() bool {
	return len(ex.hf.s.fe.http.afterRules) > 0 || ex.bhp != nil && len(ex.bhp.afterRules) > 0
}

// setAddr runs "http-request set-src|set-dst EXPR" and their port forms
// "set-src-port|set-dst-port EXPR". The request's client address, or the
// one it reached, becomes the expression's (an address, or text that
// reads as one; a port from an integer) for what follows: the rules, the
// log, the forwarded-for and original-to headers, the PROXY header of a
// connection made for it, balance source, port mapping. As in HAProxy
// 2.6, these are the stream's addresses: the connection's next request
// starts again from the connection's own. An address keeps its port, a
// port its address. An expression that gives nothing usable changes
// nothing.
func (ex *exchange) setAddr(r *httpRule) {
	smp, ok := r.expr(ex)
	if !ok {
		return
	}
	ap := &ex.src
	if strings.HasPrefix(r.cfg.Action, "set-dst") {
		ap = &ex.dst
	}
	if *ap, ok = addrFromSample(*ap, strings.HasSuffix(r.cfg.Action, "-port"), smp); ok {
		ex.log.client, ex.log.fe = ex.src, ex.dst
	}
}

// setSockopt runs set-mark and set-tos on the client's connection (all
// of it, an HTTP/2 connection's other streams included, as in haproxy).
func (ex *exchange) setSockopt(r *httpRule) {
	setSockopt(ex.hf.s.b, ex.hf.s.client, r.cfg.Action, int64(r.cfg.Status))
}

// addrFromSample is cur changed by a set-src or set-dst action's sample
// (port: their -port forms): an address from an address or text that
// reads as one, keeping cur's port; a port from an integer, or from text
// as HAProxy casts it (its leading digits, 0 without any), keeping cur's
// address. It reports false when the sample gives nothing usable.
func addrFromSample(cur netip.AddrPort, port bool, smp acl.Sample) (netip.AddrPort, bool) {
	if port {
		var n int64
		switch smp.Type {
		case acl.TypeInt:
			n = smp.Int
		case acl.TypeStr:
			n, _ = leadingInt(strings.TrimSpace(smp.Str))
		default:
			return cur, false
		}
		if !cur.Addr().IsValid() {
			return cur, false
		}
		return netip.AddrPortFrom(cur.Addr(), uint16(n)), true
	}
	var a netip.Addr
	switch smp.Type {
	case acl.TypeIP:
		a = smp.IP
	case acl.TypeStr:
		var err error
		if a, err = netip.ParseAddr(strings.TrimSpace(smp.Str)); err != nil {
			return cur, false
		}
	default:
		return cur, false
	}
	return netip.AddrPortFrom(a.Unmap(), cur.Port()), true
}

// earlyHintReason is the reason phrase of the interim response
// early-hint sends.
var earlyHintReason = []byte("Early Hints")

// earlyHint is "http-request early-hint NAME FMT": a 103 Early Hints
// response with that one field goes to the client at once, as haproxy
// sends one per rule; an HTTP/1.0 client gets none.
func (ex *exchange) earlyHint(r *httpRule) {
	if ex.req.Version == htx.Version10 {
		return
	}
	ex.tmp = r.value.appendTo(ex.tmp[:0], ex)
	m := &ex.hint
	m.Reset()
	m.SetResponseBytes(103, earlyHintReason)
	m.Version = htx.Version11
	m.AddBytes(r.nameB, ex.tmp)
	if ex.fst.WriteResponse(m) == nil {
		ex.log.bytesOut += htxResponseSize(m)
	}
}

// waitForBody is "http-request wait-for-body time T [at-least N]": the
// rules go on once the whole body is in, or N bytes of it, or as much as
// a buffer holds (tune.bufsize less the rewrite reserve); a body that
// does not come within T is answered 408, as haproxy does. It reports
// false when the exchange ended there.
func (ex *exchange) waitForBody(r *httpRule) bool {
	g := &ex.hf.s.b.cfg.Global
	limit := g.BufSize - rewriteReserve(g)
	if n := r.cfg.Status; n > 0 && n <= limit {
		limit = n - 1 // holdBody stops past limit: at N bytes
	}
	return ex.holdBody(limit, r.cfg.Timeout)
}

// RequestBody gives req.body and its kin the body held for the rules,
// an empty one for a request without a body.
func (ex *exchange) RequestBody() ([]byte, bool) {
	if ex.held {
		return ex.heldBody, true
	}
	if !hasBody(ex.req) {
		return nil, true
	}
	return nil, false
}

// restrictNames applies option http-restrict-req-hdr-names of proxy hp
// after its http-request rules: a request field whose name holds
// anything but letters, digits and '-' is removed ("delete") or the
// request is answered 403 ("reject", with be's errorfile, else the
// frontend's), as haproxy does. It reports true when it answered.
func (ex *exchange) restrictNames(hp, be *httpProxy) bool {
	mode := hp.px.HTTP.RestrictHeaderNames
	if mode != "delete" && mode != "reject" {
		return false
	}
	req := ex.req
	for i := 0; i < req.NumFields(); i++ {
		name, _ := req.Field(i)
		if plainName(name) {
			continue
		}
		if mode == "reject" {
			ex.countErr()
			ex.log.term = [2]byte{'P', 'R'}
			ex.answer(ex.hf.s.fe.http.answerFor(be, 403))
			return true
		}
		req.DelField(i)
		i--
	}
	return false
}

// plainName reports whether a field name holds only letters, digits and
// '-'.
func plainName(name []byte) bool {
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// UsableServers gives nbsrv the usable servers of a backend, as haproxy's
// be_usable_srv counts them: those the algorithm chooses among (the
// active ones, else the first backup, or every one under "option
// allbackups").
func (ex *exchange) UsableServers(name string) (int, bool) {
	be := ex.be
	if name == "" && be == nil {
		name = ex.strk.own // a listen's rules, before the backend is set
	}
	if name != "" {
		be = ex.hf.s.b.backends[name]
	}
	if be == nil {
		return 0, false
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	return len(be.candidates()), true
}

// holdResponseBody runs http-response wait-for-body: the response's body
// is read, up to a buffer (less the rewrite reserve) or the rule's
// at-least, before the rules go on, so that res.body and its kin see it.
// It reports false when the body stopped coming for the rule's time.
func (ex *exchange) holdResponseBody(r *httpRule) bool {
	if !hasBody(&ex.resp) {
		ex.respHeldOK = true
		return true
	}
	g := &ex.hf.s.b.cfg.Global
	limit := g.BufSize - rewriteReserve(g)
	if n := r.cfg.Status; n > 0 && n <= limit {
		limit = n
	}
	// A later rule goes on from where an earlier one stopped.
	if ex.respHeldOK && (ex.respEOF || len(ex.respHeld) >= limit) {
		return true
	}
	if cap(ex.respHeld) < limit {
		ex.respHeld = append(make([]byte, 0, limit), ex.respHeld...)
	}
	var t xprt.Transport
	if !ex.bc.h2 {
		t = ex.bc.c.Transport()
		_ = t.SetReadDeadline(time.Now().Add(r.cfg.Timeout))
	}
	b := ex.respHeld
	var err error
	for len(b) < limit {
		var n int
		n, err = ex.bst.Read(b[len(b):limit])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if t != nil {
		_ = t.SetReadDeadline(time.Time{})
	}
	ex.respHeld, ex.respHeldOK, ex.respEOF, ex.respOff = b, true, err == io.EOF, 0
	if err != nil && err != io.EOF {
		ex.abortBack()
		return false
	}
	return true
}

// readResponse reads the response's body: what wait-for-body held, then
// the rest from the server.
func (ex *exchange) readResponse(p []byte) (int, error) {
	if ex.respOff < len(ex.respHeld) {
		n := copy(p, ex.respHeld[ex.respOff:])
		ex.respOff += n
		return n, nil
	}
	if ex.respEOF {
		return 0, io.EOF
	}
	return ex.bst.Read(p)
}

// ResponseBody is the start of the response's body an http-response
// wait-for-body held; ok is false when none waited for it.
func (ex *exchange) ResponseBody() ([]byte, bool) {
	if !ex.inResp || !ex.respHeldOK {
		return nil, false
	}
	return ex.respHeld, true
}
