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
}
