package balancer

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
	"github.com/proxyblocks/proxyblocks/stick"
)

// "tcp-request content" rules in mode http. As in HAProxy, where the
// HTTP multiplexer has parsed a request's head before its stream starts,
// they run for each request, before the proxy's http-request rules (a
// frontend's before anything, a backend's once it is chosen), and its
// HTTP fetches see the request: accept ends them, reject closes the
// connection without an answer (logged PR; a frontend's, before the
// request is taken in, with <BADREQ> for its line), and
// track-sc, set-var, unset-var, capture and set-log-level act as in
// mode tcp. An entry they track counts the request once they let it on.

// compileHTTPContent compiles px's content rules into HTTP rules; nil
// when it has none or is not in mode http.
func (b *Balancer) compileHTTPContent(px *config.Proxy) ([]httpRule, error) {
	return b.compileHTTPConnRules(px, "tcp-request content", px.Stick.ContentRules)
}

// compileHTTPConnRules compiles px's tcp-request or tcp-response
// (kind) content rules into HTTP rules; nil when it has none or is not
// in mode http.
func (b *Balancer) compileHTTPConnRules(px *config.Proxy, kind string, rules []config.ConnRule) ([]httpRule, error) {
	if px.Mode != "http" || len(rules) == 0 {
		return nil, nil
	}
	out := make([]httpRule, 0, len(rules))
	for i := range rules {
		r := &rules[i]
		// Status carries silent-drop's rst-ttl and set-mark's and
		// set-tos's value, as in the HTTP rules.
		status := int(r.Num)
		if r.Action == "silent-drop" {
			status = r.RSTTTL
		}
		hr := httpRule{cond: r.Cond, name: r.Var, cfg: &config.HTTPRule{
			Pos: r.Pos, Action: r.Action, Slot: r.Slot, Index: r.Index, Table: r.Table, Name: r.Var, Value: r.Key, LogLevel: r.LogLevel, Status: status,
			Resolve: r.Resolve, Args: r.Args,
		}}
		var err error
		switch {
		case r.Action == "switch-mode":
			// Already HTTP: the rule ends the list, as accept does.
		case r.Action == "send-spoe-group":
			hr.spoe, hr.group = b.spoeGroup(px, r.Var, r.Key)
		case r.Action == "sc-set-gpt0" || r.Action == "sc-set-gpt":
			if hr.expr, err = scValue(r.Key, px.ACLs.Refs); err != nil {
				return nil, fmt.Errorf("%s: %s %s '%s': %w", r.Pos, kind, r.Action, r.Key, err)
			}
		case r.Action == "set-var-fmt":
			if hr.value, err = parseLogFormat(r.Key, px.ACLs.Refs); err != nil {
				return nil, fmt.Errorf("%s: %s %s '%s': %w", r.Pos, kind, r.Action, r.Key, err)
			}
		case r.Key != "":
			if _, hr.expr, err = px.ACLs.Refs.CompileFetch(r.Key); err != nil {
				return nil, fmt.Errorf("%s: %s %s '%s': %w", r.Pos, kind, r.Action, r.Key, err)
			}
		}
		out = append(out, hr)
	}
	return out, nil
}

// applyContentRules runs a proxy's content rules on the request and
// reports true when one rejected it: the connection is then closed and
// the line set as HAProxy writes it for a request its content rules
// refused.
func (ex *exchange) applyContentRules(hp *httpProxy, front bool) bool {
	if front {
		ex.spoeEvent(true, "on-client-session")
		ex.spoeEvent(true, "on-frontend-tcp-request")
	} else {
		ex.spoeEvent(false, "on-backend-tcp-request")
	}
	rules := hp.content
	if len(rules) == 0 {
		return false
	}
	ex.strk.own = hp.px.Name
	defer ex.countContentTracked()
	for i := range rules {
		r := &rules[i]
		if r.cond != nil && !r.cond.Eval(ex) {
			continue
		}
		action := r.cfg.Action
		if action == "lua" {
			// A script's action: its verdict accepts or rejects, as
			// those rules do, or lets the next rule run.
			switch v, _ := ex.hf.s.b.cfg.Global.Lua.RunAction(r.cfg.Name, lua.StageTCPReq, luaExchange{ex}, r.cfg.Args); v {
			case lua.Stop, lua.Done:
				action = "accept"
			case lua.Error, lua.Deny, lua.Abort, lua.Invalid, lua.Closed:
				action = "reject"
			}
		}
		switch action {
		case "accept", "switch-mode":
			return false
		case "reject", "silent-drop":
			l := &ex.log
			l.term = [2]byte{'P', 'R'}
			l.tr, l.status = -1, -1
			if front {
				// Before haproxy has taken the request in: no line, no
				// captures. A backend's rules run once it has.
				l.reqLine = append(l.reqLine[:0], "<BADREQ>"...)
				for i := range l.capReq {
					l.capReq[i] = l.capReq[i][:0]
				}
			}
			if r.cfg.Action == "silent-drop" {
				ex.hf.s.client.SilentDrop(r.cfg.Status)
			} else {
				_ = ex.hf.s.client.Close()
			}
			ex.strk.fromContent = 0 // not an HTTP request, as HAProxy counts
			return true
		case "track-sc":
			ex.trackContent(r)
		case "set-var", "set-var-fmt", "unset-var":
			ex.varAction(r)
		case "do-resolve":
			ex.hf.s.b.doResolve(r.cfg.Resolve, r.name, r.expr, ex)
		case "send-spoe-group":
			ex.sendSPOEGroup(r)
		case "capture":
			ex.captureRule(r, false)
		case "set-log-level":
			ex.log.level = r.cfg.LogLevel
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			ex.scAction(r)
		case "set-mark", "set-tos":
			ex.setSockopt(r)
		case "set-src", "set-dst", "set-src-port", "set-dst-port":
			ex.setAddr(r)
		case "set-priority-class", "set-priority-offset":
			ex.setPriority(r)
		}
	}
	return false
}

// trackContent is a content rule's track-sc: the entry counts a
// connection now, and the request once the content rules let it on
// (countContentTracked), as HAProxy counts an HTTP request.
func (ex *exchange) trackContent(r *httpRule) {
	if ex.trackSlot(r) != nil {
		ex.strk.fromContent |= 1 << r.cfg.Slot
	}
}

// countContentTracked counts the request on the entries the content
// rules tracked, once they let it on.
func (ex *exchange) countContentTracked() {
	for slot := range acl.Slots {
		if ex.strk.fromContent&(1<<slot) == 0 {
			continue
		}
		if e := ex.strk.sc[slot]; e != nil {
			now := e.Table().Now()
			e.IncAt(stick.DataHTTPReqCnt, 1, now)
			e.IncAt(stick.DataHTTPReqRate, 1, now)
		}
	}
	ex.strk.fromContent = 0
}
