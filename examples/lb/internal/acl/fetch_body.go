package acl

import (
	"bytes"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// BodyContext is a Context that holds the start of the request's body,
// which "option http-buffer-request" and "http-request wait-for-body"
// wait for: body is what was received, ok false when nothing waited for
// it.
type BodyContext interface {
	RequestBody() (body []byte, ok bool)
}

func requestBody(c Context) ([]byte, bool) {
	if bc, ok := c.(BodyContext); ok {
		return bc.RequestBody()
	}
	return nil, false
}

func init() {
	// req.body: the body held so far, as text.
	RegisterFetch(Fetch{Name: "req.body", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := requestBody(c)
		return Str(string(b)), ok
	})})
	// req.body_len: how many bytes of the body are held.
	RegisterFetch(Fetch{Name: "req.body_len", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := requestBody(c)
		return Int(int64(len(b))), ok
	})})
	// req.body_size: the body's announced length, or for a chunked body
	// the bytes held.
	RegisterFetch(Fetch{Name: "req.body_size", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		b, ok := requestBody(c)
		if !ok {
			return Sample{}, false
		}
		if m := request(c); m != nil && m.Flags&htx.FlagContentLength != 0 {
			return Int(m.ContentLength), true
		}
		return Int(int64(len(b))), true
	})})
	// req.body_param([NAME]): the value of the first NAME=VALUE pair of
	// a url-encoded body (the first pair without NAME); names are
	// compared as they are, case included.
	RegisterFetch(Fetch{Name: "req.body_param", Type: TypeStr, Arg: ArgOptional, Compile: func(name string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			b, ok := requestBody(c)
			if !ok {
				return Sample{}, false
			}
			if v, ok := FormParam(b, name); ok {
				return Str(string(v)), true
			}
			return Sample{}, false
		}, nil
	}})
}

// FormParam returns the value of the first NAME=VALUE pair of a
// url-encoded body whose name is name, or of the first pair for "";
// names are compared as they are, case included.
func FormParam(body []byte, name string) ([]byte, bool) {
	for len(body) > 0 {
		var pair []byte
		pair, body, _ = bytes.Cut(body, []byte{'&'})
		if k, v, _ := bytes.Cut(pair, []byte{'='}); len(k) > 0 && (name == "" || string(k) == name) {
			return v, true
		}
	}
	return nil, false
}
