package balancer

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// HTTP response compression ("compression algo|type|offload"), decided
// as HAProxy 2.6 decides it: on the request, the algorithm the client
// accepts with the highest q-value among those configured (the
// backend's, else the frontend's; "*" takes the last configured), none for an old "Mozilla/4" agent,
// identity when configured and nothing else fits; on the response, only
// a 200 to 203 answer with a body of known length, to an HTTP/1.1 or
// later request that is not HEAD, not already encoded, not marked
// no-transform, with at most one valid ETag and a content type the
// configuration lists (never multipart). A compressed response loses its
// Content-Length, goes chunked to HTTP/1.1 clients, has its strong ETag
// made weak and gets "Vary: Accept-Encoding" and its Content-Encoding.
// The body is compressed at tune.comp.maxlevel (1 by default) and
// flushed after each read from the server, so streamed answers keep
// flowing.

// compressionOf is the compression settings a request follows: the
// backend's, else the frontend's; nil for none.
func (ex *exchange) compressionOf() *config.Compression {
	if c := ex.be.cfg.HTTP.Compression; c != nil && len(c.Algos) > 0 {
		return c
	}
	if c := ex.hf.s.fe.cfg.HTTP.Compression; c != nil && len(c.Algos) > 0 {
		return c
	}
	return nil
}

// encodingToken is the name a client accepts an algorithm under, and a
// compressed response is labelled with.
func encodingToken(algo string) string {
	if algo == "raw-deflate" {
		return "deflate"
	}
	return algo
}

// selectCompression picks the algorithm for the request's answer (none
// leaves ex.comp empty) and, with compression offload, takes
// Accept-Encoding out of the request so the server answers plainly.
func (ex *exchange) selectCompression() {
	ex.comp = ""
	c := ex.compressionOf()
	if c == nil {
		return
	}
	req := ex.req
	if ua, ok := req.Get("User-Agent"); ok && oldMozilla(ua) {
		return
	}
	best := 0
	req.Values("Accept-Encoding", func(v []byte) bool {
		for rest := v; rest != nil; {
			var item []byte
			item, rest = acl.CutValue(rest)
			token, q := acceptItem(item)
			if len(token) == 0 || q <= best {
				continue
			}
			// HAProxy keeps the algorithms last configured first: "*"
			// takes the last one.
			for i := len(c.Algos) - 1; i >= 0; i-- {
				algo := c.Algos[i]
				if string(token) == "*" || strings.EqualFold(string(token), encodingToken(algo)) {
					ex.comp, best = algo, q
					break
				}
			}
		}
		return true
	})
	if ex.comp != "" {
		if be, fe := ex.be.cfg.HTTP.Compression, ex.hf.s.fe.cfg.HTTP.Compression; be != nil && be.Offload || fe != nil && fe.Offload {
			req.Del("Accept-Encoding")
		}
		return
	}
	for _, algo := range c.Algos {
		if algo == "identity" {
			ex.comp = algo
			return
		}
	}
}

// compressionTypes are the content types to compress: the backend's
// list, else the frontend's; empty for any.
func (ex *exchange) compressionTypes() []string {
	if c := ex.be.cfg.HTTP.Compression; c != nil && len(c.Types) > 0 {
		return c.Types
	}
	if c := ex.hf.s.fe.cfg.HTTP.Compression; c != nil {
		return c.Types
	}
	return nil
}

// oldMozilla reports a "Mozilla/4" user agent other than MSIE 6 SP2 or
// MSIE 7 and later, which HAProxy does not compress for.
func oldMozilla(ua []byte) bool {
	if len(ua) < 9 || string(ua[:9]) != "Mozilla/4" {
		return false
	}
	return len(ua) < 31 || string(ua[25:30]) != "MSIE " || ua[30] < '6' ||
		ua[30] == '6' && (len(ua) < 54 || string(ua[51:54]) != "SV1")
}

// acceptItem splits one Accept-Encoding item into its coding and its
// q-value in thousandths (1000 when absent).
func acceptItem(item []byte) (token []byte, q int) {
	item = bytes.TrimSpace(item)
	name, params, _ := bytes.Cut(item, []byte(";"))
	token = bytes.TrimSpace(name)
	q = 1000
	for params != nil {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte(";"))
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(p), []byte("q=")); ok {
			return token, parseQValue(v)
		}
	}
	return token, q
}

// parseQValue reads a q-value ("0", "0.5", "1.000") in thousandths.
func parseQValue(v []byte) int {
	if len(v) == 0 || v[0] < '0' || v[0] > '1' {
		return 0
	}
	q := int(v[0]-'0') * 1000
	if len(v) > 1 && v[1] == '.' {
		scale := 100
		for _, d := range v[2:] {
			if d < '0' || d > '9' || scale == 0 {
				break
			}
			q += int(d-'0') * scale
			scale /= 10
		}
	}
	return min(q, 1000)
}

// compressResponse decides whether the response is compressed and, when
// it is, rewrites its head; it reports whether its body goes through
// the compressor.
func (ex *exchange) compressResponse(resp *htx.Message) bool {
	if !ex.compressible(resp) {
		return false
	}
	resp.Del("Content-Length")
	resp.Flags &^= htx.FlagContentLength
	resp.ContentLength = 0
	if etag, ok := resp.Get("ETag"); ok && len(etag) > 0 && etag[0] == '"' {
		resp.Set("ETag", "W/"+string(etag))
	}
	resp.Add("Vary", "Accept-Encoding")
	if ex.comp != "identity" {
		resp.Add("Content-Encoding", encodingToken(ex.comp))
	}
	return true
}

// compressible tells whether the response would go through the
// compressor ex.comp names, as compressResponse decides: the head it
// has, the request's and the configuration's, changing nothing.
func (ex *exchange) compressible(resp *htx.Message) bool {
	if ex.comp == "" { // selectCompression found no algorithm, or no settings
		return false
	}
	req := ex.req
	switch {
	case req.Version == htx.Version10 || resp.Version == htx.Version10:
		return false
	case req.Flags&htx.FlagHead != 0:
		return false
	case resp.Status < 200 || resp.Status > 203:
		return false
	case resp.Flags&htx.FlagBodyless != 0:
		return false
	case resp.Flags&(htx.FlagContentLength|htx.FlagChunked) == 0 && resp.Version != htx.Version20:
		return false // delimited by the close: no known length
	}
	if _, ok := resp.Get("Content-Encoding"); ok || resp.HasToken("Cache-Control", "no-transform") {
		return false
	}
	switch resp.Count("ETag") {
	case 0:
	case 1:
		if etag, _ := resp.Get("ETag"); !validETag(etag) {
			return false
		}
	default:
		return false
	}
	types := ex.compressionTypes()
	if ct, ok := resp.Get("Content-Type"); ok {
		if len(ct) >= 9 && strings.EqualFold(string(ct[:9]), "multipart") {
			return false
		}
		if len(types) > 0 && !typeListed(ct, types) {
			return false
		}
	} else if len(types) > 0 {
		return false
	}
	return true
}

// validETag reports an entity tag of the form "..." or W/"...".
func validETag(v []byte) bool {
	v = bytes.TrimSpace(v)
	v, _ = bytes.CutPrefix(v, []byte("W/"))
	return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v[1:len(v)-1], '"') < 0
}

// typeListed reports whether the content type starts with one of types,
// without regard to case.
func typeListed(ct []byte, types []string) bool {
	for _, t := range types {
		if len(ct) >= len(t) && strings.EqualFold(string(ct[:len(t)]), t) {
			return true
		}
	}
	return false
}

// compressor is a pooled encoder writing to the client's stream.
type compressor interface {
	io.WriteCloser
	Flush() error
	Reset(w io.Writer)
}

// compressorPools hold the encoders of each algorithm, one pool per
// level (1 to 9, tune.comp.maxlevel; index 0 unused).
var compressorPools = map[string]*[10]sync.Pool{}

func init() {
	makers := map[string]func(level int) any{
		"gzip": func(l int) any {
			w, _ := gzip.NewWriterLevel(io.Discard, l)
			return w
		},
		"deflate": func(l int) any {
			w, _ := zlib.NewWriterLevel(io.Discard, l)
			return w
		},
		"raw-deflate": func(l int) any {
			w, _ := flate.NewWriter(io.Discard, l)
			return w
		},
	}
	for algo, mk := range makers {
		pools := new([10]sync.Pool)
		for l := 1; l <= 9; l++ {
			pools[l].New = func() any { return mk(l) }
		}
		compressorPools[algo] = pools
	}
}

// compLevel is the level responses are compressed at: tune.comp.maxlevel,
// 1 by default as in HAProxy.
func (b *Balancer) compLevel() int {
	if l := b.cfg.Global.CompMaxLevel; l >= 1 && l <= 9 {
		return l
	}
	return 1
}

// clientWriter writes compressed bytes to the client's stream, counting
// them for the log.
type clientWriter struct{ ex *exchange }

func (w clientWriter) Write(p []byte) (int, error) {
	n, err := w.ex.fst.Write(p)
	w.ex.log.bytesOut += int64(n)
	return n, err
}

// newCompressor returns an encoder for the chosen algorithm writing to
// the client, or nil for identity.
func (ex *exchange) newCompressor() compressor {
	pools := compressorPools[ex.comp]
	if pools == nil {
		return nil
	}
	cw := pools[ex.hf.s.b.compLevel()].Get().(compressor)
	cw.Reset(clientWriter{ex})
	return cw
}

// countCompression adds a chosen response's body to its frontend's and
// backend's compression statistics: in bytes compressed into out, or,
// for identity, bypassed; whole counts the response once it went out
// complete.
func (ex *exchange) countCompression(compressed bool, in, out int64, whole bool) {
	for _, c := range [2]*counters{&ex.hf.s.fe.st, &ex.be.st} {
		if compressed {
			c.compIn.Add(uint64(in))
			c.compOut.Add(uint64(out))
		} else {
			c.compByp.Add(uint64(in))
		}
		if whole {
			c.compRsp.Add(1)
		}
	}
}

// putCompressor gives an encoder back to its pool.
func (ex *exchange) putCompressor(cw compressor) {
	cw.Reset(io.Discard)
	compressorPools[ex.comp][ex.hf.s.b.compLevel()].Put(cw)
}
