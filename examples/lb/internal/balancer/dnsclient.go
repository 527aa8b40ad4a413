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
	conn  net.PacketConn
	ns    []netip.AddrPort
	buf   []byte
	close func()
}

func newDNSClient(cfg *config.Resolvers) (*dnsClient, error) {
	conn, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return nil, err
	}
	c := &dnsClient{cfg: cfg, conn: conn, buf: make([]byte, max(cfg.AcceptedPayloadSize, 512))}
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

// resolve runs one resolution of host, as HAProxy's resolvers do: the
// query of the preferred family goes to every name server, and the
// first answer with addresses wins; when every name server answered
// without one, the other family is asked; when some did not answer
// within "timeout retry", the query goes again, up to "resolve_retries"
// queries in all.
func (c *dnsClient) resolve(ctx context.Context, host, prefer string) dnsResult {
	types := []dnsmessage.Type{dnsmessage.TypeAAAA, dnsmessage.TypeA}
	if prefer == "ipv4" {
		types[0], types[1] = types[1], types[0]
	}
	name, err := dnsmessage.NewName(strings.TrimSuffix(host, ".") + ".")
	if err != nil {
		return dnsResult{status: dnsOther}
	}
	qi, status := 0, dnsTimeout
	for try := 0; try < c.cfg.ResolveRetries && ctx.Err() == nil; try++ {
		id := uint16(rand.Uint32())
		q, err := c.query(id, name, types[qi])
		if err != nil {
			return dnsResult{status: dnsOther}
		}
		for _, ns := range c.ns {
			_, _ = c.conn.WriteTo(q, net.UDPAddrFromAddrPort(ns))
		}
		answered := map[netip.AddrPort]bool{}
		_ = c.conn.SetReadDeadline(time.Now().Add(c.cfg.TimeoutRetry))
		for len(answered) < len(c.ns) {
			n, from, err := c.conn.ReadFrom(c.buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return dnsResult{status: dnsNone}
				}
				break // timeout retry
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
			st, addrs, ok := parseDNSAnswer(c.buf[:n], id, types[qi])
			if !ok {
				continue // not the answer to this query
			}
			if st == dnsValid {
				return dnsResult{status: dnsValid, addrs: addrs, by: resolvLabel(c.cfg.Name, c.cfg.Nameservers[i].ID)}
			}
			answered[src] = true
			status = st
		}
		if len(answered) == len(c.ns) {
			// Every name server said no: ask the other family, once,
			// without spending a try; past it, the error stands.
			if qi == 1 {
				return dnsResult{status: status}
			}
			qi++
			try--
			continue
		}
		status = dnsTimeout
	}
	return dnsResult{status: status}
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
	if err != nil || h.ID != id || !h.Response {
		return 0, nil, false
	}
	if err := p.SkipAllQuestions(); err != nil {
		return 0, nil, false
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
				return dnsOther, nil, true
			}
			addrs = append(addrs, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return dnsOther, nil, true
			}
			addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return dnsOther, nil, true
			}
		}
	}
	if len(addrs) == 0 {
		return dnsOther, nil, true
	}
	return dnsValid, addrs, true
}
