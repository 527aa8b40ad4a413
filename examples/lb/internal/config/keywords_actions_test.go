package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSetLogLevelAndEarlyHint(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    http-request set-log-level silent if { path /x }
    http-request set-log-level emerg
    http-request early-hint link "</a.css>; rel=preload"
    http-response set-log-level debug
    http-after-response set-log-level err
`)
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, -1, h.RequestRules[0].LogLevel)
	require.Equal(t, 1, h.RequestRules[1].LogLevel)
	require.Equal(t, "early-hint", h.RequestRules[2].Action)
	require.Equal(t, "link", h.RequestRules[2].Name)
	require.Equal(t, "</a.css>; rel=preload", h.RequestRules[2].Value)
	require.Equal(t, 8, h.ResponseRules[0].LogLevel)
	require.Equal(t, 4, h.AfterResponseRules[0].LogLevel)

	for _, tc := range []struct{ text, want string }{
		{"http-request set-log-level\n", "expects exactly 1 argument"},
		{"http-request set-log-level loud\n", "unknown level 'loud'"},
		{"http-request set-log-level info debug\n", "expects exactly 1 argument"},
		{"http-request early-hint link\n", "'early-hint' expects <name> <fmt>"},
		{"http-response early-hint link x\n", "'http-response early-hint'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestWaitForBody(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-request wait-for-body time 2s at-least 1k\n    http-request wait-for-body time 100\n")
	require.NoError(t, err)
	r := cfg.Proxy("f", KindFrontend).HTTP.RequestRules
	require.Equal(t, [2]any{2 * time.Second, 1024}, [2]any{r[0].Timeout, r[0].Status})
	require.Equal(t, [2]any{100 * time.Millisecond, 0}, [2]any{r[1].Timeout, r[1].Status})
	cfg, err = parse(t, "backend b\n    mode http\n    http-response wait-for-body time 1s at-least 10\n")
	require.NoError(t, err)
	rr := cfg.Proxy("b", KindBackend).HTTP.ResponseRules
	require.Equal(t, [2]any{time.Second, 10}, [2]any{rr[0].Timeout, rr[0].Status})
	for _, tc := range []struct{ text, want string }{
		{"http-request wait-for-body\n", "expects 'time <time> [at-least <bytes>]'"},
		{"http-request wait-for-body time\n", "expects 'time <time>"},
		{"http-request wait-for-body time 1s at-most 5\n", "expects 'time <time>"},
		{"http-request wait-for-body time soon\n", "bad time 'soon'"},
		{"http-request wait-for-body time 1s at-least lots\n", "bad size 'lots'"},
		{"http-response wait-for-body time soon\n", "bad time 'soon'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestTCPContentSetLogLevel(t *testing.T) {
	cfg, err := parse(t, "listen l\n    bind 127.0.0.1:0\n    tcp-request content set-log-level notice if { src 10.0.0.0/8 }\n    tcp-request content set-log-level silent\n    server s 127.0.0.1:1\n")
	require.NoError(t, err)
	rules := cfg.Proxy("l", KindListen).Stick.ContentRules
	require.Equal(t, []int{6, -1}, []int{rules[0].LogLevel, rules[1].LogLevel})
	for _, tc := range []struct{ text, want string }{
		{"tcp-request content set-log-level\n", "expects exactly 1 argument"},
		{"tcp-request content set-log-level shout\n", "unknown level 'shout'"},
		{"tcp-request connection set-log-level err\n", "set-log-level"},
	} {
		_, err := parse(t, "listen l\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

// A response rule's condition on the request itself never matches, and
// the start says so, as haproxy's does.
func TestResponseConditionWarning(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-response set-header x 1 if { path_beg /a } || { method GET }\n    http-after-response del-header y if !{ req.hdr(z) -m found }\n    http-response set-header x 1 if { status 200 } { res.hdr(a) -m found }\n")
	require.NoError(t, err)
	var never []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "will never match") {
			never = append(never, w)
		}
	}
	require.Len(t, never, 2, "%q", cfg.Warnings)
	require.Equal(t, "lb.cfg:4: anonymous acl will never match because it uses keyword 'path_beg' which is incompatible with 'frontend http-response header rule'", never[0])
	require.Equal(t, "lb.cfg:5: anonymous acl will never match because it uses keyword 'req.hdr' which is incompatible with 'frontend http-response header rule'", never[1])
}

func TestAllowRule(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-request allow if { src 10.0.0.0/8 }\n    http-response allow\n    http-after-response allow\n")
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, []string{"allow", "allow", "allow"}, []string{h.RequestRules[0].Action, h.ResponseRules[0].Action, h.AfterResponseRules[0].Action})
	require.NotNil(t, h.RequestRules[0].Cond)
	_, err = parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-request allow now\n")
	require.ErrorContains(t, err, "'allow' takes no argument, not 'now'")
}

func TestRedirectOptions(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-request redirect prefix /p drop-query append-slash set-cookie A=1 code 301\n    redirect location /x clear-cookie A= ignore-empty\n")
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, RedirectOptions{DropQuery: true, AppendSlash: true, Cookie: "A=1; path=/;"}, h.RequestRules[0].Redirect)
	require.Equal(t, 301, h.RequestRules[0].Status)
	require.Equal(t, RedirectOptions{Cookie: "A=; path=/; Max-Age=0;", IgnoreEmpty: true, Literal: true}, h.Redirects[0].Redirect)
	for _, tc := range []struct{ text, want string }{
		{"http-request redirect prefix /p keep-query\n", "unknown option 'keep-query'"},
		{"http-request redirect prefix /p set-cookie\n", "unknown option 'set-cookie'"},
		{"http-request redirect prefix /p code 304\n", "code '304'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestNoOpActions(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    http-request wait-for-handshake\n    http-request set-nice 2000\n    http-response set-nice -5\n    http-request strict-mode on\n")
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, []string{"wait-for-handshake", "set-nice", "strict-mode"}, []string{h.RequestRules[0].Action, h.RequestRules[1].Action, h.RequestRules[2].Action})
	require.Equal(t, 1024, h.RequestRules[1].Status, "clamped as haproxy clamps it")
	require.Equal(t, -5, h.ResponseRules[0].Status)
	for _, tc := range []struct{ text, want string }{
		{"http-request wait-for-handshake now\n", "takes no argument"},
		{"http-response wait-for-handshake\n", "'http-response wait-for-handshake'"},
		{"http-request set-nice\n", "expects exactly 1 argument"},
		{"http-request strict-mode maybe\n", "expects 'on' or 'off'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestRestrictHeaderNamesOption(t *testing.T) {
	cfg, err := parse(t, "defaults\n    mode http\n    option http-restrict-req-hdr-names delete\nbackend a\nbackend b\n    option http-restrict-req-hdr-names reject\n")
	require.NoError(t, err)
	require.Equal(t, "delete", cfg.Proxy("a", KindBackend).HTTP.RestrictHeaderNames)
	require.Equal(t, "reject", cfg.Proxy("b", KindBackend).HTTP.RestrictHeaderNames)
	for _, tc := range []struct{ text, want string }{
		{"option http-restrict-req-hdr-names\n", "expects 'preserve', 'reject' or 'delete'"},
		{"option http-restrict-req-hdr-names drop\n", "invalid parameter 'drop'"},
		{"no option http-restrict-req-hdr-names\n", "negation/default is not supported"},
	} {
		_, err := parse(t, "backend a\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestBalanceURLParamCheckPost(t *testing.T) {
	for text, post := range map[string]bool{"balance url_param id": false, "balance url_param id check_post": true, "balance url_param id check_post 64": true} {
		cfg, err := parse(t, "backend b\n    mode http\n    "+text+"\n")
		require.NoError(t, err, text)
		h := cfg.Proxy("b", KindBackend).HTTP
		require.Equal(t, "id", h.BalanceArg, text)
		require.Equal(t, post, h.BalanceCheckPost, text)
	}
	_, err := parse(t, "backend b\n    mode http\n    balance url_param id check_get\n")
	require.ErrorContains(t, err, "unexpected 'check_get' (expects 'check_post')")
}

func TestMonitorFail(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    monitor-uri /up\n    monitor fail if { nbsrv(b) lt 1 }\n    monitor fail unless { always_true }\nbackend b\n")
	require.NoError(t, err)
	require.Len(t, cfg.Proxy("f", KindFrontend).HTTP.MonitorFail, 2)
	for _, tc := range []struct{ text, want string }{
		{"monitor fail\n", "'monitor fail' expects 'if' or 'unless' followed by a condition"},
		{"monitor pass if TRUE\n", "expects 'fail'"},
		{"log-format \"%[nbsrv]\"\n", "fetch 'nbsrv' needs a backend name here"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
	// In a backend, ignored with haproxy's warning.
	c := mustParse(t, "backend b\n    mode http\n    monitor fail if TRUE\n")
	require.Contains(t, c.Warnings, "lb.cfg:3: 'monitor' ignored because backend 'b' has no frontend capability.")
}

func TestHTTPCheckSendState(t *testing.T) {
	cfg, err := parse(t, "backend b\n    mode http\n    option httpchk\n    http-check send-state\n    http-check expect status 200\n")
	require.NoError(t, err)
	c := cfg.Proxy("b", KindBackend).HTTP.Check
	require.True(t, c.SendState)
	require.Len(t, c.Expects, 1)
	_, err = parse(t, "backend b\n    mode http\n    option httpchk\n    http-check send-state now\n")
	require.ErrorContains(t, err, "'http-check send-state' takes no argument, not 'now'")
}

func TestMaxKeepAliveQueue(t *testing.T) {
	cfg, err := parse(t, "defaults\n    max-keep-alive-queue 3\nbackend a\nbackend b\n    max-keep-alive-queue -1\nbackend c\n    max-keep-alive-queue 0\n")
	require.NoError(t, err)
	require.Equal(t, []int{4, 0, 1}, []int{cfg.Proxy("a", KindBackend).KeepAliveQueue, cfg.Proxy("b", KindBackend).KeepAliveQueue, cfg.Proxy("c", KindBackend).KeepAliveQueue})
	_, err = parse(t, "backend a\n    max-keep-alive-queue -2\n")
	require.ErrorContains(t, err, "'-2' is not an integer of -1 or more")
}

func TestMapActionsAndReturnFormats(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    http-request set-map(/etc/a.map) %[path] %[src] if { method POST }
    http-request del-map(/etc/a.map) %[path]
    http-request add-acl(/etc/b.lst) %[src]
    http-response del-acl(/etc/b.lst) %[src]
    http-request return status 200 content-type text/plain lf-string "p=%[path]" hdr x-a "%[src]"
`)
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	r := h.RequestRules
	require.Equal(t, [4]string{"set-map", "/etc/a.map", "%[path]", "%[src]"}, [4]string{r[0].Action, r[0].Name, r[0].Value, r[0].MapValue})
	require.NotNil(t, r[0].Cond)
	require.Equal(t, [3]string{"del-map", "/etc/a.map", "%[path]"}, [3]string{r[1].Action, r[1].Name, r[1].Value})
	require.Equal(t, [3]string{"add-acl", "/etc/b.lst", "%[src]"}, [3]string{r[2].Action, r[2].Name, r[2].Value})
	require.Equal(t, "del-acl", h.ResponseRules[0].Action)
	require.True(t, r[3].BodyFormat)
	require.Equal(t, "p=%[path]", string(r[3].Body))
	require.NotNil(t, cfg.Patterns)

	for _, tc := range []struct{ text, want string }{
		{"http-request set-map(/a) k\n", "'set-map' expects <key fmt> <value fmt>"},
		{"http-request set-map(/a k v\n", "expects set-map(<file name>)"},
		{"http-request set-map() k v\n", "expects set-map(<file name>)"},
		{"http-request del-map(/a)\n", "'del-map' expects <key fmt>"},
		{"http-request add-acl(/a) k v\n", "'add-acl' expects <key fmt>"},
		{"http-after-response set-map(/a) k v\n", "'http-after-response set-map(/a)'"},
		{"http-request return content-type t lf-file /nonexistent/body\n", "'return' lf-file"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestHTTPCheckDisableOn404(t *testing.T) {
	cfg, err := parse(t, `defaults
    mode http
    option httpchk GET /h
    http-check expect status 200
backend b
    http-check disable-on-404
    server s 127.0.0.1:1 check
backend c
    server s 127.0.0.1:1 check
`)
	require.NoError(t, err)
	b := cfg.Proxy("b", KindBackend).HTTP.Check
	require.True(t, b.DisableOn404)
	require.Len(t, b.Expects, 1, "disable-on-404 keeps the inherited expect rules")
	require.False(t, cfg.Proxy("c", KindBackend).HTTP.Check.DisableOn404)
	_, err = parse(t, "backend b\n    mode http\n    http-check disable-on-404 now\n")
	require.ErrorContains(t, err, "'http-check disable-on-404' takes no argument")
}

func TestMinconnFullconn(t *testing.T) {
	cfg, err := parse(t, `defaults
    fullconn 30
backend b
    server a 127.0.0.1:1 minconn 2 maxconn 10
backend c
    fullconn 0
    default-server minconn 3
    server a 127.0.0.1:1 maxconn 5
`)
	require.NoError(t, err)
	b, c := cfg.Proxy("b", KindBackend), cfg.Proxy("c", KindBackend)
	require.Equal(t, 30, b.FullConn)
	require.Equal(t, [2]int{2, 10}, [2]int{b.Servers[0].MinConn, b.Servers[0].MaxConn})
	require.Equal(t, 0, c.FullConn, "0: a tenth of the frontends' maxconn")
	require.Equal(t, 3, c.Servers[0].MinConn)
	for _, tc := range []struct{ text, want string }{
		{"backend b\n    fullconn\n", "fullconn"},
		{"backend b\n    fullconn -1\n", "fullconn"},
		{"backend b\n    server a 127.0.0.1:1 minconn x\n", "minconn"},
	} {
		_, err := parse(t, tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestWarningAfterFinalRule(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    http-request allow
    http-request set-header x y
    http-request deny if { path /x }
    http-request return status 200
    http-response allow
    http-response set-header a b
    http-request redirect location /x
    http-after-response set-header c d
`)
	require.NoError(t, err)
	var got []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "is final") {
			got = append(got, w)
		}
	}
	require.Equal(t, []string{
		"lb.cfg:5: previous 'http-request' action is final and has no condition attached, further entries are NOOP",
		"lb.cfg:9: previous 'http-response' action is final and has no condition attached, further entries are NOOP",
		"lb.cfg:10: previous 'http-request' action is final and has no condition attached, further entries are NOOP",
	}, got, "as haproxy 2.6 words them; a conditional deny does not count")
}

func TestHTTPContentRules(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    tcp-request content track-sc0 src
    tcp-request content track-sc1 req.hdr(x-user) if { req.hdr(x-user) -m found }
    tcp-request content track-sc2 src if { path /x }
    tcp-request content reject if { path /bad }
    stick-table type ip size 10 store http_req_cnt
`)
	require.NoError(t, err)
	require.Len(t, cfg.Proxy("f", KindFrontend).Stick.ContentRules, 4, "accepted in mode http")
	var warned []string
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "should be executed at the session level") {
			warned = append(warned, w[:strings.Index(w, ":")+2])
		}
	}
	require.Equal(t, []string{"lb.cfg:4"}, warned, "only the track-sc that reads nothing of the request, as haproxy")
}

func TestResponseAnswerRules(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    http-request deny deny_status 429 content-type text/plain hdr retry-after 5 lf-string "slow %[path]"
    http-response deny if { status 500 }
    http-response deny deny_status 403 hdr x-why denied if { status 501 }
    http-response return status 203 content-type text/plain string fine if { status 404 }
    http-response redirect location /moved if { status 410 }
`)
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	d := h.RequestRules[0]
	require.Equal(t, [4]any{429, true, true, "text/plain"}, [4]any{d.Status, d.OwnAnswer, d.BodyFormat, d.ContentType})
	r := h.ResponseRules
	require.Equal(t, [2]any{502, false}, [2]any{r[0].Status, r[0].OwnAnswer}, "a response deny answers 502 unless told")
	require.Equal(t, [2]any{403, true}, [2]any{r[1].Status, r[1].OwnAnswer})
	require.Equal(t, [3]any{"return", 203, "fine"}, [3]any{r[2].Action, r[2].Status, string(r[2].Body)})
	require.Equal(t, [2]string{"redirect", "/moved"}, [2]string{r[3].Action, r[3].Value})
	for _, tc := range []struct{ text, want string }{
		{"http-request deny deny_status 414\n", "status 414 has no error page"},
		{"http-request deny errorfile /x\n", "'deny errorfile'"},
		{"http-request return deny_status 200\n", "'return': unexpected 'deny_status'"},
		{"http-response deny string x\n", "needs 'content-type'"},
		{"http-after-response deny\n", "'http-after-response deny'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}

func TestServerNoOptions(t *testing.T) {
	cfg, err := parse(t, `backend b
    default-server backup send-proxy send-proxy-v2 tfo check-send-proxy check
    server a 127.0.0.1:1 no-backup no-send-proxy no-send-proxy-v2 no-tfo no-check-send-proxy no-check
    server b 127.0.0.1:2
`)
	require.NoError(t, err)
	a, b := cfg.Proxy("b", KindBackend).Servers[0], cfg.Proxy("b", KindBackend).Servers[1]
	require.Equal(t, [6]bool{}, [6]bool{a.Backup, a.SendProxy, a.SendProxyV2, a.FastOpen, a.CheckSendProxy, a.Check}, "each no- form undoes the default-server's")
	require.Equal(t, [6]bool{true, true, true, true, true, true}, [6]bool{b.Backup, b.SendProxy, b.SendProxyV2, b.FastOpen, b.CheckSendProxy, b.Check})
}

func TestHTTPChkOlderFields(t *testing.T) {
	cfg, err := parse(t, `backend b
    mode http
    option httpchk GET /health HTTP/1.1\r\nHost:\ www.example.com\r\nUser-Agent:\ probe
    server a 127.0.0.1:1 check
`)
	require.NoError(t, err)
	c := cfg.Proxy("b", KindBackend).HTTP.Check
	require.Equal(t, [3]string{"GET", "/health", "HTTP/1.1"}, [3]string{c.Method, c.URI, c.Version})
	require.Equal(t, "www.example.com", c.Host)
	require.Equal(t, [][2]string{{"User-Agent", "probe"}}, c.Headers)
	_, err = parse(t, "backend b\n    option httpchk GET / HTTP/1.1\\r\\nbogus\n")
	require.ErrorContains(t, err, "check field 'bogus' is not 'name: value'")
}

func TestNoLog(t *testing.T) {
	cfg, err := parse(t, `defaults
    log global
    log 127.0.0.1:514 local0
backend b
    no log
backend c
`)
	require.NoError(t, err)
	b, c := cfg.Proxy("b", KindBackend), cfg.Proxy("c", KindBackend)
	require.False(t, b.LogGlobal)
	require.Empty(t, b.Logs)
	require.True(t, c.LogGlobal)
	require.Len(t, c.Logs, 1)
}

func TestDisabledProxies(t *testing.T) {
	cfg, err := parse(t, `defaults
    disabled
frontend f
    enabled
    bind 127.0.0.1:0
backend b
backend c
    disabled
    enabled
`)
	require.NoError(t, err)
	require.False(t, cfg.Proxy("f", KindFrontend).Disabled)
	require.True(t, cfg.Proxy("b", KindBackend).Disabled, "from the defaults")
	require.False(t, cfg.Proxy("c", KindBackend).Disabled)
	_, err = parse(t, "backend b\n    disabled now\n")
	require.ErrorContains(t, err, "unexpected argument 'now'")
}

func TestCookieDates(t *testing.T) {
	cfg, err := parse(t, "backend b\n    cookie SRV insert maxidle 30m maxlife 3600\n")
	require.NoError(t, err)
	c := cfg.Proxy("b", KindBackend).Cookie
	require.Equal(t, [2]time.Duration{30 * time.Minute, time.Hour}, [2]time.Duration{c.MaxIdle, c.MaxLife}, "seconds unless told")
}

// strtoul reads numbers as C's strtoul does with base 0, which haproxy
// uses for set-mark and set-tos.
func TestStrtoul(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    uint64
		rest string
	}{
		{"0x10", 16, ""},
		{"0X1f", 31, ""},
		{"010", 8, ""},
		{"09", 0, "9"},
		{"12abc", 12, "abc"},
		{"abc", 0, "abc"},
		{"", 0, ""},
		{"-1", ^uint64(0), ""},
		{"+5", 5, ""},
		{"0x", 0, "x"},
		{"0xg", 0, "xg"},
		{" \t7", 7, ""},
		{"99999999999999999999999", ^uint64(0), ""},
		{"18446744073709551615", ^uint64(0), ""},
	} {
		n, rest := strtoul(tc.in)
		require.Equal(t, tc.n, n, tc.in)
		require.Equal(t, tc.rest, rest, tc.in)
	}
	n, err := parseMarkTOS("set-mark", []string{"4294967297"})
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "cut to the 32 bits of the socket option")
	_, err = parseMarkTOS("set-tos", []string{"1", "2"})
	require.ErrorContains(t, err, "expects exactly 1 argument")
	_, err = parseMarkTOS("set-tos", []string{"0x"})
	require.ErrorContains(t, err, "invalid character starting at 'x'")
}
