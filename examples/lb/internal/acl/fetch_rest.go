package acl

import (
	"encoding/hex"
	"fmt"
)

// The fetches HAProxy 2.6 has that are left over once the families are
// done: bin(HEX), the old cookie(NAME), the task counters (cpu_calls,
// cpu_ns_*, lat_ns_*), fcgi.docroot and fcgi.index, and the HTX
// debugging fetch internal.strm.is_htx.

func init() {
	// bin(HEX): constant bytes, given in hexadecimal.
	RegisterFetch(Fetch{Name: "bin", Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
		b, err := parseHexArg(a)
		if err != nil {
			return nil, err
		}
		s := Str(string(b))
		return func(Context) (Sample, bool) { return s, true }, nil
	}})

	// cookie(NAME): req.cook while the request rules run, res.cook in
	// the response rules, as HAProxy reads it on the channel being
	// analysed.
	RegisterFetch(Fetch{Name: "cookie", Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		req, res, err := cookieFetches(a)
		if err != nil {
			return nil, err
		}
		return func(c Context) (Sample, bool) {
			if response(c) != nil {
				return res(c)
			}
			return req(c)
		}, nil
	}, CompileEach: func(a string) (EachFunc, error) {
		f, _ := LookupFetch("req.cook")
		reqEach, err := f.CompileEach(a)
		if err != nil {
			return nil, err
		}
		_, res, err := cookieFetches(a)
		if err != nil {
			return nil, err
		}
		return func(c Context, match func(Sample) bool) bool {
			if response(c) != nil {
				s, ok := res(c)
				return ok && match(s)
			}
			return reqEach(c, match)
		}, nil
	}})
	contentFetches["cookie"] = true
	responseFetches["cookie"] = true

	// cpu_calls, cpu_ns_avg, cpu_ns_tot, lat_ns_avg and lat_ns_tot:
	// HAProxy measures the stream's task only under "profiling.tasks
	// on", which lb refuses (it has no task profiler), so the times are
	// 0 as HAProxy's are without it. cpu_calls counts the task's wake-ups,
	// which a goroutine per stream does not have: the stream runs once.
	RegisterFetch(Fetch{Name: "cpu_calls", Type: TypeInt, Compile: noArg(func(Context) (Sample, bool) { return Int(1), true })})
	for _, name := range []string{"cpu_ns_avg", "cpu_ns_tot", "lat_ns_avg", "lat_ns_tot"} {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(Context) (Sample, bool) { return Int(0), true })})
	}

	// fcgi.docroot and fcgi.index: lb has no FastCGI backend, and
	// HAProxy finds no sample for them elsewhere.
	for _, name := range []string{"fcgi.docroot", "fcgi.index"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Compile: noArg(func(Context) (Sample, bool) { return Sample{}, false })})
	}

	// internal.strm.is_htx: whether the stream carries HTTP messages.
	RegisterFetch(Fetch{Name: "internal.strm.is_htx", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		return Bool(request(c) != nil), true
	})})
}

// cookieFetches compiles req.cook(a) and res.cook(a).
func cookieFetches(a string) (req, res FetchFunc, err error) {
	for _, p := range []struct {
		name string
		fn   *FetchFunc
	}{{"req.cook", &req}, {"res.cook", &res}} {
		f, _ := LookupFetch(p.name)
		if *p.fn, err = f.Compile(a); err != nil {
			return nil, nil, err
		}
	}
	return req, res, nil
}

// parseHexArg decodes bin()'s argument, refusing it with HAProxy's
// words.
func parseHexArg(a string) ([]byte, error) {
	for i := 0; i < len(a); i++ {
		if _, err := hex.DecodeString("0" + a[i:i+1]); err != nil {
			return nil, fmt.Errorf("%w: an hex digit is expected (found '%c')", ErrSyntax, a[i])
		}
	}
	if len(a)%2 != 0 {
		return nil, fmt.Errorf("%w: an even number of hex digit is expected", ErrSyntax)
	}
	return hex.DecodeString(a)
}

// unavailableFetches are HAProxy's fetches lb refuses by name, beside
// the TLS ones, with the reason.
var unavailableFetches = map[string]string{
	"internal.htx.data":           "lb keeps no HTX buffers",
	"internal.htx.free":           "lb keeps no HTX buffers",
	"internal.htx.free_data":      "lb keeps no HTX buffers",
	"internal.htx.has_eom":        "lb keeps no HTX buffers",
	"internal.htx.nbblks":         "lb keeps no HTX buffers",
	"internal.htx.size":           "lb keeps no HTX buffers",
	"internal.htx.used":           "lb keeps no HTX buffers",
	"internal.htx_blk.data":       "lb keeps no HTX buffers",
	"internal.htx_blk.hdrname":    "lb keeps no HTX buffers",
	"internal.htx_blk.hdrval":     "lb keeps no HTX buffers",
	"internal.htx_blk.size":       "lb keeps no HTX buffers",
	"internal.htx_blk.start_line": "lb keeps no HTX buffers",
	"internal.htx_blk.type":       "lb keeps no HTX buffers",
}
