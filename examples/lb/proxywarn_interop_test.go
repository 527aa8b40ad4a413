package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// The warnings haproxy gives once the whole configuration is read, for a
// proxy that lacks a timeout, writes a log format with no log address,
// or captures request contents without waiting for them: lb gives the
// same, as "global zero-warning" refuses a configuration for them.

const warnTimeouts = "    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n"

// warnListener is a listening proxy that needs no warning, for texts
// whose other proxies do not listen (haproxy -c refuses a configuration
// with no listener).
const warnListener = "frontend other\n    bind 127.0.0.1:18009\n    timeout client 1s\n    mode tcp\n    tcp-request connection reject\n"

// TestInteropMissingTimeoutsMatchesHAProxy: which proxies miss which
// timeouts, by side and mode, as haproxy decides.
func TestInteropMissingTimeoutsMatchesHAProxy(t *testing.T) {
	const fe = "frontend fe\n    bind 127.0.0.1:18001\n    default_backend be\n"
	const be = "backend be\n    server s 127.0.0.1:2\n"
	w := checkParity(t, "defaults\n    mode http\n"+fe+be+"listen li\n    bind 127.0.0.1:18002\n    server s 127.0.0.1:2\n")
	require.Equal(t, []string{
		": missing timeouts for backend 'be'.",
		": missing timeouts for frontend 'fe'.",
		": missing timeouts for proxy 'li'.",
	}, w)
	for _, c := range []struct{ name, text string }{
		{"tcp mode", "defaults\n    mode tcp\n" + fe + be},
		{"all set", "defaults\n" + warnTimeouts + fe + be},
		{"tcp tunnel for server", "defaults\n    mode tcp\n    timeout client 1s\n    timeout connect 1s\n    timeout tunnel 1s\n" + fe + be},
		{"http tunnel is no server timeout", "defaults\n    mode http\n    timeout client 1s\n    timeout connect 1s\n    timeout tunnel 1s\n" + fe + be},
		{"backend without servers", "defaults\n    timeout client 1s\n" + fe + "backend be\n"},
		{"listen without servers", "listen li\n    bind 127.0.0.1:18001\n    timeout client 1s\n"},
		{"disabled proxies", "defaults\n    timeout connect 1s\n" + strings.Replace(fe, "default_backend be\n", "default_backend be\n    disabled\n", 1) + be + "    disabled\n" + warnListener},
		{"stats frontend", "defaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n    stats enable\n    stats uri /\n"},
		{"zero is unset", "defaults\n" + warnTimeouts + fe + be + "    timeout server 0\n"},
		{"connect only", "defaults\n    timeout client 1s\n" + fe + be + "    timeout connect 1s\n"},
		{"server template", "defaults\n    timeout client 1s\n" + fe + "backend be\n    server-template s 2 127.0.0.1:2\n"},
		{"frontend without bind", "defaults\n    timeout connect 1s\n    timeout server 1s\nfrontend fe\n    default_backend be\n" + be + warnListener},
		{"named defaults", "defaults d1\n    mode http\n    timeout connect 1s\n" + fe + be},
	} {
		t.Run(c.name, func(t *testing.T) { checkParity(t, c.text) })
	}
}

// TestInteropLogFormatWithoutLogMatchesHAProxy: a frontend with a log
// format but no log address warns; a backend does not.
func TestInteropLogFormatWithoutLogMatchesHAProxy(t *testing.T) {
	base := "defaults\n" + warnTimeouts + "frontend fe\n    bind 127.0.0.1:18001\n    default_backend be\n"
	const be = "backend be\n    server s 127.0.0.1:2\n"
	w := checkParity(t, base+"    option tcplog\n"+be)
	require.Equal(t, []string{": log format ignored for frontend 'fe' since it has no log address."}, w)
	for _, c := range []struct{ name, text string }{
		{"httplog", strings.Replace(base, "defaults\n", "defaults\n    mode http\n", 1) + "    option httplog\n" + be},
		{"httpslog", strings.Replace(base, "defaults\n", "defaults\n    mode http\n", 1) + "    option httpslog\n" + be},
		{"clf", strings.Replace(base, "defaults\n", "defaults\n    mode http\n", 1) + "    option httplog clf\n" + be},
		{"log-format", base + "    log-format %ci\n" + be},
		{"from defaults", strings.Replace(base, "defaults\n", "defaults\n    option tcplog\n", 1) + be},
		{"listen", "defaults\n" + warnTimeouts + "    option tcplog\nlisten li\n    bind 127.0.0.1:18001\n    server s 127.0.0.1:2\n"},
		{"backend only", "defaults\n" + warnTimeouts + "    option tcplog\n" + be + warnListener},
		{"no log", "defaults\n" + warnTimeouts + "    log 127.0.0.1:514 local0\nfrontend fe\n    bind 127.0.0.1:18001\n    option tcplog\n    no log\n    default_backend be\n" + be},
		{"log global without global log", base + "    log global\n    option tcplog\n" + be},
		{"log global", "global\n    log 127.0.0.1:514 local0\n" + base + "    log global\n    option tcplog\n" + be},
		{"own log", base + "    log 127.0.0.1:514 local0\n    option tcplog\n" + be},
		{"disabled", base + "    disabled\n    option tcplog\n" + be + warnListener},
		{"httplog in tcp mode", base + "    option httplog\n" + be},
		{"no format", base + be},
	} {
		t.Run(c.name, func(t *testing.T) { checkParity(t, c.text) })
	}
}

// TestInteropHTTPLogInTCPModeMatchesHAProxy: option httplog in a tcp
// frontend falls back to tcplog with haproxy's warning, at the option's
// line, unless a later log-format replaces it.
func TestInteropHTTPLogInTCPModeMatchesHAProxy(t *testing.T) {
	base := "defaults\n" + warnTimeouts + "frontend fe\n    bind 127.0.0.1:18001\n    log 127.0.0.1:514 local0\n    default_backend be\n"
	const be = "backend be\n    server s 127.0.0.1:2\n"
	w := checkParity(t, base+"    option httplog\n"+be)
	require.Equal(t, []string{"9: 'option httplog' not usable with frontend 'fe' (needs 'mode http'). Falling back to 'option tcplog'."}, w)
	w = checkParity(t, strings.Replace(base, "defaults\n", "defaults\n    option httplog\n", 1)+be)
	require.Equal(t, []string{"2: 'option httplog' not usable with frontend 'fe' (needs 'mode http'). Falling back to 'option tcplog'."}, w)
	checkParity(t, base+"    option httpslog\n"+be)
	checkParity(t, base+"    option httplog clf\n"+be)
	checkParity(t, base+"    log-format %ci\n    option httplog\n"+be)
	require.Empty(t, checkParity(t, base+"    option httplog\n    log-format %ci\n"+be))
	checkParity(t, "defaults\n"+warnTimeouts+"listen li\n    bind 127.0.0.1:18001\n    log 127.0.0.1:514 local0\n    option httplog\n    server s 127.0.0.1:2\n")
}

// TestInteropCaptureWithoutInspectDelayMatchesHAProxy: a tcp-request
// content capture of request contents without an inspect delay warns;
// one of the connection's addresses does not.
func TestInteropCaptureWithoutInspectDelayMatchesHAProxy(t *testing.T) {
	text := func(mode, rules string) string {
		return "defaults\n" + warnTimeouts + "    mode " + mode + "\nfrontend fe\n    bind 127.0.0.1:18001\n" + rules + "    default_backend be\nbackend be\n    server s 127.0.0.1:2\n"
	}
	w := checkParity(t, text("tcp", "    tcp-request content capture req.payload(0,10) len 10\n"))
	require.Equal(t, []string{": frontend 'fe' : a 'tcp-request capture' rule explicitly depending on request contents without any 'tcp-request inspect-delay' setting. This means that this rule will randomly find its contents. This can be fixed by setting the tcp-request inspect-delay."}, w)
	for _, r := range []string{
		"capture src len 10",
		"capture req.ssl_sni len 10",
		"capture req.len len 10",
		"capture req.ssl_sni,lower len 10",
		"capture req.payload(0,4) len 10 if { src 1.2.3.4 }",
		"capture src len 10 if { req.len gt 0 }",
		"capture ssl_fc_sni len 10",
		"capture str(x) len 10",
		"capture var(txn.x) len 10",
	} {
		t.Run("tcp "+r, func(t *testing.T) { checkParity(t, text("tcp", "    tcp-request content "+r+"\n")) })
	}
	for _, r := range []string{
		"capture method len 10",
		"capture path len 10",
		"capture req.hdr(host) len 10",
		"capture req.hdrs len 10",
		"capture req.cook_val(x) len 10",
		"capture req.proto_http len 10",
		"capture http_first_req len 10",
		"capture capture.req.uri len 10",
		"capture fe_id len 10",
	} {
		t.Run("http "+r, func(t *testing.T) { checkParity(t, text("http", "    tcp-request content "+r+"\n")) })
	}
	checkParity(t, text("tcp", "    tcp-request content capture req.payload(0,4) len 10\n    tcp-request content capture req.len len 10\n"))
	checkParity(t, text("tcp", "    tcp-request content capture req.payload(0,4) len 10\n    tcp-request inspect-delay 1s\n"))
	checkParity(t, "defaults\n"+warnTimeouts+"listen li\n    bind 127.0.0.1:18001\n    tcp-request content capture req.payload(0,4) len 10\n    server s 127.0.0.1:2\n")
}

// TestInteropHTTPOnlySettingsInTCPModeMatchesHAProxy: what a proxy not
// in mode http ignores, haproxy warns of; lb gives the same words, and
// neither warns of a disabled proxy.
func TestInteropHTTPOnlySettingsInTCPModeMatchesHAProxy(t *testing.T) {
	tcp := func(fe, be string) string {
		return "defaults\n" + warnTimeouts + "frontend fe\n    bind 127.0.0.1:18001\n" + fe + "    default_backend be\nbackend be\n" + be + "    server s 127.0.0.1:2\n"
	}
	w := checkParity(t, tcp("    option forwardfor\n", "    option forwardfor\n"))
	require.Equal(t, []string{
		": 'option forwardfor' ignored for backend 'be' as it requires HTTP mode.",
		": 'option forwardfor' ignored for frontend 'fe' as it requires HTTP mode.",
	}, w)
	for _, c := range []struct{ name, fe, be string }{
		{"frontend options", "    option originalto\n    option accept-invalid-http-request\n    option disable-h2-upgrade\n    option http-ignore-probes\n    option http-use-proxy-header\n    option http-buffer-request\n", ""},
		{"backend options", "", "    option accept-invalid-http-response\n    option http-pretend-keepalive\n    option prefer-last-server\n    option http-buffer-request\n"},
		{"cookie", "", "    cookie SRV insert\n"},
		{"server cookie", "", "    cookie SRV insert\n    server c 127.0.0.1:3 cookie c\n"},
		{"balance uri", "", "    balance uri\n"},
		{"balance hdr", "", "    balance hdr(host)\n"},
		{"balance url_param", "", "    balance url_param x\n"},
		{"balance source", "", "    balance source\n"},
		{"monitor-uri", "    monitor-uri /m\n", ""},
		{"http-after-response", "", "    http-after-response set-header a b\n"},
		{"tcp-smart-accept in a backend", "", "    option tcp-smart-accept\n"},
		{"tcp-smart-connect in a frontend", "    option tcp-smart-connect\n", ""},
		{"switch-mode keeps options", "    tcp-request content switch-mode http\n    option forwardfor\n    monitor-uri /m\n", "    mode http\n"},
		{"disabled", "", "    disabled\n    option forwardfor\n    cookie SRV insert\n    balance uri\n    http-after-response set-header a b\n"},
		{"from defaults", "", "    mode tcp\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := tcp(c.fe, c.be)
			if c.name == "from defaults" {
				text = strings.Replace(text, "defaults\n", "defaults\n    option forwardfor\n    cookie X insert\n    balance uri\n", 1)
			}
			checkParity(t, text)
		})
	}
}

// TestInteropLayer6FetchesInHTTPMatchesHAProxy: a condition of an HTTP
// proxy that reads raw bytes (a payload, its length, a TLS hello) is
// warned of once per rule, whatever the rule; a sample expression is not.
func TestInteropLayer6FetchesInHTTPMatchesHAProxy(t *testing.T) {
	http := func(fe, be string) string {
		return "defaults\n" + warnTimeouts + "    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n" + fe + "    default_backend be\nbackend be\n" + be + "    server s 127.0.0.1:2\n"
	}
	w := checkParity(t, http("    http-request deny if { req.len gt 0 }\n", ""))
	require.Equal(t, []string{": Proxy 'fe': L6 sample fetches ignored on HTTP proxies (declared at p.cfg:8)."}, w)
	for _, c := range []struct{ name, fe, be string }{
		{"tcp-request content", "    tcp-request content reject if { req.len gt 0 }\n", ""},
		{"named acls", "    acl a req.len gt 0\n    acl b req.payload(0,1) -m bin 00\n    tcp-request content reject if a b\n    tcp-request content reject if a\n", ""},
		{"use_backend", "    use_backend be if { req.ssl_sni foo }\n", ""},
		{"or", "    tcp-request content reject if { src 1.1.1.1 } || { req.ssl_hello_type 1 }\n", ""},
		{"rdp cookie", "    http-request deny if { req.rdp_cookie foo }\n", ""},
		{"sample expression", "    http-request set-var(txn.x) req.len\n", ""},
		{"http fetches", "    http-request deny if { req.hdr(x) foo } { src 1.1.1.1 }\n", ""},
		{"unused acl", "    acl a req.len gt 0\n", ""},
		{"response", "", "    http-response deny if { res.len gt 0 }\n"},
		{"tcp-response", "", "    tcp-response inspect-delay 1s\n    tcp-response content reject if { res.len gt 0 }\n    tcp-response content set-var(txn.x) res.len\n    tcp-response content accept if { res.payload(0,1) -m bin 00 }\n"},
		{"disabled", "", "    disabled\n    http-response deny if { res.len gt 0 }\n"},
		{"mode set later", "    mode tcp\n    tcp-request content reject if { req.len gt 0 }\n    mode http\n", ""},
		{"tcp mode", "    mode tcp\n    tcp-request content reject if { req.len gt 0 }\n", "    mode tcp\n"},
	} {
		t.Run(c.name, func(t *testing.T) { checkParity(t, http(c.fe, c.be)) })
	}
}

// TestInteropBindProcessMatchesHAProxy: bind-process is read and warned
// of in haproxy 2.6's words.
func TestInteropBindProcessMatchesHAProxy(t *testing.T) {
	w := checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    bind-process 1\n", 1))
	require.Equal(t, []string{"9: 'bind-process' has no effect, is deprecated, and will be removed in version 2.7."}, w)
}

// TestInteropMisplacedKeywordsMatchHAProxy: a keyword or an option
// written in a section without the side it acts on is ignored with
// haproxy's warning, at its line, rather than refused.
func TestInteropMisplacedKeywordsMatchHAProxy(t *testing.T) {
	base := "defaults\n" + warnTimeouts + "    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n    default_backend be\nbackend be\n    server s 127.0.0.1:2\n"
	w := checkParity(t, base+"frontend fx\n    bind 127.0.0.1:18002\n    fullconn 10\n")
	require.Equal(t, []string{"13: 'fullconn' ignored because frontend 'fx' has no backend capability. Maybe you want 'maxconn' instead ?"}, w)
	frontendOnly := []string{
		"backlog 10", "bind :18007", "capture request header Host len 10", "monitor fail if FALSE", "monitor-uri /m", "use_backend be",
		"clitcpka-cnt 3", "clitcpka-idle 10s", "clitcpka-intvl 10s", "rate-limit sessions 10",
		"option clitcpka", "option contstats", "option dontlog-normal", "option dontlognull", "option http-ignore-probes",
		"option log-separate-errors", "option logasap", "option socket-stats", "option tcp-smart-accept", "option disable-h2-upgrade",
		"option accept-invalid-http-request", "option http-use-proxy-header",
	}
	for _, l := range frontendOnly {
		t.Run("backend "+l, func(t *testing.T) {
			checkParity(t, base+"backend bx\n    "+l+"\n    server s 127.0.0.1:2\n")
		})
	}
	backendOnly := []string{
		"balance roundrobin", "cookie X insert", "dispatch 127.0.0.1:5", "dynamic-cookie-key k", "force-persist if TRUE",
		"hash-type consistent", "http-reuse safe", "http-send-name-header X-S", "ignore-persist if TRUE",
		"load-server-state-from-file none", "retries 2", "server-state-file-name x", "source 0.0.0.0", "stick on src",
		"srvtcpka-cnt 3", "srvtcpka-idle 10s", "srvtcpka-intvl 10s", "max-keep-alive-queue 10",
		"option abortonclose", "option allbackups", "option httpchk", "option ldap-check", "option log-health-checks",
		"option mysql-check", "option persist", "option prefer-last-server", "option redis-check", "option redispatch",
		"option smtpchk", "option spop-check", "option srvtcpka", "option ssl-hello-chk", "option tcp-check",
		"option tcp-smart-connect", "option transparent", "option http-pretend-keepalive", "option accept-invalid-http-response",
	}
	for _, l := range backendOnly {
		t.Run("frontend "+l, func(t *testing.T) {
			checkParity(t, base+"frontend fx\n    bind 127.0.0.1:18002\n    "+l+"\n")
		})
	}
}

// TestInteropHTTPCheckRulesWithoutHTTPChkMatchHAProxy: http-check send
// or expect lines without option httpchk are ignored with haproxy's
// warning, and the checks stay what the other options make them.
func TestInteropHTTPCheckRulesWithoutHTTPChkMatchHAProxy(t *testing.T) {
	base := "defaults\n" + warnTimeouts + "    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n    default_backend be\n"
	w := checkParity(t, base+"backend be\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n")
	require.Equal(t, []string{": backend 'be' uses http-check rules without 'option httpchk', so the rules are ignored."}, w)
	cfg, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(base + "backend be\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n")})
	require.NoError(t, err)
	require.Nil(t, cfg.Proxy("be", config.KindBackend).HTTP.Check, "the checks stay TCP ones")
	for _, c := range []struct{ name, text string }{
		{"send", base + "backend be\n    http-check send meth GET\n    server s 127.0.0.1:2\n"},
		{"listen", base + "listen li\n    bind 127.0.0.1:18002\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n"},
		{"disable-on-404", base + "backend be\n    http-check disable-on-404\n    server s 127.0.0.1:2 check\n"},
		{"send-state", base + "backend be\n    http-check send-state\n    server s 127.0.0.1:2 check\n"},
		{"from defaults", strings.Replace(base, "defaults\n", "defaults\n    http-check expect status 200\n", 1) + "backend be\n    server s 127.0.0.1:2 check\n"},
		{"with httpchk", base + "backend be\n    http-check expect status 200\n    option httpchk\n    server s 127.0.0.1:2 check\n"},
		{"httpchk from defaults", strings.Replace(base, "defaults\n", "defaults\n    option httpchk\n", 1) + "backend be\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n"},
		{"then tcp-check", base + "backend be\n    option httpchk\n    http-check expect status 200\n    option tcp-check\n    server s 127.0.0.1:2 check\n"},
		{"ssl-hello-chk", base + "backend be\n    http-check expect status 200\n    option ssl-hello-chk\n    server s 127.0.0.1:2 check\n"},
		{"no option httpchk", strings.Replace(base, "defaults\n", "defaults\n    option httpchk\n", 1) + "backend be\n    no option httpchk\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n"},
		{"disabled", base + "backend be\n    disabled\n    http-check expect status 200\n    server s 127.0.0.1:2 check\n"},
	} {
		t.Run(c.name, func(t *testing.T) { checkParity(t, c.text) })
	}
}

// TestInteropOptionNegationMatchesHAProxy: the options haproxy takes no
// "no" for are refused after one, as haproxy refuses them.
func TestInteropOptionNegationMatchesHAProxy(t *testing.T) {
	base := "defaults\n" + warnTimeouts + "    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n    default_backend be\n"
	for _, o := range []string{"tcplog", "httplog", "httpslog", "forwardfor", "originalto"} {
		t.Run(o, func(t *testing.T) {
			checkParity(t, base+"    no option "+o+"\nbackend be\n    server s 127.0.0.1:2\n")
		})
	}
	for _, o := range []string{"httpchk", "tcp-check", "ssl-hello-chk", "redis-check", "smtpchk"} {
		t.Run(o, func(t *testing.T) {
			checkParity(t, base+"backend be\n    no option "+o+"\n    server s 127.0.0.1:2\n")
		})
	}
	checkParity(t, base+"    no option dontlognull\nbackend be\n    no option redispatch\n    server s 127.0.0.1:2\n")
}

// TestInteropNeverMatchingConditionsMatchHAProxy: a condition whose ACL
// reads what its rule cannot see (the response in a request rule, the
// request in a response rule, the request's contents or TLS in a
// connection rule) is warned of at its line, once, in haproxy's words.
func TestInteropNeverMatchingConditionsMatchHAProxy(t *testing.T) {
	text := func(fe, be string) string {
		return "defaults\n" + warnTimeouts + "    mode http\nfrontend fe\n    bind 127.0.0.1:18001\n    capture request header host len 10\n" + fe + "    default_backend be\nbackend be\n" + be + "    server s 127.0.0.1:2\n"
	}
	w := checkParity(t, text("    http-response deny if { path_beg /a } || { method GET }\n", ""))
	require.Equal(t, []string{"9: anonymous acl will never match because it uses keyword 'path_beg' which is incompatible with 'frontend http-response header rule'"}, w)
	for _, c := range []struct{ name, fe, be string }{
		{"named", "    acl h req.hdr(x) foo\n    acl r res.hdr(x) foo\n    acl m req.hdr(x) foo\n    acl m src 1.1.1.1\n    http-request deny if r\n    http-response deny if h\n    http-response deny if m\n    http-after-response set-header a b if h\n", ""},
		{"first only", "    http-after-response set-header a b if { req.hdr(x) foo } { path /a }\n", ""},
		{"response fetches in request rules", "    http-request deny if { status 200 }\n    http-request deny if { res.ver 1.1 }\n    http-request deny if { res.body -m str x }\n    http-request deny if { res.hdr(x) foo }\n", "    http-request deny if { res.hdr(x) foo }\n"},
		{"request fetches in response rules", "    http-response deny if { req.len gt 0 }\n    http-response deny if { req.ssl_sni x }\n    http-response deny if { req.body -m str x }\n    http-response deny if { http_auth_type basic }\n    http-response deny if { url x }\n    http-response deny if { base x }\n    http-response deny if { req.cook(x) y }\n",
			"    http-response deny if { path /x }\n    http-response deny if { url_param(x) y }\n"},
		{"what a response rule sees", "    http-response deny if { capture.req.hdr(0) x }\n    http-response deny if { src 1.1.1.1 }\n    http-response deny if { method GET }\n    http-response deny if { var(txn.x) -m found }\n", ""},
		{"connection rules", "    tcp-request connection reject if { req.hdr(x) foo }\n    tcp-request connection reject if { ssl_fc_sni x }\n    tcp-request connection reject if { var(txn.x) -m found }\n    tcp-request connection reject if { req.ssl_sni x }\n    tcp-request connection reject if { method GET }\n    tcp-request connection reject if { capture.req.hdr(0) x }\n    tcp-request connection reject if { http_first_req }\n    tcp-request connection reject if { req.proto_http }\n    tcp-request connection reject if { status 200 }\n", ""},
		{"session rules", "    tcp-request session reject if { path /x }\n    tcp-request session reject if { ssl_fc_sni x }\n    tcp-request session reject if { src 1.1.1.1 }\n", ""},
		{"content rules", "    tcp-request content reject if { status 200 }\n    tcp-request content reject if { path /x }\n", "    tcp-request content reject if { res.len gt 0 }\n"},
		{"listen", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "listen" {
				checkParity(t, "defaults\n"+warnTimeouts+"    mode http\nlisten li\n    bind 127.0.0.1:18002\n    http-response deny if { path /x }\n    http-request deny if { res.hdr(x) foo }\n    server s 127.0.0.1:2\n")
				return
			}
			checkParity(t, text(c.fe, c.be))
		})
	}
}

// TestInteropRuleOrderMatchesHAProxy: a request rule placed after one
// that runs after it is warned of, naming the first such in running
// order, in haproxy's words.
func TestInteropRuleOrderMatchesHAProxy(t *testing.T) {
	w := checkParity(t, "defaults\n"+warnTimeouts+`    mode http
frontend fe
    bind 127.0.0.1:18001
    http-request deny if FALSE
    tcp-request content reject if FALSE
    tcp-request connection reject if FALSE
    redirect location / if FALSE
    http-request deny if FALSE
    use_backend be if FALSE
    http-request deny if FALSE
    redirect location / if FALSE
    tcp-request content reject if FALSE
    monitor fail if FALSE
    http-request deny if FALSE
    tcp-request session reject if FALSE
    tcp-request connection reject if FALSE
    default_backend be
backend be
    use-server s if FALSE
    http-request deny if FALSE
    tcp-request content reject if FALSE
    stick on src
    http-request deny if FALSE
    server s 127.0.0.1:2
    stick-table type ip size 1
`)
	require.Contains(t, w, "12: a 'http-request' rule placed after a 'redirect' rule will still be processed before.")
	require.Contains(t, w, "10: a 'tcp-request' rule placed after a 'tcp-request content' rule will still be processed before.")
	checkParity(t, parityBase+"    http-request deny if FALSE\n    http-request redirect location / if FALSE\n    http-request deny if FALSE\n")
}

// TestInteropSmallAnswerChecksMatchHAProxy: a return with a body for a
// 204 or 304 is refused, and a cookie capture over 63 bytes is cut with
// haproxy's warning.
func TestInteropSmallAnswerChecksMatchHAProxy(t *testing.T) {
	for _, s := range []string{"204", "304", "200"} {
		checkParity(t, parityBase+"    http-request return status "+s+" content-type text/plain string hi\n")
		checkParity(t, parityBase+"    http-request return status "+s+" content-type text/plain lf-string hi\n")
	}
	checkParity(t, parityBase+"    http-request return status 204\n")
	w := checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    capture cookie S len 100\n", 1))
	require.Equal(t, []string{": truncating capture length to 63 bytes for frontend 'fe'."}, w)
	require.Empty(t, checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    capture cookie S len 63\n", 1)))
}

// TestInteropDotWarningMatchesHAProxy: .warning gives haproxy's line,
// final period included.
func TestInteropDotWarningMatchesHAProxy(t *testing.T) {
	w := checkParity(t, ".warning \"hello there\"\n"+parityBase)
	require.Equal(t, []string{"1: 'hello there'."}, w)
}

// TestInteropFastOpenWarningMatchesHAProxy: a server with tfo in a
// backend that cannot retry is warned of at its line, in haproxy's words.
func TestInteropFastOpenWarningMatchesHAProxy(t *testing.T) {
	w := checkParity(t, strings.Replace(parityBase, "server s 127.0.0.1:2", "server s 127.0.0.1:2 tfo", 1))
	require.Equal(t, []string{"10: 'server be/s' : server has tfo activated, the backend should be configured with at least 'conn-failure', 'empty-response' and 'response-timeout' or we wouldn't be able to retry the connection on failure."}, w)
	require.Empty(t, checkParity(t, strings.Replace(parityBase, "server s 127.0.0.1:2", "retry-on conn-failure empty-response response-timeout\n    server s 127.0.0.1:2 tfo", 1)))
}

// TestInteropInspectDelayInDefaultsMatchesHAProxy: a named defaults
// section sets the inspect delays its sections inherit (the capture then
// waits, without haproxy's warning); an anonymous one may not.
func TestInteropInspectDelayInDefaultsMatchesHAProxy(t *testing.T) {
	const rest = "frontend fe from d\n    bind 127.0.0.1:18001\n    tcp-request content capture req.payload(0,4) len 4\n    default_backend be\nbackend be from d\n    tcp-response content accept if { res.len gt 0 }\n    server s 127.0.0.1:2\n"
	require.Empty(t, checkParity(t, "defaults d\n    mode tcp\n"+warnTimeouts+"    tcp-request inspect-delay 1s\n    tcp-response inspect-delay 1s\n"+rest))
	cfg, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte("defaults d\n    mode tcp\n" + warnTimeouts + "    tcp-request inspect-delay 1s\n    tcp-response inspect-delay 2s\n" + rest)})
	require.NoError(t, err)
	require.Equal(t, time.Second, cfg.Proxy("fe", config.KindFrontend).Stick.InspectDelay)
	require.Equal(t, 2*time.Second, cfg.Proxy("be", config.KindBackend).Stick.ResponseDelay)
	require.Len(t, checkParity(t, "defaults d\n    mode tcp\n"+warnTimeouts+rest), 1, "the capture's warning")
	checkParity(t, "defaults\n    mode tcp\n"+warnTimeouts+"    tcp-request inspect-delay 1s\n"+strings.ReplaceAll(rest, " from d", ""))
}

// TestInteropBindProcessThreadMatchesHAProxy: "process" on a bind line
// is checked and warned of as deprecated, "thread" taken silently.
func TestInteropBindProcessThreadMatchesHAProxy(t *testing.T) {
	text := func(opt string) string {
		return "defaults\n" + warnTimeouts + "listen li\n    bind 127.0.0.1:18001 " + opt + "\n    server s 127.0.0.1:2\n"
	}
	w := checkParity(t, text("process all"))
	require.Equal(t, []string{"6: 'bind 127.0.0.1:18001' in section 'listen' : 'process all' on 'bind' lines is deprecated and will be removed in 2.7."}, w)
	for _, o := range []string{"process 1", "process odd", "process 1/1", "process 2", "process x", "thread 1", "thread 2", "thread all", "thread 1/1"} {
		t.Run(o, func(t *testing.T) { checkParity(t, text(o)) })
	}
}
