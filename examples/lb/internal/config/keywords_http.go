package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	mbits "math/bits"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
)

// The HTTP-mode keywords. They are added to the tables from here so the
// HTTP feature lives in its own files; keywords.go's init runs first
// (files are initialised in name order), so the tables exist.

const kFeBe = KindFrontend | KindBackend

func init() {
	proxyKeywords["http-request"] = proxyKeyword{kFeBe, func(p *parser, px *Proxy, a []string) error {
		r, err := parseHTTPRule(p.pos, p.baseDir, px, a, true)
		if err != nil {
			return err
		}
		if err := p.checkLuaRule(r, lua.StageHTTPReq); err != nil {
			return err
		}
		p.warnAfterFinal("http-request", px.HTTP.RequestRules)
		px.HTTP.RequestRules = appendOwn(px.HTTP.RequestRules, r)
		return nil
	}}
	proxyKeywords["http-response"] = proxyKeyword{kFeBe, func(p *parser, px *Proxy, a []string) error {
		r, err := parseHTTPRule(p.pos, p.baseDir, px, a, false)
		if err != nil {
			return err
		}
		if err := p.checkLuaRule(r, lua.StageHTTPRes); err != nil {
			return err
		}
		p.warnAfterFinal("http-response", px.HTTP.ResponseRules)
		px.HTTP.ResponseRules = appendOwn(px.HTTP.ResponseRules, r)
		return nil
	}}
	// http-after-response rules run on every answer, the balancer's own
	// (errors, redirects, return) included, after the other rules.
	proxyKeywords["http-after-response"] = proxyKeyword{kFeBe, func(p *parser, px *Proxy, a []string) error {
		r, err := parseHTTPRule(p.pos, p.baseDir, px, a, false)
		if err != nil {
			return err
		}
		switch r.Action {
		case "lua", "set-map", "del-map", "add-acl", "del-acl", "deny", "return", "redirect", "track-sc", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt", "silent-drop", "set-mark", "set-tos":
			// As in haproxy 2.6, which has them in http-request and
			// http-response only.
			return fmt.Errorf("%w: 'http-after-response %s'", ErrUnsupported, a[0])
		}
		p.warnAfterFinal("http-after-response", px.HTTP.AfterResponseRules)
		px.HTTP.AfterResponseRules = appendOwn(px.HTTP.AfterResponseRules, r)
		return nil
	}}
	// "redirect" is the older form of "http-request redirect"; its rules
	// run after the http-request rules, as in HAProxy.
	proxyKeywords["redirect"] = proxyKeyword{kFeBe, func(p *parser, px *Proxy, a []string) error {
		r, err := parseHTTPRule(p.pos, p.baseDir, px, append([]string{"redirect"}, a...), true)
		if err != nil {
			return err
		}
		r.Redirect.Literal = true
		px.HTTP.Redirects = appendOwn(px.HTTP.Redirects, r)
		return nil
	}}
	proxyKeywords["capture"] = proxyKeyword{KindFrontend, func(p *parser, px *Proxy, a []string) error {
		if len(a) == 0 || a[0] != "request" && a[0] != "response" && a[0] != "cookie" {
			return errors.New("'capture' expects 'cookie' or 'request header' or 'response header'")
		}
		if a[0] == "cookie" {
			if len(a) != 4 || a[1] == "" || a[2] != "len" {
				return errors.New("'capture' expects 'cookie' <cookie_name> 'len' <len>")
			}
			n, err := parseInt(a[3], 0, 1<<20)
			if err != nil {
				return fmt.Errorf("'capture cookie' len: %w", err)
			}
			// As HAProxy, which keeps 63 bytes at most, with a warning.
			if n > 63 {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("truncating capture length to 63 bytes for %s '%s'.", proxyWord(px), px.Name))
			}
			px.HTTP.CaptureCookie = &CookieCapture{Name: a[1], Len: min(n, 63)}
			return nil
		}
		if len(a) != 5 || a[1] != "header" || a[2] == "" || a[3] != "len" {
			return fmt.Errorf("'capture %s' expects 'header' <header_name> 'len' <len>", a[0])
		}
		n, err := parseInt(a[4], 0, 1<<20)
		if err != nil {
			return fmt.Errorf("'capture %s header' len: %w", a[0], err)
		}
		c := HeaderCapture{Name: a[2], Len: n}
		if a[0] == "request" {
			px.HTTP.CaptureRequest = appendOwn(px.HTTP.CaptureRequest, c)
		} else {
			px.HTTP.CaptureResponse = appendOwn(px.HTTP.CaptureResponse, c)
		}
		return nil
	}}
	proxyKeywords["monitor-uri"] = proxyKeyword{kFeDef, func(_ *parser, px *Proxy, a []string) error {
		if len(a) != 1 || a[0] == "" {
			return errors.New("expects an URI")
		}
		px.HTTP.MonitorURI = a[0]
		return nil
	}}
	// "monitor fail if|unless COND": the monitor-uri answers 503 while
	// the condition holds.
	proxyKeywords["monitor"] = proxyKeyword{KindFrontend, func(_ *parser, px *Proxy, a []string) error {
		if len(a) == 0 || a[0] != "fail" {
			return errors.New("expects 'fail' followed by 'if' or 'unless' and a condition")
		}
		cond, rest, err := splitCond(px, a[1:])
		if err != nil {
			return err
		}
		if cond == nil || len(rest) > 0 {
			return errors.New("'monitor fail' expects 'if' or 'unless' followed by a condition")
		}
		px.HTTP.MonitorFail = appendOwn(px.HTTP.MonitorFail, cond)
		return nil
	}}
	proxyKeywords["use_backend"] = proxyKeyword{KindFrontend, func(p *parser, px *Proxy, a []string) error {
		if len(a) == 0 {
			return errors.New("expects 'use_backend <backend> [{if | unless} <condition>]'")
		}
		cond, rest, err := splitCond(px, a[1:])
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return fmt.Errorf("unexpected '%s' (expected 'if' or 'unless')", rest[0])
		}
		px.HTTP.UseBackends = appendOwn(px.HTTP.UseBackends, UseBackend{Pos: p.pos, Backend: a[0], Cond: cond})
		return nil
	}}
	proxyKeywords["http-reuse"] = proxyKeyword{kBeDef, func(_ *parser, px *Proxy, a []string) error {
		if len(a) != 1 {
			return errors.New("expects one of 'never', 'safe', 'aggressive', 'always'")
		}
		switch a[0] {
		case "never", "safe", "aggressive", "always":
			px.HTTP.Reuse = a[0]
			return nil
		}
		return fmt.Errorf("unknown policy '%s' (expects never, safe, aggressive or always)", a[0])
	}}
	proxyKeywords["hash-type"] = proxyKeyword{kBeDef, func(_ *parser, px *Proxy, a []string) error {
		if len(a) < 1 || len(a) > 3 {
			return errors.New("expects 'hash-type map-based|consistent [sdbm [avalanche]]'")
		}
		switch a[0] {
		case "map-based", "consistent":
		default:
			return fmt.Errorf("unknown method '%s' (expects map-based or consistent)", a[0])
		}
		if len(a) >= 2 && a[1] != "sdbm" {
			return fmt.Errorf("%w: hash function '%s' (only sdbm, the default)", ErrUnsupported, a[1])
		}
		if len(a) == 3 && a[2] != "avalanche" {
			return fmt.Errorf("unknown hash modifier '%s' (expects avalanche)", a[2])
		}
		px.HTTP.HashType = a[0]
		// As in HAProxy, "consistent" alone implies the avalanche
		// modifier; a named function leaves it to the third word.
		px.HTTP.HashAvalanche = len(a) == 3 || (len(a) == 1 && a[0] == "consistent")
		return nil
	}}
	proxyKeywords["max-keep-alive-queue"] = proxyKeyword{kBeDef, func(_ *parser, px *Proxy, a []string) error {
		if len(a) != 1 {
			return errors.New("expects an integer value")
		}
		n, err := strconv.Atoi(a[0])
		if err != nil || n < -1 {
			return fmt.Errorf("'%s' is not an integer of -1 or more", a[0])
		}
		px.KeepAliveQueue = n + 1
		return nil
	}}
	proxyKeywords["hash-balance-factor"] = proxyKeyword{kBeDef, func(_ *parser, px *Proxy, a []string) error {
		var f int
		if err := oneInt(a, 0, 1<<20, &f); err != nil {
			return err
		}
		if f != 0 && f <= 100 {
			return fmt.Errorf("%d: must be 0 or greater than 100", f)
		}
		px.HTTP.HashBalanceFactor = f
		return nil
	}}
	proxyKeywords["http-check"] = proxyKeyword{kBeDef, func(p *parser, px *Proxy, a []string) error {
		var c HTTPCheck
		if px.HTTP.Check == nil {
			c = defaultHTTPCheck()
		} else {
			c = *px.HTTP.Check // never write through a pointer shared with defaults
		}
		if len(a) > 0 && a[0] == "disable-on-404" {
			// An option of the proxy rather than a rule: it leaves the
			// inherited rules alone.
			if len(a) > 1 {
				return fmt.Errorf("'http-check disable-on-404' takes no argument, not '%s'", a[1])
			}
			c.DisableOn404 = true
			px.HTTP.Check = &c
			return nil
		}
		if !px.httpCheckOwn {
			// The first http-check line of a section replaces its
			// defaults' rules.
			c.Expects, c.Headers, c.HostAt, c.Body, c.Rules, px.httpCheckOwn = nil, nil, 0, "", nil, true
		}
		if len(a) == 0 {
			return errors.New("expects 'connect', 'send' or 'expect'")
		}
		var err error
		rule := HTTPCheckRule{Pos: p.pos}
		switch a[0] {
		case "expect":
			var e HTTPExpect
			if e, err = parseHTTPExpect(a[1:]); err == nil {
				if n := len(c.Rules); e.Comment == "" && n > 0 && c.Rules[n-1].Action == TCPCheckComment {
					// As HAProxy: a comment rule names the rule after it.
					e.Comment = c.Rules[n-1].Connect.Comment
				}
				c.Expects = appendOwn(c.Expects, e)
				rule.Action, rule.Expect = TCPCheckExpect, e
			}
			px.httpCheckRules = true
		case "send":
			// The first send completes the check's own request (option
			// httpchk's); a later one, after a connect, has its own.
			req := defaultHTTPCheck()
			if err = parseHTTPCheckSend(&req, a[1:]); err == nil && !hasHTTPCheckSend(c.Rules) {
				err = parseHTTPCheckSend(&c, a[1:])
			}
			rule.Action, rule.Request = TCPCheckSend, &req
			px.httpCheckRules = true
		case "connect":
			rule.Action, rule.Connect = TCPCheckConnect, TCPCheckRule{Action: TCPCheckConnect, Pos: p.pos, MinRecv: -1}
			err = parseCheckConnect(&rule.Connect, a[1:], "http-check")
			px.httpCheckRules = true
		case "send-state":
			if len(a) > 1 {
				err = fmt.Errorf("'http-check send-state' takes no argument, not '%s'", a[1])
			}
			c.SendState = true
		case "comment":
			if len(a) != 2 {
				err = errors.New("'comment' expects one argument")
				break
			}
			rule.Action, rule.Connect.Comment = TCPCheckComment, a[1]
		case "set-var", "unset-var":
			err = fmt.Errorf("%w: 'http-check %s'", ErrUnsupported, a[0])
		default:
			err = fmt.Errorf("unknown action '%s' (expects 'connect', 'send' or 'expect')", a[0])
		}
		if err == nil && rule.Action != 0 {
			if err = httpCheckSequenceError(c.Rules, rule.Action); err == nil {
				c.Rules = appendOwn(c.Rules, rule)
			}
		}
		if err != nil {
			return err
		}
		px.HTTP.Check = &c
		return nil
	}}
	proxyKeywords["errorfile"] = proxyKeyword{kAll, func(p *parser, px *Proxy, a []string) error {
		ef, err := readErrorFile(p.pos, p.baseDir, a)
		if err != nil {
			return err
		}
		px.HTTP.ErrorFiles = appendOwn(px.HTTP.ErrorFiles, ef)
		return nil
	}}

	// errorloc, errorloc302 and errorloc303 answer an error status with a
	// redirect instead of the page, as HAProxy's do.
	for kw, redirect := range map[string]int{"errorloc": 302, "errorloc302": 302, "errorloc303": 303} {
		proxyKeywords[kw] = proxyKeyword{kAll, func(p *parser, px *Proxy, a []string) error {
			if len(a) != 2 || a[1] == "" {
				return fmt.Errorf("expects '%s <code> <url>'", kw)
			}
			code, err := strconv.Atoi(a[0])
			if err != nil || !errorFileStatuses[code] {
				return fmt.Errorf("status code '%s' cannot be overridden (supported: 200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504)", a[0])
			}
			reason := map[int]string{302: "Found", 303: "See Other"}[redirect]
			data := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: %s\r\n\r\n", redirect, reason, a[1])
			px.HTTP.ErrorFiles = appendOwn(px.HTTP.ErrorFiles, ErrorFile{Pos: p.pos, Status: code, Path: kw + " " + a[1], Data: data})
			return nil
		}}
	}

	// balance gains the HTTP algorithms; the TCP ones keep their parser.
	tcpBalance := proxyKeywords["balance"]
	proxyKeywords["balance"] = proxyKeyword{tcpBalance.kinds, func(p *parser, px *Proxy, a []string) error {
		if len(a) == 0 {
			return tcpBalance.parse(p, px, a)
		}
		switch {
		case a[0] == "uri":
			px.Balance, px.HTTP.BalanceArg = "uri", ""
			px.HTTP.URILen, px.HTTP.URIDepth = 0, 0
			for o := a[1:]; len(o) > 0; o = o[1:] {
				switch o[0] {
				case "whole":
					px.HTTP.BalanceArg = "whole"
				case "path-only":
					// lb hashes from the path on: an absolute URI's
					// scheme and authority never count.
				case "len", "depth":
					if len(o) < 2 {
						return fmt.Errorf("'balance uri %s' expects a positive integer", o[0])
					}
					n, err := strconv.Atoi(o[1])
					if err != nil || n <= 0 {
						return fmt.Errorf("'balance uri %s' expects a positive integer (got '%s')", o[0], o[1])
					}
					if o[0] == "len" {
						px.HTTP.URILen = n
					} else {
						px.HTTP.URIDepth = n
					}
					o = o[1:]
				default:
					return fmt.Errorf("'balance uri' only accepts parameters 'whole', 'path-only', 'len' and 'depth' (got '%s')", o[0])
				}
			}
			return nil
		case a[0] == "random" || strings.HasPrefix(a[0], "random("):
			if len(a) != 1 {
				return fmt.Errorf("unexpected '%s' after 'random'", a[1])
			}
			draws, err := randomDraws(a[0])
			if err != nil {
				return err
			}
			px.Balance, px.HTTP.BalanceArg, px.HTTP.RandomDraws = "random", "", draws
			return nil
		case a[0] == "url_param" || strings.HasPrefix(a[0], "url_param("):
			name := strings.TrimSuffix(strings.TrimPrefix(a[0], "url_param("), ")")
			rest := a[1:]
			if a[0] == "url_param" {
				if len(a) < 2 {
					return errors.New("'balance url_param' expects a parameter name")
				}
				name, rest = a[1], a[2:]
			}
			post := false
			if len(rest) > 0 && rest[0] == "check_post" {
				// A number after it was once how long to wait for the
				// body; haproxy ignores it now.
				post, rest = true, rest[1:]
				if len(rest) > 0 {
					if _, err := strconv.Atoi(rest[0]); err == nil {
						rest = rest[1:]
					}
				}
			}
			if len(rest) > 0 {
				return fmt.Errorf("unexpected '%s' (expects 'check_post')", rest[0])
			}
			if name == "" {
				return errors.New("'balance url_param' expects a parameter name")
			}
			px.Balance, px.HTTP.BalanceArg, px.HTTP.BalanceCheckPost = "url_param", name, post
			return nil
		case strings.HasPrefix(a[0], "rdp-cookie"):
			name, err := rdpCookieName(a[0][len("rdp-cookie"):], "mstshash")
			if err != nil {
				return errors.New("balance rdp-cookie : missing cookie name")
			}
			if len(a) != 1 {
				return fmt.Errorf("unexpected '%s' after 'rdp-cookie'", a[1])
			}
			px.Balance, px.HTTP.BalanceArg = "rdp-cookie", name
			return nil
		case strings.HasPrefix(a[0], "hdr("):
			name, ok := strings.CutSuffix(a[0][len("hdr("):], ")")
			if !ok || name == "" {
				return fmt.Errorf("bad '%s' (expects 'hdr(<name>)')", a[0])
			}
			if len(a) != 1 {
				return fmt.Errorf("%w: 'balance hdr' option '%s'", ErrUnsupported, a[1])
			}
			px.Balance, px.HTTP.BalanceArg = "hdr", name
			return nil
		}
		return tcpBalance.parse(p, px, a)
	}}

	optionKeywords["forwardfor"] = optionKeyword{kAll, func(px *Proxy, a []string, on bool) error {
		if !on {
			return errors.New("negation/default is not supported for option 'forwardfor'")
		}
		h := &px.HTTP
		h.ForwardFor, h.ForwardForExcept, h.ForwardForHeader, h.ForwardForIfNone = true, netip.Prefix{}, "", false
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case "except", "header":
				if i+1 >= len(a) || a[i+1] == "" {
					if a[i] == "except" {
						return errors.New("'option forwardfor except' expects <address>[/mask] as argument")
					}
					return errors.New("'option forwardfor header' expects <header_name> as argument")
				}
				i++
				if a[i-1] == "header" {
					h.ForwardForHeader = a[i]
					continue
				}
				n, err := parseNet(a[i])
				if err != nil {
					return fmt.Errorf("'option forwardfor except': %w", err)
				}
				h.ForwardForExcept = n
			case "if-none":
				h.ForwardForIfNone = true
			default:
				return errors.New("'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'")
			}
		}
		return nil
	}}
	optionKeywords["originalto"] = optionKeyword{kAll, func(px *Proxy, a []string, on bool) error {
		if !on {
			return errors.New("negation/default is not supported for option 'originalto'")
		}
		h := &px.HTTP
		h.OriginalTo, h.OriginalToExcept, h.OriginalToHeader = true, netip.Prefix{}, ""
		for i := 0; i < len(a); i++ {
			if (a[i] != "except" && a[i] != "header") || i+1 >= len(a) || a[i+1] == "" {
				return errors.New("'option originalto' only supports optional values: 'except <address>[/mask]' and 'header <header_name>'")
			}
			i++
			if a[i-1] == "header" {
				h.OriginalToHeader = a[i]
				continue
			}
			n, err := parseNet(a[i])
			if err != nil {
				return fmt.Errorf("'option originalto except': %w", err)
			}
			h.OriginalToExcept = n
		}
		return nil
	}}
	optionKeywords["http-restrict-req-hdr-names"] = optionKeyword{kAll, func(px *Proxy, a []string, on bool) error {
		if !on {
			return errors.New("negation/default is not supported for option 'http-restrict-req-hdr-names'")
		}
		if len(a) != 1 {
			return errors.New("option 'http-restrict-req-hdr-names' expects 'preserve', 'reject' or 'delete'")
		}
		switch a[0] {
		case "preserve", "reject", "delete":
		default:
			return fmt.Errorf("invalid parameter '%s'. option 'http-restrict-req-hdr-names' expects 'preserve', 'reject' or 'delete'", a[0])
		}
		px.HTTP.RestrictHeaderNames = a[0]
		return nil
	}}
	optionKeywords["httpslog"] = optionKeyword{KindFrontend, func(px *Proxy, a []string, on bool) error {
		if err := noArgs(a); err != nil {
			return err
		}
		px.HTTP.Log, px.HTTP.LogTLS = on, on
		if on {
			px.LogFormat, _ = ParseLogFormat(HTTPSLogFormat)
			px.LogFormatPos = Pos{}
		}
		return nil
	}}
	optionKeywords["httplog"] = optionKeyword{KindFrontend, func(px *Proxy, a []string, on bool) error {
		clf := len(a) == 1 && a[0] == "clf"
		if len(a) > 0 && !clf {
			return fmt.Errorf("'option httplog' only takes 'clf', not '%s'", strings.Join(a, " "))
		}
		px.HTTP.Log, px.HTTP.LogTLS = on, false
		if on {
			// As in HAProxy, the later of log-format and the option wins.
			px.LogFormat = nil
			if clf {
				px.LogFormat, _ = ParseLogFormat(CLFLogFormat)
				px.LogFormatPos = Pos{}
			}
		}
		return nil
	}}
	connMode := func(m ConnMode) func(*Proxy, []string, bool) error {
		return func(px *Proxy, a []string, on bool) error {
			if err := noArgs(a); err != nil {
				return err
			}
			if on {
				px.HTTP.ConnMode = m
			} else if px.HTTP.ConnMode == m {
				px.HTTP.ConnMode = ConnKeepAlive
			}
			return nil
		}
	}
	optionKeywords["http-keep-alive"] = optionKeyword{kAll, connMode(ConnKeepAlive)}
	optionKeywords["http-server-close"] = optionKeyword{kAll, connMode(ConnServerClose)}
	optionKeywords["httpclose"] = optionKeyword{kAll, connMode(ConnClose)}
	optionKeywords["httpchk"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		px.httpChk = on
		if !on {
			px.HTTP.Check = nil
			return nil
		}
		c := defaultHTTPCheck()
		if px.HTTP.Check != nil {
			// http-check lines read before keep their rules.
			old := px.HTTP.Check
			c.Expects, c.Host, c.HostAt, c.Headers, c.Body, c.Rules = old.Expects, old.Host, old.HostAt, old.Headers, old.Body, old.Rules
		}
		switch len(a) {
		case 0:
		case 1:
			c.URI = a[0] // "option httpchk <uri>" alone is a URI
		case 2, 3, 4:
			c.Method, c.URI = a[0], a[1]
			if len(a) >= 3 {
				c.Version = a[2]
			}
			if len(a) == 4 {
				c.Host = strings.TrimPrefix(a[3], "Host:")
			}
		default:
			return errors.New("expects 'option httpchk [<method>] [<uri>] [<version>]'")
		}
		// As in HAProxy, the URI and the version are sent as written:
		// "option httpchk GET" checks the URI "GET", and a version
		// other than HTTP/1.x is sent as it is (checkVersion).
		// The older form carries fields after the version, each after a
		// CR LF: "HTTP/1.1\r\nHost:\ www".
		if v, fields, ok := strings.Cut(c.Version, "\n"); ok {
			c.Version = strings.TrimSuffix(v, "\r")
			for _, f := range strings.Split(fields, "\n") {
				f = strings.TrimSuffix(f, "\r")
				if f == "" {
					continue
				}
				name, value, ok := strings.Cut(f, ":")
				if !ok || name == "" {
					return fmt.Errorf("check field '%s' is not 'name: value'", f)
				}
				value = strings.TrimSpace(value)
				if strings.EqualFold(name, "host") {
					c.Host, c.HostAt = value, len(c.Headers)
					continue
				}
				c.Headers = append(c.Headers, [2]string{name, value})
			}
		}
		if err := checkVersion(c.Version); err != nil {
			return err
		}
		px.HTTP.Check = &c
		px.TCPCheck = nil
		return nil
	}}

	timeoutKeywords["http-request"] = struct {
		kinds Kind
		field func(*Timeouts) *timeDur
	}{kFeBe, func(t *Timeouts) *timeDur { return &t.HTTPRequest }}
	timeoutKeywords["tarpit"] = struct {
		kinds Kind
		field func(*Timeouts) *timeDur
	}{kFeBe, func(t *Timeouts) *timeDur { return &t.Tarpit }}
	timeoutKeywords["http-keep-alive"] = struct {
		kinds Kind
		field func(*Timeouts) *timeDur
	}{kFeBe, func(t *Timeouts) *timeDur { return &t.HTTPKeepAlive }}

	bindOptions["proto"] = struct {
		args  int
		apply func(b *Bind, a []string) error
	}{1, func(b *Bind, a []string) error {
		if err := checkProto(a[0]); err != nil {
			return err
		}
		b.Proto = a[0]
		return nil
	}}
	serverOptions["proto"] = serverOption{1, func(s *Server, a []string) error {
		if err := checkProto(a[0]); err != nil {
			return err
		}
		s.Proto = a[0]
		return nil
	}}

	finishers = append(finishers, (*parser).validateHTTP, (*parser).finishHTTPCheckRules)
}

func checkProto(p string) error {
	switch p {
	case "h1", "h2":
		return nil
	}
	return fmt.Errorf("unknown protocol '%s' (expects h1 or h2)", p)
}

// finishHTTPCheckRules keeps the http-check rules in order only where a
// connect makes the check run them so (HTTPCheck.Sequenced); without
// one, the check's request and expects say it all. The comments, which
// only counted as steps and named the expect after them, go.
func (p *parser) finishHTTPCheckRules() {
	for _, px := range p.cfg.Proxies {
		if c := px.HTTP.Check; c != nil && c.Rules != nil {
			cc := *c // never write through a pointer shared with defaults
			cc.Rules = nil
			if c.Sequenced() {
				cc.Rules = httpCheckActions(c.Rules)
			}
			px.HTTP.Check = &cc
		}
	}
}

// httpCheckActions returns rules without their comments.
func httpCheckActions(rules []HTTPCheckRule) []HTTPCheckRule {
	var out []HTTPCheckRule
	for _, r := range rules {
		if r.Action != TCPCheckComment {
			out = append(out, r)
		}
	}
	return out
}

// hasHTTPCheckSend reports whether rules hold a send.
func hasHTTPCheckSend(rules []HTTPCheckRule) bool {
	rules = httpCheckActions(rules)
	for _, r := range rules {
		if r.Action == TCPCheckSend {
			return true
		}
	}
	return false
}

// httpCheckSequenceError refuses an http-check rule of kind act after
// rules as HAProxy refuses it: a connect must come first when there is
// one, and after an expect; a send after a connect; an expect after a
// send or an expect. The first send and expect may come without a
// connect, option httpchk's request being sent on the implicit one.
// Steps count from 1, as HAProxy's messages do.
func httpCheckSequenceError(rules []HTTPCheckRule, act TCPCheckAction) error {
	step := len(rules) + 1 // comments count
	if rules = httpCheckActions(rules); len(rules) == 0 || act == TCPCheckComment {
		return nil
	}
	last := rules[len(rules)-1].Action
	switch {
	case act == TCPCheckConnect && rules[0].Action != TCPCheckConnect:
		return errors.New("first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset")
	case act == TCPCheckSend && last != TCPCheckConnect:
		return fmt.Errorf("unable to add http-check send rule at step %d (missing connect rule)", step)
	case act == TCPCheckExpect && last != TCPCheckSend && last != TCPCheckExpect:
		return fmt.Errorf("unable to add http-check expect rule at step %d (missing send rule)", step)
	case act == TCPCheckConnect && last != TCPCheckExpect:
		return fmt.Errorf("unable to add http-check connect rule at step %d (missing expect rule)", step)
	}
	return nil
}

func defaultHTTPCheck() HTTPCheck {
	return HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
}

var errorFileStatuses = map[int]bool{
	200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 407: true, 408: true, 410: true,
	413: true, 425: true, 429: true, 500: true, 501: true, 502: true, 503: true, 504: true,
}

// parseAnswerOptions reads the options of return and deny: the status
// ("status", or "deny_status" for deny), and an answer of the rule's own
// (content-type, string, lf-string, file, lf-file, hdr); a deny without
// them answers with the status's error page. A relative file name is read
// from dir (default-path) when dir is set.
func parseAnswerOptions(r *HTTPRule, dir string, a []string) error {
	for len(a) > 0 {
		switch {
		case (a[0] == "status" || a[0] == "deny_status" && r.Action != "return") && len(a) >= 2:
			n, err := parseInt(a[1], 200, 599)
			if err != nil {
				return fmt.Errorf("'%s' status: %w", r.Action, err)
			}
			r.Status = n
		case a[0] == "content-type" && len(a) >= 2:
			r.ContentType, r.OwnAnswer = a[1], true
		case (a[0] == "string" || a[0] == "lf-string") && len(a) >= 2:
			r.Body, r.BodyFormat, r.OwnAnswer = []byte(a[1]), a[0] == "lf-string", true
		case (a[0] == "file" || a[0] == "lf-file") && len(a) >= 2:
			b, err := os.ReadFile(inDir(dir, a[1]))
			if err != nil {
				return fmt.Errorf("'%s' %s: %w", r.Action, a[0], err)
			}
			r.Body, r.BodyFormat, r.OwnAnswer = b, a[0] == "lf-file", true
		case a[0] == "hdr" && len(a) >= 3:
			r.Headers, r.OwnAnswer = append(r.Headers, [2]string{a[1], a[2]}), true
			a = a[1:]
		case a[0] == "errorfile" && len(a) >= 2 && (r.Action == "return" || r.Action == "http-error"):
			// A whole response, sent as it is (the rule's status is
			// the one logged), as in HAProxy.
			b, err := os.ReadFile(inDir(dir, a[1]))
			if err != nil {
				return fmt.Errorf("'%s' errorfile: %w", r.Action, err)
			}
			r.ErrorFile, r.OwnAnswer = b, true
		case a[0] == "errorfile" || a[0] == "errorfiles" || a[0] == "default-errorfiles":
			return fmt.Errorf("%w: '%s %s'", ErrUnsupported, r.Action, a[0])
		default:
			return fmt.Errorf("'%s': unexpected '%s' (expects status, content-type, string, lf-string, file, lf-file or hdr with their value)", r.Action, a[0])
		}
		a = a[2:]
	}
	if len(r.Body) > 0 && r.ContentType == "" {
		return fmt.Errorf("'%s' with a body needs 'content-type'", r.Action)
	}
	if len(r.Body) > 0 && (r.Status == 204 || r.Status == 304) {
		return fmt.Errorf("no body expected for %d responses", r.Status)
	}
	if r.Action != "return" && !r.OwnAnswer && !errorFileStatuses[r.Status] {
		// As haproxy: a deny without its own answer sends the status's
		// error page, which only these statuses have.
		return fmt.Errorf("'%s': status %d has no error page (supported: %s)", r.Action, r.Status, errorStatusList)
	}
	return nil
}

// finalActions are the rule actions after which a list's other rules do
// not run.
var finalActions = map[string]bool{
	"allow": true, "deny": true, "tarpit": true, "return": true, "redirect": true, "reject": true,
	"auth": true, "silent-drop": true, "use-service": true,
}

// warnAfterFinal warns, as haproxy does, about a rule that follows an
// unconditional final one (allow, deny, return...) of the same kind in
// the section: it can never run.
func (p *parser) warnAfterFinal(kind string, rules []HTTPRule) {
	if len(rules) == 0 {
		return
	}
	if last := rules[len(rules)-1]; finalActions[last.Action] && last.Cond == nil {
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: previous '%s' action is final and has no condition attached, further entries are NOOP", p.pos, kind))
	}
}

// splitCond separates a trailing "if COND" or "unless COND" from a rule's
// words and compiles it against the ACLs declared so far in px.
func splitCond(px *Proxy, a []string) (*acl.Cond, []string, error) {
	before, cond, err := acl.SplitCond(a, &px.ACLs)
	return cond, before, err
}

// parseHTTPRule reads an http-request (req) or http-response rule.
func parseHTTPRule(pos Pos, dir string, px *Proxy, a []string, req bool) (HTTPRule, error) {
	if len(a) == 0 {
		return HTTPRule{}, errors.New("expects an action")
	}
	r := HTTPRule{Pos: pos, Action: a[0]}
	for _, verb := range []string{"set-var", "set-var-fmt", "unset-var"} {
		if v, ok := strings.CutPrefix(a[0], verb+"("); ok {
			name, closed := strings.CutSuffix(v, ")")
			if !closed {
				return r, fmt.Errorf("'%s': missing closing parenthesis", a[0])
			}
			if _, _, err := acl.ParseVarName(name); err != nil {
				return r, fmt.Errorf("'%s': %w", verb, err)
			}
			r.Action, r.Name = verb, name
		}
	}
	for _, verb := range []string{"set-map", "del-map", "add-acl", "del-acl"} {
		if v, ok := strings.CutPrefix(a[0], verb+"("); ok {
			name, closed := strings.CutSuffix(v, ")")
			if !closed || name == "" {
				return r, fmt.Errorf("'%s': expects %s(<file name>)", a[0], verb)
			}
			r.Action, r.Name = verb, name
		}
	}
	// Stick counters: both directions (http-after-response refuses
	// them, as haproxy 2.6 does).
	if err := parseStickAction(&r); err != nil {
		return r, err
	}
	a0, condWord := a[0], ""
	for _, w := range a[1:] {
		if w == "if" || w == "unless" {
			condWord = w
			break
		}
	}
	cond, a, err := splitCond(px, a[1:])
	if err != nil {
		return r, err
	}
	r.Cond = cond
	if req && isDoResolve(a0) {
		r.Action = "do-resolve"
		r.Name, r.Resolve, r.Value, err = parseDoResolve(px.ACLs.Refs, "http-request", a0, a)
		return r, err
	}
	if name, ok := strings.CutPrefix(r.Action, "lua."); ok {
		// Checked against the scripts' actions by the caller.
		r.Action, r.Name, r.Args = "lua", name, a
		return r, nil
	}
	need := func(n int, usage string) error {
		if len(a) != n {
			return fmt.Errorf("'%s' expects %s", r.Action, usage)
		}
		return nil
	}
	switch r.Action {
	case "set-header", "add-header":
		if err := need(2, "<name> <fmt>"); err != nil {
			return r, err
		}
		r.Name, r.Value = a[0], a[1]
	case "del-header":
		if err := need(1, "<name>"); err != nil {
			return r, err
		}
		r.Name = a[0]
	case "set-var", "set-var-fmt":
		if err := need(1, "a sample expression"); err != nil {
			return r, err
		}
		if r.Action == "set-var" {
			if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
				return r, fmt.Errorf("'set-var(%s)': %w", r.Name, err)
			}
		}
		r.Value = a[0]
		return r, nil
	case "unset-var":
		if err := need(0, "no argument"); err != nil {
			return r, err
		}
		return r, nil
	case "set-map":
		if err := need(2, "<key fmt> <value fmt>"); err != nil {
			return r, err
		}
		r.Value, r.MapValue = a[0], a[1]
		return r, nil
	case "del-map", "add-acl", "del-acl":
		if err := need(1, "<key fmt>"); err != nil {
			return r, err
		}
		r.Value = a[0]
		return r, nil
	case "replace-header", "replace-value":
		if err := need(3, "<name> <match-regex> <replace-fmt>"); err != nil {
			return r, err
		}
		if r.Regex, err = compileRegex(a[1]); err != nil {
			return r, err
		}
		r.Name, r.Value = a[0], a[2]
		return r, nil
	case "replace-path", "replace-uri", "replace-pathq":
		if !req {
			break
		}
		if err := need(2, "<match-regex> <replace-fmt>"); err != nil {
			return r, err
		}
		if r.Regex, err = compileRegex(a[0]); err != nil {
			return r, err
		}
		r.Value = a[1]
		return r, nil
	case "set-src", "set-dst", "set-src-port", "set-dst-port", "set-priority-class", "set-priority-offset":
		if !req {
			break
		}
		if err := need(1, "<expr>"); err != nil {
			return r, err
		}
		if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
			return r, fmt.Errorf("'%s': %w", r.Action, err)
		}
		r.Value = a[0]
		return r, nil
	case "wait-for-handshake":
		// A request arrives in TLS early data only if the server side
		// accepts 0-RTT, which Go's TLS does not: every request comes
		// after the handshake, and the wait is already over.
		if !req {
			break
		}
		if len(a) != 0 {
			return r, fmt.Errorf("'wait-for-handshake' takes no argument, not '%s'", strings.Join(a, " "))
		}
		return r, nil
	case "set-mark", "set-tos":
		n, err := parseMarkTOS(r.Action, a)
		if err != nil {
			return r, err
		}
		r.Status = int(n)
		return r, nil
	case "set-nice":
		var err error
		r.Status, err = parseNice(a)
		return r, err
	case "strict-mode":
		// lb's rewrites do not fail (a buffer does not run out of
		// room), so strict mode changes nothing; it is read and checked.
		if len(a) != 1 || a[0] != "on" && a[0] != "off" {
			return r, errors.New("'strict-mode' expects 'on' or 'off'")
		}
		r.Value = a[0]
		return r, nil
	case "set-uri", "set-query", "set-method", "set-pathq":
		if !req {
			break
		}
		if err := need(1, "<fmt>"); err != nil {
			return r, err
		}
		r.Value = a[0]
		return r, nil
	case "set-status":
		if req {
			break
		}
		if len(a) != 1 && (len(a) != 3 || a[1] != "reason") {
			return r, errors.New("'set-status' expects <status> [reason <str>]")
		}
		n, err := parseInt(a[0], 100, 999)
		if err != nil {
			return r, fmt.Errorf("'set-status': %w", err)
		}
		r.Status = n
		if len(a) == 3 {
			r.Reason = a[2]
		}
		return r, nil
	case "set-path":
		if !req {
			break
		}
		if err := need(1, "<fmt>"); err != nil {
			return r, err
		}
		r.Value = a[0]
	case "deny", "tarpit":
		if !req && r.Action == "tarpit" {
			break
		}
		// As in haproxy: 403 for a request, 502 for a response, 500 for
		// tarpit.
		r.Status = 403
		switch {
		case r.Action == "tarpit":
			r.Status = 500
		case !req:
			r.Status = 502
		}
		return r, parseAnswerOptions(&r, dir, a)
	case "capture":
		return parseCaptureRule(r, px, a, req)
	case "track-sc":
		if len(a) == 0 {
			return r, fmt.Errorf("'track-sc%d' expects a key expression", r.Slot)
		}
		if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
			return r, fmt.Errorf("'track-sc%d' key: %w", r.Slot, err)
		}
		r.Value = a[0]
		switch {
		case len(a) == 1:
		case len(a) == 3 && a[1] == "table":
			r.Table = a[2]
		default:
			return r, fmt.Errorf("'track-sc%d': unexpected '%s' after the key (expected 'table <name>')", r.Slot, strings.Join(a[1:], " "))
		}
		return r, nil
	case "sc-inc-gpc0", "sc-inc-gpc1":
		if len(a) != 0 {
			return r, fmt.Errorf("'%s(%d)' takes no argument, not '%s'", r.Action, r.Slot, strings.Join(a, " "))
		}
		return r, nil
	case "sc-inc-gpc":
		if len(a) != 0 {
			return r, fmt.Errorf("'%s' expects either 'if' or 'unless' followed by a condition but found '%s'", a0, a[0])
		}
		return r, nil
	case "sc-set-gpt":
		// No value sets 0, as haproxy reads an empty word as the
		// integer 0; a condition right after the action is read as
		// the value, as haproxy reads it.
		if len(a) == 0 {
			if cond != nil {
				return r, fmt.Errorf("'%s': unknown fetch method '%s'", a0, condWord)
			}
			a = []string{"0"}
		}
		if len(a) != 1 {
			return r, fmt.Errorf("'%s' expects either 'if' or 'unless' followed by a condition but found '%s'", a0, a[1])
		}
		if _, err := strconv.ParseInt(a[0], 10, 64); err != nil {
			if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
				return r, fmt.Errorf("'%s': %w", a0, err)
			}
		}
		r.Value = a[0]
		return r, nil
	case "sc-set-gpt0":
		if err := need(1, "an integer or a sample expression"); err != nil {
			return r, err
		}
		if _, err := strconv.ParseInt(a[0], 10, 64); err != nil {
			if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
				return r, fmt.Errorf("'sc-set-gpt0(%d)': %w", r.Slot, err)
			}
		}
		r.Value = a[0]
		return r, nil
	case "set-timeout":
		if !req {
			return r, fmt.Errorf("%w: 'set-timeout' is an 'http-request' action", ErrUnknownKeyword)
		}
		return parseSetTimeout(r, px, a)
	case "allow":
		// The rest of this section's rules of the same kind are skipped.
		if len(a) != 0 {
			return r, fmt.Errorf("'allow' takes no argument, not '%s'", strings.Join(a, " "))
		}
		return r, nil
	case "reject", "disable-l7-retry":
		if !req {
			break
		}
		if len(a) != 0 {
			return r, fmt.Errorf("'%s' takes no argument, not '%s'", r.Action, strings.Join(a, " "))
		}
		return r, nil
	case "silent-drop":
		// In http-request and http-response rules (not
		// http-after-response, refused below, as in haproxy 2.6).
		switch {
		case len(a) == 0:
		case len(a) == 2 && a[0] == "rst-ttl":
			n, err := parseInt(a[1], 1, 255)
			if err != nil {
				return r, fmt.Errorf("'silent-drop' rst-ttl: %w", err)
			}
			r.Status = n
		default:
			return r, fmt.Errorf("'silent-drop': unexpected '%s' (expects 'rst-ttl <ttl>')", strings.Join(a, " "))
		}
		return r, nil
	case "auth":
		if !req {
			break
		}
		r.Status = 401
		switch {
		case len(a) == 0:
		case len(a) == 2 && a[0] == "realm":
			r.Value = a[1]
		default:
			return r, fmt.Errorf("'auth': unexpected '%s' (expects 'realm <realm>')", strings.Join(a, " "))
		}
		return r, nil
	case "return":
		r.Status = 200
		return r, parseAnswerOptions(&r, dir, a)
	case "use-service":
		if !req {
			break
		}
		return parseUseService(r, a)
	case "send-spoe-group":
		if len(a) != 2 {
			return r, errors.New("'send-spoe-group' expects 2 arguments: <engine-id> <group-id>")
		}
		r.Name, r.Value = a[0], a[1]
		return r, nil
	case "wait-for-body":
		if (len(a) != 2 && len(a) != 4) || a[0] != "time" || len(a) == 4 && a[2] != "at-least" {
			return r, errors.New("'wait-for-body' expects 'time <time> [at-least <bytes>]'")
		}
		d, err := ParseTime(a[1])
		if err != nil || d <= 0 {
			return r, fmt.Errorf("'wait-for-body': bad time '%s'", a[1])
		}
		r.Timeout = d
		if len(a) == 4 {
			n, err := ParseSize(a[3])
			if err != nil {
				return r, fmt.Errorf("'wait-for-body': bad size '%s': %w", a[3], err)
			}
			r.Status = n
		}
		return r, nil
	case "set-log-level":
		r.LogLevel, err = parseSetLogLevel(a)
		return r, err
	case "early-hint":
		if !req {
			break
		}
		if err := need(2, "<name> <fmt>"); err != nil {
			return r, err
		}
		r.Name, r.Value = a[0], a[1]
		return r, nil
	case "cache-use", "cache-store":
		if req != (r.Action == "cache-use") {
			break
		}
		return parseCacheRule(px, r, a)
	case "redirect":
		// As in HAProxy, the type and the options come in any order;
		// a later type replaces an earlier one.
		r.Status = 302
		for len(a) > 0 {
			switch {
			case a[0] == "location" || a[0] == "prefix" || a[0] == "scheme":
				if len(a) < 2 {
					return r, fmt.Errorf("'redirect': missing argument for '%s'", a[0])
				}
				r.RedirectType, r.Value, a = a[0], a[1], a[2:]
			case a[0] == "code" && len(a) >= 2:
				n, err := strconv.Atoi(a[1])
				if err != nil || (n < 301 || n > 303) && n != 307 && n != 308 {
					return r, fmt.Errorf("'redirect' code '%s' (expects 301, 302, 303, 307 or 308)", a[1])
				}
				r.Status, a = n, a[2:]
			case a[0] == "drop-query":
				r.Redirect.DropQuery, a = true, a[1:]
			case a[0] == "append-slash":
				r.Redirect.AppendSlash, a = true, a[1:]
			case a[0] == "ignore-empty":
				r.Redirect.IgnoreEmpty, a = true, a[1:]
			case (a[0] == "set-cookie" || a[0] == "clear-cookie") && len(a) >= 2:
				// As haproxy writes them: a cookie for the whole site,
				// or one that expires at once.
				r.Redirect.Cookie = a[1] + "; path=/;"
				if a[0] == "clear-cookie" {
					r.Redirect.Cookie = a[1] + "; path=/; Max-Age=0;"
				}
				a = a[2:]
			default:
				return r, fmt.Errorf("'redirect': unknown option '%s' (expects location, prefix, scheme, code, drop-query, append-slash, ignore-empty, set-cookie or clear-cookie)", a[0])
			}
		}
		if r.RedirectType == "" {
			return r, errors.New("'redirect' expects a redirection type ('location|prefix|scheme <value>')")
		}
		return r, nil
	default:
		return r, fmt.Errorf("%w: action '%s'", ErrUnsupported, r.Action)
	}
	if r.Name == "" && r.Value == "" {
		side := "http-response"
		if req {
			side = "http-request"
		}
		return r, fmt.Errorf("%w: '%s %s'", ErrUnsupported, side, r.Action)
	}
	return r, nil
}

// parseStickAction reads the stick counter of the http-request actions
// that name one: track-sc0/1/2, and sc-inc-gpc0, sc-inc-gpc1 and
// sc-set-gpt0 followed by "(N)" (slot 0 without it, as in HAProxy). The
// action becomes "track-sc" or the bare verb, with r.Slot the counter.
func parseStickAction(r *HTTPRule) error {
	if n, ok := strings.CutPrefix(r.Action, "track-sc"); ok {
		slot, err := acl.ParseSlot(n)
		if err != nil {
			return fmt.Errorf("action '%s': %w", r.Action, err)
		}
		r.Action, r.Slot = "track-sc", slot
		return nil
	}
	for _, verb := range []string{"sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0"} {
		rest, ok := strings.CutPrefix(r.Action, verb)
		if !ok {
			continue
		}
		slot := 0
		if rest != "" {
			n, closed := strings.CutSuffix(strings.TrimPrefix(rest, "("), ")")
			if !strings.HasPrefix(rest, "(") || !closed {
				return fmt.Errorf("action '%s': expects %s(<stick counter>)", r.Action, verb)
			}
			var err error
			if slot, err = acl.ParseSlot(n); err != nil {
				return fmt.Errorf("action '%s': %w", r.Action, err)
			}
		}
		r.Action, r.Slot = verb, slot
		return nil
	}
	return parseArrayStickAction(r)
}

// parseArrayStickAction reads sc-inc-gpc(IDX,SC) and sc-set-gpt(IDX,SC):
// the array element and the stick counter, read as haproxy reads them
// (an empty number is 0, text after the parenthesis is ignored), with
// haproxy's messages. A negative stick counter, which haproxy takes and
// then reads out of bounds, is refused.
func parseArrayStickAction(r *HTTPRule) error {
	for _, verb := range [...]string{"sc-inc-gpc", "sc-set-gpt"} {
		rest, ok := strings.CutPrefix(r.Action, verb)
		if !ok {
			continue
		}
		what := verb[len(verb)-3:]
		usage := fmt.Sprintf("Expects %s(<%s ID>,<Track ID>)", verb, strings.ToUpper(what))
		if !strings.HasPrefix(rest, "(") {
			return fmt.Errorf("invalid %s ID '%s'. %s", what, r.Action, usage)
		}
		idxText, after, comma := strings.Cut(rest[1:], ",")
		idx, err := cInt(idxText)
		if !comma || err != nil {
			//lint:ignore ST1005 haproxy's words
			return fmt.Errorf("Missing %s ID '%s'. %s", what, r.Action, usage)
		}
		slotText, _, closed := strings.Cut(after, ")")
		slot, err := cInt(slotText)
		if !closed || err != nil {
			return fmt.Errorf("invalid stick table track ID '%s'. %s", r.Action, usage)
		}
		if slot >= acl.Slots {
			return fmt.Errorf("invalid stick table track ID '%s'. The max allowed ID is %d", r.Action, acl.Slots-1)
		}
		if slot < 0 {
			return fmt.Errorf("invalid stick table track ID '%s': a stick counter is 0 to %d", r.Action, acl.Slots-1)
		}
		r.Action, r.Slot, r.Index = verb, int(slot), idx
		return nil
	}
	return nil
}

// cInt reads a number as C's strtol does when the whole text must be
// one: an optional sign and digits, nothing being 0.
func cInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// validateHTTP checks what HTTP mode needs from the whole configuration:
// use_backend targets exist and a proxy only hands HTTP traffic to HTTP
// backends, as HAProxy refuses to mix modes.
func (p *parser) validateHTTP() {
	for _, px := range p.cfg.Proxies {
		// A frontend that switches its connections to HTTP runs them.
		switches := px.Mode != "http" && px.switchesMode()
		if switches && px.Kind == KindListen {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: Proxy '%s' : 'switch-mode http' configured for a tcp proxy with no backend. Incoming connections upgraded to HTTP cannot be routed to TCP servers", px.Pos, px.Name))
		}
		if px.Mode != "http" && !px.Disabled && !(switches && px.Kind.IsFrontend()) {
			// HAProxy's words, one line per kind of rule.
			for _, k := range [...]struct {
				name string
				n    int
			}{{"http-request", len(px.HTTP.RequestRules)}, {"http-response", len(px.HTTP.ResponseRules)}, {"redirect", len(px.HTTP.Redirects)}, {"http-after-response", len(px.HTTP.AfterResponseRules)}} {
				if k.n > 0 {
					p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("'%s' rules ignored for %s '%s' as they require HTTP mode.", k.name, proxyWord(px), px.Name))
				}
			}
		}
		if px.Mode != "http" && px.HTTP.Stats != nil {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("'stats' statement ignored for %s '%s' as it requires HTTP mode.", proxyWord(px), px.Name))
		}
		if !px.Kind.IsFrontend() {
			continue
		}
		if px.Mode != "http" && px.HTTP.Log {
			// As HAProxy, httplog (clf too) falls back to tcplog.
			opt := "httplog"
			if px.HTTP.LogTLS {
				opt = "httpslog"
			}
			// A log-format set after the option replaces it: nothing falls back.
			if len(px.LogFormat) == 0 || px.LogFormatPos == (Pos{}) {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'option %s' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.", px.HTTP.LogPos, opt, proxyWord(px), px.Name))
			}
			px.HTTP.Log, px.HTTP.LogTLS, px.Options.TCPLog = false, false, true
			if px.LogFormatPos == (Pos{}) {
				px.LogFormat = nil
			}
		}
		if px.Mode != "http" {
			for _, it := range px.LogFormat {
				if it.HTTPOnly() {
					p.pos = px.LogFormatPos
					p.errorf("log-format", ErrBadValue, "%s '%s': format variable '%s' is reserved for HTTP mode", px.Kind, px.Name, it.Var)
					break
				}
			}
		}
		check := func(name string, pos Pos, kw string) {
			be := p.cfg.Proxy(name, KindBackend)
			p.pos = pos
			if be == nil {
				p.errorf(kw, ErrReference, "%s '%s': unable to find required %s '%s'", px.Kind, px.Name, kw, name)
				return
			}
			// A TCP frontend may hand a stream to an HTTP backend, which
			// upgrades it to HTTP, as in HAProxy; not the other way.
			if be.Mode != px.Mode && px.Mode != "tcp" {
				p.errorf(kw, ErrReference, "%s '%s' (mode %s) cannot use backend '%s' (mode %s)", px.Kind, px.Name, px.Mode, be.Name, be.Mode)
			}
		}
		for _, u := range px.HTTP.UseBackends {
			if u.Dynamic() {
				// A name made of samples is looked up per request; one that
				// names no backend leaves the default one, as in HAProxy.
				continue
			}
			check(u.Backend, u.Pos, "use_backend")
		}
		if px.DefaultBackend != "" && p.cfg.Proxy(px.DefaultBackend, KindBackend) != nil {
			check(px.DefaultBackend, px.DefaultBackendPos, "default_backend")
		}
	}
}

// parseHTTPExpect reads "http-check expect [!] status|rstatus|string|rstring
// <pattern>".
func parseHTTPExpect(a []string) (HTTPExpect, error) {
	var e HTTPExpect
	// "!" and "comment <msg>" may come before the match, and the comment
	// after its pattern too, as HAProxy reads them.
	for len(a) > 0 && (a[0] == "!" || a[0] == "comment") {
		if a[0] == "!" {
			e.Inverse, a = true, a[1:]
			continue
		}
		if len(a) < 2 {
			return e, errors.New("'http-check expect comment' expects a message")
		}
		e.Comment, a = a[1], a[2:]
	}
	if len(a) == 0 {
		return e, errors.New("'http-check expect' expects [!] status|rstatus|string|rstring <pattern>")
	}
	switch a[0] {
	case "status", "rstatus", "string", "rstring":
	case "hdr", "fhdr":
		e.Kind = a[0]
		return e, parseHTTPExpectHdr(&e, a[1:])
	case "string-lf", "status-lf", "custom", "min-recv", "ok-status",
		"error-status", "tout-status", "on-success", "on-error", "status-code":
		return e, fmt.Errorf("%w: 'http-check expect %s'", ErrUnsupported, a[0])
	default:
		return e, fmt.Errorf("'http-check expect': unknown match '%s' (expects status, rstatus, string or rstring)", a[0])
	}
	if len(a) < 2 {
		return e, fmt.Errorf("'http-check expect %s' expects one pattern", a[0])
	}
	for rest := a[2:]; len(rest) > 0; {
		n, err := expectOption(&e, rest)
		if err != nil {
			return e, err
		}
		if n == 0 {
			return e, fmt.Errorf("'http-check expect %s' expects one pattern", a[0])
		}
		rest = rest[n:]
	}
	e.Kind = a[0]
	switch e.Kind {
	case "status":
		for _, part := range strings.Split(a[1], ",") {
			lo, hi, ok := strings.Cut(part, "-")
			if !ok {
				hi = lo
			}
			l, err := parseInt(lo, 100, 999)
			if err != nil {
				return e, fmt.Errorf("status: %w", err)
			}
			h, err := parseInt(hi, l, 999)
			if err != nil {
				return e, fmt.Errorf("status: %w", err)
			}
			e.Statuses = append(e.Statuses, [2]int{l, h})
		}
	case "string":
		if a[1] == "" {
			return e, errors.New("'http-check expect string' expects a non-empty string")
		}
		e.String = a[1]
	default:
		re, err := regexp.Compile(a[1])
		if err != nil {
			return e, fmt.Errorf("'http-check expect %s': bad regular expression '%s': %w", e.Kind, a[1], err)
		}
		e.Regexp = re
	}
	return e, nil
}

// expectOption reads one option after an expect rule's pattern and
// returns the words it used, 0 for a word that is no option: comment,
// on-success and on-error (plain text; a log-format one, with '%', is
// refused by name), ok-status, error-status and tout-status.
func expectOption(e *HTTPExpect, a []string) (int, error) {
	statuses := map[string][]string{
		"ok-status":    {"L7OK", "L7OKC", "L6OK", "L4OK"},
		"error-status": {"L7RSP", "L7STS", "L7OKC", "L6RSP", "L4CON"},
		"tout-status":  {"L7TOUT", "L6TOUT", "L4TOUT"},
	}
	switch a[0] {
	case "comment", "on-success", "on-error", "ok-status", "error-status", "tout-status":
	case "status-code":
		return 0, fmt.Errorf("%w: 'http-check expect' option 'status-code'", ErrUnsupported)
	default:
		return 0, nil
	}
	if len(a) < 2 {
		return 0, fmt.Errorf("'http-check expect' option '%s' expects an argument", a[0])
	}
	v := a[1]
	switch a[0] {
	case "comment":
		e.Comment = v
	case "on-success", "on-error":
		if strings.Contains(v, "%") {
			return 0, fmt.Errorf("%w: 'http-check expect %s' with a log-format ('%s')", ErrUnsupported, a[0], v)
		}
		if a[0] == "on-success" {
			e.OnSuccess = v
		} else {
			e.OnError = v
		}
	default:
		if !slices.Contains(statuses[a[0]], v) {
			return 0, fmt.Errorf("'http-check expect' option '%s': unknown status '%s' (expects %s)", a[0], v, strings.Join(statuses[a[0]], ", "))
		}
		switch a[0] {
		case "ok-status":
			e.OKStatus = v
		case "error-status":
			e.ErrorStatus = v
		default:
			e.ToutStatus = v
		}
	}
	return 2, nil
}

// parseHTTPExpectHdr reads the rest of "http-check expect hdr|fhdr name
// [-m METH] NAME [value [-m METH] VALUE] [comment MSG]". The patterns are
// taken as plain text: a log-format one (with '%') is refused by name.
func parseHTTPExpectHdr(e *HTTPExpect, a []string) error {
	kw := "'http-check expect " + e.Kind + "'"
	pattern := func(what string) (HdrMatch, error) {
		m := HdrMatch{Method: "str"}
		a = a[1:]
		if len(a) >= 2 && a[0] == "-m" {
			switch a[1] {
			case "str", "beg", "end", "sub", "reg":
				m.Method = a[1]
			default:
				return m, fmt.Errorf("%s: unknown matching method '%s' for the header %s (expects str, beg, end, sub or reg)", kw, a[1], what)
			}
			a = a[2:]
		}
		if len(a) == 0 || a[0] == "" {
			return m, fmt.Errorf("%s: the header %s expects a pattern", kw, what)
		}
		if strings.Contains(a[0], "%") {
			return m, fmt.Errorf("%w: %s: a log-format header %s '%s'", ErrUnsupported, kw, what, a[0])
		}
		m.Pattern, a = a[0], a[1:]
		if what == "name" && m.Method != "reg" {
			m.Pattern = strings.ToLower(m.Pattern) // names match without regard to case
		}
		if m.Method == "reg" {
			re, err := regexp.Compile(m.Pattern)
			if err != nil {
				return m, fmt.Errorf("%s: bad regular expression '%s': %w", kw, m.Pattern, err)
			}
			m.Regexp = re
		}
		return m, nil
	}
	if len(a) == 0 || a[0] != "name" {
		return fmt.Errorf("%s expects 'name' and a pattern first", kw)
	}
	var err error
	if e.Name, err = pattern("name"); err != nil {
		return err
	}
	for len(a) > 0 {
		switch {
		case a[0] == "value" && e.Value == nil:
			v, err := pattern("value")
			if err != nil {
				return err
			}
			e.Value = &v
		default:
			n, err := expectOption(e, a)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%s: unexpected '%s' (expects 'value' or 'comment')", kw, a[0])
			}
			a = a[n:]
		}
	}
	return nil
}

// parseHTTPCheckSend reads "http-check send [meth M] [uri U] [ver V]
// [hdr NAME VALUE]... [body STRING]".
func parseHTTPCheckSend(c *HTTPCheck, a []string) error {
	for len(a) > 0 {
		opt := a[0]
		switch opt {
		case "meth", "uri", "ver", "body":
			if len(a) < 2 {
				return fmt.Errorf("'http-check send %s' expects a value", opt)
			}
			switch opt {
			case "meth":
				c.Method = a[1]
			case "uri":
				if !strings.HasPrefix(a[1], "/") && a[1] != "*" {
					return fmt.Errorf("URI '%s' must start with '/'", a[1])
				}
				c.URI = a[1]
			case "ver":
				// Any word, as in HAProxy; the check puts it on the
				// wire as HAProxy does (checkVersion).
				c.Version = a[1]
			case "body":
				c.Body = a[1]
			}
			a = a[2:]
		case "hdr":
			if len(a) < 3 {
				return errors.New("'http-check send hdr' expects a name and a value")
			}
			if strings.EqualFold(a[1], "host") {
				c.Host, c.HostAt = a[2], len(c.Headers)
			} else {
				c.Headers = appendOwn(c.Headers, [2]string{a[1], a[2]})
			}
			a = a[3:]
		case "uri-lf", "body-lf", "comment":
			return fmt.Errorf("%w: 'http-check send %s'", ErrUnsupported, opt)
		default:
			return fmt.Errorf("'http-check send': unknown option '%s' (expects meth, uri, ver, hdr or body)", opt)
		}
	}
	return nil
}

// randomDraws reads the draws of "random" or "random(N)", as HAProxy reads
// them: 2 when absent or empty, a C integer (decimal, 0x hex or 0 octal),
// at least 1.
func randomDraws(word string) (int, error) {
	arg, ok := strings.CutPrefix(word, "random(")
	if !ok || arg == ")" {
		return 2, nil
	}
	end := strings.IndexByte(arg, ')')
	num := arg
	if end >= 0 {
		num = arg[:end]
	}
	n, err := strconv.ParseInt(num, 0, 32)
	if err != nil {
		for i, c := range num {
			if (c < '0' || c > '9') && !(i == 0 && (c == '-' || c == '+')) {
				return 0, fmt.Errorf("random : unexpected character '%c' after argument", c)
			}
		}
		return 0, fmt.Errorf("random : '%s' is not a number of draws", num)
	}
	switch {
	case end < 0:
		return 0, errors.New("random : missing closing parenthesis")
	case end != len(arg)-1:
		return 0, fmt.Errorf("random : unexpected character '%c' after argument", arg[end+1])
	case n < 1:
		return 0, errors.New("random : number of draws must be at least 1")
	}
	return int(n), nil
}

// rdpCookieName reads what follows "rdp-cookie": nothing (the default
// name def) or "(NAME)" with a name.
func rdpCookieName(rest, def string) (string, error) {
	if rest == "" {
		return def, nil
	}
	name, ok := strings.CutPrefix(rest, "(")
	if ok {
		name, _, ok = strings.Cut(name, ")")
	}
	if !ok || name == "" {
		return "", errors.New("missing cookie name")
	}
	return name, nil
}

// compileRegex compiles a rule's regular expression (RE2 syntax, which
// covers what configurations write; PCRE's back-references and
// look-arounds are refused with the position RE2 gives).
func compileRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regex '%s': %w", expr, err)
	}
	return re, nil
}

// parseNet reads an address or an address/mask (bits or a dotted mask)
// as the network it names.
func parseNet(v string) (netip.Prefix, error) {
	addr, mask, hasMask := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("'%s' is not an address", v)
	}
	bits := a.BitLen()
	if hasMask {
		if m, err := netip.ParseAddr(mask); err == nil && m.Is4() && a.Is4() {
			b := m.As4()
			n := binary.BigEndian.Uint32(b[:])
			bits = 32 - mbits.TrailingZeros32(n)
			if n != ^uint32(0)<<uint(32-bits) {
				return netip.Prefix{}, fmt.Errorf("'%s' is not a contiguous mask", mask)
			}
		} else if bits, err = strconv.Atoi(mask); err != nil || bits < 0 || bits > a.BitLen() {
			return netip.Prefix{}, fmt.Errorf("bad mask '%s'", mask)
		}
	}
	return a.Prefix(bits)
}

// errorStatusList is what an errorfile's status may be.
const errorStatusList = "200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504"

// readErrorFile reads "errorfile <code> <file>" (a proxy's, or an
// http-errors section's): a whole HTTP/1 response sent in place of the
// built-in one for that status.
func readErrorFile(pos Pos, base string, a []string) (ErrorFile, error) {
	if len(a) != 2 {
		return ErrorFile{}, errors.New("expects 'errorfile <code> <file>'")
	}
	code, err := strconv.Atoi(a[0])
	if err != nil || !errorFileStatuses[code] {
		return ErrorFile{}, fmt.Errorf("status code '%s' cannot be overridden (supported: %s)", a[0], errorStatusList)
	}
	data, err := os.ReadFile(inDir(base, a[1]))
	if err != nil {
		return ErrorFile{}, fmt.Errorf("error reading file '%s': %w", a[1], err)
	}
	// An empty file is haproxy's way to answer nothing: the connection
	// is closed instead ("errorfile 503 /dev/null").
	if len(data) > 0 && (!bytes.HasPrefix(data, []byte("HTTP/1.")) || !bytes.Contains(data, []byte("\n\n")) && !bytes.Contains(data, []byte("\r\n\r\n"))) {
		return ErrorFile{}, fmt.Errorf("file '%s' is not a whole HTTP/1 response (status line, fields, empty line)", a[1])
	}
	return ErrorFile{Pos: pos, Status: code, Path: a[1], Data: data}, nil
}

// parseSetLogLevel reads set-log-level's argument: the level plus one,
// or -1 for silent.
func parseSetLogLevel(a []string) (int, error) {
	if len(a) != 1 {
		return 0, errors.New("'set-log-level' expects exactly 1 argument (log level name or 'silent')")
	}
	if a[0] == "silent" {
		return -1, nil
	}
	l, ok := levels[a[0]]
	if !ok {
		return 0, fmt.Errorf("'set-log-level': unknown level '%s' (expects emerg, alert, crit, err, warning, notice, info, debug or silent)", a[0])
	}
	return l + 1, nil
}

// parseMarkTOS reads the value of set-mark and set-tos as haproxy reads
// it (C's strtoul in any base: 0x for hex, a leading 0 for octal), cut to
// the 32 bits the socket option takes: a mark for SO_MARK, a TOS byte
// (the system keeps its low 8 bits).
func parseMarkTOS(action string, a []string) (int64, error) {
	if len(a) != 1 {
		return 0, fmt.Errorf("'%s' expects exactly 1 argument (integer/hex value)", action)
	}
	n, rest := strtoul(a[0])
	if rest != "" {
		return 0, fmt.Errorf("'%s': invalid character starting at '%s' (integer/hex value expected)", action, rest)
	}
	if action == "set-mark" {
		return int64(uint32(n)), nil
	}
	return int64(int32(n)), nil
}

// strtoul is C's strtoul with base 0 on s: the value of the longest
// prefix that reads as a number (after blanks and a sign; a minus
// negates modulo 2^64; too large a value gives the maximum) and what
// follows it; all of s when no digit starts it.
func strtoul(s string) (uint64, string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexDigit(s[i+2]) >= 0:
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	start, n, over := i, uint64(0), false
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		if n > (^uint64(0)-uint64(d))/base {
			over = true
		}
		n = n*base + uint64(d)
	}
	if i == start {
		return 0, s
	}
	if over {
		return ^uint64(0), s[i:]
	}
	if neg {
		n = -n
	}
	return n, s[i:]
}

// hexDigit is the value of the hexadecimal digit c, -1 for another byte.
func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// proxyWord names a proxy's kind as HAProxy's warnings do: "proxy" for
// a listen section.
func proxyWord(px *Proxy) string {
	if px.Kind == KindListen {
		return "proxy"
	}
	return px.Kind.String()
}
