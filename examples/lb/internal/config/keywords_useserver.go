package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// UseServer is one "use-server" rule: a connection or request whose
// condition holds goes to that server of the backend, without the
// algorithm, while the server is not down (or down under option
// persist); otherwise the next rule is tried.
type UseServer struct {
	Pos
	// Server is the server's name, or a format with %[...] samples that
	// makes it per connection or request.
	Server string
	Cond   *acl.Cond
}

// Dynamic reports whether the name is made per connection or request.
func (u UseServer) Dynamic() bool { return strings.Contains(u.Server, "%[") }

func init() {
	proxyKeywords["use-server"] = proxyKeyword{KindFrontend | KindBackend, parseUseServer}
	finishers = append(finishers, (*parser).checkUseServers)
}

// parseUseServer reads "use-server NAME {if | unless} COND"; as in
// HAProxy, the condition is required.
func parseUseServer(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'use-server <server> {if | unless} <condition>'")
	}
	cond, err := requiredCond(px, a[1:])
	if err != nil {
		return fmt.Errorf("'use-server' %w", err)
	}
	u := UseServer{Pos: p.pos, Server: a[0], Cond: cond}
	if u.Dynamic() {
		if err := checkFormatSamples(u.Server); err != nil {
			return fmt.Errorf("'use-server %s': %w", u.Server, err)
		}
	}
	px.UseServers = appendOwn(px.UseServers, u)
	return nil
}

// checkFormatSamples compiles the %[...] samples of a format, so that a
// bad one stops the start at its line.
func checkFormatSamples(s string) error {
	for {
		i := strings.Index(s, "%[")
		if i < 0 {
			return nil
		}
		end := acl.SampleEnd(s[i+1:]) + 1
		if end < 1 {
			return fmt.Errorf("missing ']' after '%s'", s[i:])
		}
		if _, _, err := acl.CompileFetch(s[i+2 : i+end]); err != nil {
			return err
		}
		s = s[i+end+1:]
	}
}

// checkUseServers resolves the servers use-server rules name once the
// sections are read: a name must be one of the section's own servers,
// which a frontend has none of, as HAProxy says.
func (p *parser) checkUseServers() {
	for _, px := range p.cfg.Proxies {
		for _, u := range px.UseServers {
			if u.Dynamic() && px.Kind.IsBackend() {
				continue
			}
			found := false
			for _, s := range px.Servers {
				found = found || s.Name == u.Server
			}
			if !found || !px.Kind.IsBackend() {
				p.pos = u.Pos
				p.errorf("use-server", ErrReference, "%s '%s': unable to find server '%s' referenced in a 'use-server' rule", px.Kind, px.Name, u.Server)
			}
		}
	}
}

// requiredCond reads a rule's "{if | unless} COND", which it requires, as
// haproxy does for use-server, force-persist and ignore-persist.
func requiredCond(px *Proxy, a []string) (*acl.Cond, error) {
	cond, rest, err := splitCond(px, a)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected '%s' (expected 'if' or 'unless')", rest[0])
	}
	if cond == nil {
		return nil, errors.New("requires either 'if' or 'unless' followed by a condition")
	}
	return cond, nil
}
