package config

import (
	"errors"
	"fmt"
)

// Filter is one of a proxy's filters: "filter cache NAME", "filter
// compression", "filter spoe [engine NAME] config FILE", or the cache
// filter a cache-use or cache-store rule declares when no "filter
// cache" line names its cache (Implicit). lb runs the cache and the
// compression as parts of the exchange rather than as filters;
// HAProxy's rules on their order are checked.
type Filter struct {
	Pos
	// Type is "cache", "compression" or "spoe".
	Type string
	// Name is the cache's or the SPOE engine's name.
	Name     string
	Implicit bool
	// Engine is a spoe filter's engine, read from its file.
	Engine *SPOEEngine
}

func init() {
	proxyKeywords["filter"] = proxyKeyword{KindFrontend | KindBackend, parseFilter}
	finishers = append(finishers, (*parser).checkFilters)
}

// parseFilter reads "filter cache NAME" and "filter compression".
func parseFilter(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects a filter name")
	}
	switch a[0] {
	case "compression":
		if len(a) != 1 {
			return errors.New("'compression' takes no argument")
		}
		px.Filters = append(px.Filters, Filter{Pos: p.pos, Type: "compression"})
		return nil
	case "cache":
		if len(a) != 2 {
			return errors.New("cache : expects a <name> argument")
		}
		for i, f := range px.Filters {
			if f.Type != "cache" || f.Name != a[1] {
				continue
			}
			if !f.Implicit {
				return fmt.Errorf("%s: multiple explicit declarations of the cache filter '%s'", px.Name, a[1])
			}
			px.Filters = append(px.Filters[:i:i], px.Filters[i+1:]...)
			break
		}
		px.Filters = append(px.Filters, Filter{Pos: p.pos, Type: "cache", Name: a[1]})
		return nil
	case "spoe":
		return parseSPOEFilter(p, px, a)
	case "trace", "fcgi-app", "bwlim-in", "bwlim-out":
		return fmt.Errorf("%w: filter '%s' (only 'cache', 'compression' and 'spoe')", ErrUnsupported, a[0])
	}
	return fmt.Errorf("unknown filter '%s' (expects 'cache', 'compression' or 'spoe')", a[0])
}

// implicitCacheFilter declares the cache filter of a cache rule, unless
// the proxy has one for that cache.
func implicitCacheFilter(pos Pos, px *Proxy, name string) {
	if px.Kind == KindDefaults {
		return
	}
	for _, f := range px.Filters {
		if f.Type == "cache" && f.Name == name {
			return
		}
	}
	px.Filters = appendOwn(px.Filters, Filter{Pos: pos, Type: "cache", Name: name, Implicit: true})
}

// checkFilters checks the caches filters name, and that no compression
// filter comes before a cache filter, as HAProxy does.
func (p *parser) checkFilters() {
	for _, px := range p.cfg.Proxies {
		comp := false
		for _, f := range px.Filters {
			switch {
			case f.Type == "spoe":
			case f.Type == "compression":
				comp = true
			case !f.Implicit && p.cfg.Cache(f.Name) == nil:
				p.pos = f.Pos
				p.errorf("filter", ErrReference, "%s '%s': unable to find the cache '%s' referenced by the filter 'cache'", px.Kind, px.Name, f.Name)
			case comp:
				p.pos = f.Pos
				p.errorf("filter", ErrBadValue, "%s '%s': unable to enable the compression filter before the cache '%s'", px.Kind, px.Name, f.Name)
			}
		}
	}
}
