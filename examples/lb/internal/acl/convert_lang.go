package acl

import (
	"fmt"
	"strings"
)

// language(list[,default]): of the languages an Accept-Language value
// names, the one with the highest q-value (the first among equals) that
// matches an entry of the ';'-separated list, as that entry; else the
// default; else no sample. A language matches an entry equal to it, or
// to its part before a '-' (case counts), as in HAProxy 2.6.
func init() {
	converters["language"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) > 2 {
			return nil, fmt.Errorf("expects <values>[,<default>]")
		}
		var list, def string
		if len(a) > 0 {
			list = a[0]
		}
		if len(a) > 1 {
			def = a[1]
		}
		tags := strings.Split(list, ";")
		return func(s Sample) (Sample, bool) {
			best := preferredLanguage(s.String(), tags)
			if best == "" {
				best = def
			}
			return Str(best), best != ""
		}, nil
	}}
}

// preferredLanguage returns the entry of tags that the best language of
// the Accept-Language value al matches, "" when none does.
func preferredLanguage(al string, tags []string) string {
	best, bestQ := "", 0
	for i := 0; i < len(al); {
		i = skipSpaces(al, i)
		if i >= len(al) {
			break
		}
		start := i
		for i < len(al) && al[i] != ';' && al[i] != ',' && !isSpace(al[i]) {
			i++
		}
		if tag, ok := languageTag(al[start:i], tags); ok {
			q := 1000
			i = skipSpaces(al, i)
			switch {
			case i >= len(al) || al[i] == ',':
			case al[i] != ';':
				q = -1 // not a language: skip to the next one
			default:
				i = skipSpaces(al, i+1)
				if i < len(al) && al[i] == 'q' {
					if i = skipSpaces(al, i+1); i < len(al) && al[i] == '=' {
						if i = skipSpaces(al, i+1); i < len(al) {
							q, i = parseQValue(al, i)
						}
					}
				}
			}
			if q > bestQ {
				best = tag
				if q >= 1000 {
					break
				}
				bestQ = q
			}
		}
		for i < len(al) && al[i] != ',' {
			i++
		}
		i++
	}
	return best
}

// languageTag returns the first entry of tags that the language rng
// matches.
func languageTag(rng string, tags []string) (string, bool) {
	if rng == "" {
		return "", false
	}
	for _, tag := range tags {
		if languageMatch(rng, tag) {
			return tag, true
		}
	}
	return "", false
}

// languageMatch reports whether the language rng is tag or starts with
// tag and a '-'.
func languageMatch(rng, tag string) bool {
	for i := 0; i < len(rng); i++ {
		if i == len(tag) {
			return rng[i] == '-'
		}
		if rng[i] != tag[i] {
			return false
		}
	}
	return len(rng) == len(tag)
}

// parseQValue reads a q-value at v[i:] in thousandths ("0.5" is 500;
// not starting with a digit, or with no '.' after its first digit, 1000;
// at most 1000), and returns where it stopped.
func parseQValue(v string, i int) (int, int) {
	digit := func(i int) bool { return i < len(v) && v[i] >= '0' && v[i] <= '9' }
	if !digit(i) {
		return 1000, i
	}
	q := int(v[i]-'0') * 1000
	i++
	if i >= len(v) || v[i] != '.' {
		return min(q, 1000), i + 1
	}
	i++
	for _, w := range []int{100, 10, 1} {
		if !digit(i) {
			break
		}
		q += int(v[i]-'0') * w
		i++
	}
	return min(q, 1000), i
}

// skipSpaces returns the index of the first byte of v from i that is not
// a space.
func skipSpaces(v string, i int) int {
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	return i
}

// isSpace reports whether c is a space as C's isspace sees one.
func isSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r'
}
