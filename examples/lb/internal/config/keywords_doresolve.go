package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// doResolveUsage is how haproxy words a do-resolve it cannot read.
const doResolveUsage = "Expects 'do-resolve(<varname>,<resolvers>[,<options>]) <expr>'. Available options are 'ipv4' and 'ipv6'"

// doResolveError is haproxy's refusal of a do-resolve it cannot read,
// what being the word it stopped at.
func doResolveError(what string) error {
	return errors.New("Can't parse '" + what + "'. " + doResolveUsage + ".")
}

// isDoResolve tells a do-resolve action's word.
func isDoResolve(word string) bool {
	return word == "do-resolve" || strings.HasPrefix(word, "do-resolve(")
}

// parseDoResolve reads "do-resolve(<var>,<resolvers>[,ipv4|ipv6])
// <expr>" (verb is the first word, args the words before the
// condition): the variable, the section, the family asked first and the
// host name's expression. As in haproxy, the variable's name is not
// checked here (one without a scope is never set) and the section is
// looked up once the configuration is read (checkDoResolve).
func parseDoResolve(rs *acl.Refs, kind, verb string, args []string) (name string, res DoResolve, expr string, err error) {
	inner, ok := strings.CutPrefix(verb, "do-resolve(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	parts := strings.Split(inner, ",")
	if !ok || len(parts) < 2 || len(parts) > 3 {
		return "", res, "", doResolveError(verb)
	}
	res = DoResolve{Resolvers: parts[1], Prefer: "ipv6"}
	if len(parts) == 3 {
		if parts[2] != "ipv4" && parts[2] != "ipv6" {
			return "", res, "", doResolveError(verb)
		}
		res.Prefer = parts[2]
	}
	if len(args) == 0 {
		return "", res, "", doResolveError("")
	}
	if len(args) > 1 {
		return "", res, "", fmt.Errorf("'%s %s' expects either 'if' or 'unless' followed by a condition but found '%s'", kind, verb, args[1])
	}
	if _, _, err := rs.CheckView().CompileFetch(args[0]); err != nil {
		return "", res, "", fmt.Errorf("'%s': %w", verb, err)
	}
	return parts[0], res, args[0], nil
}

// checkDoResolve checks that the resolvers section of each do-resolve
// action exists, as haproxy does once its configuration is read.
func (p *parser) checkDoResolve() {
	check := func(px *Proxy, pos Pos, section string) {
		if p.cfg.ResolversSection(section) == nil {
			p.pos = pos
			p.errorf("do-resolve", ErrReference, "Proxy '%s': Can't find resolvers section '%s' for do-resolve action.", px.Name, section)
		}
	}
	for _, px := range p.cfg.Proxies {
		for _, r := range px.HTTP.RequestRules {
			if r.Action == "do-resolve" {
				check(px, r.Pos, r.Resolve.Resolvers)
			}
		}
		for _, r := range px.Stick.ContentRules {
			if r.Action == "do-resolve" {
				check(px, r.Pos, r.Resolve.Resolvers)
			}
		}
	}
}

// parseSwitchMode reads "switch-mode http [proto h1|h2]" (args, the
// words after the action, before the condition) and returns the
// protocol forced, "" for the bind line's. As haproxy, only a frontend
// may switch; "proto fcgi" and "proto none", multiplexers of another
// side or mode, are refused with the proxy's name.
func parseSwitchMode(px *Proxy, args []string) (string, error) {
	if !px.Kind.IsFrontend() {
		return "", fmt.Errorf("'tcp-request switch-mode' not allowed because %s '%s' has no frontend capability", px.Kind, px.Name)
	}
	if len(args) == 0 {
		return "", errors.New("'tcp-request switch-mode' expects a mode as argument")
	}
	if args[0] != "http" {
		return "", fmt.Errorf("'tcp-request switch-mode' expects a valid mode (got '%s')", args[0])
	}
	proto := ""
	rest := args[1:]
	if len(rest) > 0 && rest[0] == "proto" {
		if len(rest) < 2 {
			return "", errors.New("'tcp-request switch-mode': 'proto' expects a protocol as argument")
		}
		switch rest[1] {
		case "h1", "h2":
		case "fcgi", "none":
			return "", fmt.Errorf("Proxy '%s': MUX protocol '%s' is not compatible with the selected mode", px.Name, rest[1])
		default:
			return "", fmt.Errorf("'tcp-request switch-mode': 'proto' expects a valid MUX protocol, if specified (got '%s')", rest[1])
		}
		proto, rest = rest[1], rest[2:]
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("'tcp-request content switch-mode' only accepts 'if' or 'unless', in %s '%s' (got '%s')", px.Kind, px.Name, rest[0])
	}
	return proto, nil
}

// switchesMode reports whether px has a "tcp-request content
// switch-mode http" rule: its HTTP rules then apply, as haproxy takes
// them.
func (px *Proxy) switchesMode() bool {
	for _, r := range px.Stick.ContentRules {
		if r.Action == "switch-mode" {
			return true
		}
	}
	return false
}
