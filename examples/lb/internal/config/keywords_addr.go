package config

import (
	"errors"
	"fmt"
	"net"
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
		return addr, false, err
	}
	a, err := ParseAddr(host+":0", true)
	if err != nil {
		// Name the address as written, not as checked.
		return "", false, errors.New(strings.Replace(err.Error(), strconv.Quote(host+":0"), strconv.Quote(s), 1))
	}
	h, _, _ := net.SplitHostPort(a)
	return net.JoinHostPort(h, strconv.Itoa(offset)), true, nil
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

// DialAddr is where a connection to s goes when its client connected to
// port dport: s's address, or with port mapping its host and dport plus
// the offset.
func (s *Server) DialAddr(addr string, dport uint16) string {
	if !s.MapPorts {
		return addr
	}
	host, off, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	n, _ := strconv.Atoi(off)
	return net.JoinHostPort(host, strconv.Itoa(int(uint16(int(dport)+n))))
}

// validateMapPorts refuses, as HAProxy does, a checked server with port
// mapping and no "port" to check.
func (p *parser) validateMapPorts() {
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.MapPorts && s.Check && s.CheckPort == 0 {
				p.pos = s.Pos
				p.errorf("server", ErrBadValue, "proxy '%s': server '%s' has neither service port nor check port", px.Name, s.Name)
			}
		}
	}
}
