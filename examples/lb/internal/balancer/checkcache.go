package balancer

import (
	"bytes"
	"fmt"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// option checkcache: a backend refuses to pass on a response that a
// shared cache could keep and that sets a cookie, which the cache would
// hand to other clients. As HAProxy 2.6 does it, the answer of a GET or
// HEAD is cacheable when its status is cacheable by default, its
// Cache-Control and Pragma do not forbid it (private, no-cache, no-store,
// max-age=0, s-maxage=0) and it says how long it stays fresh or how to
// revalidate it (max-age, s-maxage, Expires, Last-Modified or ETag);
// Cache-Control: no-cache="set-cookie" lets its cookie through.

// cacheableStatus are the statuses a cache may keep by default (RFC
// 9110, 15.1).
var cacheableStatus = map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

// cacheableCookie reports whether resp, answering req, is cacheable and
// sets a cookie.
func cacheableCookie(req, resp *htx.Message) bool {
	if m := req.Method(); !bytes.Equal(m, []byte("GET")) && !bytes.Equal(m, []byte("HEAD")) {
		return false
	}
	if !cacheableStatus[resp.Status] {
		return false
	}
	if _, ok := resp.Get("set-cookie"); !ok {
		if _, ok := resp.Get("set-cookie2"); !ok {
			return false
		}
	}
	if resp.HasToken("pragma", "no-cache") {
		return false
	}
	fresh, cookieOK, never := false, false, false
	resp.Values("cache-control", func(v []byte) bool {
		for _, d := range bytes.Split(v, []byte(",")) {
			d = bytes.TrimSpace(d)
			switch {
			case eqFold(d, "private"), eqFold(d, "no-cache"), eqFold(d, "no-store"),
				eqFold(d, "max-age=0"), eqFold(d, "s-maxage=0"):
				never = true
			case prefixFold(d, `no-cache="set-cookie`):
				cookieOK = true
			case prefixFold(d, "max-age"), prefixFold(d, "s-maxage"):
				fresh = true
			}
		}
		return true
	})
	if never || cookieOK {
		return false
	}
	for _, f := range [...]string{"expires", "last-modified", "etag"} {
		if _, ok := resp.Get(f); ok {
			fresh = true
		}
	}
	return fresh
}

func eqFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

func prefixFold(b []byte, s string) bool { return len(b) >= len(s) && eqFold(b[:len(s)], s) }

// checkCache refuses the server's response when option checkcache finds
// it cacheable with a cookie, and reports whether it did. As HAProxy
// 2.6, it logs an alert and answers with its own page for the server's
// status (its 500 page for a status it has none for), logged PH with
// the server's status, and counts a denied response.
func (ex *exchange) checkCache() bool {
	resp := &ex.resp
	if !ex.be.cfg.Options.CheckCache || !cacheableCookie(ex.req, resp) {
		return false
	}
	srv := "<NOSRV>"
	if ex.srv != nil {
		srv = ex.srv.cfg.Name
	}
	ex.be.logs.event(levelAlert, fmt.Sprintf("Blocking cacheable cookie in response from instance %s, server %s.", ex.be.cfg.Name, srv))
	status := resp.Status
	fe := ex.hf.s.fe.http
	a := fe.answerFor(ex.bhp, status)
	if _, ok := builtinMessages[status]; !ok {
		c := *fe.answerFor(ex.bhp, 500)
		c.logStatus = status
		a = &c
	}
	ex.log.term = [2]byte{'P', 'H'}
	ex.be.st.dresp.Add(1)
	ex.hf.s.fe.st.dresp.Add(1)
	if ex.srv != nil {
		ex.srv.st.dresp.Add(1)
	}
	ex.abortBack()
	ex.log.trSet = false
	ex.answer(a)
	return true
}
