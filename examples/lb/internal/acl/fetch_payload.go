package acl

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// req.payload(OFFSET,LENGTH): LENGTH bytes of what a TCP-mode client sent,
// from OFFSET (LENGTH 0: to the end of what came), as HAProxy's binary
// sample; an ACL must name its match method (-m bin for hexadecimal
// patterns, -m str, -m beg...), as in HAProxy. Too few bytes make a rule
// wait for more, while more may come.
func init() {
	for _, name := range []string{"req.payload", "payload"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
			off, n, err := payloadArgs(a)
			if err != nil {
				return nil, err
			}
			return func(c Context) (Sample, bool) {
				cc, ok := c.(ContentContext)
				if !ok {
					return Sample{}, false
				}
				b, final := cc.Payload()
				end := off + n
				if n == 0 {
					end = len(b)
				}
				if b == nil || end > len(b) || off > end {
					if !final {
						cc.MayChange()
					}
					return Sample{}, false
				}
				if n == 0 && !final {
					cc.MayChange() // "to the end" may grow
				}
				return Str(string(b[off:end])), true
			}, nil
		}})
	}
	RegisterMatch(Matcher{Name: "bin", Compile: compileBin})
}

// payloadArgs reads "OFFSET,LENGTH", both non-negative integers.
func payloadArgs(a string) (off, n int, err error) {
	so, sn, ok := strings.Cut(a, ",")
	if ok {
		off, err = strconv.Atoi(strings.TrimSpace(so))
	}
	if err == nil && ok {
		n, err = strconv.Atoi(strings.TrimSpace(sn))
	}
	if !ok || err != nil || off < 0 || n < 0 {
		return 0, 0, fmt.Errorf("%w: expects <offset>,<length> (non-negative integers), got '%s'", ErrSyntax, a)
	}
	return off, n, nil
}

// compileBin matches a sample's bytes against hexadecimal patterns, each
// an exact byte string, as HAProxy's "bin" does.
func compileBin(p []string, _ MatchOptions) (func(Sample) bool, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: match method 'bin' expects at least one hexadecimal pattern", ErrBadPattern)
	}
	pats := make([]string, 0, len(p))
	for _, s := range p {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: '%s' is not a hexadecimal string", ErrBadPattern, s)
		}
		pats = append(pats, string(b))
	}
	return func(s Sample) bool {
		v := s.String()
		for _, p := range pats {
			if v == p {
				return true
			}
		}
		return false
	}, nil
}
