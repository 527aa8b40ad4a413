package balancer

import (
	"bytes"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Cookie persistence ("cookie NAME ..." in a backend, "cookie VALUE" on
// its servers), as HAProxy keeps it: a request carrying the cookie with a
// server's value goes straight to that server while it is up; in insert
// mode the balancer sets the cookie on answers from a server the
// algorithm chose, in rewrite and prefix modes it rewrites the one the
// server sets. The log's %tsc shows what happened in its last two
// characters, as HAProxy's: on the request N (no cookie), I (invalid),
// D (its server down), V (valid); on the response N (none), P (the
// server's, preserved), D (deleted), I (inserted), R (rewritten).

// requestCookie reads the backend's cookie in ex.req: it returns the
// server it names when that one is usable, rewrites or removes the
// cookie as the mode asks (prefix: the server's part comes off; insert
// with indirect: the cookie goes), and notes the outcome for the log.
func (ex *exchange) requestCookie(c *config.CookiePersist, force bool) *Server {
	req := ex.req
	state := byte('N')
	var direct *Server
	for i := 0; i < req.NumFields(); i++ {
		name, value := req.Field(i)
		if !htx.EqualFold(name, "cookie") {
			continue
		}
		out, changed := ex.tmp[:0], false
		acl.CookiePairs(value, func(ck, name, val []byte) bool {
			if name == nil || state != 'N' || string(name) != c.Name {
				out = appendCookie(out, ck)
				return true
			}
			id := val
			if c.Mode == "prefix" {
				if j := bytes.IndexByte(val, '~'); j >= 0 {
					id = val[:j]
					// The server sees its own value only.
					ck, changed = append(append([]byte(nil), ck[:bytes.IndexByte(ck, '=')+1]...), val[j+1:]...), true
				}
			} else if j := bytes.IndexByte(val, '|'); j >= 0 {
				id = val[:j]
				// The dates maxidle and maxlife read: last seen, then
				// first set.
				last, first, _ := bytes.Cut(val[j+1:], []byte{'|'})
				ex.ckLast, ex.ckFirst = cookieDate(last), cookieDate(first)
			}
			state = 'I'
			now := time.Now().Unix()
			switch {
			case c.MaxLife > 0 && ex.ckFirst != 0 && now-ex.ckFirst > int64(c.MaxLife/time.Second):
				state = 'O' // too old: ignored, as in HAProxy
			case c.MaxIdle > 0 && ex.ckLast != 0 && now-ex.ckLast > int64(c.MaxIdle/time.Second):
				state = 'E' // idle too long: ignored
			}
			for _, s := range ex.be.servers {
				if state != 'I' {
					break
				}
				if ck := s.cookie(); ck == "" || ck != string(id) {
					continue
				}
				if s.takesPersistent() {
					direct, state = s, 'V'
					break
				}
				state = 'D'
				if ex.be.cfg.Options.Persist || force {
					direct = s // option persist, force-persist: to the server all the same
					break
				}
			}
			if c.Mode == "insert" && c.Indirect {
				changed = true // taken out of what the server sees
				return true
			}
			out = appendCookie(out, ck)
			return true
		})
		if !changed {
			continue
		}
		if len(out) == 0 {
			req.DelField(i)
			i--
		} else {
			req.SetFieldValue(i, out)
		}
		ex.tmp = out
	}
	if c.Mode != "" || c.Indirect {
		ex.log.ck = [2]byte{state, 'N'}
	}
	return direct
}

// appendCookie adds one "name=value" to a Cookie field being rebuilt.
func appendCookie(out, ck []byte) []byte {
	if len(ck) == 0 {
		return out
	}
	if len(out) > 0 {
		out = append(out, "; "...)
	}
	return append(out, ck...)
}

// responseCookie handles the cookie in the server's answer: the server's
// own Set-Cookie of that name is kept (preserve), removed (insert mode,
// or a direct request under indirect), or rewritten (rewrite: the
// server's value; prefix: the server's value, '~', then the server's
// own); then in insert mode the balancer sets the cookie when the
// algorithm, not the cookie, chose the server, with "Cache-control:
// private" under nocache when the answer could otherwise be cached.
func (ex *exchange) responseCookie(c *config.CookiePersist) {
	resp, srv := &ex.resp, ex.srv
	if srv == nil {
		return
	}
	srvCookie := srv.cookie()
	state := byte('N')
	for i := 0; i < resp.NumFields(); i++ {
		name, value := resp.Field(i)
		if !htx.EqualFold(name, "set-cookie") {
			continue
		}
		eq := bytes.IndexByte(value, '=')
		if eq < 0 || !strings.EqualFold(string(bytes.TrimSpace(value[:eq])), c.Name) {
			continue
		}
		state = 'P'
		switch {
		case c.Preserve:
		case c.Mode == "insert" || ex.isDirect() && c.Indirect:
			resp.DelField(i)
			i--
			state = 'D'
		case srvCookie != "" && (c.Mode == "rewrite" || c.Mode == "prefix"):
			end := len(value)
			if j := bytes.IndexByte(value[eq+1:], ';'); j >= 0 {
				end = eq + 1 + j
			}
			v := append([]byte(nil), value[:eq+1]...)
			v = append(v, srvCookie...)
			if c.Mode == "prefix" {
				v = append(v, '~')
				v = append(v, bytes.TrimLeft(value[eq+1:end], " ")...)
			}
			v = append(v, value[end:]...)
			resp.SetFieldValue(i, v)
			state = 'R'
		}
	}
	now := time.Now().Unix()
	// A cookie the client sent is set again when its dates need it: the
	// last-seen date is behind (maxidle), the first-set date is missing
	// (maxlife) or no longer wanted, as HAProxy updates it.
	refresh := c.MaxIdle > 0 && (ex.ckLast == 0 || ex.ckLast < now) ||
		c.MaxLife > 0 && ex.ckFirst == 0 || c.MaxLife == 0 && ex.ckFirst != 0
	if c.Mode == "insert" && !(state == 'P' && c.Preserve) && (!ex.isDirect() || ex.direct == srv && refresh) && !ex.ignorePrst &&
		(!c.PostOnly || ex.req.MethodIs("POST")) {
		updated := ex.isDirect()
		var b strings.Builder
		b.WriteString(c.Name)
		switch {
		case srvCookie == "":
			b.WriteString("=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
		case c.MaxIdle > 0 || c.MaxLife > 0:
			b.WriteString("=" + srvCookie)
			b.WriteByte('|')
			b.WriteString(s30tob64((now + 3) >> 2))
			if c.MaxLife > 0 {
				b.WriteByte('|')
				first := (now + 3) >> 2
				if updated && ex.ckFirst != 0 {
					first = ex.ckFirst >> 2
				}
				b.WriteString(s30tob64(first))
			}
			b.WriteString("; path=/")
		default:
			b.WriteString("=" + srvCookie + "; path=/")
		}
		for _, d := range c.Domains {
			b.WriteString("; domain=" + d)
		}
		if c.HTTPOnly {
			b.WriteString("; HttpOnly")
		}
		if c.Secure {
			b.WriteString("; Secure")
		}
		for _, a := range c.Attrs {
			b.WriteString("; " + a)
		}
		resp.Add("Set-Cookie", b.String())
		state = 'I'
		if updated {
			state = 'U'
		}
		if c.NoCache && cacheable(ex.req, resp) {
			resp.Add("Cache-control", "private")
		}
	}
	if c.Mode != "" || c.Indirect {
		ex.log.ck[1] = state
	}
}

// cookieDates is HAProxy's alphabet for a cookie's dates.
const cookieDates = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// s30tob64 writes the low 30 bits of v as five characters of
// cookieDates, the most significant first, as HAProxy dates a cookie.
func s30tob64(v int64) string {
	var b [5]byte
	for i := 4; i >= 0; i-- {
		b[i] = cookieDates[v&63]
		v >>= 6
	}
	return string(b[:])
}

// cookieDate reads a cookie date, Unix seconds (its value times 4); 0
// for one that is not five characters of cookieDates, as HAProxy ignores
// it.
func cookieDate(s []byte) int64 {
	if len(s) != 5 {
		return 0
	}
	var v int64
	for _, c := range s {
		i := strings.IndexByte(cookieDates, c)
		if i < 0 {
			return 0
		}
		v = v<<6 | int64(i)
	}
	return v << 2
}

// cacheable tells whether a shared cache could keep resp, as HAProxy
// judges it for nocache: a safe method, a status cacheable by default, no
// Pragma: no-cache nor Cache-Control forbidding it (public allows it
// again), and something a cache would go by: a max-age or s-maxage, an
// Expires field, or a validator (ETag, Last-Modified).
func cacheable(req, resp *htx.Message) bool {
	switch string(req.Method()) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
	default:
		return false
	}
	switch resp.Status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
	default:
		return false
	}
	if v, ok := resp.Get("pragma"); ok && strings.EqualFold(string(bytes.TrimSpace(v)), "no-cache") {
		return false
	}
	ok, fresh := true, false
	resp.Values("cache-control", func(v []byte) bool {
		for _, d := range bytes.Split(v, []byte(",")) {
			switch d := strings.ToLower(string(bytes.TrimSpace(d))); {
			case d == "public":
				ok = true
			case d == "private" || d == "no-cache" || d == "no-store" || d == "max-age=0" || d == "s-maxage=0":
				ok = false
			case strings.HasPrefix(d, `no-cache="set-cookie`):
			case strings.HasPrefix(d, "s-maxage") || strings.HasPrefix(d, "max-age"):
				fresh = true
			}
		}
		return true
	})
	if !fresh {
		_, fresh = resp.Get("expires")
	}
	if !fresh {
		_, etag := resp.Get("etag")
		_, lm := resp.Get("last-modified")
		fresh = etag || lm
	}
	return ok && fresh
}

// isDirect reports whether the request went to a server persistence or
// a use-server rule named, not one the algorithm chose: haproxy's direct
// access, which no inserted cookie follows.
func (ex *exchange) isDirect() bool { return ex.direct != nil || ex.useSrv != nil || ex.stuck != nil }
