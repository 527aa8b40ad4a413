package acl

import "sort"

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
	"req_len": true, "req_ssl_hello_type": true, "req_ssl_sni": true, "req_ver": true,
	"res.hdr": true, "shdr": true, "res.cook": true, "scook": true, "url": true, "url_param": true,
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
