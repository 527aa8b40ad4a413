package acl

import "github.com/proxyblocks/proxyblocks/mux/htx"

// ResponseBodyContext is a Context that holds the start of the
// response's body, which "http-response wait-for-body" waits for: body
// is what was received, ok false when nothing waited for it.
type ResponseBodyContext interface {
	ResponseBody() (body []byte, ok bool)
}

func responseBody(c Context) ([]byte, bool) {
	if bc, ok := c.(ResponseBodyContext); ok {
		return bc.ResponseBody()
	}
	return nil, false
}

func init() {
	// They read the response: refused in a log-format and in request
	// rules, as haproxy refuses them.
	for _, name := range []string{"res.body", "res.body_len", "res.body_size"} {
		contentFetches[name] = true
		responseFetches[name] = true
	}
	// res.body, res.body_len and res.body_size: the response's body held
	// so far, its length, and its announced length (the length held for
	// a chunked body), as the request's.
	RegisterFetch(Fetch{Name: "res.body", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := responseBody(c)
		return Str(string(b)), ok
	})})
	RegisterFetch(Fetch{Name: "res.body_len", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := responseBody(c)
		return Int(int64(len(b))), ok
	})})
	RegisterFetch(Fetch{Name: "res.body_size", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := responseBody(c)
		if !ok {
			return Sample{}, false
		}
		if m := response(c); m != nil && m.Flags&htx.FlagContentLength != 0 {
			return Int(m.ContentLength), true
		}
		return Int(int64(len(b))), true
	})})
}
