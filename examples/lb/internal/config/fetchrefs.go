package config

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The state fetches name proxies, servers and stick tables (be_conn(B),
// srv_is_up(B/S), table_cnt(T)...), or stand for the proxy whose rules
// run when they name none. As haproxy resolves such arguments once every
// section is read, they are noted line by line and checked at the end,
// each error naming the line, the fetch and the name it could not find.

// fetchRef is one use of a state fetch.
type fetchRef struct {
	fetch string
	arg   string
	px    *Proxy
	pos   Pos
}

// fetchRefPatterns are built once the fetches are registered:
// the first finds "NAME(ARG)" for the fetches that name proxies, the
// second those fetches without an argument where a sample expression
// starts ("%[NAME]", "%[NAME,...").
var fetchRefPatterns = sync.OnceValues(func() (withArg, bare *regexp.Regexp) {
	var names []string
	for _, n := range acl.FetchNames() {
		if acl.ProxyRefOf(n) != acl.RefNone {
			names = append(names, regexp.QuoteMeta(n))
		}
	}
	// Longer names first, so srv_conn_free is not read as srv_conn.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	alt := strings.Join(names, "|")
	return regexp.MustCompile(`(?:^|[^A-Za-z0-9_.])(` + alt + `)\(([^)]*)\)`),
		regexp.MustCompile(`(?:^|%\[)(` + alt + `)(?:$|[],])`)
})

// noteFetchRefs records the state fetches a proxy line names proxies,
// servers or tables with.
func (p *parser) noteFetchRefs(words []string) {
	if p.cur == nil || p.cur.Kind == KindDefaults {
		return
	}
	p.checkFetchPlaces(words)
	withArg, bare := fetchRefPatterns()
	for i, w := range words {
		for _, m := range withArg.FindAllStringSubmatch(w, -1) {
			p.fetchRefs = append(p.fetchRefs, fetchRef{fetch: m[1], arg: strings.TrimSpace(m[2]), px: p.cur, pos: p.pos})
		}
		// Without an argument: where an expression starts, in a
		// %[...], as an ACL's fetch, after an anonymous ACL's brace, or
		// as the expression of an action that takes one.
		fetchWord := (words[0] == "acl" && i == 2) || (i > 0 && (words[i-1] == "{" || takesExpr(words[i-1])))
		for _, m := range bare.FindAllStringSubmatch(w, -1) {
			if strings.HasPrefix(m[0], "%[") || fetchWord {
				p.fetchRefs = append(p.fetchRefs, fetchRef{fetch: m[1], px: p.cur, pos: p.pos})
			}
		}
	}
}

// takesExpr reports whether the word is an action, or a keyword, whose
// next word is a sample expression.
func takesExpr(w string) bool {
	if strings.HasPrefix(w, "set-var(") || strings.HasPrefix(w, "do-resolve(") || strings.HasPrefix(w, "track-sc") {
		return true
	}
	switch w {
	case "set-src", "set-dst", "set-src-port", "set-dst-port", "set-priority-class", "set-priority-offset",
		"capture", "on", "match", "store-request", "store-response":
		return true
	}
	return false
}

// checkFetchRefs resolves the noted names, as haproxy does after
// parsing.
func (p *parser) checkFetchRefs() {
	for _, r := range p.fetchRefs {
		p.pos = r.pos
		where := "sample fetch keyword '" + r.fetch + "' in proxy '" + r.px.Name + "'"
		switch acl.ProxyRefOf(r.fetch) {
		case acl.RefBackend:
			p.checkProxyRef(r, KindBackend, "backend", where)
		case acl.RefFrontend:
			p.checkProxyRef(r, KindFrontend, "frontend", where)
		case acl.RefTable:
			px := r.px
			if r.arg != "" {
				px = p.cfg.Proxy(r.arg, KindListen)
			}
			if px == nil || px.Stick.Table == nil {
				name := r.arg
				if name == "" {
					name = r.px.Name
				}
				p.errorf(r.fetch, ErrReference, "unable to find table '%s' referenced in arg 1 of %s", name, where)
			}
		case acl.RefTableOpt, acl.RefTableOpt2:
			name, n := r.arg, 1
			if acl.ProxyRefOf(r.fetch) == acl.RefTableOpt2 {
				_, name, _ = strings.Cut(r.arg, ",")
				n = 2
			}
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if px := p.cfg.Proxy(name, KindListen); px == nil || px.Stick.Table == nil {
				p.errorf(r.fetch, ErrReference, "unable to find table '%s' referenced in arg %d of %s", name, n, where)
			}
		case acl.RefTableArg2, acl.RefTableArg3:
			// The array fetches: "IDX,TABLE" ("" for the rule's own
			// proxy) and "IDX,SC[,TABLE]". sc1_clr_gpc's "IDX[,TABLE]"
			// names its table second too, and none when it has one
			// argument.
			parts := strings.Split(r.arg, ",")
			n := 2
			if acl.ProxyRefOf(r.fetch) == acl.RefTableArg3 {
				n = 3
			}
			if len(parts) < n && (n == 3 || r.fetch == "sc1_clr_gpc") {
				continue
			}
			name := ""
			if len(parts) >= n {
				name = strings.TrimSpace(parts[n-1])
			}
			px := r.px
			if name != "" {
				px = p.cfg.Proxy(name, KindListen)
			} else if n == 3 || r.fetch == "sc1_clr_gpc" {
				continue
			}
			if px == nil || px.Stick.Table == nil {
				if name == "" {
					name = r.px.Name
				}
				p.errorf(r.fetch, ErrReference, "unable to find table '%s' referenced in arg %d of %s", name, n, where)
			}
		case acl.RefServer:
			be, srv := acl.SplitServerRef(r.arg)
			px := r.px
			if be != "" {
				if px = p.cfg.Proxy(be, KindBackend); px == nil {
					p.errorf(r.fetch, ErrReference, "unable to find proxy '%s' referenced in arg 1 of %s", be, where)
					continue
				}
			}
			found := false
			for _, s := range px.Servers {
				found = found || s.Name == srv
			}
			if !found {
				p.errorf(r.fetch, ErrReference, "unable to find server '%s' in proxy '%s', referenced in arg 1 of %s", srv, px.Name, where)
			}
		}
	}
}

// checkProxyRef checks a backend or frontend name, the rule's own proxy
// for none, which must then be of that kind.
func (p *parser) checkProxyRef(r fetchRef, k Kind, what, where string) {
	if r.arg == "" {
		if r.px.Kind&k == 0 {
			p.errorf(r.fetch, ErrReference, "proxy '%s', referenced in arg 1 of %s, has not %s capability", r.px.Name, where, what)
		}
		return
	}
	if p.cfg.Proxy(r.arg, k) == nil {
		p.errorf(r.fetch, ErrReference, "unable to find %s '%s' referenced in arg 1 of %s", what, r.arg, where)
	}
}

// streamNeeds are the fetches that read the stream's backend or server,
// with what they need.
var streamNeeds = map[string]string{
	"srv_name": "server", "srv_id": "server",
	"be_name": "backend", "be_id": "backend",
	"be_server_timeout": "backend", "be_tunnel_timeout": "backend",
	"cur_server_timeout": "backend", "cur_tunnel_timeout": "backend",
	"bc_err": "server address", "bc_err_str": "server address",
	"ssl_bc_err": "server-side connection", "ssl_bc_err_str": "server-side connection",
}

var exprStartRE = regexp.MustCompile(`%\[([A-Za-z0-9_.+-]+)`)

// tcpResponseNeeds are the fetches of the request's HTTP layer that
// tcp-response rules may not read, beside messageNeeds'.
var tcpResponseNeeds = map[string]string{}

// messageNeeds are the fetches of one direction's message, with the
// source haproxy names when refusing them in the other direction.
var messageNeeds = map[string]string{}

func init() {
	for _, n := range strings.Fields("hdr_val req.hdr_val hdr_ip req.hdr_ip cook_val req.cook_val req.hdr_names req.hdrs req.hdrs_bin urlp urlp_val url_ip url_port pathq baseq base32 base32+src url32 url32+src http_auth_type http_auth_bearer fcgi.docroot fcgi.index") {
		messageNeeds[n] = "HTTP request headers"
	}
	for _, n := range strings.Fields("res.hdr_val shdr_val res.hdr_ip shdr_ip res.hdr_cnt shdr_cnt res.fhdr res.fhdr_cnt res.cook_val scook_val res.cook_cnt scook_cnt res.hdr_names res.hdrs res.hdrs_bin res.ver resp_ver") {
		messageNeeds[n] = "HTTP response headers"
	}
	messageNeeds["res.comp"] = "HTTP response"
	// The bytes of each direction's buffer, which the rules of the other
	// direction do not see.
	// (haproxy 2.6 does not mark the old names payload and payload_lv,
	// nor req.proto_http.)
	for _, n := range strings.Fields("req.len req_len req.payload req.payload_lv req.ssl_hello_type req_ssl_hello_type req.ssl_sni req_ssl_sni req.rdp_cookie rdp_cookie req.rdp_cookie_cnt rdp_cookie_cnt req.ssl_ver req_ssl_ver req.ssl_alpn req.ssl_ec_ext req.ssl_st_ext") {
		messageNeeds[n] = "request buffer"
	}
	// What a tcp-response rule cannot read of the request's HTTP layer,
	// as haproxy 2.6 lists it (hdr and method it lets through).
	for _, n := range strings.Fields("req.hdr req.fhdr req.hdr_cnt req.fhdr_cnt req.ver req_ver req.cook req.cook_cnt req.body req.body_len req.body_size req.body_param req.hdrs req.hdrs_bin path url query base") {
		tcpResponseNeeds[n] = "HTTP request headers"
	}
	for _, n := range strings.Fields("res.len res.payload res.payload_lv res.ssl_hello_type rep_ssl_hello_type") {
		messageNeeds[n] = "response buffer"
	}
	messageNeeds["res.comp_algo"] = "HTTP response"
}

// checkFetchPlaces refuses, as haproxy does, the expressions of rules
// that read what their place has not: the server, which no request has
// before its backend picks one, in http-request and tcp-request rules
// and use_backend names; the backend, in a frontend's rules and in any
// use_backend name; the response in request rules and the request in
// response rules. Conditions are left alone: haproxy only warns of
// their ACLs.
func (p *parser) checkFetchPlaces(words []string) {
	kw := words[0]
	switch kw {
	case "http-request", "use_backend", "http-response", "http-after-response":
	case "tcp-request", "tcp-response":
		if len(words) < 2 || words[1] != "content" {
			return
		}
		words = words[1:]
	default:
		return
	}
	unavailable := func(need string) bool {
		switch need {
		case "server", "server address", "server-side connection":
			return kw != "http-response" && kw != "http-after-response" && kw != "tcp-response"
		case "backend":
			return kw == "use_backend" || p.cur.Kind == KindFrontend && kw != "http-response" && kw != "http-after-response" && kw != "tcp-response"
		case "HTTP request headers", "request buffer":
			return kw == "http-response" || kw == "http-after-response" || kw == "tcp-response"
		case "HTTP response headers", "HTTP response":
			return kw == "http-request"
		case "response buffer":
			return kw == "http-request" || kw == "tcp-request" || kw == "use_backend"
		}
		return false
	}
	needOf := func(name string) string {
		if n := streamNeeds[name]; n != "" {
			return n
		}
		if n := tcpResponseNeeds[name]; n != "" && kw == "tcp-response" {
			return n
		}
		return messageNeeds[name]
	}
	for i, w := range words[1:] {
		if w == "if" || w == "unless" {
			return
		}
		for _, m := range exprStartRE.FindAllStringSubmatch(w, -1) {
			if need := needOf(m[1]); need != "" && unavailable(need) {
				p.errorf(kw, ErrMisplaced, "sample fetch <%s> may not be reliably used here because it needs '%s' which is not available here", m[1], need)
			}
		}
		// "set-var(NAME) EXPR": the expression after the action.
		// "do-resolve(...) EXPR" likewise, named by its expression.
		if kw != "use_backend" && i == 0 && (strings.HasPrefix(w, "set-var(") || strings.HasPrefix(w, "do-resolve(")) && len(words) > 2 {
			name, _, _ := strings.Cut(words[2], ",")
			name, _, _ = strings.Cut(name, "(")
			what := w
			if strings.HasPrefix(w, "do-resolve(") {
				what = words[2]
			}
			if need := needOf(name); need != "" && unavailable(need) {
				p.errorf(kw, ErrMisplaced, "fetch method '%s' extracts information from '%s', none of which is available here", what, need)
			}
		}
	}
}
