package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Resolvers is a "resolvers" section: the name servers a server's host
// name is asked of at run time, and how often and how long answers hold.
type Resolvers struct {
	Pos
	Name string
	// Nameservers are the servers asked, each over UDP.
	Nameservers []Nameserver
	// ParseResolvConf adds the name servers of /etc/resolv.conf
	// ("parse-resolv-conf"), read when the section is parsed.
	ParseResolvConf bool
	// Implicit marks the "default" section made from /etc/resolv.conf
	// when the configuration declares none, as HAProxy makes it.
	Implicit bool
	// ResolveRetries is how many queries a resolution sends before it
	// gives up ("resolve_retries", 3).
	ResolveRetries int
	// TimeoutResolve is the time between two resolutions of a name
	// ("timeout resolve", 1s); TimeoutRetry the time to wait for an
	// answer before asking again ("timeout retry", 1s).
	TimeoutResolve, TimeoutRetry time.Duration
	// Hold is how long a status is kept before it acts ("hold").
	Hold Hold
	// AcceptedPayloadSize is the UDP payload size announced in EDNS0
	// ("accepted_payload_size", 512).
	AcceptedPayloadSize int
}

// Hold are the "hold" periods of a resolvers section: how long after the
// last valid answer a server keeps its address when the name fails with
// each error before it goes into resolution maintenance, how long a
// valid answer serves (Valid) and how long an address missing from the
// answers is kept (Obsolete).
type Hold struct {
	NX, Other, Refused, Timeout, Valid, Obsolete time.Duration
}

// Nameserver is one "nameserver ID ADDR:PORT" line.
type Nameserver struct {
	ID string
	// Addr is IP:port.
	Addr string
}

// ResolversSection returns the resolvers section with that name, or nil.
func (c *Config) ResolversSection(name string) *Resolvers {
	for _, r := range c.Resolvers {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// resolvConf is the file parse-resolv-conf reads.
var resolvConf = "/etc/resolv.conf"

func init() {
	serverOptions["resolvers"] = serverOption{1, func(s *Server, a []string) error { return oneString(a, "name", &s.Resolvers) }}
	serverOptions["resolve-prefer"] = serverOption{1, func(s *Server, a []string) error {
		if a[0] != "ipv4" && a[0] != "ipv6" {
			return fmt.Errorf("expects 'ipv4' or 'ipv6', not '%s'", a[0])
		}
		s.ResolvePrefer = a[0]
		return nil
	}}
	serverOptions["resolve-net"] = serverOption{1, func(s *Server, a []string) error {
		s.ResolveNets = nil
		for _, n := range strings.Split(a[0], ",") {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				a, aerr := netip.ParseAddr(n)
				if aerr != nil {
					return fmt.Errorf("'%s' is not a network", n)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			s.ResolveNets = append(s.ResolveNets, p.Masked())
		}
		return nil
	}}
	serverOptions["resolve-opts"] = serverOption{1, func(s *Server, a []string) error {
		for _, o := range strings.Split(a[0], ",") {
			switch o {
			case "allow-dup-ip":
				s.ResolveAllowDupIP = true
			case "prevent-dup-ip":
				s.ResolveAllowDupIP = false
			case "ignore-weight":
				s.ResolveIgnoreWeight = true
			default:
				return fmt.Errorf("unknown option '%s' (allow-dup-ip, ignore-weight, prevent-dup-ip)", o)
			}
		}
		return nil
	}}
	finishers = append(finishers, (*parser).checkResolversRefs)
}

func (p *parser) startResolvers(args []string) {
	p.section, p.cur, p.resolvers = "resolvers", nil, nil
	if len(args) != 1 {
		p.errorf("resolvers", ErrBadValue, "'resolvers' expects <name>")
		return
	}
	if err := checkName(args[0]); err != nil {
		p.errorf("resolvers", ErrBadValue, "'resolvers %s': %v", args[0], err)
		return
	}
	if prev := p.cfg.ResolversSection(args[0]); prev != nil {
		p.errorf("resolvers", ErrReference, "resolvers '%s' has the same name as the one declared at %s", args[0], prev.Pos)
		return
	}
	p.resolvers = newResolvers(args[0], p.pos)
	p.cfg.Resolvers = append(p.cfg.Resolvers, p.resolvers)
}

// newResolvers is a resolvers section with HAProxy's defaults.
func newResolvers(name string, pos Pos) *Resolvers {
	return &Resolvers{Pos: pos, Name: name, ResolveRetries: 3,
		TimeoutResolve: time.Second, TimeoutRetry: time.Second, AcceptedPayloadSize: 512,
		Hold: Hold{NX: 30 * time.Second, Other: 30 * time.Second, Refused: 30 * time.Second,
			Timeout: 30 * time.Second, Valid: 10 * time.Second}}
}

// resolversLine reads one line of the current resolvers section.
func (p *parser) resolversLine(words []string) {
	r := p.resolvers
	if r == nil {
		return // the section's own line failed
	}
	kw, a := words[0], words[1:]
	if err := p.resolversKeyword(r, kw, a); err != nil {
		p.fail(kw, fmt.Sprintf("'%s' in 'resolvers' section", kw), err)
	}
}

func (p *parser) resolversKeyword(r *Resolvers, kw string, a []string) error {
	switch kw {
	case "nameserver":
		if len(a) != 2 {
			return errors.New("expects <id> <addr:port>")
		}
		for _, ns := range r.Nameservers {
			if ns.ID == a[0] {
				return fmt.Errorf("%w: nameserver '%s' already declared", ErrReference, a[0])
			}
		}
		// Its address expands the environment, as every address does.
		addr, err := envAddr(a[1])
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(addr, "udp@"):
			addr = addr[len("udp@"):]
		case strings.Contains(addr, "@"):
			return fmt.Errorf("%w: nameserver address '%s': only UDP (udp@ or no prefix) is supported", ErrUnsupported, a[1])
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			if ip, ierr := netip.ParseAddr(addr); ierr == nil {
				ap = netip.AddrPortFrom(ip, 53)
			} else {
				return fmt.Errorf("invalid address '%s'", a[1])
			}
		}
		r.Nameservers = append(r.Nameservers, Nameserver{ID: a[0], Addr: ap.String()})
		return nil
	case "parse-resolv-conf":
		if err := noArgs(a); err != nil {
			return err
		}
		r.ParseResolvConf = true
		return r.readResolvConf()
	case "resolve_retries":
		return oneInt(a, 1, 1<<20, &r.ResolveRetries)
	case "accepted_payload_size":
		// HAProxy's bounds: the DNS minimum to the largest UDP payload.
		return oneInt(a, 512, 65535, &r.AcceptedPayloadSize)
	case "timeout":
		if len(a) != 2 {
			return errors.New("expects 'resolve' or 'retry' and a time")
		}
		switch a[0] {
		case "resolve":
			return positiveTime(a[1], &r.TimeoutResolve)
		case "retry":
			return positiveTime(a[1], &r.TimeoutRetry)
		}
		return fmt.Errorf("'%s' is not 'resolve' nor 'retry'", a[0])
	case "hold":
		if len(a) != 2 {
			return errors.New("expects <status> <time>")
		}
		dst := map[string]*time.Duration{"nx": &r.Hold.NX, "other": &r.Hold.Other, "refused": &r.Hold.Refused,
			"timeout": &r.Hold.Timeout, "valid": &r.Hold.Valid, "obsolete": &r.Hold.Obsolete}[a[0]]
		if dst == nil {
			return fmt.Errorf("'%s' is not a status (nx, other, refused, timeout, valid, obsolete)", a[0])
		}
		d, err := ParseTime(a[1])
		if err != nil {
			return err
		}
		*dst = d
		return nil
	case "resolution_pool_size":
		return nil // gone from HAProxy, which only warns
	}
	return fmt.Errorf("%w: unknown keyword '%s' in 'resolvers' section", ErrUnknownKeyword, kw)
}

// readResolvConf adds the name servers resolv.conf lists, on port 53.
func (r *Resolvers) readResolvConf() error {
	f, err := os.Open(resolvConf)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) < 2 || w[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(w[1])
		if err != nil {
			continue
		}
		r.Nameservers = append(r.Nameservers, Nameserver{ID: w[1], Addr: net.JoinHostPort(ip.WithZone("").String(), "53")})
	}
	return sc.Err()
}

// checkResolversRefs checks the resolvers sections the servers name
// exist, and warns of a section without a name server. As HAProxy, it first
// adds a section named "default" with the name servers of
// /etc/resolv.conf, unless one is declared or the file lists none.
func (p *parser) checkResolversRefs() {
	if p.cfg.ResolversSection("default") == nil {
		r := newResolvers("default", Pos{})
		r.ParseResolvConf, r.Implicit = true, true
		if r.readResolvConf() == nil && len(r.Nameservers) > 0 {
			p.cfg.Resolvers = append(p.cfg.Resolvers, r)
		}
	}
	for _, r := range p.cfg.Resolvers {
		if len(r.Nameservers) == 0 {
			// Taken with HAProxy's warning: its resolutions time out.
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("resolvers '%s' [%s] has no nameservers configured!", r.Name, r.Pos))
		}
	}
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.Resolvers != "" && p.cfg.ResolversSection(s.Resolvers) == nil {
				p.pos = s.Pos
				p.errorf("server", ErrReference, "%s '%s', server '%s': unable to find required resolvers '%s'", px.Kind, px.Name, s.Name, s.Resolvers)
			}
		}
	}
	p.checkDoResolve()
}
