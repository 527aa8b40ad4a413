package balancer

import (
	"encoding/binary"
	"net/netip"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Remote Desktop farms: "balance rdp-cookie" hashes the value of the
// cookie an RDP client sends in its first packet (mstshash=USER, so a
// user comes back to the same host), and "persist rdp-cookie" sends a
// client whose cookie names a server (msts=ADDR.PORT.0000, the routing
// token a session broker hands out) straight to that server. Both read
// what the client has sent by the time the server is chosen, peeked from
// the socket, as HAProxy reads its buffer then: a configuration waits
// for the cookie with "tcp-request inspect-delay" and "tcp-request
// content accept if RDP_COOKIE".

// rdpCookies peeks at the client's first bytes when be balances or
// persists on an RDP cookie, and returns the value to hash (nil for none)
// and the server the persistence cookie names, if that server is up.
func (s *session) rdpCookies(be *Backend, force bool) (key []byte, persist *Server) {
	h, _ := be.algo.(*hashAlgo)
	balance := h != nil && h.rdp != ""
	if !balance && be.cfg.PersistRDPCookie == "" {
		return nil, nil
	}
	s.peekFirst(func(data []byte) {
		if data == nil {
			return
		}
		if balance {
			if v, short := acl.RDPCookie(data, h.rdp); !short && len(v) > 0 {
				key = append([]byte(nil), v...)
			}
		}
		if name := be.cfg.PersistRDPCookie; name != "" {
			if v, short := acl.RDPCookie(data, name); !short && len(v) > 0 {
				if addr, ok := rdpServerAddr(v); ok {
					persist = be.serverAt(addr, force)
				}
			}
		}
	})
	return key, persist
}

// rdpServerAddr decodes a routing token's "ADDR.PORT." as HAProxy does:
// ADDR is the IPv4 address's four bytes read as a little-endian number,
// PORT the port with its two bytes swapped, both in decimal.
func rdpServerAddr(v []byte) (netip.AddrPort, bool) {
	addr, rest, ok := rdpNumber(v)
	if !ok {
		return netip.AddrPort{}, false
	}
	port, _, ok := rdpNumber(rest)
	if !ok {
		return netip.AddrPort{}, false
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], uint32(addr))
	p := uint16(port)
	return netip.AddrPortFrom(netip.AddrFrom4(a), p>>8|p<<8), true
}

// rdpNumber reads the decimal digits at the start of v (none reads as 0,
// as strtoul has it) and the '.' that must follow them; it returns the
// number and what follows the dot.
func rdpNumber(v []byte) (n uint64, rest []byte, ok bool) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		n = n*10 + uint64(v[i]-'0')
		i++
	}
	if i == len(v) || v[i] != '.' {
		return 0, nil, false
	}
	return n, v[i+1:], true
}

// serverAt returns the first server of be at addr that is up (any such
// server under option persist or force-persist), nil when there is none.
func (b *Backend) serverAt(addr netip.AddrPort, force bool) *Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	var down *Server
	for _, s := range b.servers {
		sa, err := netip.ParseAddrPort(s.address())
		if err != nil || sa.Addr().Unmap() != addr.Addr() || sa.Port() != addr.Port() {
			continue
		}
		if s.persistable() {
			return s
		}
		if down == nil {
			down = s
		}
	}
	if b.cfg.Options.Persist || force {
		return down
	}
	return nil
}
