package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Server and bind addresses beyond host:port: UNIX stream sockets, and
// servers without a port, with port 0, or with "+N" or "-N" for a port,
// which take the port each client connected to, plus or minus N
// (HAProxy's port mapping): one server line serves every port of a
// multi-port bind.

func init() {
	finishers = append(finishers, (*parser).validateMapPorts)
}

// ParseServerAddr reads a server's address: what [ParseAddr] takes, and
// also a host alone or with ":0", ":+N" or ":-N", which map the port.
// For those it returns mapPorts and host:N (N negative for "-N", 0 for
// none), the form HAProxy's statistics show.
func ParseServerAddr(s string) (addr string, mapPorts bool, err error) {
	if s, err = envAddr(s); err != nil {
		return "", false, err
	}
	if addr, ok, err := unixAddr(s); ok {
		return addr, false, err
	}
	bare := strings.TrimPrefix(strings.TrimPrefix(s, "ipv4@"), "ipv6@")
	host, port := bare, ""
	if colon := strings.LastIndexByte(bare, ':'); colon >= 0 && !strings.HasSuffix(bare, "]") {
		host, port = bare[:colon], bare[colon+1:]
	}
	offset := 0
	switch {
	case port == "" || port == "0":
	case port[0] == '+' || port[0] == '-':
		n, err := parseInt(port[1:], 0, 65535)
		if err != nil {
			return "", false, fmt.Errorf("address %q: port offset: %w", s, err)
		}
		if offset = n; port[0] == '-' {
			offset = -n
		}
	default:
		addr, err := ParseAddr(s, true)
		if strings.HasPrefix(addr, ":") {
			// "*:80" or ":80": no address, as 0.0.0.0:80.
			addr = "0.0.0.0" + addr
		}
		return addr, false, err
	}
	a, err := ParseAddr(host+":0", true)
	if err != nil {
		// Name the address as written, not as checked.
		return "", false, errors.New(strings.Replace(err.Error(), strconv.Quote(host+":0"), strconv.Quote(s), 1))
	}
	h, _, _ := net.SplitHostPort(a)
	return net.JoinHostPort(cmp.Or(h, "0.0.0.0"), strconv.Itoa(offset)), true, nil
}

// UnixPrefix starts a server address that is a UNIX stream socket: the
// path follows.
const UnixPrefix = "unix@"

// maxUnixPath is the longest path a UNIX socket address holds on Linux
// (sun_path, 108 bytes with its terminating NUL).
const maxUnixPath = 107

// AbnsPrefix starts an address that is a UNIX stream socket in Linux's
// abstract namespace: the name follows.
const AbnsPrefix = "abns@"

// NetAddr splits a server or bind address into the network and address a
// dial or listen takes: "unix" and the path for a UNIX socket, "unix" and
// "@" with the name for an abstract one, "tcp" and host:port otherwise.
// An abstract name is padded with NULs to the whole of sun_path, as
// HAProxy binds and connects to it, so that both reach the same socket.
func NetAddr(addr string) (network, address string) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		return "unix", path
	}
	if name, ok := strings.CutPrefix(addr, AbnsPrefix); ok {
		return "unix", "@" + name + strings.Repeat("\x00", maxUnixPath-len(name))
	}
	return "tcp", addr
}

// unixAddr reads a UNIX stream socket's address, unix@PATH or an
// absolute path, into unix@PATH, and an abstract one, abns@NAME, as it
// is; ok is false for any other address.
func unixAddr(s string) (addr string, ok bool, err error) {
	switch {
	case strings.HasPrefix(s, UnixPrefix) || strings.HasPrefix(s, "/"):
		path := strings.TrimPrefix(s, UnixPrefix)
		switch {
		case path == "":
			return "", true, fmt.Errorf("address %q: missing socket path", s)
		case len(path) > maxUnixPath:
			return "", true, fmt.Errorf("address %q: socket path longer than %d bytes", s, maxUnixPath)
		}
		return UnixPrefix + path, true, nil
	case strings.HasPrefix(s, AbnsPrefix):
		switch name := s[len(AbnsPrefix):]; {
		case name == "":
			return "", true, fmt.Errorf("address %q: missing socket name", s)
		case len(name) > maxUnixPath:
			return "", true, fmt.Errorf("address %q: socket name longer than %d bytes", s, maxUnixPath)
		}
		return s, true, nil
	}
	return "", false, nil
}

// AnyHost reports whether a server address (as [ParseServerAddr] gives
// it) is 0.0.0.0 or ::, written also "*" or with no host: a server
// without an address of its own, whose connections go to the address
// each client reached (its destination, as set-dst left it).
func AnyHost(addr string) bool {
	return strings.HasPrefix(addr, "0.0.0.0:") || strings.HasPrefix(addr, "[::]:")
}

// DialAddr is where a connection to s goes for a client whose
// destination is dst: s's address, with dst's address for a host that
// is 0.0.0.0 or :: ([AnyHost]), and with port mapping dst's port plus
// the offset. A client without an IP destination (a UNIX socket's) keeps
// the server's host.
func (s *Server) DialAddr(addr string, dst netip.AddrPort) string {
	anyHost := AnyHost(addr)
	if !s.MapPorts && !anyHost {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if anyHost && dst.Addr().IsValid() {
		host = dst.Addr().Unmap().String()
	}
	if s.MapPorts {
		n, _ := strconv.Atoi(port)
		port = strconv.Itoa(int(uint16(int(dst.Port()) + n)))
	}
	return net.JoinHostPort(host, port)
}

// validateMapPorts refuses, as HAProxy does, a checked server with port
// mapping and no "port" to check, unless it has no address either
// (0.0.0.0), which HAProxy lets go, or its "option tcp-check" rules say
// where to connect (see [tcpCheckPortMissing]).
func (p *parser) validateMapPorts() {
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.MapPorts && s.Check && s.CheckPort == 0 && !AnyHost(s.Addr) {
				if missing, why := tcpCheckPortMissing(px); missing {
					p.pos = s.Pos
					p.errorf("server", ErrBadValue, "proxy '%s': server '%s' has neither service port nor check port%s", px.Name, s.Name, why)
				}
			}
		}
	}
}

// tcpCheckPortMissing tells whether px's checks lack a port for a server
// with none, and how HAProxy ends its message for the case. The rules of
// a plain "option tcp-check" give one when they begin with a "connect"
// that has a port and every other "connect" has one too.
func tcpCheckPortMissing(px *Proxy) (missing bool, why string) {
	const noRule = " nor tcp_check rule 'connect' with port information"
	if hc := px.HTTP.Check; px.TCPCheck == nil && hc != nil && hc.Sequenced() && hasHTTPCheckSend(hc.Rules) {
		// As in HAProxy, the connect rules of an HTTP check give the
		// port as a tcp-check's do, once a send of their own took the
		// place of option httpchk's request, which otherwise comes
		// first.
		rules := httpCheckActions(hc.Rules)
		if rules[0].Connect.Port == 0 {
			return true, noRule
		}
		for _, r := range rules {
			if r.Action == TCPCheckConnect && r.Connect.Port == 0 {
				return true, ", and a tcp_check rule 'connect' with no port information"
			}
		}
		return false, ""
	}
	switch {
	case px.TCPCheck == nil && px.HTTP.Check == nil:
		return true, ""
	case px.TCPCheck == nil || *px.TCPCheck != (TCPCheck{}):
		return true, noRule
	case len(px.TCPCheckRules) == 0:
		return true, ""
	}
	if first := firstTCPCheckAction(px.TCPCheckRules); first == nil || first.Action != TCPCheckConnect || first.Port == 0 {
		return true, noRule
	}
	for _, r := range px.TCPCheckRules {
		if r.Action == TCPCheckConnect && r.Port == 0 {
			return true, ", and a tcp_check rule 'connect' with no port information"
		}
	}
	return false, ""
}
