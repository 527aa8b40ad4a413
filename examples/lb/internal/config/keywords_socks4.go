package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Servers reached through a SOCKS4 proxy: the server options "socks4" and
// "check-via-socks4".

func init() {
	serverOptions["socks4"] = serverOption{1, func(s *Server, a []string) error {
		addr, err := parseSOCKS4Addr(a[0])
		if err != nil {
			return err
		}
		s.SOCKS4 = addr
		return nil
	}}
	serverOptions["check-via-socks4"] = serverOption{0, func(s *Server, _ []string) error { s.CheckViaSOCKS4 = true; return nil }}
}

// parseSOCKS4Addr reads the address of a SOCKS4 proxy as HAProxy takes
// it: an IP address or host name with a port, which neither a range nor
// an offset may be, and an optional ipv4@ or ipv6@ prefix; "*" or no
// host is 0.0.0.0. A host name is resolved at start (Resolve).
func parseSOCKS4Addr(v string) (string, error) {
	if v == "" {
		return "", errors.New("'socks4' expects <addr>:<port> as argument")
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 && !strings.HasSuffix(v, "]") {
		switch p := v[i+1:]; {
		case strings.Contains(p, "-"):
			return "", fmt.Errorf("'%s' : port range not permitted here", v)
		case strings.HasPrefix(p, "+"):
			return "", fmt.Errorf("'%s' : port offset not permitted here", v)
		}
	}
	addr, err := ParseAddr(v, true)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return "", fmt.Errorf("'%s' : missing port specification", v)
		}
		return "", err
	}
	host, port, _ := net.SplitHostPort(addr)
	if port == "0" {
		return "", fmt.Errorf("'%s' : invalid port '0'", v)
	}
	if host == "" {
		addr = net.JoinHostPort("0.0.0.0", port)
	}
	return addr, nil
}

// resolveSOCKS4 gives a server whose SOCKS4 proxy is named by a host that
// host's first address, as HAProxy resolves it at start; a name that
// does not resolve is an error, as in HAProxy.
func resolveSOCKS4(ctx context.Context, px *Proxy, s *Server, lookup LookupFunc) error {
	if s.SOCKS4 == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(s.SOCKS4)
	if err != nil {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	addrs, err := lookup(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return fmt.Errorf("%w: 'server %s/%s' : 'socks4 %s' : invalid address: '%s': %v", ErrBadValue, px.Name, s.Name, s.SOCKS4, host, err)
	}
	s.SOCKS4 = net.JoinHostPort(addrs[0].Unmap().String(), port)
	return nil
}
