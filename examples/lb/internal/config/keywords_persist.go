package config

import "github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"

// PersistRule is a "force-persist" or "ignore-persist" rule: for a
// connection or request whose condition holds, persistence (a cookie,
// use-server, a stick table, an RDP token) may name a server that is
// down (force), or the persistence cookie is not followed (ignore).
type PersistRule struct {
	Pos
	Force bool // force-persist; ignore-persist otherwise
	Cond  *acl.Cond
}

func init() {
	for _, kw := range []string{"force-persist", "ignore-persist"} {
		proxyKeywords[kw] = proxyKeyword{KindBackend, func(p *parser, px *Proxy, a []string) error {
			cond, err := requiredCond(px, a)
			if err != nil {
				return err
			}
			px.PersistRules = appendOwn(px.PersistRules, PersistRule{Pos: p.pos, Force: kw == "force-persist", Cond: cond})
			return nil
		}}
	}
}
