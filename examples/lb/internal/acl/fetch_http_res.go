package acl

import "github.com/proxyblocks/proxyblocks/mux/htx"

// The response's header fields, for http-response rules: res.hdr(NAME)
// and its older name shdr(NAME), read as hdr() reads the request's.

// response is the server's response c carries, nil before one came or
// in a Context without HTTP.
func response(c Context) *htx.Message {
	rc, ok := c.(HTTPResponseContext)
	if !ok {
		return nil
	}
	return rc.HTTPResponse()
}

// current is the message hdr() reads: the response while response rules
// run, the request before, as HAProxy reads hdr() as req.hdr() on
// requests and res.hdr() on responses (hdr_cnt() and the derived names
// such as hdr_sub keep to the request there).
func current(c Context) *htx.Message {
	if m := response(c); m != nil {
		return m
	}
	return request(c)
}

func init() {
	headerFetch("res.hdr", response)
	headerFetch("shdr", response)
	// res.cook(NAME), scook(NAME): the value of the cookie a Set-Cookie
	// field of the response sets under that name, the last one as a
	// sample (the first cookie when no name is given), as in HAProxy.
	for _, name := range []string{"res.cook", "scook"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
			return func(c Context) (Sample, bool) {
				m := response(c)
				if m == nil {
					return Sample{}, false
				}
				var val []byte
				found := false
				for i := 0; i < m.NumFields(); i++ {
					n, v := m.Field(i)
					if !htx.EqualFold(n, "set-cookie") {
						continue
					}
					// The cookie is the field's first pair; its
					// attributes follow.
					CookiePairs(v, func(_, k, cv []byte) bool {
						if k != nil && (a == "" || string(k) == a) {
							val, found = cv, true
						}
						return false
					})
					if found && a == "" {
						break // without a name, the first cookie
					}
				}
				return Str(string(val)), found
			}, nil
		}})
	}
}
