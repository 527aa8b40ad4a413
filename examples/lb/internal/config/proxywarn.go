package config

import (
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// HAProxy checks each enabled proxy once the whole configuration is read
// and warns of settings that will not do what they seem to: a side with
// no timeout, a log format with nowhere to send its lines, a capture of
// request contents that does not wait for them. Under "global
// zero-warning" those warnings refuse the configuration, so lb gives the
// same ones, on the same proxies.

func init() {
	finishers = append(finishers, (*parser).warnProxies)
}

// missingTimeouts is the body of the missing timeouts warning, after its
// first line.
const missingTimeouts = `
   | While not properly invalid, you will certainly encounter various problems
   | with such a configuration. To fix this, please ensure that all following
   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.`

// condAt is a condition of a proxy's rule, where it was read, and the
// stage its rule runs at (acl.Cond.NeverMatches), "" for another line.
type condAt struct {
	px    *Proxy
	pos   Pos
	cond  *acl.Cond
	stage string
}

// noteCond records a condition of the proxy being read, and warns, as
// HAProxy does, when it never matches where its rule runs.
func (p *parser) noteCond(c *acl.Cond) {
	if p.cur == nil || p.words == nil {
		return
	}
	stage := ""
	switch w := p.words; {
	case len(w) > 0 && w[0] == "http-request":
		stage = "http-request"
	case len(w) > 0 && (w[0] == "http-response" || w[0] == "http-after-response"):
		stage = "http-response"
	case len(w) > 1 && w[0] == "tcp-request" && (w[1] == "connection" || w[1] == "session" || w[1] == "content"):
		stage = "tcp-request " + w[1]
	}
	p.conds = append(p.conds, condAt{p.cur, p.pos, c, stage})
	name, kw, named, partly, ok := c.NeverMatches(stage)
	if !ok {
		return
	}
	side := "frontend"
	if (stage == "http-response" && p.cur.Kind.IsBackend()) || (stage != "http-response" && !p.cur.Kind.IsFrontend()) {
		side = "backend"
	}
	where := fmt.Sprintf("%s %s rule", side, stage)
	in := ""
	if strings.HasPrefix(stage, "tcp-request") {
		in = fmt.Sprintf(" in '%s'", stage)
	} else {
		where = fmt.Sprintf("%s %s header rule", side, stage)
	}
	msg := fmt.Sprintf("anonymous acl will never match%s because it uses keyword '%s' which is incompatible with '%s'", in, kw, where)
	switch {
	case partly:
		msg = fmt.Sprintf("acl '%s' involves keywords '%s' which is incompatible with '%s'", name, kw, where)
	case named:
		msg = fmt.Sprintf("acl '%s' will never match%s because it only involves keywords that are incompatible with '%s'", name, in, where)
	}
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s", p.pos, msg))
}

// noPatternHelp is the body of the warning of an ACL without patterns.
const noPatternHelp = `
  no pattern to match against were provided, so this ACL will never match.
  If this is what you intended, please add '--' to get rid of this warning.
  If you intended to match only for existence, please use '-m found'.
  If you wanted to force an int to match as a bool, please use '-m bool'.`

// noteNoPattern warns, in HAProxy's words (which name no line), of an
// ACL expression without patterns, which never matches.
func (p *parser) noteNoPattern(fetch string) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("parsing acl keyword '%s' :%s", fetch, noPatternHelp))
}

// warnProxies warns, for each enabled proxy, as HAProxy does.
func (p *parser) warnProxies() {
	for _, px := range p.cfg.Proxies {
		px.ACLs.OnCond, px.ACLs.OnNoPattern = nil, nil // the parse is over
		if px.LogGlobal {
			px.LogGlobalSkip = len(p.cfg.Global.Logs) - px.logGlobalAt
		}
	}
	// An HTTP proxy's rules see HTTP messages, not the raw bytes.
	for _, c := range p.conds {
		if c.px.Mode == "http" && !c.px.Disabled && c.cond.UsesLayer6() {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("Proxy '%s': L6 sample fetches ignored on HTTP proxies (declared at %s).", c.px.Name, c.pos))
		}
	}
	p.conds = nil
	for _, px := range p.cfg.Proxies {
		if px.Disabled {
			continue
		}
		if px.Mode != "http" {
			p.warnHTTPOnly(px)
		}
		if px.Kind.IsBackend() && px.HTTP.Check != nil && !px.httpChk && px.TCPCheck == nil {
			// http-check lines alone do not make the checks HTTP ones.
			if px.httpCheckRules {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s '%s' uses http-check rules without 'option httpchk', so the rules are ignored.", proxyWord(px), px.Name))
			}
			px.HTTP.Check = nil
		}
		if px.missesTimeouts() {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("missing timeouts for %s '%s'.%s", proxyWord(px), px.Name, missingTimeouts))
		}
		if px.Kind.IsFrontend() && px.hasLogFormat() && !p.hasLogTarget(px) {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("log format ignored for %s '%s' since it has no log address.", proxyWord(px), px.Name))
		}
		if px.Stick.InspectDelay == 0 {
			for _, r := range px.Stick.ContentRules {
				if r.Action == "capture" && acl.ReadsRequestContent(r.Key) {
					p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s '%s' : a 'tcp-request capture' rule explicitly depending on request contents without any 'tcp-request inspect-delay' setting. This means that this rule will randomly find its contents. This can be fixed by setting the tcp-request inspect-delay.", proxyWord(px), px.Name))
				}
			}
		}
	}
}

// missesTimeouts reports whether a proxy lacks a timeout HAProxy wants
// set: a frontend's client timeout; a backend with servers its connect
// timeout and its server one, which in mode tcp a tunnel timeout may
// stand for.
func (px *Proxy) missesTimeouts() bool {
	t := px.Timeouts
	if px.Kind.IsFrontend() && t.Client == 0 {
		return true
	}
	if px.Kind.IsBackend() && len(px.Servers) > 0 {
		return t.Connect == 0 || (t.Server == 0 && (px.Mode == "http" || t.Tunnel == 0))
	}
	return false
}

// hasLogFormat reports whether the proxy writes a traffic line: a
// log-format, or option tcplog, httplog or httpslog.
func (px *Proxy) hasLogFormat() bool {
	return len(px.LogFormat) > 0 || px.HTTP.Log || px.Options.TCPLog
}

// hasLogTarget reports whether the proxy has somewhere to send its lines:
// its own log targets, or the global ones through "log global".
func (p *parser) hasLogTarget(px *Proxy) bool {
	return len(px.Logs) > 0 || len(px.GlobalLogs(&p.cfg.Global)) > 0
}

// warnHTTPOnly warns of the settings a proxy not in mode http ignores,
// in HAProxy's words: options, persistence cookies, layer 7 hashes and
// monitor-uri. A frontend that switches its connections to HTTP keeps
// its HTTP options.
func (p *parser) warnHTTPOnly(px *Proxy) {
	warn := func(format string, a ...any) {
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf(format, a...))
	}
	word := proxyWord(px)
	if !(px.Kind.IsFrontend() && px.switchesMode()) {
		o := &px.Options
		for _, opt := range [...]struct {
			name string
			on   bool
		}{
			{"accept-invalid-http-request", o.AcceptInvalidRequest},
			{"accept-invalid-http-response", o.AcceptInvalidResponse},
			{"checkcache", o.CheckCache && px.Kind.IsBackend()},
			{"http-no-delay", o.HTTPNoDelay},
			{"disable-h2-upgrade", o.DisableH2Upgrade},
			{"forwardfor", px.HTTP.ForwardFor},
			{"http-buffer-request", o.BufferRequest},
			{"http-ignore-probes", o.IgnoreProbes},
			{"http-pretend-keepalive", o.PretendKeepAlive},
			{"http-use-proxy-header", o.UseProxyHeader},
			{"originalto", px.HTTP.OriginalTo},
			{"prefer-last-server", o.PreferLastServer},
		} {
			if opt.on {
				warn("'option %s' ignored for %s '%s' as it requires HTTP mode.", opt.name, word, px.Name)
			}
		}
	}
	if px.Kind.IsBackend() {
		if px.Cookie != nil {
			warn("cookie will be ignored for %s '%s' (needs 'mode http').", word, px.Name)
		}
		for _, s := range px.Servers {
			if s.Cookie != "" {
				warn("%s '%s' : ignoring cookie for server '%s' as HTTP mode is disabled.", word, px.Name, s.Name)
			}
		}
		switch px.Balance {
		case "uri", "url_param", "hdr":
			warn("Layer 7 hash not possible for %s '%s' (needs 'mode http'). Falling back to round robin.", word, px.Name)
		}
	}
	if px.Kind.IsFrontend() && px.HTTP.MonitorURI != "" {
		warn("monitor-uri will be ignored for %s '%s' (needs 'mode http').", word, px.Name)
	}
}

// ruleStages are the request rules in the order they run, whatever the
// order of their lines: each with its name in HAProxy's warnings.
var ruleStages = [...]struct {
	name  string
	rules func(px *Proxy) int
}{
	{"a 'tcp-request session'", func(px *Proxy) int { return len(px.Stick.SessRules) }},
	{"a 'tcp-request content'", func(px *Proxy) int { return len(px.Stick.ContentRules) }},
	{"a 'monitor fail'", func(px *Proxy) int { return len(px.HTTP.MonitorFail) }},
	{"an 'http-request'", func(px *Proxy) int { return len(px.HTTP.RequestRules) }},
	{"a 'redirect'", func(px *Proxy) int { return len(px.HTTP.Redirects) }},
	{"a 'use_backend'", func(px *Proxy) int { return len(px.HTTP.UseBackends) }},
	{"a 'use-server'", func(px *Proxy) int { return len(px.UseServers) }},
}

// laterRule returns HAProxy's warning for a request rule line placed
// after a rule that runs after it (the first such, in running order), ""
// when there is none or the line is no such rule.
func (p *parser) laterRule(kw string, words []string) string {
	subject, first := "", 0
	switch {
	case kw == "tcp-request" && len(words) > 1 && words[1] == "connection":
		subject, first = "tcp-request", 0
	case kw == "tcp-request" && len(words) > 1 && words[1] == "session":
		subject, first = "tcp-request", 1
	case kw == "tcp-request" && len(words) > 1 && words[1] == "content":
		subject, first = "tcp-request", 2
	case kw == "monitor" && len(words) > 1 && words[1] == "fail":
		subject, first = "monitor fail", 3
	case kw == "http-request":
		subject, first = "http-request", 4
	case kw == "redirect":
		subject, first = "redirect", 5
	case kw == "use_backend":
		subject, first = "use_backend", 6
	default:
		return ""
	}
	for _, st := range ruleStages[first:] {
		if st.rules(p.cur) > 0 {
			return fmt.Sprintf("%s: a '%s' rule placed after %s rule will still be processed before.", p.pos, subject, st.name)
		}
	}
	return ""
}
