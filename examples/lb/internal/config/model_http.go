package config

import (
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// HTTP is a proxy's HTTP-mode settings. Slices are only ever grown with a
// full slice expression (see appendOwn), so a proxy appending to what it
// inherited from a defaults section never writes into the defaults' array.
type HTTP struct {
	// ForwardFor adds X-Forwarded-For with the client's address
	// (option forwardfor).
	ForwardFor bool
	// ForwardForExcept, ForwardForHeader and ForwardForIfNone are its
	// options: no field for a client in that network, another field
	// name, and no field when the request has one already.
	ForwardForExcept netip.Prefix
	ForwardForHeader string
	ForwardForIfNone bool
	// OriginalTo adds X-Original-To with the address the client
	// connected to (option originalto), OriginalToExcept and
	// OriginalToHeader being its options.
	OriginalTo       bool
	OriginalToExcept netip.Prefix
	OriginalToHeader string
	// ConnMode is how connections are kept: ConnKeepAlive (the default),
	// ConnServerClose or ConnClose.
	ConnMode ConnMode
	// Log selects HAProxy's httplog format for traffic logs.
	Log bool
	// LogTLS is option httpslog: the httplog line followed by the
	// connection's TLS fields ([HTTPSLogFormat]).
	LogTLS bool
	// LogPos is where option httplog or httpslog was set.
	LogPos Pos
	// RequestRules and ResponseRules are the http-request and
	// http-response rules, in order.
	RequestRules  []HTTPRule
	ResponseRules []HTTPRule
	// AfterResponseRules are the http-after-response rules: response
	// actions on every answer, local ones included.
	AfterResponseRules []HTTPRule
	// Redirects are the "redirect" rules, which run after the
	// http-request rules.
	Redirects []HTTPRule
	// CaptureRequest and CaptureResponse are a frontend's capture
	// slots, in the order they were declared, logged in braces by
	// httplog (%hr, %hs): the "capture request header" and "capture
	// response header" lines (the value of the field, cut to its
	// length), and the slots "declare capture" and "http-request
	// capture ... len" reserve, which have no Name and which only
	// capture rules fill.
	CaptureRequest, CaptureResponse []HeaderCapture
	// CaptureCookie is a frontend's "capture cookie": the first request
	// cookie, and the first cookie the response sets, whose name starts
	// with Name, kept as "name=value" cut to Len bytes, logged by %CC and
	// %CS.
	CaptureCookie *CookieCapture
	// MonitorURI is a frontend's "monitor-uri": a request for exactly
	// this URI is answered 200 by the balancer itself, before any rule,
	// and not logged.
	MonitorURI string
	// MonitorFail are the "monitor fail" conditions: while one holds,
	// the monitor-uri is answered 503.
	MonitorFail []*acl.Cond
	// UseBackends are the use_backend rules, in order.
	UseBackends []UseBackend
	// Stats is the proxy's statistics page ("stats enable", "stats uri"
	// and the other "stats" lines), nil without one.
	Stats *StatsPage
	// Compression is the proxy's response compression ("compression
	// algo|type|offload"), nil without it.
	Compression *Compression
	// Reuse is the http-reuse policy: "safe" (the default), "never",
	// "always" or "aggressive" (treated as always).
	Reuse string
	// HashType is "map-based" (the default) or "consistent".
	HashType string
	// HashAvalanche mixes the hash with full_hash before use (the
	// "avalanche" modifier, implied by "hash-type consistent" alone).
	HashAvalanche bool
	// HashBalanceFactor bounds each server's load under a consistent
	// hash to this many hundredths of its share of the connections
	// being served ("hash-balance-factor"); 0 leaves it unbounded.
	HashBalanceFactor int
	// BalanceCheckPost is "balance url_param NAME check_post": a POST
	// request without the parameter in its query has it looked for in
	// its url-encoded body, once the body (or a buffer's worth) is in.
	BalanceCheckPost bool
	// RandomDraws is the number of draws of "balance random(N)", the
	// least loaded of them taken: 2 when not given, as in HAProxy.
	RandomDraws int
	// BalanceArg is the header or URL parameter name of "balance
	// hdr(NAME)" and "balance url_param NAME", the cookie name of
	// "balance rdp-cookie(NAME)" ("mstshash" by default), and "whole"
	// for "balance uri whole".
	BalanceArg string
	// URILen and URIDepth are "balance uri len N" and "depth N": the
	// hash reads at most N bytes, and stops before the (N+1)th slash;
	// 0 for no limit.
	URILen, URIDepth int
	// Check is the HTTP health check (option httpchk), nil for none.
	Check *HTTPCheck
	// ErrorFiles replace the built-in answers for some statuses.
	ErrorFiles []ErrorFile
	// RestrictHeaderNames is option http-restrict-req-hdr-names:
	// "delete" removes, "reject" answers 403 to, request fields whose
	// name holds anything but letters, digits and '-', once the proxy's
	// http-request rules ran; "" or "preserve" keeps them.
	RestrictHeaderNames string
}

// ConnMode is how HTTP connections are kept between requests.
type ConnMode uint8

// The connection modes, as the options of the same names set them.
const (
	// ConnKeepAlive keeps both the client and the server connections
	// open (option http-keep-alive).
	ConnKeepAlive ConnMode = iota
	// ConnServerClose keeps the client connection but closes the server
	// connection after each response (option http-server-close).
	ConnServerClose
	// ConnClose closes both after each exchange (option httpclose).
	ConnClose
)

// HTTPRule is one http-request or http-response rule.
type HTTPRule struct {
	Pos
	// Action is the rule's verb: set-header, add-header, del-header,
	// replace-header, replace-value, deny, return, redirect, set-path,
	// replace-path, set-uri, replace-uri, set-query, set-method,
	// set-var, set-var-fmt, unset-var (Name is then the variable,
	// SCOPE.NAME, and Value the expression or format), capture (Slot),
	// set-timeout (Name, Timeout), use-service (Name is the service,
	// ServicePrometheus), send-spoe-group (Name is the SPOE engine,
	// Value the group), and set-status in responses.
	Action string
	// Args are the words a "lua" action (Name names it, without "lua.")
	// passes to the script's function.
	Args []string
	// Name is the header name of header actions.
	Name string
	// Value is the value format of set-header/add-header/set-path, the
	// location of a redirect, or the realm of auth ("" for the proxy's
	// name).
	Value string
	// Status is the status of deny, return and redirect (0 for their
	// default), silent-drop's rst-ttl (0: try TCP_REPAIR first), or
	// wait-for-body's "at-least" size (0: none).
	Status int
	// RedirectType is "location", "prefix" or "scheme" for redirects.
	RedirectType string
	// ContentType and Body are what "return" answers with.
	ContentType string
	Body        []byte
	// Headers are extra fields of "return" (hdr NAME VALUE), whose
	// values are formats.
	Headers [][2]string
	// BodyFormat tells a "return" body given by lf-string or lf-file:
	// a format, filled in for each request.
	BodyFormat bool
	// OwnAnswer tells a deny that gives its answer (content-type, a
	// body, fields) rather than its status's error page.
	OwnAnswer bool
	// ErrorFile is the whole HTTP/1 response of a return (or deny)
	// that names an errorfile: sent as it is, logged with Status.
	ErrorFile []byte
	// Regex is the match of replace-header, replace-value, replace-path
	// and replace-uri; Value is then the replacement, in which \1..\9
	// stand for the groups matched.
	Regex *regexp.Regexp
	// Reason is the reason phrase of set-status ("" for the status's
	// own).
	Reason string
	// Slot is the capture slot "capture" fills: an index into the
	// frontend's CaptureRequest (http-request) or CaptureResponse
	// (http-response, http-after-response); Value is then the sample
	// expression. A slot the frontend lacks leaves the rule without
	// effect, as in HAProxy. For "track-sc" (track-sc0/1/2),
	// "sc-inc-gpc0", "sc-inc-gpc1" and "sc-set-gpt0" it is the stick
	// counter (0, 1 or 2); Value is then track-sc's key expression or
	// sc-set-gpt0's integer or expression. "sc-inc-gpc" and "sc-set-gpt"
	// (sc-inc-gpc(IDX,SC), sc-set-gpt(IDX,SC)) take it too, with Index.
	Slot int
	// Index is the array element of sc-inc-gpc and sc-set-gpt; one the
	// table's array lacks (or a negative one) leaves the rule without
	// effect, as in HAProxy.
	Index int64
	// Table names the proxy whose stick table track-sc uses; "" is the
	// rule's own proxy.
	Table string
	// Timeout is the time "set-timeout" gives the timeout Name
	// ("server" or "tunnel"); when Value is set instead, it is a sample
	// expression read as milliseconds. For wait-for-body, how long the
	// body is waited for.
	Timeout time.Duration
	// Cond limits the rule, nil for always.
	Cond *acl.Cond
	// LogLevel is set-log-level's level plus one (1 for emerg, 8 for
	// debug), -1 for silent: the request's log line goes out at that
	// level, or not at all.
	LogLevel int
	// Redirect holds a redirect rule's options.
	Redirect RedirectOptions
	// MapValue is set-map's value format; Name is then the map file
	// and Value the key format, as for del-map, add-acl and del-acl.
	MapValue string
	// Resolve holds do-resolve's resolvers section and family; Name is
	// then the variable and Value the host name's expression.
	Resolve DoResolve
}

// DoResolve is what a do-resolve action (http-request or tcp-request
// content) resolves through.
type DoResolve struct {
	// Resolvers names the resolvers section asked.
	Resolvers string
	// Prefer is the family asked first: "ipv4" or "ipv6" (the default).
	Prefer string
}

// UseBackend is one use_backend rule.
type UseBackend struct {
	Pos
	// Backend is the backend's name, or a format with %[...] samples
	// that makes it per request (Dynamic).
	Backend string
	Cond    *acl.Cond
}

// HTTPCheck is "option httpchk" with its "http-check send" and
// "http-check expect" lines.
type HTTPCheck struct {
	Method, URI, Version string
	// Host, when set, is sent as the Host field, after the first HostAt
	// of Headers, where the lines named it.
	Host   string
	HostAt int
	// Headers are the other fields "http-check send ... hdr" adds, in
	// order, and Body the request's body ("body").
	Headers [][2]string
	Body    string
	// SendState adds X-Haproxy-Server-State to each check request
	// ("http-check send-state"): the server's state and counts as the
	// balancer sees them.
	SendState bool
	// Expects are the "http-check expect" rules, each of which the answer
	// must pass; none means any 2xx or 3xx status, as in HAProxy.
	Expects []HTTPExpect
	// DisableOn404 ("http-check disable-on-404"): a 404 answer, whatever
	// the expect rules say, passes the check conditionally, and a
	// running server that gives it stops taking new clients (NOLB)
	// while keeping those persistence sends it.
	DisableOn404 bool
	// Rules are the section's "http-check connect", "send" and "expect"
	// lines in order. When one is a connect (Sequenced), the check runs
	// them as HAProxy does: a connect opens a new connection, closing the
	// one before; a send sends a request on it, the first one the check's
	// own (Method, URI... as option httpchk and the first send make it),
	// the others their own; the expects that follow judge its answer, and
	// a send without any wants a 2xx or 3xx status.
	Rules []HTTPCheckRule
}

// HTTPCheckRule is one "http-check connect", "send", "expect" or
// "comment" line.
type HTTPCheckRule struct {
	Pos
	// Action is TCPCheckConnect, TCPCheckSend, TCPCheckExpect or
	// TCPCheckComment.
	Action TCPCheckAction
	// Connect holds a connect's options (Default, Port, Addr, SSL...).
	Connect TCPCheckRule
	// Request is a send's request: its own method, URI, version, fields
	// and body, from HAProxy's defaults (OPTIONS / HTTP/1.0) on.
	Request *HTTPCheck
	// Expect is an expect rule.
	Expect HTTPExpect
}

// Sequenced reports whether the rules hold a connect, which makes the
// check run them in order (see Rules).
func (c *HTTPCheck) Sequenced() bool {
	for _, r := range c.Rules {
		if r.Action == TCPCheckConnect {
			return true
		}
	}
	return false
}

// HTTPExpect is one "http-check expect" rule.
type HTTPExpect struct {
	// Kind is "status", "rstatus", "string", "rstring", "hdr" or
	// "fhdr".
	Kind string
	// Comment is the rule's own ("comment"), or that of an "http-check
	// comment" just before it: a failure's info ends with it.
	Comment string
	// Inverse ("!") fails the check when the rule matches.
	Inverse bool
	// Statuses are the codes and ranges a status rule accepts, each as
	// [low, high].
	Statuses [][2]int
	// Regexp is an rstatus or rstring rule's expression, String a string
	// rule's text.
	Regexp *regexp.Regexp
	String string
	// Name and Value are an hdr or fhdr rule's patterns: a field whose
	// name matches Name (without regard to case) and, when Value is set,
	// one of whose values matches it (hdr: each comma-separated value;
	// fhdr: the whole value).
	Name  HdrMatch
	Value *HdrMatch
	// OnSuccess and OnError replace what a check's reason says after
	// "info:" when the rule passes (the last rule) or fails; OKStatus,
	// ErrorStatus and ToutStatus replace the check status it reports
	// then ("L7OK", "L7OKC", "L6OK", "L4OK"; "L7RSP", "L7STS", "L7OKC",
	// "L6RSP", "L4CON"; "L7TOUT", "L6TOUT", "L4TOUT"), empty for the
	// defaults.
	OnSuccess, OnError                string
	OKStatus, ErrorStatus, ToutStatus string
}

// HdrMatch is a pattern of an hdr or fhdr expect rule and how it
// matches: "str" (the whole text), "beg", "end", "sub" or "reg".
type HdrMatch struct {
	Method, Pattern string
	Regexp          *regexp.Regexp
}

// Match reports whether s matches m.
func (m HdrMatch) Match(s string) bool {
	switch m.Method {
	case "beg":
		return strings.HasPrefix(s, m.Pattern)
	case "end":
		return strings.HasSuffix(s, m.Pattern)
	case "sub":
		return strings.Contains(s, m.Pattern)
	case "reg":
		return m.Regexp.MatchString(s)
	}
	return s == m.Pattern
}

// Body reports whether the rule looks at the answer's body.
func (e HTTPExpect) Body() bool { return e.Kind == "string" || e.Kind == "rstring" }

// ErrorFile is one "errorfile CODE FILE": a whole HTTP/1 response sent
// instead of the built-in one.
type ErrorFile struct {
	Pos
	Status int
	Path   string
	Data   []byte
	// Reply, when set, is the answer an "http-error" line gives
	// (status, content-type, body, fields), in place of Data.
	Reply *HTTPRule
	// from and codes hold an "errorfiles NAME [CODE...]" line until the
	// http-errors sections are read (expandErrorFiles): Status is 0.
	from  string
	codes []int
}

// ErrorFile returns the configured response for status, or nil.
func (h *HTTP) ErrorFile(status int) []byte {
	for i := len(h.ErrorFiles) - 1; i >= 0; i-- {
		if h.ErrorFiles[i].Status == status {
			return h.ErrorFiles[i].Data
		}
	}
	return nil
}

// appendOwn appends to s without ever writing into an array s shares
// with the section it was inherited from.
func appendOwn[T any](s []T, v T) []T {
	return append(s[:len(s):len(s)], v)
}

// HeaderCapture is one capture slot: the header field it captures ("" for
// a slot only capture rules fill) and the most bytes of a value kept.
type HeaderCapture struct {
	Name string
	Len  int
}

// CookieCapture is "capture cookie NAME len N".
type CookieCapture struct {
	Name string
	Len  int
}

// Dynamic reports whether the rule's backend name is made of samples
// ("use_backend %[req.hdr(host),lower,map(hosts.map)]").
func (u *UseBackend) Dynamic() bool { return strings.Contains(u.Backend, "%[") }

// RedirectOptions are a redirect rule's options beside its code.
type RedirectOptions struct {
	// DropQuery leaves the query out of a prefix or scheme redirect's
	// location; AppendSlash adds a '/' to it when it does not end with
	// one.
	DropQuery, AppendSlash bool
	// IgnoreEmpty skips a location redirect whose format gives nothing.
	IgnoreEmpty bool
	// Cookie is the Set-Cookie value set-cookie or clear-cookie adds.
	Cookie string
	// Literal marks a rule of the older "redirect" keyword, whose
	// prefix "/" adds nothing before the path, as in haproxy.
	Literal bool
}
