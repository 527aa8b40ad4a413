package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrUnresolved means a server's host name could not be turned into an
// address by any of its init-addr methods.
var ErrUnresolved = errors.New("could not resolve address")

// LookupFunc resolves a host name to its addresses, first preferred, as
// net.Resolver.LookupNetIP does.
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// SystemLookup resolves through the system's resolver (HAProxy's libc
// method).
func SystemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// initAddrMethods checks an init-addr list: last, libc, none, or IP
// addresses, comma-separated.
func initAddrMethods(v string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(v, ",") {
		switch {
		case m == "last" || m == "libc" || m == "none":
		case m == "":
			return nil, fmt.Errorf("empty method in '%s'", v)
		default:
			if _, err := netip.ParseAddr(m); err != nil {
				return nil, fmt.Errorf("'%s' is not a method (last, libc, none) nor an IP address", m)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// Resolve gives every server whose address names a host an IP address,
// once, as HAProxy does at start without resolvers: its init-addr methods
// in order ("last,libc" when it has none), where last is the address
// the state file its backend loads kept (load-server-state-from-file),
// libc asks lookup, an IP address is taken as it is, and none leaves the
// server without an address, in maintenance (disabled) with a warning,
// until a restart. A server no method resolves is an error naming its
// line. A state file's port replaces the configured one, as in HAProxy.
// Resolve changes only servers that still name a host, so calling it
// again does nothing.
func (c *Config) Resolve(ctx context.Context, lookup LookupFunc) error {
	if !c.statesLoaded {
		c.statesLoaded = true
		c.loadServerStates()
	}
	var errs []error
	for _, px := range c.Proxies {
		for _, s := range px.Servers {
			if err := c.resolveServer(ctx, px, s, lookup); err != nil {
				errs = append(errs, &Error{Pos: s.Pos, Keyword: "server", Err: err})
			}
			if err := resolveCheckAddr(ctx, px, s, lookup); err != nil {
				errs = append(errs, &Error{Pos: s.Pos, Keyword: "server", Err: err})
			}
			if err := resolveSOCKS4(ctx, px, s, lookup); err != nil {
				errs = append(errs, &Error{Pos: s.Pos, Keyword: "server", Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Config) resolveServer(ctx context.Context, px *Proxy, s *Server, lookup LookupFunc) error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host == "" || s.Unresolved {
		return nil
	}
	if st := s.State; st != nil && st.Port >= 0 && strconv.Itoa(st.Port) != port {
		// As in HAProxy, the port a state file kept is the server's.
		port = strconv.Itoa(st.Port)
		s.Addr = net.JoinHostPort(host, port)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if s.Resolvers != "" {
		s.FQDN = host
	}
	methods := s.InitAddr
	if methods == nil {
		methods = []string{"last", "libc"}
	}
	var lookupErr error
	for _, m := range methods {
		switch m {
		case "last":
			if st := s.State; st != nil && st.Addr != "-" {
				if _, err := netip.ParseAddr(st.Addr); err == nil {
					s.Addr = net.JoinHostPort(st.Addr, port)
					return nil
				}
			}
		case "libc":
			addrs, err := lookup(ctx, host)
			if err == nil && len(addrs) == 0 {
				err = errors.New("no address")
			}
			if err != nil {
				lookupErr = err
				continue
			}
			s.Addr = net.JoinHostPort(addrs[0].Unmap().String(), port)
			return nil
		case "none":
			if s.Resolvers != "" {
				// The resolvers give it an address at run time; until
				// then it is in resolution maintenance, without a warning.
				s.Unresolved = true
				return nil
			}
			s.Unresolved, s.Disabled = true, true
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: 'server %s/%s' : %v '%s', disabling server", s.Pos, px.Name, s.Name, ErrUnresolved, host))
			return nil
		default:
			s.Addr = net.JoinHostPort(m, port)
			return nil
		}
	}
	if lookupErr != nil {
		return fmt.Errorf("'server %s/%s' : %w '%s': %v", px.Name, s.Name, ErrUnresolved, host, lookupErr)
	}
	return fmt.Errorf("'server %s/%s' : %w '%s'", px.Name, s.Name, ErrUnresolved, host)
}
