package config

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The stick-table converters (in_table, table_conn_cnt...) name a table,
// their own proxy's when they name none. As haproxy resolves such
// arguments once every section is read, each use is noted with the fetch
// its expression starts with, and checked at the end with haproxy's
// words.

// convRef is one use of a stick-table converter.
type convRef struct {
	conv, arg string
	// fetch starts the expression; acl says it is an ACL's.
	fetch string
	acl   bool
	kw    string // the line's keyword, for expressions outside ACLs
	px    *Proxy
	pos   Pos
}

// convRefPattern finds ",NAME" or ",NAME(ARGS)" for the stick-table
// converters, longer names first so that table_gpc_rate is not read as
// table_gpc.
var convRefPattern = sync.OnceValue(func() *regexp.Regexp {
	var names []string
	for _, n := range acl.TableConverters() {
		names = append(names, regexp.QuoteMeta(n))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return regexp.MustCompile(`,(` + strings.Join(names, "|") + `)(?:\(([^)]*)\))?`)
})

// noteConvRefs records the stick-table converters of a proxy line: in
// the %[...] of its format strings, in its ACLs, and in its words that
// start with a fetch, which are then expressions.
func (p *parser) noteConvRefs(words []string) {
	if p.cur == nil || p.cur.Kind == KindDefaults {
		return
	}
	re := convRefPattern()
	for i, w := range words {
		if !strings.Contains(w, ",") {
			continue
		}
		isACL := words[0] == "acl" && i == 2 || i > 0 && words[i-1] == "{"
		exprs := []string{w}
		if strings.Contains(w, "%[") {
			exprs = exprs[:0]
			for rest := w; ; {
				_, after, ok := strings.Cut(rest, "%[")
				if !ok {
					break
				}
				expr, tail, _ := strings.Cut(after, "]")
				exprs, rest, isACL = append(exprs, expr), tail, false
			}
		}
		for _, e := range exprs {
			fetch := e
			if j := strings.IndexAny(e, "(,"); j >= 0 {
				fetch = e[:j]
			}
			if _, ok := acl.LookupFetch(fetch); !ok && !isACL {
				continue // text, not an expression
			}
			for _, m := range re.FindAllStringSubmatch(e, -1) {
				p.convRefs = append(p.convRefs, convRef{conv: m[1], arg: m[2], fetch: fetch, acl: isACL, kw: words[0], px: p.cur, pos: p.pos})
			}
		}
	}
}

// checkConvRefs resolves the tables the noted converters name.
func (p *parser) checkConvRefs() {
	for _, r := range p.convRefs {
		args := strings.Split(r.arg, ",")
		n := 0
		if acl.ProxyRefOf(r.conv) == acl.RefConvIdxTable {
			n = 1
		}
		name := ""
		if n < len(args) {
			name = strings.TrimSpace(args[n])
		}
		if name == "" && r.px.Stick.Table != nil || name != "" && p.cfg.StickTable(name) != nil {
			continue
		}
		if name == "" {
			name = r.px.Name
		}
		for_ := "sample fetch keyword '" + r.fetch + "' in " + r.kw + " expression"
		if r.acl {
			for_ = "ACL keyword '" + r.fetch + "'"
		}
		p.pos = r.pos
		p.errorf(r.conv, ErrReference, "unable to find table '%s' referenced in arg %d of conversion keyword '%s' for %s in proxy '%s'", name, n+1, r.conv, for_, r.px.Name)
	}
}
