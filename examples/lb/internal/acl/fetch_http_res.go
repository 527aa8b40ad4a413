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

func init() {
	headerFetch("res.hdr", response)
	headerFetch("shdr", response)
}
