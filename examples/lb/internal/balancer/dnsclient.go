package balancer

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsClient asks a resolvers section's name servers over one UDP socket.
type dnsClient struct {
	cfg   *config.Resolvers
	stats *resolversStats
	conn  net.PacketConn
	ns    []netip.AddrPort
	buf   []byte
	close func()
}

func newDNSClient(cfg *config.Resolvers, stats *resolversStats) (*dnsClient, error) {
	conn, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return nil, err
	}
	c := &dnsClient{cfg: cfg, stats: stats, conn: conn, buf: make([]byte, max(cfg.AcceptedPayloadSize, 512))}
	c.close = sync.OnceFunc(func() { _ = conn.Close() })
	for _, ns := range cfg.Nameservers {
		ap, err := netip.ParseAddrPort(ns.Addr)
		if err != nil {
			c.close()
			return nil, err
		}
		c.ns = append(c.ns, ap)
	}
	return c, nil
}

// flight is one resolution under way, as HAProxy runs it: each try
// asks every name server for the preferred family and, when all of them
// answered without an address, at once for the other; the first answer
// with addresses wins. A try lasts "timeout retry", and a resolution
// "resolve_retries" tries; it ends in the error of the last try's
// answers, or a timeout when that try got none.
type flight struct {
	name     dnsmessage.Name
	types    [2]dnsmessage.Type
	qi, try  int // the family asked (index in types) and the try
	id       uint16
	deadline time.Time // the end of the current try
	answered []bool    // by name server, for the current query
	n        int       // how many answered it
	status   dnsStatus // the current try's last error, dnsTimeout for none
	tag      any       // the caller's
	done     bool
	result   dnsResult
	// srv asks for SRV records, with no other type to fall back on.
	srv bool
}

// begin starts a resolution of host at now.
func (c *dnsClient) begin(host, prefer string, now time.Time, tag any) *flight {
	types := [2]dnsmessage.Type{dnsmessage.TypeAAAA, dnsmessage.TypeA}
	if prefer == "ipv4" {
		types[0], types[1] = types[1], types[0]
	}
	return c.start(host, types, now, tag)
}

// beginSRV starts a resolution of an SRV record name at now.
func (c *dnsClient) beginSRV(name string, now time.Time, tag any) *flight {
	f := c.start(name, [2]dnsmessage.Type{dnsmessage.TypeSRV, dnsmessage.TypeSRV}, now, tag)
	f.srv = true
	return f
}

func (c *dnsClient) start(host string, types [2]dnsmessage.Type, now time.Time, tag any) *flight {
	f := &flight{types: types, tag: tag,
		status: dnsTimeout, deadline: now.Add(c.cfg.TimeoutRetry), answered: make([]bool, len(c.ns))}
	name, err := dnsmessage.NewName(strings.TrimSuffix(host, ".") + ".")
	if err != nil {
		f.done, f.result = true, dnsResult{status: dnsOther}
		return f
	}
	f.name = name
	c.send(f, 0)
	return f
}

// send asks every name server for family qi under a new id.
func (c *dnsClient) send(f *flight, qi int) {
	f.qi, f.n, f.id = qi, 0, uint16(rand.Uint32())
	clear(f.answered)
	q, err := c.query(f.id, f.name, f.types[qi])
	if err != nil {
		f.done, f.result = true, dnsResult{status: dnsOther}
		return
	}
	for i, ns := range c.ns {
		if _, err := c.conn.WriteTo(q, net.UDPAddrFromAddrPort(ns)); err != nil {
			c.stats.ns[i].sndError.Add(1)
		} else {
			c.stats.ns[i].sent.Add(1)
		}
	}
}

// expire ends the current try at its deadline: the next one starts, or
// the resolution ends.
func (c *dnsClient) expire(f *flight, now time.Time) {
	if f.try+1 >= c.cfg.ResolveRetries {
		f.done, f.result = true, dnsResult{status: f.status}
		return
	}
	f.try++
	f.status, f.deadline = dnsTimeout, now.Add(c.cfg.TimeoutRetry)
	c.send(f, 0)
}

// answer takes name server i's answer to the current query.
func (c *dnsClient) answer(f *flight, i int, msg []byte) {
	if f.answered[i] {
		c.stats.ns[i].outdated.Add(1)
		return
	}
	res, ok := parseDNSAnswer(msg, f.id, f.types[f.qi])
	if !ok {
		return // a query, not an answer
	}
	st := res.status
	c.stats.ns[i].count(st)
	if st == dnsValid {
		c.stats.ns[i].update.Add(1)
		res.by = resolvLabel(c.cfg.Name, c.cfg.Nameservers[i].ID)
		f.done, f.result = true, res
		return
	}
	f.answered[i] = true
	f.n++
	f.status = min(st, dnsOther)
	if f.n < len(c.ns) {
		return
	}
	switch {
	case f.qi == 0 && !f.srv:
		c.send(f, 1)
	case f.try+1 >= c.cfg.ResolveRetries:
		f.done, f.result = true, dnsResult{status: f.status}
	}
	// Otherwise the next try starts at the deadline.
}

// serve runs resolutions over the socket, in this goroutine, until ctx
// ends or the socket closes: next returns the flights to start at now
// and when it wants to be asked again; done is handed each flight that
// ended.
func (c *dnsClient) serve(ctx context.Context, next func(now time.Time) ([]*flight, time.Time), done func(*flight)) {
	var live []*flight
	for ctx.Err() == nil {
		now := time.Now()
		start, wake := next(now)
		live = append(live, start...)
		kept := live[:0]
		for _, f := range live {
			if !f.done && !now.Before(f.deadline) {
				c.expire(f, now)
			}
			if f.done {
				done(f)
				continue
			}
			kept = append(kept, f)
			if f.deadline.Before(wake) {
				wake = f.deadline
			}
		}
		clear(live[len(kept):])
		live = kept
		if ctx.Err() != nil {
			return
		}
		if !wake.After(now) {
			continue
		}
		_ = c.conn.SetReadDeadline(wake)
		n, from, err := c.conn.ReadFrom(c.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // the deadline
		}
		ua, _ := from.(*net.UDPAddr)
		if ua == nil {
			continue
		}
		i := c.nsIndex(netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port()))
		if i < 0 || n < 2 {
			continue
		}
		id := uint16(c.buf[0])<<8 | uint16(c.buf[1])
		var f *flight
		for _, l := range live {
			if l.id == id && !l.done {
				f = l
			}
		}
		if f == nil {
			c.stats.ns[i].outdated.Add(1) // an answer to a query already over
			continue
		}
		c.answer(f, i, c.buf[:n])
	}
}

// resolve runs one resolution of host to its end (do-resolve, tests).
func (c *dnsClient) resolve(ctx context.Context, host, prefer string) dnsResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var f *flight
	res := dnsResult{status: dnsNone}
	c.serve(ctx, func(now time.Time) ([]*flight, time.Time) {
		if f != nil {
			return nil, now.Add(time.Hour)
		}
		f = c.begin(host, prefer, now, nil)
		return []*flight{f}, now.Add(time.Hour)
	}, func(f *flight) {
		res = f.result
		cancel()
	})
	return res
}

func (c *dnsClient) nsIndex(src netip.AddrPort) int {
	for i, ns := range c.ns {
		if ns == src {
			return i
		}
	}
	return -1
}

// query builds a recursive query for name, with EDNS0 announcing the
// section's accepted_payload_size.
func (c *dnsClient) query(id uint16, name dnsmessage.Name, t dnsmessage.Type) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(c.cfg.AcceptedPayloadSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// srvRecord is one record of an SRV answer, with the target's address
// when the answer's additional section gave one.
type srvRecord struct {
	target       string // without the final dot
	port, weight uint16
	priority     uint16
	addr4, addr6 netip.Addr
}

// parseDNSAnswer reads an answer to query id of type t: its status and,
// for a valid one, the addresses of that type, or for SRV the records
// with the addresses the additional section gives their targets. ok is
// false for a message that is no such answer.
func parseDNSAnswer(msg []byte, id uint16, t dnsmessage.Type) (res dnsResult, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return dnsResult{status: dnsInvalid}, true
	}
	if h.ID != id || !h.Response {
		return dnsResult{}, false
	}
	if h.Truncated {
		return dnsResult{status: dnsTruncated}, true
	}
	if err := p.SkipAllQuestions(); err != nil {
		return dnsResult{status: dnsInvalid}, true
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return dnsResult{status: dnsNX}, true
	case dnsmessage.RCodeRefused:
		return dnsResult{status: dnsRefused}, true
	default:
		return dnsResult{status: dnsOther}, true
	}
	invalid := dnsResult{status: dnsInvalid}
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return invalid, true
		}
		switch {
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return invalid, true
			}
			res.addrs = append(res.addrs, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return invalid, true
			}
			res.addrs = append(res.addrs, netip.AddrFrom16(r.AAAA))
		case rh.Type == dnsmessage.TypeSRV && t == dnsmessage.TypeSRV:
			r, err := p.SRVResource()
			if err != nil {
				return invalid, true
			}
			res.srvs = append(res.srvs, srvRecord{target: strings.TrimSuffix(r.Target.String(), "."),
				port: r.Port, weight: r.Weight, priority: r.Priority})
		default:
			if err := p.SkipAnswer(); err != nil {
				return invalid, true
			}
		}
	}
	if t == dnsmessage.TypeSRV && len(res.srvs) > 0 {
		// The targets' addresses the name server added.
		if err := p.SkipAllAuthorities(); err != nil {
			return invalid, true
		}
		for {
			rh, err := p.AdditionalHeader()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				return invalid, true
			}
			name := strings.TrimSuffix(rh.Name.String(), ".")
			var a netip.Addr
			switch rh.Type {
			case dnsmessage.TypeA:
				r, err := p.AResource()
				if err != nil {
					return invalid, true
				}
				a = netip.AddrFrom4(r.A)
			case dnsmessage.TypeAAAA:
				r, err := p.AAAAResource()
				if err != nil {
					return invalid, true
				}
				a = netip.AddrFrom16(r.AAAA)
			default:
				if err := p.SkipAdditional(); err != nil {
					return invalid, true
				}
				continue
			}
			for i := range res.srvs {
				if r := &res.srvs[i]; strings.EqualFold(r.target, name) {
					if a.Is4() && !r.addr4.IsValid() {
						r.addr4 = a
					} else if a.Is6() && !r.addr6.IsValid() {
						r.addr6 = a
					}
				}
			}
		}
		res.status = dnsValid
		return res, true
	}
	if len(res.addrs) == 0 {
		return dnsResult{status: dnsNoAnswer}, true
	}
	res.status = dnsValid
	return res, true
}
