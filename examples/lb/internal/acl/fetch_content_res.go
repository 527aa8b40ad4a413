package acl

// The content fetches of "tcp-response content" rules: what a server has
// sent so far, before it goes on to the client, read through
// ResponseContentContext. On another Context they find no sample.

// ResponseContentContext is a ContentContext that may hold what the
// server of a TCP-mode session sent, for the res.* fetches.
type ResponseContentContext interface {
	ContentContext
	// ResponsePayload returns the bytes the server sent so far and
	// whether no more will be waited for (the inspect delay is over, the
	// buffer is full or the server ended its side); in is false outside
	// the response rules, where there is nothing to read.
	ResponsePayload() (b []byte, final, in bool)
}

// HTTPResponseContentContext is a ResponseContentContext on a response
// of an HTTP proxy, which HAProxy holds as HTTP messages (HTX) rather
// than as the bytes the server sent: res.len reads their size, and the
// payload fetches find no sample.
type HTTPResponseContentContext interface {
	ResponseContentContext
	// ResponseHTTPLen is the response's HTX size so far.
	ResponseHTTPLen() int
}

// responsePayload returns c's response bytes, ok false when c holds none
// (an HTTP response's included).
func responsePayload(c Context) (cc ResponseContentContext, b []byte, final, ok bool) {
	if _, ok := c.(HTTPResponseContentContext); ok {
		return nil, nil, false, false
	}
	cc, ok = c.(ResponseContentContext)
	if !ok {
		return nil, nil, false, false
	}
	b, final, ok = cc.ResponsePayload()
	return cc, b, final, ok
}

func init() {
	RegisterFetch(Fetch{Name: "res.len", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		if h, ok := c.(HTTPResponseContentContext); ok {
			_, final, in := h.ResponsePayload()
			if !in {
				return Sample{}, false
			}
			if !final {
				h.MayChange()
			}
			return Int(int64(h.ResponseHTTPLen())), true
		}
		cc, b, final, ok := responsePayload(c)
		if !ok {
			return Sample{}, false
		}
		if !final {
			cc.MayChange()
		}
		return Int(int64(len(b))), true
	})})
	for _, name := range []string{"res.ssl_hello_type", "rep_ssl_hello_type"} {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			cc, b, final, ok := responsePayload(c)
			if !ok {
				return Sample{}, false
			}
			h, st := tlsHandshake(b)
			if st == helloShort && !final {
				cc.MayChange()
			}
			if st != helloWhole {
				return Sample{}, false
			}
			return Int(int64(h[0])), true
		})})
	}
	RegisterFetch(Fetch{Name: "res.payload", Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
		off, n, err := payloadArgs(a)
		if err != nil {
			return nil, err
		}
		return func(c Context) (Sample, bool) {
			cc, b, final, ok := responsePayload(c)
			if !ok {
				return Sample{}, false
			}
			return payloadAt(cc, b, final, off, n)
		}, nil
	}})
	RegisterFetch(Fetch{Name: "res.payload_lv", Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
		lv, err := payloadLVArgs(a)
		if err != nil {
			return nil, err
		}
		return func(c Context) (Sample, bool) {
			cc, b, final, ok := responsePayload(c)
			if !ok {
				return Sample{}, false
			}
			return lv.sample(cc, b, final)
		}, nil
	}})
	for _, name := range []string{"res.len", "res.payload", "res.payload_lv", "res.ssl_hello_type", "rep_ssl_hello_type"} {
		contentFetches[name] = true
		responseFetches[name] = true
	}
}
