package httpcache

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Transaction flags, HAProxy's TX_CACHEABLE, TX_CACHE_COOK and
// TX_CACHE_IGNORE, and what lb adds: a key and a secondary key were
// computed.
const (
	txCacheable uint8 = 1 << iota
	txCacheCook
	txIgnore
	txKey
	txSecKey
)

// eqFold reports whether a equals the lower-case ASCII word b, ignoring
// case.
func eqFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether a starts with the lower-case word b,
// ignoring case.
func hasPrefixFold(a []byte, b string) bool {
	return len(a) >= len(b) && eqFold(a[:len(b)], b)
}

// values calls fn for each comma-separated value of the fields called
// name, trimmed, as HAProxy's http_find_header does when not asked for
// whole lines; fn returns false to stop.
func values(m *htx.Message, name string, fn func(v []byte) bool) {
	for i := 0; i < m.NumFields(); i++ {
		n, v := m.Field(i)
		if !eqFold(n, name) {
			continue
		}
		for {
			item, rest, more := bytes.Cut(v, []byte{','})
			if !fn(bytes.Trim(item, " \t")) {
				return
			}
			if !more {
				break
			}
			v = rest
		}
	}
}

// first returns the whole value of the first field called name.
func first(m *htx.Message, name string) ([]byte, bool) {
	for i := 0; i < m.NumFields(); i++ {
		if n, v := m.Field(i); eqFold(n, name) {
			return v, true
		}
	}
	return nil, false
}

// checkRequest is HAProxy's http_check_request_for_cacheability.
func (t *Txn) checkRequest(req *htx.Message) {
	if t.flags&(txCacheable|txIgnore) == txIgnore {
		return
	}
	pragma, cc := false, false
	if v, ok := first(req, "pragma"); ok && eqFold(v, "no-cache") {
		pragma = true
	}
	if _, ok := first(req, "authorization"); ok {
		t.flags &^= txCacheable | txCacheCook
		t.flags |= txIgnore
	}
	values(req, "cache-control", func(v []byte) bool {
		cc = true
		switch {
		case hasPrefixFold(v, "max-age"), hasPrefixFold(v, "no-cache"),
			hasPrefixFold(v, "max-stale"), hasPrefixFold(v, "min-fresh"):
			t.flags |= txIgnore
		case hasPrefixFold(v, "no-store"):
			t.flags &^= txCacheable | txCacheCook
		}
		return true
	})
	if !cc && pragma {
		t.flags |= txIgnore
	}
}

// checkResponse is HAProxy's http_check_response_for_cacheability.
func (t *Txn) checkResponse(resp *htx.Message) {
	if resp.Status < 200 {
		t.flags &^= txCacheable | txCacheCook
		return
	}
	if v, ok := first(resp, "pragma"); ok && eqFold(v, "no-cache") {
		t.flags &^= txCacheable | txCacheCook
		return
	}
	fresh := false
	values(resp, "cache-control", func(v []byte) bool {
		switch {
		case eqFold(v, "public"):
			t.flags |= txCacheable | txCacheCook
		case eqFold(v, "private"), eqFold(v, "no-cache"), eqFold(v, "no-store"),
			eqFold(v, "max-age=0"), eqFold(v, "s-maxage=0"):
			t.flags &^= txCacheable | txCacheCook
		case hasPrefixFold(v, `no-cache="set-cookie`):
			t.flags &^= txCacheCook
		case hasPrefixFold(v, "s-maxage"), hasPrefixFold(v, "max-age"):
			fresh = true
		}
		return true
	})
	if !fresh {
		_, fresh = first(resp, "expires")
	}
	if !fresh {
		_, etag := first(resp, "etag")
		_, lm := first(resp, "last-modified")
		if !etag && !lm {
			// Neither an explicit lifetime nor a validator (RFC 9111 §3).
			t.flags &^= txCacheable | txCacheCook
		}
	}
}

// directive returns the value of "word=value" in v, nil when v is not
// that directive or has no value.
func directive(v []byte, word string) []byte {
	if !hasPrefixFold(v, word) || len(v) < len(word)+2 || v[len(word)] != '=' {
		return nil
	}
	return v[len(word)+1:]
}

// leadingInt reads an integer as C's strtol does: optional blanks and
// sign, then digits up to the first other byte; ok is false without
// digits.
func leadingInt(b []byte) (n int64, ok bool) {
	b = bytes.TrimLeft(b, " \t")
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		ok = true
		if n < 1<<40 {
			n = n*10 + int64(c-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, ok
}

// maxAge is HAProxy's http_calc_maxage: how long the response stays in a
// cache whose own limit is limit (seconds), and how long the response
// itself says it is fresh (0 when it does not say).
func maxAge(resp *htx.Message, now time.Time, limit int64) (effective, own int64) {
	smaxage, maxage, expires := int64(-1), int64(-1), int64(-1)
	bad := false
	values(resp, "cache-control", func(v []byte) bool {
		for _, d := range [...]struct {
			word string
			dst  *int64
		}{{"s-maxage", &smaxage}, {"max-age", &maxage}} {
			val := directive(v, d.word)
			if val == nil {
				continue
			}
			if val[0] == '"' {
				val = val[1:]
			}
			n, ok := leadingInt(val)
			if !ok || n < 0 {
				bad = true
				return false
			}
			*d.dst = n
		}
		return true
	})
	if bad {
		return -1, 0
	}
	if maxage == -1 && smaxage == -1 {
		if v, ok := first(resp, "expires"); ok {
			expires = 0 // an invalid date is in the past (RFC 9111 §5.3)
			if at, err := http.ParseTime(string(v)); err == nil && at.Unix() >= now.Unix() {
				expires = at.Unix() - now.Unix()
			}
		}
	}
	switch {
	case smaxage > 0:
		return min(smaxage, limit), smaxage
	case maxage > 0:
		return min(maxage, limit), maxage
	case expires >= 0:
		return min(expires, limit), expires
	}
	return limit, 0
}

// lastModified is the date an If-Modified-Since is compared with:
// Last-Modified, else Date, else now.
func lastModified(resp *htx.Message, now time.Time) int64 {
	for _, name := range [...]string{"last-modified", "date"} {
		if v, ok := first(resp, name); ok {
			if at, err := http.ParseTime(string(v)); err == nil && at.Unix() != 0 {
				return at.Unix()
			}
		}
	}
	return now.Unix()
}

// etagType classifies an entity tag: 0 invalid, 1 strong, 2 weak.
func etagType(e []byte) int {
	switch {
	case len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"':
		return 1
	case len(e) >= 4 && e[0] == 'W' && e[1] == '/' && e[2] == '"' && e[len(e)-1] == '"':
		return 2
	}
	return 0
}

// sameETag compares two entity tags weakly (RFC 9110 §8.8.3.2), as
// HAProxy's http_compare_etags does.
func sameETag(a, b []byte) bool {
	ta, tb := etagType(a), etagType(b)
	if ta == 0 || tb == 0 {
		return false
	}
	if ta == 2 {
		a = a[2:]
	}
	if tb == 2 {
		b = b[2:]
	}
	return bytes.Equal(a, b)
}

// notModified is HAProxy's should_send_notmodified_response: true when
// the request's If-None-Match matches the stored ETag (or is "*"), or,
// without If-None-Match, when If-Modified-Since is not before the stored
// date.
func notModified(req *htx.Message, etag []byte, hasETag bool, lastMod int64) bool {
	found, match := false, false
	values(req, "if-none-match", func(v []byte) bool {
		found = true
		if string(v) == "*" {
			match = true
			return false
		}
		if !hasETag {
			return false
		}
		match = sameETag(etag, v)
		return !match
	})
	if match || found {
		return match
	}
	if v, ok := first(req, "if-modified-since"); ok {
		if at, err := http.ParseTime(string(v)); err == nil {
			return lastMod <= at.Unix()
		}
	}
	return false
}

// parseAge reads a server's Age value strictly: digits only.
func parseAge(v []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}
