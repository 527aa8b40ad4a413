package acl

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Fetches that read no connection, as HAProxy has them: uuid([4]) (a
// random UUID), date([OFFSET[,UNIT]]) (the time in seconds since the
// epoch, plus OFFSET in s, ms or us, or in that unit), rand([RANGE])
// (a random integer below RANGE, or below 2^32); and the request line's
// parts as captured, capture.req.method, capture.req.uri and
// capture.req.ver.
func init() {
	RegisterFetch(Fetch{Name: "uuid", Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		if a != "" && a != "4" {
			return nil, fmt.Errorf("%w: uuid version '%s' (4 only)", ErrSyntax, a)
		}
		return func(Context) (Sample, bool) { return Str(uuid4()), true }, nil
	}})
	RegisterFetch(Fetch{Name: "date", Type: TypeInt, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		offset, unit, _ := strings.Cut(a, ",")
		var off int64
		if offset != "" {
			n, err := strconv.ParseInt(offset, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: date offset '%s' is not an integer", ErrSyntax, offset)
			}
			off = n
		}
		var scale func(time.Time) int64
		switch unit {
		case "", "s":
			scale = func(t time.Time) int64 { return t.Unix() }
		case "ms":
			scale = func(t time.Time) int64 { return t.UnixMilli() }
		case "us":
			scale = func(t time.Time) int64 { return t.UnixMicro() }
		default:
			return nil, fmt.Errorf("%w: date unit '%s' (s, ms or us)", ErrSyntax, unit)
		}
		return func(Context) (Sample, bool) { return Int(scale(time.Now()) + off), true }, nil
	}})
	RegisterFetch(Fetch{Name: "rand", Type: TypeInt, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		limit := int64(1) << 32
		if a != "" {
			n, err := strconv.ParseInt(a, 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%w: rand range '%s' is not a positive integer", ErrSyntax, a)
			}
			limit = n
		}
		max := big.NewInt(limit)
		return func(Context) (Sample, bool) {
			n, err := rand.Int(rand.Reader, max)
			if err != nil {
				return Sample{}, false
			}
			return Int(n.Int64()), true
		}, nil
	}})
	httpFetch("capture.req.method", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.Method()), true })
	httpFetch("capture.req.uri", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.Path()), true })
	httpFetch("capture.req.ver", ArgNone, func(m *htx.Message, _ string) (string, bool) { return "HTTP/" + versionText(m), true })
}

// uuid4 is a random (version 4) UUID in its usual text form.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// UniqueIDContext is a Context with a unique ID, as unique-id-format
// makes it; ok is false when there is none.
type UniqueIDContext interface {
	UniqueID() (id string, ok bool)
}

func init() {
	// unique-id: the request's (or TCP session's) unique ID, made on
	// first use.
	RegisterFetch(Fetch{Name: "unique-id", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		u, ok := c.(UniqueIDContext)
		if !ok {
			return Sample{}, false
		}
		id, ok := u.UniqueID()
		return Str(id), ok
	})})
}

// CaptureContext is a Context with capture slots ("capture request
// header", "declare capture", capture rules): Capture returns slot i of
// the request's (resp false) or the response's captures; ok is false for
// a slot that does not exist or holds nothing.
type CaptureContext interface {
	Capture(resp bool, i int) (v []byte, ok bool)
}

func init() {
	// capture.req.hdr(N), capture.res.hdr(N): what capture slot N holds,
	// as captured (cut to the slot's length).
	for _, resp := range []bool{false, true} {
		name := "capture.req.hdr"
		if resp {
			name = "capture.res.hdr"
		}
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
			i, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || i < 0 {
				return nil, fmt.Errorf("%w: '%s' is not a capture slot number", ErrSyntax, a)
			}
			return func(c Context) (Sample, bool) {
				cc, ok := c.(CaptureContext)
				if !ok {
					return Sample{}, false
				}
				v, ok := cc.Capture(resp, i)
				return Str(string(v)), ok
			}, nil
		}})
	}
}
