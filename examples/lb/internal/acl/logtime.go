package acl

import (
	"slices"
	"sort"
	"strings"
)

// contentFetches read the request or the response themselves: the
// request line, headers, cookies, credentials or payload. HAProxy refuses
// them in a log-format, since the message has gone on by the time its
// line is written; a capture or a variable keeps what a line needs.
var contentFetches = map[string]bool{
	"base": true, "cook": true, "cook_cnt": true, "hdr": true, "hdr_cnt": true,
	"http_auth": true, "http_auth_group": true, "http_auth_pass": true, "http_auth_user": true,
	"path": true, "query": true, "rdp_cookie": true, "rdp_cookie_cnt": true,
	"req.body": true, "req.body_len": true, "req.body_param": true, "req.body_size": true,
	"req.cook": true, "req.cook_cnt": true, "req.fhdr": true, "req.fhdr_cnt": true,
	"req.hdr": true, "req.hdr_cnt": true, "req.len": true, "req.payload": true, "payload": true, "req.payload_lv": true, "payload_lv": true, "req.rdp_cookie": true,
	"req.rdp_cookie_cnt": true, "req.ssl_hello_type": true, "req.ssl_sni": true, "req.ver": true,
	"req.ssl_alpn": true, "req.ssl_ec_ext": true, "req.ssl_st_ext": true, "req.ssl_ver": true, "req_ssl_ver": true,
	"req_len": true, "req_ssl_hello_type": true, "req_ssl_sni": true, "req_ver": true,
	"res.hdr": true, "shdr": true, "res.cook": true, "scook": true, "url": true, "url_param": true,
	"fcgi.docroot": true, "fcgi.index": true,
}

// LogUsable reports whether a log-format's sample expression may use the
// fetch called name: every fetch but those reading the request or the
// response themselves, as in HAProxy.
func LogUsable(name string) bool { return !contentFetches[name] }

// FetchNames returns the names of the registered fetches, sorted.
func FetchNames() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.fetches))
	for n := range registry.fetches {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ResponseContext is a Context that knows whether the response rules
// run (http-response, http-after-response). There, as in HAProxy, an ACL
// whose fetch reads the request's line, headers, cookies or body never
// matches: the request has gone on (haproxy warns at start that such an
// ACL "will never match"). The method, the addresses, variables and
// captures stay.
type ResponseContext interface {
	InResponse() bool
}

// requestOnly returns name when the fetch reads the request itself, ""
// otherwise.
func requestOnly(name string) string {
	switch name {
	case "res.hdr", "shdr", "res.cook", "scook":
		return ""
	}
	if contentFetches[name] && !responseFetches[name] {
		return name
	}
	return ""
}

// ReadsRequest reports whether a sample expression's fetch reads the
// request itself (its line, headers, cookies, body or payload), which a
// connection-level rule cannot see.
func ReadsRequest(expr string) bool {
	name, ok := exprFetch(expr)
	if !ok {
		return false
	}
	registry.RLock()
	kw, ok := registry.keywords[name]
	registry.RUnlock()
	if ok {
		name = kw.fetch
	}
	return name == "method" || requestOnly(name) != ""
}

// exprFetch is the name of the fetch a sample expression starts with.
func exprFetch(expr string) (string, bool) {
	fexpr, _, err := splitConverters(expr)
	if err != nil {
		return "", false
	}
	name, _, _, err := splitArg(fexpr)
	return name, err == nil
}

// ReadsRequestContent reports whether a sample expression's fetch needs
// what the client sent after the connection opened: the request itself
// (ReadsRequest) or the HTTP state built from it (captures, the protocol
// test, the first-request flag). HAProxy warns of such a fetch in a rule
// that may run before anything is received.
func ReadsRequestContent(expr string) bool {
	if ReadsRequest(expr) {
		return true
	}
	name, ok := exprFetch(expr)
	return ok && requestContentFetch(name)
}

// layer6Fetch reports whether the fetch called name reads the raw bytes
// of the request or of the response, which HAProxy's HTTP proxies hold
// as HTTP messages instead.
func layer6Fetch(name string) bool {
	switch name {
	case "req.len", "req_len", "req.payload", "payload", "req.payload_lv", "payload_lv",
		"req.ssl_hello_type", "req_ssl_hello_type", "req.ssl_sni", "req_ssl_sni",
		"req.ssl_ver", "req_ssl_ver", "req.ssl_alpn", "req.ssl_ec_ext", "req.ssl_st_ext",
		"req.rdp_cookie", "rdp_cookie", "req.rdp_cookie_cnt", "rdp_cookie_cnt",
		"res.len", "res.payload", "res.payload_lv", "res.ssl_hello_type", "rep_ssl_hello_type",
		"distcc_body", "distcc_param":
		return true
	}
	return false
}

// UsesLayer6 reports whether one of the condition's ACLs reads the raw
// bytes of the request or the response (a payload, its length, a TLS
// hello): HAProxy warns that an HTTP proxy ignores such fetches.
func (c *Cond) UsesLayer6() bool {
	if c == nil {
		return false
	}
	for _, and := range c.ors {
		for _, t := range and {
			for _, e := range t.acl.exprs {
				if e.l6 {
					return true
				}
			}
		}
	}
	return false
}

// responseOnly reports whether the fetch called name reads the response,
// which a request rule cannot see.
func responseOnly(name string) bool {
	switch name {
	case "status", "shdr", "scook", "rep_ssl_hello_type":
		return true
	}
	return strings.HasPrefix(name, "res.") || responseFetches[name]
}

// requestContentFetch reports whether the fetch called name needs what
// the client sent after the connection opened (ReadsRequestContent).
func requestContentFetch(name string) bool {
	switch {
	case name == "method" || requestOnly(name) != "":
		return true
	case strings.HasPrefix(name, "capture.req."), strings.HasPrefix(name, "req.timer."):
		return true
	}
	return name == "req.proto_http" || name == "req_proto_http" || name == "http_first_req"
}

// incompatible reports whether the fetch called name finds nothing in a
// rule of stage: "http-request", "http-response" (http-after-response
// too), "tcp-request connection", "tcp-request session" or "tcp-request
// content"; false for any other stage.
func incompatible(stage, name string) bool {
	switch stage {
	case "http-request", "tcp-request content":
		return responseOnly(name)
	case "http-response":
		return requestOnly(name) != ""
	case "tcp-request session":
		return responseOnly(name) || requestContentFetch(name)
	case "tcp-request connection":
		// Before the TLS handshake, too.
		return responseOnly(name) || requestContentFetch(name) || strings.HasPrefix(name, "ssl_")
	}
	return false
}

// NeverMatches returns the first ACL of the condition that never matches
// in a rule of stage (see incompatible), as HAProxy warns of it: an
// anonymous ACL whose fetch finds nothing there (named is then false), or
// a named ACL all of whose fetches find nothing; kw is the (first) fetch
// keyword at fault. Failing those, partly is set for the first named ACL
// some of whose fetches find nothing. ok is false when there is none.
func (c *Cond) NeverMatches(stage string) (name, kw string, named, partly, ok bool) {
	if c == nil {
		return "", "", false, false, false
	}
	if name, kw, named, ok = c.neverMatches(stage); ok {
		return name, kw, named, false, true
	}
	for _, and := range c.ors {
		for _, t := range and {
			if t.acl.Name == "anonymous" {
				continue
			}
			for _, e := range t.acl.exprs {
				if incompatible(stage, e.fname) {
					return t.acl.Name, e.kw, true, true, true
				}
			}
		}
	}
	return "", "", false, false, false
}

// neverMatches is NeverMatches without the partly incompatible ACLs.
func (c *Cond) neverMatches(stage string) (name, kw string, named, ok bool) {
	for _, and := range c.ors {
		for _, t := range and {
			a := t.acl
			if a.Name == "anonymous" && len(a.exprs) == 1 {
				if e := a.exprs[0]; incompatible(stage, e.fname) {
					return "", e.kw, false, true
				}
				continue
			}
			all := len(a.exprs) > 0
			for _, e := range a.exprs {
				all = all && incompatible(stage, e.fname)
			}
			if all {
				return a.Name, a.exprs[0].kw, true, true
			}
		}
	}
	return "", "", false, false
}

// RequestOnly returns the fetches of the condition's ACLs that read the
// request itself, which never match in a response rule; the caller
// warns of them as HAProxy does.
func (c *Cond) RequestOnly() []string {
	if c == nil {
		return nil
	}
	var names []string
	for _, and := range c.ors {
		for _, t := range and {
			for _, e := range t.acl.exprs {
				if e.reqOnly != "" && !slices.Contains(names, e.reqOnly) {
					names = append(names, e.reqOnly)
				}
			}
		}
	}
	return names
}
