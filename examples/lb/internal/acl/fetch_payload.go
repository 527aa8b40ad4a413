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
				return payloadAt(cc, b, final, off, n)
			}, nil
		}})
	}
	// req.payload_lv(OFFSET1,LENGTH[,OFFSET2]): the block whose size the
	// LENGTH bytes at OFFSET1 give (big-endian), starting at OFFSET2 or
	// right after the size; a signed OFFSET2 ("+N", "-N") counts from
	// there.
	for _, name := range []string{"req.payload_lv", "payload_lv"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
			lv, err := payloadLVArgs(a)
			if err != nil {
				return nil, err
			}
			return func(c Context) (Sample, bool) {
				cc, ok := c.(ContentContext)
				if !ok {
					return Sample{}, false
				}
				b, final := cc.Payload()
				return lv.sample(cc, b, final)
			}, nil
		}})
	}
	RegisterMatch(Matcher{Name: "bin", Compile: compileBin})
}

// payloadLV is req.payload_lv's arguments.
type payloadLV struct {
	off, size int // the size field's offset and length
	start     int // the block's offset: absolute, or relative when rel
	rel       bool
}

// payloadLVArgs reads "OFFSET1,LENGTH[,OFFSET2]".
func payloadLVArgs(a string) (payloadLV, error) {
	parts := strings.Split(a, ",")
	bad := func() (payloadLV, error) {
		return payloadLV{}, fmt.Errorf("%w: expects <offset1>,<length>[,<offset2>], got '%s'", ErrSyntax, a)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return bad()
	}
	var lv payloadLV
	var err error
	if lv.off, err = strconv.Atoi(strings.TrimSpace(parts[0])); err != nil || lv.off < 0 {
		return bad()
	}
	if lv.size, err = strconv.Atoi(strings.TrimSpace(parts[1])); err != nil || lv.size < 1 || lv.size > 4 {
		return bad()
	}
	lv.rel = true // right after the size field by default
	if len(parts) == 3 {
		o := strings.TrimSpace(parts[2])
		lv.rel = strings.HasPrefix(o, "+") || strings.HasPrefix(o, "-")
		if lv.start, err = strconv.Atoi(o); err != nil || !lv.rel && lv.start < 0 {
			return bad()
		}
	}
	return lv, nil
}

// payloadAt is payload(OFFSET,LENGTH) on b, which more bytes may follow
// unless final.
func payloadAt(cc ContentContext, b []byte, final bool, off, n int) (Sample, bool) {
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
}

// sample is payload_lv on b, which more bytes may follow unless final.
func (lv payloadLV) sample(cc ContentContext, b []byte, final bool) (Sample, bool) {
	v, ok, short := lv.read(b)
	if short && !final {
		cc.MayChange()
	}
	if !ok {
		return Sample{}, false
	}
	return Str(string(v)), true
}

// read returns the block in b; short reports that b holds too few bytes
// for it (or for its size field).
func (lv payloadLV) read(b []byte) (v []byte, ok, short bool) {
	if b == nil || len(b) < lv.off+lv.size {
		return nil, false, true
	}
	n := 0
	for _, c := range b[lv.off : lv.off+lv.size] {
		n = n<<8 | int(c)
	}
	start := lv.start
	if lv.rel {
		start += lv.off + lv.size
	}
	if start < 0 {
		return nil, false, false
	}
	if len(b) < start+n {
		return nil, false, true
	}
	return b[start : start+n], true, false
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
