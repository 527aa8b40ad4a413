package config

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// HAProxy only warns of, and ignores, many keywords and options written
// in a section without the capability they need (a frontend's maxconn in
// a backend, a backend's option in a frontend); lb does the same for
// those, with HAProxy's words.

// capHints are the hints HAProxy adds to some of these warnings.
var capHints = map[string]string{
	"maxconn":  " Maybe you want 'fullconn' instead ?",
	"fullconn": " Maybe you want 'maxconn' instead ?",
}

// ignoredKeywords are the proxy keywords HAProxy ignores with a warning
// in a section without their capability, that lb ignores likewise
// (others it still refuses there).
var ignoredKeywords = map[string]bool{
	"maxconn": true, "dispatch": true, "dynamic-cookie-key": true,
	"backlog": true, "balance": true, "bind": true, "capture": true, "cookie": true,
	"force-persist": true, "fullconn": true, "hash-type": true, "http-reuse": true,
	"http-send-name-header": true, "ignore-persist": true, "load-server-state-from-file": true,
	"monitor": true, "monitor-uri": true, "retries": true, "server-state-file-name": true,
	"source": true, "stick": true, "use_backend": true,
}

// willIgnore are the keywords whose warning HAProxy words "KEYWORD will
// be ignored because ...", without quotes.
var willIgnore = map[string]bool{
	"clitcpka-cnt": true, "clitcpka-idle": true, "clitcpka-intvl": true,
	"srvtcpka-cnt": true, "srvtcpka-idle": true, "srvtcpka-intvl": true,
	"max-keep-alive-queue": true, "rate-limit": true,
}

// ignoredOptions are the options HAProxy ignores with a warning in a
// section without their capability, that lb ignores likewise; the value
// is the warning's form: "cap" for the generic one, "backends" for the
// log options.
var ignoredOptions = map[string]string{
	"tcplog": "backends", "httplog": "backends",
	"http-use-proxy-header": "cap", "http-pretend-keepalive": "cap",
	"transparent": "cap", "accept-invalid-http-request": "cap",
	"accept-invalid-http-response": "cap", "socket-stats": "cap",
	"tcp-smart-accept": "cap", "tcp-smart-connect": "cap",
	"abortonclose": "cap", "allbackups": "cap", "clitcpka": "cap", "contstats": "cap",
	"disable-h2-upgrade": "cap", "dontlog-normal": "cap", "dontlognull": "cap",
	"http-ignore-probes": "cap", "httpchk": "cap", "ldap-check": "cap",
	"log-health-checks": "cap", "log-separate-errors": "cap", "logasap": "cap",
	"mysql-check": "cap", "persist": "cap", "prefer-last-server": "cap",
	"redis-check": "cap", "redispatch": "cap", "smtpchk": "cap", "spop-check": "cap",
	"srvtcpka": "cap", "ssl-hello-chk": "cap", "tcp-check": "cap",
}

// argless reports whether an option HAProxy ignores on the wrong side
// takes no argument, which HAProxy checks first.
func argless(name string) bool {
	switch name {
	case "httplog", "httpchk", "smtpchk", "mysql-check", "redispatch":
		return false
	}
	return ignoredOptions[name] != ""
}

// capabilityNames are the kind of the section and the capability it
// lacks, as HAProxy names them.
func capabilityNames(k Kind) (kind, missing string) {
	if k == KindBackend {
		return "backend", "frontend"
	}
	return "frontend", "backend"
}

// ignoreMisplaced warns, as HAProxy does, of a keyword (or, with option
// set, an option) written where it has no effect, and reports whether it
// did: the line is then ignored.
func (p *parser) ignoreMisplaced(kw string, option bool) bool {
	kind, missing := capabilityNames(p.cur.Kind)
	var msg string
	switch {
	case !option && ignoredKeywords[kw] && p.cur.Kind != KindDefaults:
		msg = fmt.Sprintf("'%s' ignored because %s '%s' has no %s capability.%s", kw, kind, p.cur.Name, missing, capHints[kw])
	case !option && willIgnore[kw] && p.cur.Kind != KindDefaults:
		if kw == "rate-limit" {
			kw = "rate-limit sessions"
		}
		msg = fmt.Sprintf("%s will be ignored because %s '%s' has no %s capability", kw, kind, p.cur.Name, missing)
	case option && ignoredOptions[kw] == "backends" && p.cur.Kind == KindBackend:
		msg = fmt.Sprintf("%s '%s' : 'option %s' directive is ignored in backends.", kind, p.cur.Name, kw)
	case option && ignoredOptions[kw] == "cap":
		msg = fmt.Sprintf("'%s' ignored because %s '%s' has no %s capability.", kw, kind, p.cur.Name, missing)
	default:
		return false
	}
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s", p.pos, msg))
	return true
}

// ignoreBackendLogFormat takes a log-format line written in a backend:
// its argument count is checked, then it is ignored with HAProxy's
// warning (a backend logs in its frontend's format).
func (p *parser) ignoreBackendLogFormat(args []string) {
	switch {
	case len(args) == 0 || args[0] == "":
		p.errorf("log-format", ErrBadValue, "log-format expects an argument.")
	case len(args) > 1:
		p.errorf("log-format", ErrBadValue, "log-format expects only one argument, don't forget to escape spaces!")
	default:
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: backend '%s' : 'log-format' directive is ignored in backends.", p.pos, p.cur.Name))
	}
}

// The options lb takes for HAProxy's sake.
func init() {
	optionKeywords["http-use-proxy-header"] = optionKeyword{KindFrontend, flag(func(o *Options) *bool { return &o.UseProxyHeader })}
	optionKeywords["http-pretend-keepalive"] = optionKeyword{KindBackend, flag(func(o *Options) *bool { return &o.PretendKeepAlive })}
	proxyKeywords["http-error"] = proxyKeyword{kAll, parseHTTPError}
	optionKeywords["accept-invalid-http-request"] = optionKeyword{KindFrontend, flag(func(o *Options) *bool { return &o.AcceptInvalidRequest })}
	optionKeywords["accept-invalid-http-response"] = optionKeyword{KindBackend, flag(func(o *Options) *bool { return &o.AcceptInvalidResponse })}
	optionKeywords["socket-stats"] = optionKeyword{KindFrontend, flag(func(o *Options) *bool { return &o.SocketStats })}
	optionKeywords["checkcache"] = optionKeyword{KindBackend, flag(func(o *Options) *bool { return &o.CheckCache })}
	ignoredOptions["checkcache"] = "cap"
	optionKeywords["independent-streams"] = optionKeyword{kAll, flag(func(o *Options) *bool { return &o.IndependentStreams })}
	optionKeywords["http-no-delay"] = optionKeyword{kAll, flag(func(o *Options) *bool { return &o.HTTPNoDelay })}
}

// resolveCheckAddr gives a server whose "addr" names a host that host's
// first address, as HAProxy resolves it (with libc) at start; a name
// that does not resolve is an error, as in HAProxy.
func resolveCheckAddr(ctx context.Context, px *Proxy, s *Server, lookup LookupFunc) error {
	if s.CheckAddr == "" {
		return nil
	}
	if _, err := netip.ParseAddr(s.CheckAddr); err == nil {
		return nil
	}
	addrs, err := lookup(ctx, s.CheckAddr)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return fmt.Errorf("%w: 'server %s/%s' : 'addr' : invalid address: '%s': %v", ErrBadValue, px.Name, s.Name, s.CheckAddr, err)
	}
	s.CheckAddr = addrs[0].Unmap().String()
	return nil
}

// checkVersion checks the version word of "option httpchk": HAProxy
// sends any word there as it is ("HEAD /ping.html pong"), and so does
// lb, but for one holding a space or control character, which would
// change the request's line.
func checkVersion(v string) error {
	for _, c := range v {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("check version '%s' holds a space or control character", v)
		}
	}
	return nil
}

// parseHTTPError reads "http-error status <code> [content-type <type>]
// [string|file|errorfile <value>] [hdr <name> <value>]...": the answer
// the proxy gives for that status, as errorfile sets it. lb's error
// answers are fixed: a log-format body or field (lf-string, lf-file,
// %[...]) is refused by name.
func parseHTTPError(p *parser, px *Proxy, a []string) error {
	r := HTTPRule{Pos: p.pos, Action: "http-error"}
	if len(a) < 2 || a[0] != "status" {
		return errors.New("expects 'status <code>' first")
	}
	if err := parseAnswerOptions(&r, p.baseDir, a); err != nil {
		return err
	}
	if !errorFileStatuses[r.Status] {
		return fmt.Errorf("status code '%d' not handled (supported: %s)", r.Status, errorStatusList)
	}
	if r.BodyFormat && strings.Contains(string(r.Body), "%") {
		return fmt.Errorf("%w: 'http-error' with a log-format body (lb's error answers are fixed)", ErrUnsupported)
	}
	for _, h := range r.Headers {
		if strings.Contains(h[1], "%") {
			return fmt.Errorf("%w: 'http-error' field '%s' with a log-format value (lb's error answers are fixed)", ErrUnsupported, h[0])
		}
	}
	ef := ErrorFile{Pos: p.pos, Status: r.Status, Path: "http-error", Data: r.ErrorFile}
	if r.ErrorFile == nil {
		r.BodyFormat = false
		ef.Reply = &r
	}
	px.HTTP.ErrorFiles = appendOwn(px.HTTP.ErrorFiles, ef)
	return nil
}

// StatsRule is a "stats http-request" rule: allow serves the page, deny
// answers 403, auth asks for credentials (in Realm), when Cond holds.
type StatsRule struct {
	Pos
	Action string // allow, deny or auth
	Realm  string // auth's realm: DefaultStatsRealm when none is given
	Cond   *acl.Cond
}

// errStatsRulesAndAuth is HAProxy's refusal of a page with both kinds
// of access control.
var errStatsRulesAndAuth = errors.New("stats 'auth'/'realm' and 'http-request' can't be used at the same time")

// parseStatsRule reads "stats http-request allow|deny|auth [realm R]
// [if|unless COND]".
func parseStatsRule(p *parser, px *Proxy, a []string) error {
	cond, rest, err := splitCond(px, a)
	if err != nil {
		return err
	}
	r := StatsRule{Pos: p.pos, Cond: cond, Realm: DefaultStatsRealm}
	switch {
	case len(rest) == 1 && (rest[0] == "allow" || rest[0] == "deny" || rest[0] == "auth"):
	case len(rest) == 3 && rest[0] == "auth" && rest[1] == "realm":
		r.Realm = rest[2]
	default:
		return errors.New("'stats http-request' expects 'allow', 'deny' or 'auth [realm <realm>]', then an optional condition")
	}
	r.Action = rest[0]
	page := p.ownStats(px)
	if len(page.Users) > 0 || page.Realm != DefaultStatsRealm {
		return errStatsRulesAndAuth
	}
	page.Rules = appendOwn(page.Rules, r)
	return nil
}
