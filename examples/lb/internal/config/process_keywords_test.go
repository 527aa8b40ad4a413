package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The process and proxy keywords haproxy configurations often carry:
// hard-stop-after, ulimit-n, spread-checks, node, description, a proxy's
// id, description and backlog, a bind line's backlog and maxconn, and a
// backend's source.
func TestProcessKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`global
    hard-stop-after 30s
    ulimit-n 4096
    maxconnrate 100
    maxsessrate 50
    spread-checks 5
    node lb1
    description edge balancer
defaults
    mode tcp
    source 127.0.0.2
listen a
    id 7
    description the a service
    backlog 64
    bind 127.0.0.1:1 backlog 12 maxconn 50
    server s 127.0.0.1:2
backend b
    source 127.0.0.3:0
    server s 127.0.0.1:2
`)})
	require.NoError(t, err)
	g := cfg.Global
	require.Equal(t, 30*time.Second, g.HardStopAfter)
	require.Equal(t, 4096, g.UlimitN)
	require.Equal(t, 100, g.MaxConnRate)
	require.Equal(t, 50, g.MaxSessRate)
	require.Equal(t, 5, g.SpreadChecks)
	require.Equal(t, "lb1", g.Node)
	require.Equal(t, "edge balancer", g.Description)
	a := cfg.Proxy("a", KindBackend)
	require.Equal(t, 7, a.ID)
	require.Equal(t, "the a service", a.Description)
	require.Equal(t, 64, a.Backlog)
	require.Equal(t, 12, a.Binds[0].Backlog)
	require.Equal(t, 50, a.Binds[0].MaxConn)
	require.Equal(t, "127.0.0.2", a.Source, "from defaults")
	require.Equal(t, "127.0.0.3:0", cfg.Proxy("b", KindBackend).Source)

	for text, msg := range map[string]string{
		"global\n  spread-checks 51\n":                    "t.cfg:2: bad value: 'spread-checks' in 'global' section: '51' is not a percentage in range 0..50",
		"global\n  hard-stop-after soon\n":                "t.cfg:2:",
		"defaults\n  description x\n":                     "t.cfg:2: keyword not allowed here: 'description' not allowed in 'defaults' section",
		"frontend f\n  bind :1 backlog 0\n":               "bind option 'backlog': 0 out of range",
		"defaults\n  id 3\n":                              "'id' not allowed in 'defaults' section",
		"backend b\n  source 127.0.0.1 usesrc clientip\n": "not supported: 'source' takes one address (usesrc and interface are not supported)",
		"backend b\n  id 3\nbackend c\n  id 3\n":          "t.cfg:4: bad reference: proxy c reuses same custom id as proxy b (declared at t.cfg:1)",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// balance rdp-cookie and persist rdp-cookie, with their default names.
func TestRDPCookieKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("backend a\n  balance rdp-cookie\n  persist rdp-cookie\nbackend b\n  balance rdp-cookie(user)\n  persist rdp-cookie(route)\n")})
	require.NoError(t, err)
	a, b := cfg.Proxy("a", KindBackend), cfg.Proxy("b", KindBackend)
	require.Equal(t, "rdp-cookie", a.Balance)
	require.Equal(t, "mstshash", a.HTTP.BalanceArg)
	require.Equal(t, "msts", a.PersistRDPCookie)
	require.Equal(t, "user", b.HTTP.BalanceArg)
	require.Equal(t, "route", b.PersistRDPCookie)
	// A frontend checks the line and has no use for it, as haproxy's.
	cfg, err = Parse(Source{Name: "t.cfg", Data: []byte("frontend f\n  persist rdp-cookie more\n")})
	require.NoError(t, err)
	require.Empty(t, cfg.Proxy("f", KindFrontend).PersistRDPCookie)
	for text, msg := range map[string]string{
		"backend b\n  balance rdp-cookie(\n":  "balance rdp-cookie : missing cookie name",
		"backend b\n  balance rdp-cookiex\n":  "balance rdp-cookie : missing cookie name",
		"backend b\n  persist rdp-cookie()\n": "persist rdp-cookie(name)' requires an rdp cookie name",
		"backend b\n  persist cookie\n":       "unknown persist method 'cookie'",
		"backend b\n  persist\n":              "missing persist method",
		"frontend f\n  persist\n":             "missing persist method",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// The rewrite actions, the older redirect keyword and monitor-uri.
func TestRewriteKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`frontend f
    mode http
    monitor-uri /health
    redirect scheme https code 301 if { path_beg /a }
    http-request replace-header X-A ^v(.*)$ w\1
    http-request replace-value X-B a b
    http-request replace-path ^/old(.*) /new\1
    http-request replace-uri (.*) \1
    http-request set-uri /x
    http-request set-query a=1
    http-request set-method POST
    http-response set-status 299 reason Fine
    http-response replace-header X-C a b
` + feTimeout)})
	require.NoError(t, err)
	f := cfg.Proxy("f", KindFrontend)
	require.Equal(t, "/health", f.HTTP.MonitorURI)
	require.Len(t, f.HTTP.Redirects, 1)
	require.Equal(t, "scheme", f.HTTP.Redirects[0].RedirectType)
	require.Equal(t, 301, f.HTTP.Redirects[0].Status)
	rules := f.HTTP.RequestRules
	require.Len(t, rules, 7)
	require.Equal(t, `w\1`, rules[0].Value, "the back-reference reaches the rule")
	require.True(t, rules[0].Regex.MatchString("v2"))
	require.Equal(t, 299, f.HTTP.ResponseRules[0].Status)
	require.Equal(t, "Fine", f.HTTP.ResponseRules[0].Reason)
	require.Len(t, cfg.Warnings, 8, "every http-request after the redirect, no bind: %v", cfg.Warnings)
	require.Contains(t, cfg.Warnings[0], "t.cfg:5: a 'http-request' rule placed after a 'redirect' rule will still be processed before")

	for text, msg := range map[string]string{
		"frontend f\n  http-request replace-header X (a b\n": "regex '(a'",
		"frontend f\n  http-request replace-path a\n":        "'replace-path' expects <match-regex> <replace-fmt>",
		"frontend f\n  http-response set-status 99\n":        "'set-status': 99 out of range",
		"frontend f\n  http-response set-status 200 why\n":   "'set-status' expects <status> [reason <str>]",
		"frontend f\n  http-request set-status 200\n":        "not supported: 'http-request set-status'",
		"frontend f\n  http-response set-uri /x\n":           "not supported: 'http-response set-uri'",
		"frontend f\n  monitor-uri\n":                        "expects an URI",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// cookie NAME [options] and the servers' cookie values.
func TestCookieKeyword(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`backend b
    mode http
    cookie SRV insert indirect nocache postonly preserve httponly secure domain .a.com domain .b.com attr SameSite=Lax
    server s1 127.0.0.1:1 cookie one
`)})
	require.NoError(t, err)
	b := cfg.Proxy("b", KindBackend)
	require.Equal(t, &CookiePersist{Name: "SRV", Mode: "insert", Indirect: true, NoCache: true, PostOnly: true, Preserve: true,
		HTTPOnly: true, Secure: true, Domains: []string{".a.com", ".b.com"}, Attrs: []string{"SameSite=Lax"}}, b.Cookie)
	require.Equal(t, "one", b.Servers[0].Cookie)
	for text, msg := range map[string]string{
		"backend b\n  cookie\n":                       "'cookie' expects <cookie_name> as argument",
		"backend b\n  cookie S insert rewrite\n":      "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible",
		"backend b\n  cookie S bogus\n":               "'cookie' supports",
		"backend b\n  cookie S insert maxidle soon\n": "'cookie' option 'maxidle': bad time 'soon'",
		"backend b\n  cookie S domain\n":              "'domain' requires an argument",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// option forwardfor's and option originalto's options.
func TestForwardForOptions(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`backend b
    mode http
    option forwardfor except 10.0.0.0/8 header X-Real-IP if-none
    option originalto except 192.168.0.0/255.255.0.0 header X-Dst
`)})
	require.NoError(t, err)
	h := cfg.Proxy("b", KindBackend).HTTP
	require.True(t, h.ForwardFor)
	require.Equal(t, "10.0.0.0/8", h.ForwardForExcept.String())
	require.Equal(t, "X-Real-IP", h.ForwardForHeader)
	require.True(t, h.ForwardForIfNone)
	require.True(t, h.OriginalTo)
	require.Equal(t, "192.168.0.0/16", h.OriginalToExcept.String())
	require.Equal(t, "X-Dst", h.OriginalToHeader)
	for text, msg := range map[string]string{
		"backend b\n  option forwardfor except\n":                     "'option forwardfor except' expects <address>[/mask] as argument",
		"backend b\n  option forwardfor header\n":                     "'option forwardfor header' expects <header_name> as argument",
		"backend b\n  option forwardfor bogus\n":                      "only supports optional values: 'except', 'header' and 'if-none'",
		"backend b\n  no option forwardfor\n":                         "negation/default is not supported for option 'forwardfor'",
		"backend b\n  option forwardfor except 1.2.3.4/33\n":          "bad mask '33'",
		"backend b\n  option originalto except 1.2.3.4/255.0.255.0\n": "is not a contiguous mask",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// capture request header and capture response header.
func TestCaptureKeyword(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`frontend f
    mode http
    capture request header Host len 20
    capture request header User-Agent len 64
    capture response header Content-Type len 10
`)})
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, []HeaderCapture{{"Host", 20}, {"User-Agent", 64}}, h.CaptureRequest)
	require.Equal(t, []HeaderCapture{{"Content-Type", 10}}, h.CaptureResponse)
	for text, msg := range map[string]string{
		"frontend f\n  capture request header Host\n":     "'capture request' expects 'header' <header_name> 'len' <len>",
		"frontend f\n  capture foo header X len 5\n":      "'capture' expects 'cookie' or 'request header' or 'response header'",
		"frontend f\n  capture cookie SRV\n":              "'capture' expects 'cookie' <cookie_name> 'len' <len>",
		"defaults\n  capture request header Host len 5\n": "'capture' not allowed in 'defaults' section",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// set-var, set-var-fmt and unset-var.
func TestVarActions(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`frontend f
    mode http
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var-fmt(sess.tag) "t-%[path]"
    http-request unset-var(txn.host) if { path /x }
    http-response set-var(res.st) status
`)})
	require.NoError(t, err)
	rules := cfg.Proxy("f", KindFrontend).HTTP.RequestRules
	require.Equal(t, "set-var", rules[0].Action)
	require.Equal(t, "txn.host", rules[0].Name)
	require.Equal(t, "req.hdr(host),lower", rules[0].Value)
	require.Equal(t, "set-var-fmt", rules[1].Action)
	require.Equal(t, "unset-var", rules[2].Action)
	for text, msg := range map[string]string{
		"frontend f\n  http-request set-var(foo.x) path\n":   "invalid variable name 'foo.x'",
		"frontend f\n  http-request set-var(txn.x path\n":    "missing closing parenthesis",
		"frontend f\n  http-request set-var(txn.x)\n":        "'set-var' expects a sample expression",
		"frontend f\n  http-request set-var(txn.x) nosuch\n": "unknown fetch method: 'nosuch'",
		"frontend f\n  http-request unset-var(txn.x) path\n": "'unset-var' expects no argument",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// http-request tarpit and timeout tarpit.
func TestTarpitKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("frontend f\n  mode http\n  timeout tarpit 2s\n  http-request tarpit\n  http-request tarpit deny_status 429\n")})
	require.NoError(t, err)
	f := cfg.Proxy("f", KindFrontend)
	require.Equal(t, 2*time.Second, f.Timeouts.Tarpit)
	require.Equal(t, 500, f.HTTP.RequestRules[0].Status)
	require.Equal(t, 429, f.HTTP.RequestRules[1].Status)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("frontend f\n  http-request tarpit status\n")})
	require.ErrorContains(t, err, "'tarpit': unexpected 'status' (expects status, content-type")
}

// errorloc, errorloc302 and errorloc303 make redirect answers.
func TestErrorlocKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("defaults\n  mode http\n  errorloc 503 http://x/down\n  errorloc303 403 /denied\nbackend b\n")})
	require.NoError(t, err)
	ef := cfg.Proxy("b", KindBackend).HTTP.ErrorFiles
	require.Len(t, ef, 2)
	require.Equal(t, 503, ef[0].Status)
	require.Equal(t, "HTTP/1.1 302 Found\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: http://x/down\r\n\r\n", string(ef[0].Data))
	require.Contains(t, string(ef[1].Data), "HTTP/1.1 303 See Other\r\n")
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("defaults\n  errorloc 302 /x\n")})
	require.ErrorContains(t, err, "status code '302' cannot be overridden")
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("defaults\n  errorloc302 503\n")})
	require.ErrorContains(t, err, "expects 'errorloc302 <code> <url>'")
}

// http-after-response takes the response actions.
func TestAfterResponseKeyword(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("frontend f\n  mode http\n  http-after-response set-header X a\n  http-after-response set-status 299 if { status 503 }\n")})
	require.NoError(t, err)
	require.Len(t, cfg.Proxy("f", KindFrontend).HTTP.AfterResponseRules, 2)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("frontend f\n  http-after-response deny\n")})
	require.ErrorContains(t, err, "not supported")
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("defaults\n  http-after-response set-header X a\n")})
	require.ErrorContains(t, err, "not allowed in 'defaults' section")
}

// setenv, presetenv and unsetenv act on the environment while the file
// is read.
func TestSetenvKeywords(t *testing.T) {
	t.Setenv("LB_TEST_PRESET", "kept")
	t.Setenv("LB_TEST_GONE", "x")
	t.Setenv("LB_TEST_SET", "")
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`global
    setenv LB_TEST_SET 8081
    presetenv LB_TEST_PRESET replaced
    unsetenv LB_TEST_GONE
    description "${LB_TEST_SET} ${LB_TEST_PRESET} [${LB_TEST_GONE}]"
`)})
	require.NoError(t, err)
	require.Equal(t, "8081 kept []", cfg.Global.Description)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("global\n  setenv ONLY\n")})
	require.ErrorContains(t, err, "'setenv' expects a name and a value")
}

// option ssl-hello-chk is a protocol check of its own.
func TestSSLHelloCheckOption(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("backend b\n  option ssl-hello-chk\n  server s 127.0.0.1:1 check\n")})
	require.NoError(t, err)
	require.Equal(t, &TCPCheck{SSLHello: true}, cfg.Proxy("b", KindBackend).TCPCheck)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n  no option ssl-hello-chk\n")})
	require.ErrorContains(t, err, "negation is not supported")
	cfg, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n  option spop-check\n")})
	require.NoError(t, err)
	require.Equal(t, &TCPCheck{SPOP: true}, cfg.Proxy("b", KindBackend).TCPCheck)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n  no option spop-check\n")})
	require.ErrorContains(t, err, "negation is not supported for option 'spop-check'")
}
