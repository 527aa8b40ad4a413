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

// resolve runs one resolution of host, as HAProxy's resolvers do: each
// try asks every name server for the preferred family and, when all of
// them answered without an address, at once for the other; the first
// answer with addresses wins. A try lasts "timeout retry", and a
// resolution "resolve_retries" tries. It ends in the error of the last
// answers, or a timeout when a try got none.
func (c *dnsClient) resolve(ctx context.Context, host, prefer string) dnsResult {
	types := []dnsmessage.Type{dnsmessage.TypeAAAA, dnsmessage.TypeA}
	if prefer == "ipv4" {
		types[0], types[1] = types[1], types[0]
	}
	name, err := dnsmessage.NewName(strings.TrimSuffix(host, ".") + ".")
	if err != nil {
		return dnsResult{status: dnsOther}
	}
	status := dnsTimeout
	for try := 0; try < c.cfg.ResolveRetries; try++ {
		deadline := time.Now().Add(c.cfg.TimeoutRetry)
		for _, t := range types {
			r, all := c.ask(name, t, deadline)
			switch {
			case r.status == dnsValid || r.status == dnsNone:
				return r
			case r.status != dnsTimeout:
				status = r.status
			}
			if !all {
				break
			}
		}
		if try+1 == c.cfg.ResolveRetries {
			break
		}
		// The next try starts when this one's time is up.
		tm := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			tm.Stop()
			return dnsResult{status: dnsNone}
		case <-tm.C:
		}
	}
	return dnsResult{status: status}
}

// ask sends one query to every name server and waits until deadline
// for their answers: it returns the first with addresses, else the
// error of the last (dnsTimeout for none), and whether all answered.
func (c *dnsClient) ask(name dnsmessage.Name, t dnsmessage.Type, deadline time.Time) (dnsResult, bool) {
	id := uint16(rand.Uint32())
	q, err := c.query(id, name, t)
	if err != nil {
		return dnsResult{status: dnsOther}, true
	}
	for i, ns := range c.ns {
		if _, err := c.conn.WriteTo(q, net.UDPAddrFromAddrPort(ns)); err != nil {
			c.stats.ns[i].sndError.Add(1)
		} else {
			c.stats.ns[i].sent.Add(1)
		}
	}
	status := dnsTimeout
	answered := map[netip.AddrPort]bool{}
	_ = c.conn.SetReadDeadline(deadline)
	for len(answered) < len(c.ns) {
		n, from, err := c.conn.ReadFrom(c.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return dnsResult{status: dnsNone}, false
			}
			return dnsResult{status: status}, false // timeout retry
		}
		ua, _ := from.(*net.UDPAddr)
		if ua == nil {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		i := c.nsIndex(src)
		if i < 0 || answered[src] {
			continue
		}
		st, addrs, ok := parseDNSAnswer(c.buf[:n], id, t)
		if !ok {
			c.stats.ns[i].outdated.Add(1) // an answer to an earlier query
			continue
		}
		c.stats.ns[i].count(st)
		if st == dnsValid {
			c.stats.ns[i].update.Add(1)
			return dnsResult{status: dnsValid, addrs: addrs, by: resolvLabel(c.cfg.Name, c.cfg.Nameservers[i].ID)}, true
		}
		answered[src] = true
		status = min(st, dnsOther)
	}
	return dnsResult{status: status}, true
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

// parseDNSAnswer reads an answer to query id of type t: its status and, for
// a valid one, the addresses of that type. ok is false for a message
// that is no such answer.
func parseDNSAnswer(msg []byte, id uint16, t dnsmessage.Type) (st dnsStatus, addrs []netip.Addr, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return dnsInvalid, nil, true
	}
	if h.ID != id || !h.Response {
		return 0, nil, false
	}
	if h.Truncated {
		return dnsTruncated, nil, true
	}
	if err := p.SkipAllQuestions(); err != nil {
		return dnsInvalid, nil, true
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return dnsNX, nil, true
	case dnsmessage.RCodeRefused:
		return dnsRefused, nil, true
	default:
		return dnsOther, nil, true
	}
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		switch {
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return dnsInvalid, nil, true
			}
			addrs = append(addrs, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return dnsInvalid, nil, true
			}
			addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return dnsInvalid, nil, true
			}
		}
	}
	if len(addrs) == 0 {
		return dnsNoAnswer, nil, true
	}
	return dnsValid, addrs, true
}
