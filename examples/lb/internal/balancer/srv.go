package balancer

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Servers named by a DNS SRV record ("server-template www 5
// _http._tcp.example.com resolvers dns"), as HAProxy 2.6 runs them: the
// resolvers ask for the record, and each of its entries (a target host,
// a port, a weight) goes to one of the servers naming it, which keeps it
// while the answers hold it. The target's address comes from the
// answer's additional section, or else from a resolution of its own.
// A server without an entry waits in resolution maintenance.

// addSRV puts server s under the resolution of its SRV name.
func (r *resolverSection) addSRV(s *Server, start time.Time) {
	for _, res := range r.res {
		if res.srv && res.host == s.cfg.SRV {
			res.servers = append(res.servers, s)
			return
		}
	}
	r.res = append(r.res, &resolution{host: s.cfg.SRV, srv: true, servers: []*Server{s}, lastValid: start})
}

// fqdnLocked is the host name the server resolves: an SRV entry's
// target, or the configured name. Called with be.mu held.
func (s *Server) fqdnLocked() string {
	if s.cfg.SRV != "" {
		return s.hostname
	}
	return s.cfg.FQDN
}

// srvKey tells an SRV entry: its target, in lower case, and its port.
func srvKey(target string, port uint16) string {
	return strings.ToLower(target) + ":" + strconv.Itoa(int(port))
}

// applySRV hands a valid SRV answer to the servers naming the record:
// those holding an entry still listed keep it (its weight and an
// address the answer gives updated); those whose entry is gone for
// "hold obsolete" lose it and go into maintenance; new entries go to
// servers holding none, in the servers' order.
func (r *resolverSection) applySRV(res *resolution, out dnsResult, now time.Time) {
	held := map[string]*Server{}
	for _, s := range res.servers {
		b := s.be
		b.mu.Lock()
		if s.hostname != "" {
			held[srvKey(s.hostname, s.port())] = s
		}
		b.mu.Unlock()
	}
	var fresh []srvRecord
	for _, rec := range out.srvs {
		k := srvKey(rec.target, rec.port)
		s := held[k]
		if s == nil {
			fresh = append(fresh, rec)
			continue
		}
		delete(held, k)
		s.srvSeen = now
		s.srvWeight(rec)
		if ip := rec.addrFor(s.prefer()); ip.IsValid() {
			s.dnsAddr(ip, "DNS additional record", "", false)
		}
	}
	for _, s := range res.servers {
		if k := srvKey(s.hostnameOf(), s.port()); held[k] == s && now.Sub(s.srvSeen) >= r.cfg.Hold.Obsolete {
			r.srvRelease(s)
		}
	}
	// In the order HAProxy keeps them: by the hash of the target's name.
	slices.SortStableFunc(fresh, func(a, b srvRecord) int { return cmp.Compare(a.key(), b.key()) })
	for _, rec := range fresh {
		for _, s := range res.servers {
			if s.hostnameOf() == "" {
				r.srvTake(s, rec, out.by, now)
				break
			}
		}
	}
}

// key is the entry's key in HAProxy's answer tree: the 32-bit xxHash,
// seeded with the SRV type (33), of its target in DNS label form.
func (rec srvRecord) key() uint32 {
	var b []byte
	for _, l := range strings.Split(rec.target, ".") {
		b = append(append(b, byte(len(l))), l...)
	}
	return acl.XXH32(b, 33)
}

// addrFor is the address the answer gave the entry's target, of the
// preferred family first.
func (rec srvRecord) addrFor(prefer string) netip.Addr {
	if prefer == "ipv4" {
		if rec.addr4.IsValid() {
			return rec.addr4
		}
		return rec.addr6
	}
	if rec.addr6.IsValid() {
		return rec.addr6
	}
	return rec.addr4
}

func (s *Server) prefer() string {
	if s.cfg.ResolvePrefer != "" {
		return s.cfg.ResolvePrefer
	}
	return "ipv6"
}

func (s *Server) hostnameOf() string {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.hostname
}

// port is the port of the server's address.
func (s *Server) port() uint16 {
	_, p, _ := net.SplitHostPort(s.address())
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// srvWeight gives the server the entry's weight, as HAProxy scales it
// (weight / 256 + 1), unless resolve-opts ignore-weight.
func (s *Server) srvWeight(rec srvRecord) {
	if s.cfg.ResolveIgnoreWeight {
		return
	}
	b := s.be
	b.mu.Lock()
	if w := int(rec.weight)/256 + 1; w != s.weight {
		s.applyWeight(w)
	}
	b.mu.Unlock()
}

// srvTake gives the server a new entry: its host name, port and weight,
// and its address, from the answer or, lacking one, from a resolution
// of the target that starts now.
func (r *resolverSection) srvTake(s *Server, rec srvRecord, by string, now time.Time) {
	b := s.be
	b.mu.Lock()
	s.hostname, s.hmaint = rec.target, true
	host, _, _ := net.SplitHostPort(s.address())
	addr := net.JoinHostPort(host, strconv.Itoa(int(rec.port)))
	s.addr.Store(&addr)
	b.mu.Unlock()
	s.srvSeen = now
	s.srvWeight(rec)
	note := fmt.Sprintf("%s/%s changed its FQDN from (null) to %s by 'SRV record'", b.cfg.Name, s.cfg.Name, rec.target)
	if ip := rec.addrFor(s.prefer()); ip.IsValid() {
		s.dnsAddr(ip, "DNS additional record", note, false)
		return
	}
	b.logs.event(levelNotice, note)
	s.target = &resolution{host: rec.target, prefer: s.prefer(), servers: []*Server{s}, lastValid: now, owner: s}
	r.res = append(r.res, s.target)
}

// srvRelease takes the server's entry away: it loses its host name,
// port and address and goes into resolution maintenance.
func (r *resolverSection) srvRelease(s *Server) {
	if t := s.target; t != nil {
		s.target = nil
		for i, x := range r.res {
			if x == t {
				r.res = append(r.res[:i], r.res[i+1:]...)
				break
			}
		}
	}
	b := s.be
	b.mu.Lock()
	s.hostname = ""
	addr := ":0"
	s.addr.Store(&addr)
	b.mu.Unlock()
	s.dnsMaint("entry removed from SRV record")
}
