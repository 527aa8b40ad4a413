package acl

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The map converters: map(FILE[,DEFAULT]) and map_<match>[_<out>], as in
// HAProxy. FILE holds one "key value" pair a line ('#' lines and empty
// ones skipped, leading blanks dropped, the value running to the end of
// the line less its trailing blanks). The sample is looked up as <match>
// says — str (map's own, exact), beg, end, sub, dir, dom, reg, int or ip
// (the longest network that holds the address) — and its value, read as
// <out> (str, int or ip), replaces it; without a match, DEFAULT does, or
// no sample is left.
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
			converters[name] = converter{ArgRequired, t, func(a []string) (ConvFunc, error) { return mapConv(a, m, o) }}
		}
	}
	converters["map"] = converters["map_str"]
}

// mapEntry is one line of a map: its key's test and its value.
type mapEntry struct {
	match func(Sample) bool
	value Sample
	bits  int // the key's prefix length, for ip maps
}

// mapConv builds a map converter: args are FILE[,DEFAULT].
func mapConv(args []string, match, out string) (ConvFunc, error) {
	if len(args) < 1 || len(args) > 2 || args[0] == "" {
		return nil, fmt.Errorf("expects <file>[,<default>]")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return nil, fmt.Errorf("failed to open map file <%s>: %w", args[0], err)
	}
	valueOf := func(v string) (Sample, error) {
		switch out {
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
	var def *Sample
	if len(args) == 2 {
		d, err := valueOf(args[1])
		if err != nil {
			return nil, fmt.Errorf("default value: %w", err)
		}
		def = &d
	}
	exact := map[string]Sample{}
	var entries []mapEntry
	m, ok := LookupMatch(match)
	if !ok {
		return nil, fmt.Errorf("%w: '%s'", ErrUnknownMatch, match)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimLeft(strings.TrimRight(line, "\r"), " \t")
		if line == "" {
			continue
		}
		key, value, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		value = strings.TrimRight(strings.TrimLeft(value, " "), " ")
		v, err := valueOf(value)
		if err != nil {
			return nil, fmt.Errorf("map file <%s> line %d: %w", args[0], i+1, err)
		}
		if match == "str" {
			if _, dup := exact[key]; !dup {
				exact[key] = v
			}
			continue
		}
		pred, err := m.Compile([]string{key}, MatchOptions{})
		if err != nil {
			return nil, fmt.Errorf("map file <%s> line %d: %w", args[0], i+1, err)
		}
		e := mapEntry{match: pred, value: v}
		if match == "ip" {
			if p, err := netip.ParsePrefix(key); err == nil {
				e.bits = p.Bits()
			} else {
				e.bits = 128
			}
		}
		entries = append(entries, e)
	}
	if match == "ip" {
		// The most specific network first, as HAProxy's tree finds it.
		slices.SortStableFunc(entries, func(a, b mapEntry) int { return b.bits - a.bits })
	}
	return func(s Sample) (Sample, bool) {
		if match == "str" {
			if v, ok := exact[s.String()]; ok {
				return v, true
			}
		} else {
			for _, e := range entries {
				if e.match(s) {
					return e.value, true
				}
			}
		}
		if def != nil {
			return *def, true
		}
		return Sample{}, false
	}, nil
}
