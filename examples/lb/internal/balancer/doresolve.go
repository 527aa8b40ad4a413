package balancer

import (
	"context"
	"net/netip"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// The do-resolve action (http-request and tcp-request content): the
// expression's text is a host name, resolved through a resolvers section
// while the stream waits, and the first address of the answer (of the
// family asked first, else of the other) goes into the variable. A name
// that does not resolve (no such name, no answer within the section's
// tries, not a host name at all) leaves the variable as it was. As in
// HAProxy 2.6, the name is lowercased and taken as written (an address
// is resolved as a name too), and each stream asks again: a
// resolution lives as long as its stream, the section's "hold valid"
// keeping an answer only for resolutions the servers share.

// doResolve runs one do-resolve action: expr gives the host name, and
// its address goes into ctx's variable name. A name without a scope
// (which haproxy takes, and never sets) does nothing.
func (b *Balancer) doResolve(res config.DoResolve, name string, expr acl.FetchFunc, ctx acl.VarContext) {
	if expr == nil {
		return
	}
	if _, _, err := acl.ParseVarName(name); err != nil {
		return
	}
	smp, ok := expr(ctx)
	if !ok {
		return
	}
	host := smp.String()
	if !validHostName(host) {
		return
	}
	if ip, ok := b.resolveHost(res, strings.ToLower(host)); ok {
		ctx.SetVar(name, acl.IP(ip))
	}
}

// resolveHost resolves host through the resolvers section res names, on
// a socket of its own, and returns the answer's first address.
func (b *Balancer) resolveHost(res config.DoResolve, host string) (netip.Addr, bool) {
	var stats *resolversStats
	for _, st := range b.resolvers {
		if st.cfg.Name == res.Resolvers {
			stats = st
		}
	}
	if stats == nil || len(stats.cfg.Nameservers) == 0 {
		return netip.Addr{}, false
	}
	c, err := newDNSClient(stats.cfg, stats)
	if err != nil {
		b.log.Debug("do-resolve: cannot open a socket", "resolvers", res.Resolvers, "err", err)
		return netip.Addr{}, false
	}
	defer c.close()
	stop := context.AfterFunc(b.ctx, c.close)
	defer stop()
	out := c.resolve(b.ctx, host, res.Prefer)
	if out.status != dnsValid || len(out.addrs) == 0 {
		return netip.Addr{}, false
	}
	return out.addrs[0].Unmap(), true
}

// validHostName tells a text that can be asked for: dot-separated labels
// of 1 to 63 bytes, 255 bytes in all, a final dot allowed.
func validHostName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}
