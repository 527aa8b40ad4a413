package balancer

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// useServerRule is a backend's "use-server" rule, its server resolved, or
// its dynamic name compiled.
type useServerRule struct {
	cfg config.UseServer
	srv *Server
	dyn logFormat
}

// compileUseServers resolves a backend's use-server rules.
func (b *Backend) compileUseServers() error {
	for _, u := range b.cfg.UseServers {
		r := useServerRule{cfg: u}
		if u.Dynamic() {
			f, err := parseLogFormat(u.Server, b.cfg.ACLs.Refs)
			if err != nil {
				return fmt.Errorf("use-server '%s' (%s): %w", u.Server, u.Pos, err)
			}
			r.dyn = f
		} else if r.srv = b.Server(u.Server); r.srv == nil {
			return fmt.Errorf("use-server (%s): no server '%s'", u.Pos, u.Server)
		}
		b.useSrv = append(b.useSrv, r)
	}
	return nil
}

// useServer runs the use-server rules on ctx, as HAProxy does before any
// persistence: the first rule whose condition holds and whose server is
// not down (or is, under option persist or force-persist) names the server, which the
// connection or request then takes without the algorithm. A dynamic
// name that names no server, or a server down, passes on to the next
// rule. nil when no rule names one.
func (b *Backend) useServer(ctx acl.Context, force bool) *Server {
	var buf []byte
	for i := range b.useSrv {
		u := &b.useSrv[i]
		if !u.cfg.Cond.Eval(ctx) {
			continue
		}
		srv := u.srv
		if u.dyn != nil {
			buf = u.dyn.appendTo(buf[:0], ctx)
			srv = b.Server(string(buf))
		}
		if srv == nil {
			continue
		}
		b.mu.Lock()
		ok := srv.persistable() || b.cfg.Options.Persist || force
		b.mu.Unlock()
		if ok {
			return srv
		}
	}
	return nil
}

// persistRule runs the backend's force-persist and ignore-persist rules
// on ctx: the first whose condition holds says which applies.
func (b *Backend) persistRule(ctx acl.Context) (force, ignore bool) {
	for _, r := range b.cfg.PersistRules {
		if r.Cond.Eval(ctx) {
			return r.Force, !r.Force
		}
	}
	return false, false
}
