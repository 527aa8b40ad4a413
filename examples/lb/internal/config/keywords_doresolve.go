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
func parseDoResolve(kind, verb string, args []string) (name string, res DoResolve, expr string, err error) {
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
	if _, _, err := acl.CompileFetch(args[0]); err != nil {
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
