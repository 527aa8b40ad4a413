package acl

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"unicode"
)

// The map converters: map(FILE[,DEFAULT]) and map_<match>[_<out>], as in
// HAProxy. FILE holds one "key value" pair a line ('#' lines and empty
// ones skipped, leading blanks dropped, the value running to the end of
// the line less its trailing blanks). The sample is looked up as <match>
// says — str (map's own, exact, the first of equal keys), beg (the
// longest prefix), end, sub, dir, dom, reg, int (the first in order) or
// ip (the longest network that holds the address) — and its value, read
// as <out> (str, int or ip), replaces it; without a match, DEFAULT does,
// or no sample is left. The file's entries are a pattern reference (see
// Refs): the runtime API and the set-map and del-map actions change them.
func init() {
	for _, match := range []string{"str", "beg", "end", "sub", "dir", "dom", "reg", "int", "ip"} {
		for _, out := range []string{"", "str", "int", "ip"} {
			name := "map_" + match
			if out != "" {
				name += "_" + out
			}
			m, o := match, out
			t := TypeStr
			switch o {
			case "int":
				t = TypeInt
			case "ip":
				t = TypeIP
			}
			refConverters[name] = refConverter{out: t, compile: func(a []string, rs *Refs) (ConvFunc, error) { return mapConv(a, m, o, rs) }}
		}
	}
	refConverters["map"] = refConverters["map_str"]
	// map_regm is map_reg whose values may name the regex's groups
	// (\0 to \9), replaced by what they matched.
	refConverters["map_regm"] = refConverter{out: TypeStr, compile: func(a []string, rs *Refs) (ConvFunc, error) { return mapConv(a, "regm", "", rs) }}
}

// refConverter is a converter over a pattern reference (the maps): it
// takes arguments and is built with the configuration's references.
type refConverter struct {
	out     Type
	compile func(args []string, rs *Refs) (ConvFunc, error)
}

var refConverters = map[string]refConverter{}

// mapEntry is one entry of a map as its converter indexes it.
type mapEntry struct {
	ref   *RefEntry
	match func(Sample) bool // nil for the exact (str) maps
	value Sample
	bits  int            // the key's length (beg)
	re    *regexp.Regexp // the key's regex (regm)
	pfx   netip.Prefix   // the key's network (ip)
}

// mapUser is a map converter's index of its reference's entries.
type mapUser struct {
	file  string
	match string
	m     Matcher
	out   string
	regm  bool // map_regm: a reg map whose values name the groups

	mu    sync.RWMutex
	exact map[string][]*mapEntry // str: the entries of each key, in order
	nets  ipMap                  // ip: the entries by network
	list  []*mapEntry            // the others, in lookup order
	byRef map[*RefEntry]*mapEntry
}

// ipMap holds a map_ip's entries by prefix length, then network, so
// that an address is looked up once per length in use, the longest
// first; equal networks keep their order.
type ipMap struct {
	v4, v6 []ipMapLen // longest first
}

type ipMapLen struct {
	bits int
	nets map[netip.Addr][]*mapEntry
}

func (m *ipMap) lens(a netip.Addr) *[]ipMapLen {
	if a.Is4() {
		return &m.v4
	}
	return &m.v6
}

func (m *ipMap) add(me *mapEntry) {
	lens := m.lens(me.pfx.Addr())
	i, found := slices.BinarySearchFunc(*lens, me.pfx.Bits(), func(l ipMapLen, bits int) int { return bits - l.bits })
	if !found {
		*lens = slices.Insert(*lens, i, ipMapLen{bits: me.pfx.Bits(), nets: map[netip.Addr][]*mapEntry{}})
	}
	nets := (*lens)[i].nets
	nets[me.pfx.Addr()] = append(nets[me.pfx.Addr()], me)
}

func (m *ipMap) del(me *mapEntry) {
	lens := m.lens(me.pfx.Addr())
	i, found := slices.BinarySearchFunc(*lens, me.pfx.Bits(), func(l ipMapLen, bits int) int { return bits - l.bits })
	if !found {
		return
	}
	nets := (*lens)[i].nets
	if l := slices.DeleteFunc(nets[me.pfx.Addr()], func(x *mapEntry) bool { return x == me }); len(l) > 0 {
		nets[me.pfx.Addr()] = l
		return
	}
	delete(nets, me.pfx.Addr())
	if len(nets) == 0 {
		*lens = slices.Delete(*lens, i, i+1)
	}
}

func (m *ipMap) lookup(a netip.Addr) (*mapEntry, bool) {
	for _, l := range *m.lens(a) {
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if es := l.nets[p.Addr()]; len(es) > 0 {
			return es[0], true
		}
	}
	return nil, false
}

// longest tells the match methods HAProxy looks up in a tree for the
// longest key that matches, rather than in order.
func (u *mapUser) longest() bool { return u.match == "beg" || u.match == "ip" }

// value reads a map value as the converter's output type.
func (u *mapUser) value(v string) (Sample, error) {
	switch u.out {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Sample{}, fmt.Errorf("'%s' is not an integer", v)
		}
		return Int(n), nil
	case "ip":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return Sample{}, fmt.Errorf("'%s' is not an IP address", v)
		}
		return IP(a), nil
	}
	return Str(v), nil
}

// entry compiles one reference entry.
func (u *mapUser) entry(e *RefEntry) (*mapEntry, error) {
	v, err := u.value(e.Value)
	if err != nil {
		return nil, err
	}
	me := &mapEntry{ref: e, value: v}
	switch u.match {
	case "str":
		return me, nil
	case "ip":
		if me.pfx, err = ParsePrefix(e.Key); err != nil {
			return nil, err
		}
		return me, nil
	}
	if me.match, err = u.m.Compile([]string{e.Key}, MatchOptions{}); err != nil {
		return nil, err
	}
	if u.match == "beg" {
		me.bits = len(e.Key)
	}
	if u.regm {
		if me.re, err = regexp.Compile(e.Key); err != nil {
			return nil, err
		}
	}
	return me, nil
}

func (u *mapUser) check(e *RefEntry) error {
	if err := u.checkValue(e.Value); err != nil {
		return err
	}
	_, err := u.entry(e)
	return err
}

func (u *mapUser) checkValue(v string) error {
	if _, err := u.value(v); err != nil {
		return &ValueError{Value: v, Err: err}
	}
	return nil
}

// ValueError is a map value its converter cannot read as its output
// type (an integer, an address).
type ValueError struct {
	Value string
	Err   error
}

// Error returns the reading error's text.
func (e *ValueError) Error() string { return e.Err.Error() }

// Unwrap returns the reading error.
func (e *ValueError) Unwrap() error { return e.Err }

func (u *mapUser) reset(entries []*RefEntry) error {
	exact := map[string][]*mapEntry{}
	byRef := make(map[*RefEntry]*mapEntry, len(entries))
	var nets ipMap
	var list []*mapEntry
	for _, e := range entries {
		me, err := u.entry(e)
		if err != nil {
			if e.line > 0 {
				return fmt.Errorf("map file <%s> line %d: %w", u.file, e.line, err)
			}
			return fmt.Errorf("map file <%s> entry '%s': %w", u.file, e.Key, err)
		}
		byRef[e] = me
		switch u.match {
		case "str":
			exact[e.Key] = append(exact[e.Key], me)
		case "ip":
			nets.add(me)
		default:
			list = append(list, me)
		}
	}
	if u.match == "beg" {
		// The longest key first, equal ones in order, as HAProxy's
		// tree finds them.
		slices.SortStableFunc(list, func(a, b *mapEntry) int { return b.bits - a.bits })
	}
	u.mu.Lock()
	u.exact, u.nets, u.list, u.byRef = exact, nets, list, byRef
	u.mu.Unlock()
	return nil
}

func (u *mapUser) add(e *RefEntry) {
	me, err := u.entry(e)
	if err != nil {
		return // refused by check before
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byRef[e] = me
	switch u.match {
	case "str":
		u.exact[e.Key] = append(u.exact[e.Key], me)
	case "ip":
		u.nets.add(me)
	case "beg":
		i := slices.IndexFunc(u.list, func(x *mapEntry) bool { return x.bits < me.bits })
		if i < 0 {
			i = len(u.list)
		}
		u.list = slices.Insert(u.list, i, me)
	default:
		u.list = append(u.list, me)
	}
}

func (u *mapUser) del(e *RefEntry) {
	u.mu.Lock()
	defer u.mu.Unlock()
	me := u.byRef[e]
	delete(u.byRef, e)
	is := func(x *mapEntry) bool { return x.ref == e }
	switch u.match {
	case "ip":
		if me != nil {
			u.nets.del(me)
		}
		return
	case "str":
	default:
		u.list = slices.DeleteFunc(u.list, is)
		return
	}
	if l := slices.DeleteFunc(u.exact[e.Key], is); len(l) == 0 {
		delete(u.exact, e.Key)
	} else {
		u.exact[e.Key] = l
	}
}

func (u *mapUser) set(e *RefEntry) {
	v, err := u.value(e.Value)
	if err != nil {
		return // refused by check before
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if me := u.byRef[e]; me != nil {
		me.value = v
	}
}

// lookup returns the entry s matches and its value; u.mu is read-held.
func (u *mapUser) lookup(s Sample) (*mapEntry, bool) {
	switch u.match {
	case "str":
		if l := u.exact[s.String()]; len(l) > 0 {
			return l[0], true
		}
		return nil, false
	case "ip":
		a, ok := ipOf(s)
		if !ok {
			return nil, false
		}
		return u.nets.lookup(a)
	}
	for _, me := range u.list {
		if me.match(s) {
			return me, true
		}
	}
	return nil, false
}

func (u *mapUser) describe(value string) string {
	s := cliSample(u.match, value)
	u.mu.RLock()
	defer u.mu.RUnlock()
	head := "type=" + u.match + ", case=sensitive"
	me, ok := u.lookup(s)
	if !ok {
		return head + ", found=no"
	}
	idx := "list"
	if u.match == "str" || u.longest() {
		idx = "tree"
	}
	typ := map[string]string{"": "str", "str": "str", "int": "sint", "ip": "ip"}[u.out]
	return fmt.Sprintf("%s, found=yes, idx=%s, key=%q, value=%q, type=%q", head, idx, me.ref.Key, me.value.String(), typ)
}

// mapConv builds a map converter: args are FILE[,DEFAULT].
func mapConv(args []string, match, out string, rs *Refs) (ConvFunc, error) {
	if len(args) < 1 || len(args) > 2 || args[0] == "" {
		return nil, fmt.Errorf("expects <file>[,<default>]")
	}
	regm := match == "regm"
	if regm {
		match = "reg"
	}
	m, ok := LookupMatch(match)
	if !ok {
		return nil, fmt.Errorf("%w: '%s'", ErrUnknownMatch, match)
	}
	u := &mapUser{file: args[0], match: match, m: m, out: out, regm: regm}
	var def *Sample
	if len(args) == 2 {
		d, err := u.value(args[1])
		if err != nil {
			return nil, fmt.Errorf("default value: %w", err)
		}
		def = &d
	}
	ref, err := rs.load(args[0], true, RefMap)
	if err != nil {
		return nil, err
	}
	if err := ref.addUser(u); err != nil {
		return nil, err
	}
	return func(s Sample) (Sample, bool) {
		u.mu.RLock()
		me, ok := u.lookup(s)
		var v Sample
		var re *regexp.Regexp
		if ok {
			v, re = me.value, me.re
		}
		u.mu.RUnlock()
		if ok && re != nil {
			in := s.String()
			out, ok := expReplace(nil, v.Str, in, re.FindStringSubmatchIndex(in))
			return Str(string(out)), ok
		}
		if ok {
			return v, true
		}
		if def != nil {
			return *def, true
		}
		return Sample{}, false
	}, nil
}

// expReplace appends tmpl to dst with \0 to \9 replaced by the groups m
// (as regexp's FindStringSubmatchIndex gives them) found in subject,
// \xHH by that byte (the two characters read as HAProxy reads hex
// digits, unchecked) and \ before another character by that character,
// as HAProxy's map_regm expands its values. A template ending inside
// an escape fails.
func expReplace(dst []byte, tmpl, subject string, m []int) ([]byte, bool) {
	hex := func(c byte) byte {
		c = byte(unicode.ToUpper(rune(c))) - '0'
		if c > 9 {
			c -= 'A' - '9' - 1
		}
		return c
	}
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		if i++; i == len(tmpl) {
			return nil, false
		}
		switch c = tmpl[i]; {
		case c >= '0' && c <= '9':
			if g := int(c - '0'); 2*g+1 < len(m) && m[2*g] >= 0 {
				dst = append(dst, subject[m[2*g]:m[2*g+1]]...)
			}
		case c == 'x':
			if i+2 >= len(tmpl) {
				return nil, false
			}
			dst = append(dst, hex(tmpl[i+1])<<4+hex(tmpl[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}
