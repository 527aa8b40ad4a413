package acl

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The built-in match methods: bool, found, int, ip and str. The string
// prefix, suffix, substring and regex methods (beg, end, sub, reg, ...)
// belong with the fetches that need them.
func init() {
	RegisterMatch(Matcher{Name: "bool", Compile: compileBool})
	RegisterMatch(Matcher{Name: "found", Compile: compileFound})
	RegisterMatch(Matcher{Name: "int", Compile: compileInt})
	RegisterMatch(Matcher{Name: "ip", Compile: compileIP})
	RegisterMatch(Matcher{Name: "str", Compile: compileStr})
}

// compileBool matches a boolean true or a non-zero integer; it takes no
// pattern.
func compileBool(p []string, _ MatchOptions) (func(Sample) bool, error) {
	if len(p) > 0 {
		return nil, fmt.Errorf("%w: match method 'bool' takes no pattern, got '%s'", ErrBadPattern, p[0])
	}
	return func(s Sample) bool {
		switch s.Type {
		case TypeBool, TypeInt:
			return s.Int != 0
		case TypeStr:
			return s.Str != ""
		case TypeIP:
			return s.IP.IsValid()
		}
		return false
	}, nil
}

// compileFound matches whenever the fetch found a sample.
func compileFound(p []string, _ MatchOptions) (func(Sample) bool, error) {
	if len(p) > 0 {
		return nil, fmt.Errorf("%w: match method 'found' takes no pattern, got '%s'", ErrBadPattern, p[0])
	}
	return func(Sample) bool { return true }, nil
}

// intRange is one integer pattern: lo <= v <= hi.
type intRange struct{ lo, hi int64 }

// compileInt reads integer patterns: "N", "LO:HI", ":HI", "LO:", each
// possibly preceded by an operator (eq, ge, gt, le, lt) that applies to
// the patterns after it.
func compileInt(p []string, _ MatchOptions) (func(Sample) bool, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: match method 'int' expects at least one value", ErrBadPattern)
	}
	var rs []intRange
	op := "eq"
	pendingOp := false
	for _, w := range p {
		switch w {
		case "eq", "ge", "gt", "le", "lt":
			op, pendingOp = w, true
			continue
		}
		pendingOp = false
		r, err := parseIntPattern(w, op)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if pendingOp || len(rs) == 0 {
		return nil, fmt.Errorf("%w: operator '%s' without a value", ErrBadPattern, op)
	}
	return func(s Sample) bool {
		if s.Type != TypeInt && s.Type != TypeBool {
			return false
		}
		for _, r := range rs {
			if s.Int >= r.lo && s.Int <= r.hi {
				return true
			}
		}
		return false
	}, nil
}

func parseIntPattern(w, op string) (intRange, error) {
	num := func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: '%s' is not an integer", ErrBadPattern, w)
		}
		return n, nil
	}
	if i := strings.IndexByte(w, ':'); i >= 0 {
		if op != "eq" {
			return intRange{}, fmt.Errorf("%w: a range ('%s') cannot follow operator '%s'", ErrBadPattern, w, op)
		}
		r := intRange{lo: math.MinInt64, hi: math.MaxInt64}
		var err error
		if w[:i] != "" {
			if r.lo, err = num(w[:i]); err != nil {
				return r, err
			}
		}
		if w[i+1:] != "" {
			if r.hi, err = num(w[i+1:]); err != nil {
				return r, err
			}
		}
		if w == ":" || r.lo > r.hi {
			return r, fmt.Errorf("%w: empty range '%s'", ErrBadPattern, w)
		}
		return r, nil
	}
	n, err := num(w)
	if err != nil {
		return intRange{}, err
	}
	switch op {
	case "ge":
		return intRange{n, math.MaxInt64}, nil
	case "gt":
		if n == math.MaxInt64 {
			return intRange{1, 0}, nil // matches nothing
		}
		return intRange{n + 1, math.MaxInt64}, nil
	case "le":
		return intRange{math.MinInt64, n}, nil
	case "lt":
		if n == math.MinInt64 {
			return intRange{1, 0}, nil
		}
		return intRange{math.MinInt64, n - 1}, nil
	}
	return intRange{n, n}, nil
}

// compileIP reads addresses and networks: "10.0.0.1", "10.0.0.0/8",
// "10.0.0.0/255.0.0.0", "::1", "2001:db8::/32". IPv4 and IPv4-mapped IPv6
// addresses match each other, as HAProxy compares them.
func compileIP(p []string, _ MatchOptions) (func(Sample) bool, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: match method 'ip' expects at least one address", ErrBadPattern)
	}
	var set ipSet
	for _, w := range p {
		if err := set.add(w); err != nil {
			return nil, err
		}
	}
	return set.match, nil
}

// ipSet holds networks by prefix length, so that an address is looked
// up once per length in use rather than once per network: a list of
// thousands of addresses costs what a few do.
type ipSet struct {
	v4, v6 []ipLen // by length, longest first
}

type ipLen struct {
	bits int
	nets map[netip.Addr]int // the networks' (masked) addresses, and how many times each
}

func (s *ipSet) lens(a netip.Addr) *[]ipLen {
	if a.Is4() {
		return &s.v4
	}
	return &s.v6
}

func (s *ipSet) put(p netip.Prefix, delta int) {
	lens := s.lens(p.Addr())
	i, found := slices.BinarySearchFunc(*lens, p.Bits(), func(l ipLen, bits int) int { return bits - l.bits })
	if !found {
		if delta < 0 {
			return
		}
		*lens = slices.Insert(*lens, i, ipLen{bits: p.Bits(), nets: map[netip.Addr]int{}})
	}
	nets := (*lens)[i].nets
	if nets[p.Addr()] += delta; nets[p.Addr()] <= 0 {
		delete(nets, p.Addr())
		if len(nets) == 0 {
			*lens = slices.Delete(*lens, i, i+1)
		}
	}
}

func (s *ipSet) add(w string) error {
	p, err := ParsePrefix(w)
	if err != nil {
		return err
	}
	s.put(p, 1)
	return nil
}

func (s *ipSet) del(w string) {
	if p, err := ParsePrefix(w); err == nil {
		s.put(p, -1)
	}
}

func (s *ipSet) match(smp Sample) bool {
	a, ok := ipOf(smp)
	return ok && s.contains(a)
}

// ipOf reads an address sample, or a string that holds one.
func ipOf(s Sample) (netip.Addr, bool) {
	switch s.Type {
	case TypeIP:
		return s.IP.Unmap(), true
	case TypeStr:
		a, err := netip.ParseAddr(s.Str)
		return a.Unmap(), err == nil
	}
	return netip.Addr{}, false
}

// strSet holds whole-string patterns, lower-cased under -i.
type strSet struct {
	fold bool
	n    map[string]int
}

func (s *strSet) key(w string) string {
	if s.fold {
		return strings.ToLower(w)
	}
	return w
}

func (s *strSet) add(w string) error {
	s.n[s.key(w)]++
	return nil
}

func (s *strSet) del(w string) {
	k := s.key(w)
	if s.n[k]--; s.n[k] <= 0 {
		delete(s.n, k)
	}
}

func (s *strSet) match(smp Sample) bool {
	_, ok := s.n[s.key(smp.String())]
	return ok
}

func (s *ipSet) contains(a netip.Addr) bool {
	lens := s.v6
	if a.Is4() {
		lens = s.v4
	}
	for _, l := range lens {
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if _, ok := l.nets[p.Addr()]; ok {
			return true
		}
	}
	return false
}

// ParsePrefix parses an IP pattern: an address (a /32 or /128 network), a
// CIDR network, or an IPv4 network with a dotted mask.
func ParsePrefix(w string) (netip.Prefix, error) {
	addr, mask, hasMask := strings.Cut(w, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w: '%s' is not an IP address or network", ErrBadPattern, w)
	}
	a = a.Unmap()
	bits := a.BitLen()
	if hasMask {
		if n, err := strconv.Atoi(mask); err == nil {
			bits = n
		} else if m, err := netip.ParseAddr(mask); err == nil && m.Is4() && a.Is4() {
			bits = maskBits(m.As4())
		} else {
			bits = -1
		}
		if bits < 0 || bits > a.BitLen() {
			return netip.Prefix{}, fmt.Errorf("%w: bad mask in '%s'", ErrBadPattern, w)
		}
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// maskBits returns the length of a contiguous dotted mask, -1 if it has
// holes.
func maskBits(m [4]byte) int {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

// compileStr matches whole strings, ignoring case with -i.
func compileStr(p []string, o MatchOptions) (func(Sample) bool, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: match method 'str' expects at least one string", ErrBadPattern)
	}
	set := make(map[string]struct{}, len(p))
	for _, w := range p {
		if o.IgnoreCase {
			w = strings.ToLower(w)
		}
		set[w] = struct{}{}
	}
	return func(s Sample) bool {
		v := s.String()
		if o.IgnoreCase {
			v = strings.ToLower(v)
		}
		_, ok := set[v]
		return ok
	}, nil
}
