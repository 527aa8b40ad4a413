package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// A backend without a balance algorithm may connect each client to a
// fixed address ("dispatch") or to the address the client reached
// ("option transparent"), as HAProxy does; its servers then see no
// traffic but what persistence sends them.

func init() {
	optionKeywords["transparent"] = optionKeyword{KindBackend, flag(func(o *Options) *bool { return &o.Transparent })}
	proxyKeywords["dispatch"] = proxyKeyword{KindBackend, parseDispatch}
	finishers = append(finishers, (*parser).validateDispatch)
}

// parseDispatch reads "dispatch ADDR:PORT", with HAProxy's words for what
// it refuses.
func parseDispatch(_ *parser, px *Proxy, a []string) error {
	switch {
	case len(a) == 0 || a[0] == "":
		return errors.New("'dispatch' : '' resolves to an empty address (environment variable missing?)")
	case len(a) > 1:
		return fmt.Errorf("'dispatch' cannot handle unexpected argument '%s'", a[1]) // haproxy ends it with a period
	}
	addr, mapPorts, err := ParseServerAddr(a[0])
	if err != nil {
		return fmt.Errorf("'dispatch' : %w", err)
	}
	if mapPorts {
		bare := a[0]
		_, port, _ := net.SplitHostPort(addr)
		switch {
		case port == "0" && strings.HasSuffix(bare, ":0"):
			return errors.New("'dispatch' : invalid port '0'")
		case port == "0":
			return fmt.Errorf("'dispatch' : missing port specification in '%s'", bare)
		default:
			return fmt.Errorf("'dispatch' : port offset not permitted here in '%s'", bare)
		}
	}
	px.Dispatch = addr
	return nil
}

// validateDispatch refuses, as HAProxy does, option transparent with a
// balance algorithm, and warns that a dispatch address goes unused with
// one.
func (p *parser) validateDispatch() {
	for _, px := range p.cfg.Proxies {
		if !px.Kind.IsBackend() || !px.BalanceSet {
			continue
		}
		kind := "backend"
		if px.Kind.IsFrontend() {
			kind = "proxy"
		}
		if px.Options.Transparent {
			p.pos = px.Pos
			p.errorf("option", ErrBadValue, "%s '%s' cannot use both transparent and balance mode.", kind, px.Name)
		} else if px.Dispatch != "" {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: dispatch address of %s '%s' will be ignored in balance mode.", px.Pos, kind, px.Name))
		}
	}
}
