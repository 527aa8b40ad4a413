package config

import (
	"fmt"
	"os"
	"strings"
)

// HAProxyVersion is the HAProxy version lb answers as in the .if
// predicates version_atleast and version_before: the release whose
// behaviour it follows.
const HAProxyVersion = "2.6.12"

// BuildFeatures is the feature list the .if predicate feature() reads,
// in HAProxy's "haproxy -vv" form: '+' for a feature lb has, '-' for one
// it lacks. It follows the 2.6.12 build lb is tested against, except
// where lb differs: no Lua, no OpenTracing, Go's regexp instead of PCRE2,
// no QUIC, no zlib (compression is lb's own deflate/gzip).
const BuildFeatures = "-51DEGREES +ACCEPT4 +BACKTRACE -CLOSEFROM +CPU_AFFINITY +CRYPT_H -DEVICEATLAS +DL -ENGINE +EPOLL -EVPORTS +GETADDRINFO -KQUEUE +LIBCRYPT +LINUX_SPLICE +LINUX_TPROXY -LUA -MEMORY_PROFILING +NETFILTER +NS -OBSOLETE_LINKER +OPENSSL -OT -PCRE -PCRE2 -PCRE2_JIT -PCRE_JIT +POLL +PRCTL -PROCCTL +PROMEX -QUIC +RT +SLZ -STATIC_PCRE -STATIC_PCRE2 +SYSTEMD +TFO +THREAD +THREAD_DUMP +TPROXY -WURFL -ZLIB"

// maxCondDepth bounds the recursion of a condition's parser, as
// HAProxy's does: each parenthesis, '&&' and '||' costs a level.
const maxCondDepth = 1024

// maxNestedConds is how deep .if blocks may nest: the 100th .if is
// refused.
const maxNestedConds = 100

// condError is a condition's syntax error; pos is the 0-based offset in
// the expression where it was found.
type condError struct {
	msg string
	pos int
}

func (e *condError) Error() string { return fmt.Sprintf("%s at position %d", e.msg, e.pos+1) }

// condParser reads a .if/.elif expression: terms (an integer, a
// predicate with its arguments, or a parenthesized expression, each
// possibly negated by '!') joined by '&&', binding tighter, and '||'.
type condParser struct {
	s   string
	err *condError
}

func isCondBlank(c byte) bool { return c == ' ' || c == '\t' }

func (c *condParser) skip(i int) int {
	for i < len(c.s) && isCondBlank(c.s[i]) {
		i++
	}
	return i
}

func (c *condParser) fail(pos int, format string, a ...any) int {
	c.err = &condError{msg: fmt.Sprintf(format, a...), pos: pos}
	return -1
}

// evalCond evaluates a condition the way HAProxy 2.6's .if does: an
// empty condition is false, and any syntax error is reported whatever
// the value of the rest.
func evalCond(expr string) (bool, error) {
	if expr == "" {
		return false, nil
	}
	c := &condParser{s: expr}
	i := 0
	v, r := c.expr(&i, maxCondDepth)
	switch r {
	case -1:
		return false, c.err
	case 0:
		return false, &condError{msg: fmt.Sprintf("unparsable conditional expression '%s'", expr), pos: i}
	}
	i = c.skip(i)
	if i < len(expr) {
		return false, &condError{msg: fmt.Sprintf("unexpected character '%c' at the end of conditional expression '%s'", expr[i], expr), pos: i}
	}
	return v, nil
}

// expr reads terms joined by '||'. It returns the value and 1, 0 when
// there is nothing to read, -1 on an error; *i moves past what was read.
func (c *condParser) expr(i *int, depth int) (bool, int) {
	in := *i
	if in >= len(c.s) {
		return false, 0
	}
	if depth <= 0 {
		return false, c.fail(in, "unparsable conditional expression '%s'", c.s[in:])
	}
	v, r := c.and(&in, depth-1)
	if r == -1 {
		return false, -1
	}
	if r == 0 {
		return false, c.fail(in, "unparsable conditional expression '%s'", c.s[in:])
	}
	in = c.skip(in)
	*i = in
	if !strings.HasPrefix(c.s[in:], "||") {
		return v, 1
	}
	in = c.skip(in + 2)
	w, r := c.expr(&in, depth-1)
	if r > 0 {
		*i = in
	}
	return v || w, r
}

// and reads terms joined by '&&', as expr.
func (c *condParser) and(i *int, depth int) (bool, int) {
	in := *i
	if in >= len(c.s) {
		return false, 0
	}
	if depth <= 0 {
		return false, c.fail(in, "unparsable conditional sub-expression '%s'", c.s[in:])
	}
	v, r := c.term(&in, depth-1)
	if r == -1 {
		return false, -1
	}
	if r == 0 {
		return false, c.fail(in, "unparsable conditional sub-expression '%s'", c.s[in:])
	}
	in = c.skip(in)
	*i = in
	if !strings.HasPrefix(c.s[in:], "&&") {
		return v, 1
	}
	in = c.skip(in + 2)
	w, r := c.and(&in, depth-1)
	if r > 0 {
		*i = in
	}
	return v && w, r
}

// term reads one term, as expr.
func (c *condParser) term(i *int, depth int) (bool, int) {
	start := *i
	in := c.skip(start)
	if in >= len(c.s) {
		return false, 0
	}
	unparsable := func() (bool, int) {
		return false, c.fail(start, "unparsable conditional expression '%s'", c.s[start:])
	}
	if depth <= 0 {
		return unparsable()
	}
	neg := false
	for in < len(c.s) && c.s[in] == '!' {
		neg = !neg
		in = c.skip(in + 1)
	}
	if n, nonzero := strtol(c.s[in:]); n > 0 {
		*i = in + n
		return nonzero != neg, 1
	}
	if in >= len(c.s) {
		return unparsable()
	}
	if c.s[in] == '(' {
		in = c.skip(in + 1)
		v, r := c.expr(&in, depth-1)
		if r == -1 {
			return false, -1
		}
		if r == 0 {
			return unparsable()
		}
		in = c.skip(in)
		if in >= len(c.s) || c.s[in] != ')' {
			return false, c.fail(start, "expected ')' after conditional expression '%s'", c.s[start:])
		}
		*i = c.skip(in + 1)
		return v != neg, 1
	}
	name := c.s[in:]
	if k := strings.IndexAny(name, " ("); k >= 0 {
		name = name[:k]
	}
	pred, ok := condPredicates[name]
	if !ok {
		return unparsable()
	}
	args, end, err := condArgs(c.s, in+len(name), pred.nargs)
	if err != "" {
		return false, c.fail(end, "%s in argument 1 of predicate '%s' used in conditional expression", err, name)
	}
	*i = end
	return pred.eval(args) != neg, 1
}

// strtol reports how many bytes of s C's strtol(s, &end, 0) reads (0 when
// s starts with no number) and whether the number is non-zero.
func strtol(s string) (int, bool) {
	n, rest := strtoul(s)
	if len(rest) == len(s) {
		return 0, false
	}
	return len(s) - len(rest), n != 0
}

// condArgs reads a predicate's argument list at s[i:]: "(a,b)" with
// blanks kept and quotes removed. A predicate written without
// parentheses, or with "()", has one empty argument. It returns the
// arguments, where reading stopped, and HAProxy's complaint if any.
func condArgs(s string, i, want int) ([]string, int, string) {
	args := []string{""}
	if i >= len(s) || s[i] != '(' {
		if want > 1 {
			return nil, i, fmt.Sprintf("missing arguments (got 1/%d), type 'string' expected", want)
		}
		return args, i, ""
	}
	i++
	var quote byte
	for ; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				args[len(args)-1] += string(ch)
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == ',':
			if len(args) == want {
				return nil, i, fmt.Sprintf("expected ')' before '%s'", s[i:])
			}
			args = append(args, "")
		case ch == ')':
			if len(args) < want {
				return nil, i, fmt.Sprintf("missing arguments (got %d/%d), type 'string' expected", len(args), want)
			}
			return args, i + 1, ""
		default:
			args[len(args)-1] += string(ch)
		}
	}
	return nil, i, "expected ')'"
}

type condPredicate struct {
	nargs int
	eval  func(args []string) bool
}

var condPredicates = map[string]condPredicate{
	"defined": {1, func(a []string) bool {
		_, ok := os.LookupEnv(a[0])
		return ok && a[0] != ""
	}},
	"feature": {1, func(a []string) bool { return hasFeature(BuildFeatures, a[0]) }},
	"streq":   {2, func(a []string) bool { return a[0] == a[1] }},
	"strneq":  {2, func(a []string) bool { return a[0] != a[1] }},
	"version_atleast": {1, func(a []string) bool {
		return compareVersion(a[0]) <= 0
	}},
	"version_before": {1, func(a []string) bool {
		return compareVersion(a[0]) > 0
	}},
}

// hasFeature looks name up in a "+A -B" feature list as HAProxy does: a
// whole word preceded by '+' is there, by '-' is not. An empty name is
// there: haproxy 2.6.12 answers true for feature().
func hasFeature(list, name string) bool {
	if name == "" {
		return true
	}
	for off := 0; off <= len(list); {
		k := strings.Index(list[off:], name)
		if k < 0 {
			return false
		}
		p := off + k
		end := p + len(name)
		if p > 0 && (end == len(list) || list[end] == ' ') {
			switch list[p-1] {
			case '+':
				return true
			case '-':
				return false
			}
		}
		off = p + 1
	}
	return false
}

// splitVersion cuts a version "a[.b[.c[.d]]][-{dev,pre,rc}f][-*][-g]"
// into HAProxy's seven numbers, the tag being 1 for dev, 2 for pre and
// rc, 3 for none; ok is false when the text is no version.
func splitVersion(v string) (out [7]int64, ok bool) {
	out[4] = 3
	if v == "" {
		return out, false
	}
	p := v
	num := func() (int64, string) {
		n, used := cStrtol10(p)
		return n, p[used:]
	}
	var rest string
	for idx := 0; idx < 4; idx++ {
		out[idx], rest = num()
		if rest == "" {
			return out, true
		}
		if rest[0] == '-' {
			p = rest[1:]
			return splitVersionTag(p, out)
		}
		if rest[0] != '.' || idx == 3 {
			return out, false
		}
		p = rest[1:]
	}
	return out, false
}

func splitVersionTag(p string, out [7]int64) ([7]int64, bool) {
	if p == "" || p[0] < '0' || p[0] > '9' {
		tagged := true
		switch {
		case strings.HasPrefix(p, "dev"):
			out[4], p = 1, p[3:]
		case strings.HasPrefix(p, "rc"):
			out[4], p = 2, p[2:]
		case strings.HasPrefix(p, "pre"):
			out[4], p = 2, p[3:]
		default:
			tagged = false
		}
		if tagged {
			n, used := cStrtol10(p)
			out[5] = n
			rest := p[used:]
			if rest == "" {
				return out, true
			}
			if rest[0] != '-' {
				return out, false
			}
			p = rest[1:]
		}
	}
	if k := strings.LastIndexByte(p, '-'); k >= 0 {
		s := p[k+1:]
		if s == "" {
			return out, false
		}
		if n, used := cStrtol10(s); used == len(s) {
			out[6] = n
		}
		return out, true
	}
	if n, used := cStrtol10(p); used == len(p) {
		out[6] = n
	}
	return out, true
}

// cStrtol10 is C's strtol(s, &end, 10) stored in an unsigned int: the
// value and how many bytes it read.
func cStrtol10(s string) (int64, int) {
	j := 0
	for j < len(s) && (s[j] == ' ' || (s[j] >= '\t' && s[j] <= '\r')) {
		j++
	}
	neg := false
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		neg = s[j] == '-'
		j++
	}
	k := j
	var n int64
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		if n < 1<<40 {
			n = n*10 + int64(s[k]-'0')
		}
		k++
	}
	if k == j {
		return 0, 0
	}
	if neg {
		n = -n
	}
	return int64(uint32(n)), k
}

// compareVersion compares v with HAProxyVersion as HAProxy does: -1 when
// v is older, 0 when the same, 1 when newer, -3 when v is no version.
func compareVersion(v string) int {
	loc, _ := splitVersion(HAProxyVersion)
	mod, ok := splitVersion(v)
	if !ok {
		return -3
	}
	for i := range loc {
		switch {
		case mod[i] < loc[i]:
			return -1
		case mod[i] > loc[i]:
			return 1
		}
	}
	return 0
}
