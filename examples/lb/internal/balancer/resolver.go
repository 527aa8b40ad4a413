package balancer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// dnsStatus is how a resolution ended, as HAProxy's RSLV_STATUS_*.
type dnsStatus int

const (
	dnsNone    dnsStatus = iota // not run yet
	dnsValid                    // an answer with addresses
	dnsNX                       // the name does not exist
	dnsRefused                  // the name servers refused
	dnsTimeout                  // no answer after every try
	dnsOther                    // any other error, an answer without address among them

	// The answers below end as dnsOther, counted apart in "show
	// resolvers".
	dnsNoAnswer  // no record of the type asked
	dnsInvalid   // not a DNS message
	dnsTruncated // truncated (TC)
)

// dnsResult is one resolution's outcome: its status, the addresses of a
// valid answer in its order, and who gave it ("resolvers/nameserver").
type dnsResult struct {
	status dnsStatus
	addrs  []netip.Addr
	srvs   []srvRecord
	by     string
}

// resolution is one host name a resolvers section asks for, with the
// servers that take their address from it (HAProxy shares a resolution
// among the servers naming the same host).
type resolution struct {
	host    string
	prefer  string // "ipv4" or "ipv6"
	servers []*Server
	// last is when the last resolution ended, zero before the first;
	// lastValid when the last valid answer came (the start, before any),
	// from which the hold periods count.
	last, lastValid time.Time
	status          dnsStatus
	busy            bool // a resolution is under way
	// srv: host is an SRV record name whose records the servers share
	// (srv.go); owner is the server whose SRV target this resolution
	// finds the address of, nil for a configured name.
	srv   bool
	owner *Server
}

// resolverSection runs one resolvers section: every "timeout resolve" it
// resolves each of its names again and hands the outcome to the servers.
// One goroutine runs it, whatever the number of servers, its names
// resolved side by side over one socket.
type resolverSection struct {
	cfg *config.Resolvers
	res []*resolution
	now func() time.Time
}

// newResolverSections gathers, for each resolvers section the servers of
// the backends use, the names to resolve. Sections no server uses do not
// run.
func newResolverSections(cfg *config.Config, backends []*Backend, start time.Time) []*resolverSection {
	var out []*resolverSection
	for _, rc := range cfg.Resolvers {
		sec := &resolverSection{cfg: rc, now: time.Now}
		for _, be := range backends {
			for _, s := range be.servers {
				switch {
				case s.cfg.Resolvers != rc.Name:
				case s.cfg.SRV != "":
					sec.addSRV(s, start)
				case s.cfg.FQDN != "":
					sec.add(s, start)
				}
			}
		}
		if len(sec.res) > 0 {
			out = append(out, sec)
		}
	}
	return out
}

// add puts server s under the resolution of its host name and family.
func (r *resolverSection) add(s *Server, start time.Time) {
	prefer := s.cfg.ResolvePrefer
	if prefer == "" {
		prefer = "ipv6" // HAProxy's default
	}
	for _, res := range r.res {
		if res.host == s.cfg.FQDN && res.prefer == prefer {
			res.servers = append(res.servers, s)
			return
		}
	}
	r.res = append(r.res, &resolution{host: s.cfg.FQDN, prefer: prefer, servers: []*Server{s}, lastValid: start})
}

// startResolvers runs each resolvers section the servers use until the
// balancer closes.
func (b *Balancer) startResolvers() {
	bes := make([]*Backend, 0, len(b.backends))
	for _, px := range b.cfg.Proxies {
		if be := b.backends[px.Name]; be != nil && be.cfg == px {
			bes = append(bes, be)
		}
	}
	stats := map[*config.Resolvers]*resolversStats{}
	for _, rc := range b.cfg.Resolvers {
		stats[rc] = newResolversStats(rc)
		b.resolvers = append(b.resolvers, stats[rc])
	}
	for _, sec := range newResolverSections(b.cfg, bes, time.Now()) {
		cl, err := newDNSClient(sec.cfg, stats[sec.cfg])
		if err != nil {
			b.log.Error("resolvers: cannot open a socket", "resolvers", sec.cfg.Name, "err", err)
			continue
		}
		b.checksWG.Add(1)
		go func() {
			defer b.checksWG.Done()
			defer cl.close()
			stop := context.AfterFunc(b.checkCtx, cl.close)
			defer stop()
			sec.run(b.checkCtx, cl)
		}()
	}
}

// run resolves the section's names, each "timeout resolve" after its
// previous resolution ended, until ctx ends.
func (r *resolverSection) run(ctx context.Context, c *dnsClient) {
	c.serve(ctx, func(now time.Time) ([]*flight, time.Time) {
		due, wake := r.due(now)
		flights := make([]*flight, 0, len(due))
		for _, res := range due {
			res.busy = true
			if res.srv {
				flights = append(flights, c.beginSRV(res.host, now, res))
				continue
			}
			flights = append(flights, c.begin(res.host, res.prefer, now, res))
		}
		return flights, wake
	}, func(f *flight) {
		res := f.tag.(*resolution)
		res.busy = false
		r.apply(res, f.result, r.now())
	})
}

// due returns the resolutions to start at now, those not under way whose
// last one ended a "timeout resolve" ago or that never ran, and when the
// next one is due.
func (r *resolverSection) due(now time.Time) (due []*resolution, next time.Time) {
	next = now.Add(r.cfg.TimeoutResolve)
	for _, res := range r.res {
		if res.busy {
			continue
		}
		if at := res.last.Add(r.cfg.TimeoutResolve); !res.last.IsZero() && at.After(now) {
			if at.Before(next) {
				next = at
			}
			continue
		}
		due = append(due, res)
	}
	return due, next
}

// apply hands a resolution's outcome to its servers, as HAProxy's
// snr_resolution_cb and snr_update_srv_status do: a valid answer gives
// each server an address (and takes it out of resolution maintenance);
// an error past its hold period since the last valid answer puts the
// servers into resolution maintenance, without an address; an error
// within it changes nothing.
func (r *resolverSection) apply(res *resolution, out dnsResult, now time.Time) {
	if res.owner != nil && res.owner.target != res {
		return // an SRV target the server no longer has
	}
	res.last, res.status = now, out.status
	if res.srv && out.status == dnsValid {
		res.lastValid = now
		r.applySRV(res, out, now)
		return
	}
	if out.status == dnsValid {
		res.lastValid = now
		for _, s := range res.servers {
			if ip, ok := s.pickAddr(out.addrs, res.prefer, res.servers); ok {
				s.dnsAddr(ip, out.by, "", true)
			} else {
				s.dnsMaint("No IP for server ")
			}
		}
		return
	}
	h := r.cfg.Hold
	hold, reason := h.Other, "unspecified DNS error"
	switch out.status {
	case dnsNX:
		hold, reason = h.NX, "DNS NX status"
	case dnsRefused:
		hold, reason = h.Refused, "DNS refused status"
	case dnsTimeout:
		hold, reason = h.Timeout, "DNS timeout status"
	}
	if now.Sub(res.lastValid) < hold {
		return
	}
	for _, s := range res.servers {
		s.dnsMaint(reason)
	}
}

// pickAddr chooses the server's address among a valid answer's, as
// HAProxy's resolv_get_ip_from_response scores them: the preferred
// family first, then an address in a resolve-net network, then one no
// other server of the backend with the same name has (unless
// allow-dup-ip, such an address is never taken), then the server's
// current address; among equals, the first.
func (s *Server) pickAddr(addrs []netip.Addr, prefer string, peers []*Server) (netip.Addr, bool) {
	cur := s.ip()
	var best netip.Addr
	bestScore := -1
	for _, a := range addrs {
		a = a.Unmap()
		score := 0
		if a.Is4() == (prefer == "ipv4") {
			score += 8
		}
		for _, n := range s.cfg.ResolveNets {
			if n.Contains(a) {
				score += 4
				break
			}
		}
		dup := false
		for _, p := range peers {
			if p != s && p.be == s.be && p.ip() == a {
				dup = true
			}
		}
		if dup && !s.cfg.ResolveAllowDupIP {
			continue
		}
		if !dup {
			score += 2
		}
		if a == cur {
			score++
		}
		if score > bestScore {
			best, bestScore = a, score
		}
	}
	return best, bestScore >= 0
}

// ip is the server's current address, the zero Addr for none.
func (s *Server) ip() netip.Addr {
	host, _, err := net.SplitHostPort(s.address())
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a
}

// clearAddr leaves the server without an address, its port kept.
func (s *Server) clearAddr() {
	_, port, _ := net.SplitHostPort(s.address())
	addr := net.JoinHostPort("", port)
	s.addr.Store(&addr)
}

// dnsAddr gives the server the address its resolvers found, logging the
// change as HAProxy does (then note, when set), and takes it out of
// resolution maintenance, saying so (ready) as HAProxy does for an
// address of an answer's own.
func (s *Server) dnsAddr(ip netip.Addr, by, note string, ready bool) {
	b := s.be
	var msgs []string
	b.mu.Lock()
	host, port, _ := net.SplitHostPort(s.address())
	if newHost := ip.String(); newHost != host {
		addr := net.JoinHostPort(newHost, port)
		s.addr.Store(&addr)
		old := host
		if old == "" {
			old = "(none)"
		}
		msgs = append(msgs, fmt.Sprintf("%s/%s changed its IP from %s to %s by %s.", b.cfg.Name, s.cfg.Name, old, newHost, by))
	}
	if note != "" {
		msgs = append(msgs, note)
	}
	if s.rmaint {
		s.rmaint = false
		if !s.inMaint() {
			s.backFromMaint()
		}
		state, admin := s.stateWords()
		msgs = append(msgs, fmt.Sprintf("%s %s/%s ('%s') is %s/%s (resolves again).", serverKind(s), b.cfg.Name, s.cfg.Name, s.fqdnLocked(), state, admin))
		if ready {
			msgs = append(msgs, fmt.Sprintf("Server %s/%s administratively READY thanks to valid DNS answer.", b.cfg.Name, s.cfg.Name))
		}
		s.reweigh(time.Now().Unix())
		if len(b.candidates()) > 0 {
			b.noneLog = false
		}
	}
	b.mu.Unlock()
	for _, m := range msgs {
		b.logs.event(levelNotice, m)
	}
}

// dnsMaint puts the server into resolution maintenance for reason, as
// HAProxy's SRV_ADMF_RMAINT: it loses its address, takes no connection,
// and its queued connections go to the backend's queue.
func (s *Server) dnsMaint(reason string) {
	b := s.be
	b.mu.Lock()
	if s.rmaint {
		b.mu.Unlock()
		return
	}
	wasDown := !s.up || s.inMaint()
	s.rmaint = true
	s.clearAddr()
	s.health = 0
	requeued := b.requeue(s)
	s.reweigh(time.Now().Unix())
	active, backup := b.usableCounts()
	var msgs []string
	if wasDown {
		msgs = append(msgs, fmt.Sprintf("%s %s/%s was DOWN and now enters maintenance (%s).", serverKind(s), b.cfg.Name, s.cfg.Name, reason))
	} else {
		msgs = append(msgs, fmt.Sprintf("%s %s/%s is going DOWN for maintenance (%s). %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
			serverKind(s), b.cfg.Name, s.cfg.Name, reason, active, backup, runningOnBackup(active, backup), s.cur, requeued, len(b.queue)))
	}
	if none := b.noneLine(active, backup); none != "" {
		msgs = append(msgs, none)
	}
	b.mu.Unlock()
	for i, m := range msgs {
		level := levelWarning
		if i > 0 {
			level = levelEmerg
		}
		b.logs.event(level, m)
	}
}

// resolvLabel is how HAProxy names who answered: resolvers/nameserver.
func resolvLabel(sec, ns string) string { return strings.Join([]string{sec, ns}, "/") }

// resolversStats are a resolvers section's counters, one set per name
// server, as "show resolvers" prints them.
type resolversStats struct {
	cfg *config.Resolvers
	ns  []nsStats
}

// nsStats are one name server's counters: queries sent and failed to
// send, and the answers by kind. update counts the valid answers a
// resolution took, outdated answers to a query already over.
type nsStats struct {
	sent, sndError, valid, update, anyErr, nx    atomic.Int64
	refused, other, invalid, truncated, outdated atomic.Int64
}

func newResolversStats(cfg *config.Resolvers) *resolversStats {
	return &resolversStats{cfg: cfg, ns: make([]nsStats, len(cfg.Nameservers))}
}

// count counts one answer.
func (n *nsStats) count(st dnsStatus) {
	switch st {
	case dnsValid:
		n.valid.Add(1)
	case dnsNX:
		n.nx.Add(1)
	case dnsRefused:
		n.refused.Add(1)
	case dnsNoAnswer:
		n.anyErr.Add(1)
	case dnsInvalid:
		n.invalid.Add(1)
	case dnsTruncated:
		n.truncated.Add(1)
	default:
		n.other.Add(1)
	}
}

// showResolvers writes "show resolvers [NAME]" as HAProxy 2.6 does: for
// each section, or the one named, each name server's counters. lb
// follows no CNAME chain (cname, cname_error and too_big read 0);
// update counts the answers a resolution took, and timeout reads 0, as
// HAProxy's does over UDP.
func (b *Balancer) showResolvers(w io.Writer, name string) {
	var sb strings.Builder
	found := false
	for _, rs := range b.resolvers {
		if name != "" && rs.cfg.Name != name {
			continue
		}
		found = true
		fmt.Fprintf(&sb, "Resolvers section %s\n", rs.cfg.Name)
		for i := range rs.ns {
			n := &rs.ns[i]
			fmt.Fprintf(&sb, " nameserver %s:\n", rs.cfg.Nameservers[i].ID)
			for _, c := range []struct {
				name string
				v    int64
			}{
				{"sent", n.sent.Load()}, {"snd_error", n.sndError.Load()}, {"valid", n.valid.Load()},
				{"update", n.update.Load()}, {"cname", 0}, {"cname_error", 0}, {"any_err", n.anyErr.Load()},
				{"nx", n.nx.Load()}, {"timeout", 0}, {"refused", n.refused.Load()},
				{"other", n.other.Load()}, {"invalid", n.invalid.Load()}, {"too_big", 0},
				{"truncated", n.truncated.Load()}, {"outdated", n.outdated.Load()},
			} {
				fmt.Fprintf(&sb, "  %-13s%d\n", c.name+":", c.v)
			}
		}
	}
	if name != "" && !found {
		sb.WriteString("Can't find that resolvers section\n")
	}
	_, _ = io.WriteString(w, sb.String())
}
