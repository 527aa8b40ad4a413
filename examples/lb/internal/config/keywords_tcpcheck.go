package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// Scripted health checks: "option tcp-check" with its "tcp-check" rules,
// "option redis-check", and the server options "port" and "addr" that send
// checks elsewhere than the traffic.

func init() {
	optionKeywords["tcp-check"] = checkOption("tcp-check", false)
	optionKeywords["redis-check"] = checkOption("redis-check", true)
	optionKeywords["ssl-hello-chk"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 0 {
			return errors.New("takes no argument")
		}
		if !on {
			return errors.New("negation is not supported for option 'ssl-hello-chk', as in HAProxy")
		}
		px.TCPCheck = &TCPCheck{SSLHello: true}
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["smtpchk"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 2 {
			return errors.New("takes at most 'EHLO|HELO <domain>'")
		}
		if !on {
			return errors.New("negation is not supported for option 'smtpchk', as in HAProxy")
		}
		// As HAProxy: anything but EHLO or HELO with a domain sends the
		// default greeting.
		cmd := "HELO localhost"
		if len(a) == 2 && (a[0] == "EHLO" || a[0] == "HELO") {
			cmd = a[0] + " " + a[1]
		}
		px.TCPCheck = &TCPCheck{SMTP: true, SMTPCommand: cmd}
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["pgsql-check"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if !on {
			return errors.New("negation is not supported for option 'pgsql-check', as in HAProxy")
		}
		if len(a) != 2 || a[1] == "" {
			return errors.New("'option pgsql-check' expects 'user <username>' as argument")
		}
		if a[0] != "user" {
			return errors.New("'option pgsql-check' only supports optional values: 'user'")
		}
		px.TCPCheck = &TCPCheck{PgSQL: true, PgSQLUser: a[1]}
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["mysql-check"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if !on {
			return errors.New("negation is not supported for option 'mysql-check', as in HAProxy")
		}
		tc := &TCPCheck{MySQL: true}
		switch {
		case len(a) == 0:
		case a[0] != "user":
			return fmt.Errorf("'option mysql-check' only supports optional values: 'user' (got '%s')", a[0])
		case len(a) == 1 || a[1] == "":
			return errors.New("'option mysql-check user' expects <username> as argument")
		case len(a) > 3:
			return errors.New("'option mysql-check' takes at most 'user <username> [post-41|pre-41]'")
		default:
			tc.MySQLUser = a[1]
			if len(a) == 3 {
				switch a[2] {
				case "post-41":
				case "pre-41":
					tc.MySQLPre41 = true
				default:
					return fmt.Errorf("keyword 'user' only supports 'post-41' and 'pre-41' (got '%s')", a[2])
				}
			}
		}
		px.TCPCheck = tc
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["ldap-check"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 0 {
			return errors.New("takes no argument")
		}
		if !on {
			return errors.New("negation is not supported for option 'ldap-check', as in HAProxy")
		}
		px.TCPCheck = &TCPCheck{LDAP: true}
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["spop-check"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 0 {
			return errors.New("takes no argument")
		}
		if !on {
			return errors.New("negation is not supported for option 'spop-check', as in HAProxy")
		}
		px.TCPCheck = &TCPCheck{SPOP: true}
		px.HTTP.Check = nil
		return nil
	}}
	optionKeywords["external-check"] = optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 0 {
			return errors.New("takes no argument")
		}
		if !on {
			return errors.New("negation/default is not supported for option 'external-check'")
		}
		px.TCPCheck = &TCPCheck{External: true}
		px.HTTP.Check = nil
		return nil
	}}
	proxyKeywords["tcp-check"] = proxyKeyword{kBeDef, func(p *parser, px *Proxy, a []string) error {
		r, err := parseTCPCheckRule(a)
		if err != nil {
			return err
		}
		r.Pos = p.pos
		if !px.tcpCheckOwn {
			// The first rule of a section replaces its defaults' rules.
			px.TCPCheckRules, px.tcpCheckOwn = nil, true
		}
		if n := len(px.TCPCheckRules); n > 0 && r.Comment == "" && r.Action != TCPCheckComment {
			if prev := px.TCPCheckRules[n-1]; prev.Action == TCPCheckComment {
				r.Comment = prev.Comment
			}
		}
		if r.Action == TCPCheckConnect {
			if first := firstTCPCheckAction(px.TCPCheckRules); first != nil && first.Action != TCPCheckConnect {
				return fmt.Errorf("'tcp-check connect': the first step (%s) must also be a 'connect' when the rules hold one", first.Pos)
			}
		}
		px.TCPCheckRules = appendOwn(px.TCPCheckRules, r)
		return nil
	}}
	serverOptions["port"] = serverOption{1, func(s *Server, a []string) error { return oneInt(a, 1, 65535, &s.CheckPort) }}
	serverOptions["addr"] = serverOption{1, func(s *Server, a []string) error {
		v, err := envAddr(a[0])
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			// A host name, resolved with the servers' (Resolve), as
			// HAProxy resolves it at start.
			s.CheckAddr = v
			return nil
		}
		s.CheckAddr = ip.String()
		return nil
	}}
	for name, set := range map[string]func(s *Server){
		"check-ssl":           func(s *Server) { s.CheckSSL = true },
		"no-check-ssl":        func(s *Server) { s.CheckSSL = false },
		"check-send-proxy":    func(s *Server) { s.CheckSendProxy = true },
		"no-check-send-proxy": func(s *Server) { s.CheckSendProxy = false },
	} {
		serverOptions[name] = serverOption{0, func(s *Server, _ []string) error { set(s); return nil }}
	}
	serverOptions["on-marked-down"] = choice(func(s *Server) *string { return &s.OnMarkedDown }, "shutdown-sessions")
	serverOptions["on-marked-up"] = choice(func(s *Server) *string { return &s.OnMarkedUp }, "shutdown-backup-sessions")
	serverOptions["observe"] = serverOption{1, func(s *Server, a []string) error {
		switch a[0] {
		case "layer4", "layer7":
		default:
			return fmt.Errorf("unknown mode '%s' (expects layer4 or layer7)", a[0])
		}
		s.Observe = a[0]
		return nil
	}}
	serverOptions["error-limit"] = serverOption{1, func(s *Server, a []string) error { return oneInt(a, 1, 1<<20, &s.ErrorLimit) }}
	serverOptions["on-error"] = choice(func(s *Server) *string { return &s.OnError }, "fastinter", "fail-check", "sudden-death", "mark-down")
	finishers = append(finishers, (*parser).validateTCPCheck, (*parser).validateCheckSSL)
}

// checkOption is "option tcp-check" or "option redis-check": it sets the
// proxy's scripted check, in place of an HTTP check. HAProxy refuses their
// negation.
func checkOption(name string, redis bool) optionKeyword {
	return optionKeyword{kBeDef, func(px *Proxy, a []string, on bool) error {
		if len(a) > 0 {
			return errors.New("takes no argument")
		}
		if !on {
			return fmt.Errorf("negation is not supported for option '%s', as in HAProxy", name)
		}
		px.TCPCheck = &TCPCheck{Redis: redis}
		px.HTTP.Check = nil
		return nil
	}}
}

// choice is a server option taking one of the words allowed, stored
// where field says.
func choice(field func(s *Server) *string, allowed ...string) serverOption {
	return serverOption{1, func(s *Server, a []string) error {
		if !slices.Contains(allowed, a[0]) {
			return fmt.Errorf("unknown action '%s' (expects %s)", a[0], strings.Join(allowed, ", "))
		}
		*field(s) = a[0]
		return nil
	}}
}

// firstTCPCheckAction returns the first rule that is not a comment, or
// nil.
func firstTCPCheckAction(rules []TCPCheckRule) *TCPCheckRule {
	for i := range rules {
		if rules[i].Action != TCPCheckComment {
			return &rules[i]
		}
	}
	return nil
}

// parseTCPCheckRule reads the words after "tcp-check".
func parseTCPCheckRule(a []string) (TCPCheckRule, error) {
	r := TCPCheckRule{MinRecv: -1}
	if len(a) == 0 {
		return r, errors.New("expects 'connect', 'send', 'send-binary', 'expect' or 'comment'")
	}
	act, a := a[0], a[1:]
	switch act {
	case "comment":
		if len(a) != 1 {
			return r, errors.New("'comment' expects one argument")
		}
		r.Action, r.Comment = TCPCheckComment, a[0]
		return r, nil
	case "connect":
		r.Action = TCPCheckConnect
		return r, parseTCPCheckConnect(&r, a)
	case "send", "send-binary":
		r.Action = TCPCheckSend
		if len(a) == 0 {
			return r, fmt.Errorf("'%s' expects a %s", act, map[bool]string{true: "string", false: "hex string"}[act == "send"])
		}
		data := []byte(a[0])
		if act == "send-binary" {
			var err error
			if data, err = parseHexData(a[0]); err != nil {
				return r, fmt.Errorf("'send-binary': %w", err)
			}
		}
		r.Data = data
		a = a[1:]
		for len(a) > 0 {
			if a[0] != "comment" || len(a) < 2 {
				return r, fmt.Errorf("%w: '%s' option '%s' (only 'comment <msg>')", ErrUnsupported, act, a[0])
			}
			r.Comment, a = a[1], a[2:]
		}
		return r, nil
	case "expect":
		r.Action = TCPCheckExpect
		return r, parseTCPCheckExpect(&r, a)
	case "send-lf", "send-binary-lf", "set-var", "set-var-fmt", "unset-var":
		return r, fmt.Errorf("%w: 'tcp-check %s'", ErrUnsupported, act)
	}
	return r, fmt.Errorf("unknown action '%s' (expects 'connect', 'send', 'send-binary', 'expect' or 'comment')", act)
}

func parseTCPCheckConnect(r *TCPCheckRule, a []string) error {
	return parseCheckConnect(r, a, "tcp-check")
}

// parseCheckConnect reads the options of a "tcp-check connect" or, kw
// telling, an "http-check connect". proto, which chooses the protocol an
// HTTP check speaks, is refused on a tcp-check, whose rules read and
// write bytes; alpn there is only what the TLS handshake offers.
func parseCheckConnect(r *TCPCheckRule, a []string, kw string) error {
	http := kw == "http-check"
	for len(a) > 0 {
		switch a[0] {
		case "default":
			r.Default, a = true, a[1:]
			continue
		case "send-proxy", "via-socks4", "ssl", "linger":
			switch a[0] {
			case "send-proxy":
				r.SendProxy = true
			case "via-socks4":
				r.ViaSOCKS4 = true
			case "ssl":
				r.SSL = true
			case "linger":
				r.Linger = true
			}
			a = a[1:]
			continue
		case "port", "addr", "comment", "sni":
		case "alpn":
		case "proto":
			if !http {
				return fmt.Errorf("%w: '%s connect' option '%s'", ErrUnsupported, kw, a[0])
			}
		default:
			if http {
				return fmt.Errorf("'http-check connect' expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got '%s' as argument", a[0])
			}
			return fmt.Errorf("'tcp-check connect': unknown option '%s' (expects 'default', 'port', 'addr', 'send-proxy', 'via-socks4', 'ssl', 'sni', 'alpn', 'linger' or 'comment')", a[0])
		}
		if len(a) < 2 {
			return fmt.Errorf("'%s connect' option '%s' expects an argument", kw, a[0])
		}
		switch a[0] {
		case "port":
			n, err := parseInt(a[1], 1, 65535)
			if err != nil {
				if http {
					if _, aerr := strconv.Atoi(a[1]); aerr == nil {
						return fmt.Errorf("'http-check connect' expects a valid TCP port (from range 1 to 65535) or a sample expression, got %s", a[1])
					}
					return fmt.Errorf("%w: 'http-check connect' port expression '%s' (only a number)", ErrUnsupported, a[1])
				}
				return fmt.Errorf("'tcp-check connect' port: %w", err)
			}
			r.Port = n
		case "addr":
			ip, err := netip.ParseAddr(a[1])
			if err != nil {
				return fmt.Errorf("'%s connect' addr: '%s' is not an IP address", kw, a[1])
			}
			r.Addr = ip.String()
		case "comment":
			r.Comment = a[1]
		case "sni":
			r.SNI = a[1]
		case "proto":
			if err := checkProto(a[1]); err != nil {
				return fmt.Errorf("'http-check connect' proto: %w", err)
			}
			r.Proto = a[1]
		case "alpn":
			alpn, err := tls.ParseALPN(a[1])
			if err != nil {
				return fmt.Errorf("'%s connect' alpn: %w", kw, err)
			}
			r.ALPN = alpn
		}
		a = a[2:]
	}
	return nil
}

func parseTCPCheckExpect(r *TCPCheckRule, a []string) error {
	for len(a) > 0 {
		w := a[0]
		switch w {
		case "!":
			r.Inverse, a = true, a[1:]
			continue
		case "min-recv", "comment", "string", "rstring", "binary", "rbinary":
		case "ok-status", "error-status", "tout-status", "on-success", "on-error", "status-code",
			"string-lf", "binary-lf", "custom":
			return fmt.Errorf("%w: 'tcp-check expect' option '%s'", ErrUnsupported, w)
		default:
			return fmt.Errorf("'tcp-check expect': unknown option '%s' (expects [min-recv <n>] [comment <msg>] [!] string|rstring|binary|rbinary <pattern>)", w)
		}
		if len(a) < 2 {
			return fmt.Errorf("'tcp-check expect %s' expects an argument", w)
		}
		v := a[1]
		a = a[2:]
		switch w {
		case "min-recv":
			n, err := parseInt(v, -1, 1<<30)
			if err != nil {
				return fmt.Errorf("'tcp-check expect min-recv': %w", err)
			}
			r.MinRecv = n
			continue
		case "comment":
			r.Comment = v
			continue
		}
		if r.Match != 0 {
			return fmt.Errorf("'tcp-check expect': '%s' after a pattern was already given", w)
		}
		switch w {
		case "string":
			r.Match, r.Data = MatchString, []byte(v)
		case "binary":
			data, err := parseHexData(v)
			if err != nil {
				return fmt.Errorf("'tcp-check expect binary': %w", err)
			}
			r.Match, r.Data = MatchBinary, data
		case "rstring", "rbinary":
			re, err := regexp.Compile(v)
			if err != nil {
				return fmt.Errorf("'tcp-check expect %s': bad regular expression '%s': %w", w, v, err)
			}
			r.Match, r.Regexp = map[string]TCPCheckMatch{"rstring": MatchRString, "rbinary": MatchRBinary}[w], re
		}
		if len(v) == 0 && (r.Match == MatchString || r.Match == MatchBinary) {
			return fmt.Errorf("'tcp-check expect %s' expects a non-empty pattern", w)
		}
	}
	if r.Match == 0 {
		return errors.New("'tcp-check expect' expects a match: [!] string|rstring|binary|rbinary <pattern>")
	}
	return nil
}

// parseHexData decodes a hex string such as "50494e470d0a".
func parseHexData(s string) ([]byte, error) {
	if s == "" || len(s)%2 != 0 {
		return nil, fmt.Errorf("'%s': an even, non-zero number of hex digits expected", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("'%s': not a hex string", s)
	}
	return b, nil
}

// validateCheckSSL refuses check-ssl on a server without ssl (its TLS
// settings come from the server's). on-marked-down and on-marked-up are
// taken in every mode, as HAProxy takes them, but lb acts on them in
// mode tcp only: in mode http they have no effect.
func (p *parser) validateCheckSSL() {
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.CheckSSL && !s.SSL.Enabled {
				p.pos = s.Pos
				p.errorf("server", ErrUnsupported, "%s '%s': server '%s': check-ssl on a server without 'ssl' (its TLS settings come from the server's)", px.Kind, px.Name, s.Name)
			}
		}
	}
}

// validateTCPCheck warns, as HAProxy does, about rules a section declares
// and does not run. Inherited rules a section replaces with another check
// are not worth a word.
func (p *parser) validateTCPCheck() {
	for _, px := range p.cfg.Proxies {
		if !px.Kind.IsBackend() || !px.tcpCheckOwn || (px.TCPCheck != nil && !px.TCPCheck.Redis && !px.TCPCheck.SSLHello) {
			continue
		}
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s '%s' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", px.Kind, px.Name))
	}
}
