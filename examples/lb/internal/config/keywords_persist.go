package config

import (
	"errors"
	"fmt"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

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
			cond, rest, err := splitCond(px, a)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return fmt.Errorf("unexpected '%s' (expected 'if' or 'unless')", rest[0])
			}
			if cond == nil {
				return errors.New("requires either 'if' or 'unless' followed by a condition")
			}
			px.PersistRules = appendOwn(px.PersistRules, PersistRule{Pos: p.pos, Force: kw == "force-persist", Cond: cond})
			return nil
		}}
	}
}
