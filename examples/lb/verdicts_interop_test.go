package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Configurations haproxy takes, refuses or warns of in ways that are easy
// to miss: lb's verdict and warnings must be haproxy's.

// TestInteropEmptyArgumentEndsLineMatchesHAProxy: an empty word ("" or
// a quoted variable with no value) ends the line's arguments, so a header
// rule with an empty name or value lacks an argument, and what follows
// the empty word, a condition included, is not read.
func TestInteropEmptyArgumentEndsLineMatchesHAProxy(t *testing.T) {
	for _, l := range []string{
		`http-request set-header X ""`,
		`http-request set-header "" x`,
		`http-request add-header X ""`,
		`http-request replace-header X a ""`,
		`http-request replace-value X a ""`,
		`http-response set-header X ""`,
		`http-response add-header X ""`,
		`http-response replace-header X "" b`,
		`http-after-response set-header X ""`,
		`http-request set-header X "" if TRUE`,
		`http-request set-header X " "`,
		`http-request set-header X ""x`,
		`http-request set-path ""`,
		`http-request set-query ""`,
		`http-request del-header ""`,
		`http-request return status 200 string ""`,
		`http-request redirect location ""`,
		`http-request deny "" if FALSE`,
		`http-request set-header X-A b "" garbage here`,
		`"" anything`,
		`log-format ""`,
		`http-request set-header X-A "${LB_TEST_UNSET_VAR}" if TRUE`,
	} {
		t.Run(l, func(t *testing.T) { checkParity(t, parityBase+"    "+l+"\n") })
	}
	checkParity(t, strings.Replace(parityBase, "bind 127.0.0.1:18001", `bind 127.0.0.1:18001 "" nosuchoption`, 1))
}

// TestInteropResolversWithoutNameserverMatchesHAProxy: a resolvers
// section without a name server is taken with haproxy's warning.
func TestInteropResolversWithoutNameserverMatchesHAProxy(t *testing.T) {
	w := checkParity(t, "resolvers dns\n    hold valid 10s\n"+parityBase+"    server s2 app.invalid:80 resolvers dns init-addr none\n")
	require.Equal(t, []string{": resolvers 'dns' [p.cfg:1] has no nameservers configured!"}, w)
	checkParity(t, "resolvers dns\n"+parityBase)
}

// TestInteropHTTPOptionsMatchHAProxy: option checkcache,
// independent-streams, http-no-delay and h1-case-adjust-bogus-client and
// -server are taken where haproxy takes them, with its warnings on the
// wrong side and in mode tcp.
func TestInteropHTTPOptionsMatchHAProxy(t *testing.T) {
	opts := []string{"checkcache", "independent-streams", "http-no-delay", "h1-case-adjust-bogus-client", "h1-case-adjust-bogus-server"}
	for _, o := range opts {
		t.Run(o, func(t *testing.T) {
			for _, l := range []string{"option " + o, "no option " + o, "option " + o + " x"} {
				checkParity(t, parityBase+"    "+l+"\n")
				checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    "+l+"\n", 1))
				checkParity(t, strings.Replace(parityBase, "defaults\n", "defaults\n    "+l+"\n", 1))
			}
		})
	}
	// An option on the wrong side is checked for arguments first.
	for _, o := range []string{"abortonclose", "socket-stats", "contstats", "tcplog", "srvtcpka", "clitcpka", "http-ignore-probes", "prefer-last-server"} {
		checkParity(t, parityBase+"    option "+o+" x\n")
		checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    option "+o+" x\n", 1))
	}
	all := ""
	for _, o := range opts {
		all += "    option " + o + "\n"
	}
	tcp := strings.Replace(parityBase, "mode http", "mode tcp", 1)
	w := checkParity(t, strings.Replace(tcp, "defaults\n", "defaults\n"+all, 1))
	require.Equal(t, []string{
		": 'option checkcache' ignored for backend 'be' as it requires HTTP mode.",
		": 'option http-no-delay' ignored for backend 'be' as it requires HTTP mode.",
		": 'option http-no-delay' ignored for frontend 'fe' as it requires HTTP mode.",
	}, w)
	checkParity(t, strings.Replace(tcp, "    default_backend be\n", "    default_backend be\n"+all, 1)+all)
}

// TestInteropH1CaseAdjustConfigMatchesHAProxy: h1-case-adjust lines and
// the h1-case-adjust-file are checked as haproxy checks them.
func TestInteropH1CaseAdjustConfigMatchesHAProxy(t *testing.T) {
	for _, l := range []string{
		"h1-case-adjust x-foo X-Foo",
		"h1-case-adjust X-FOO x-foo",
		"h1-case-adjust x-foo",
		"h1-case-adjust",
		"h1-case-adjust x-foo X-Bar",
		"h1-case-adjust x-foo X-Foo z",
		"h1-case-adjust x-foo X-Foo\n    h1-case-adjust X-FOO X-foo",
		"h1-case-adjust-file",
		"h1-case-adjust-file /nonexistent/case.txt",
		"h1-case-adjust-file a b",
	} {
		t.Run(l, func(t *testing.T) { checkParity(t, "global\n    "+l+"\n"+parityBase) })
	}
	for name, file := range map[string]string{
		"good":              "# names\n\n  x-foo\tX-Foo  \n\tx-bar X-BAR\r\n",
		"no spelling":       "x-foo\n",
		"blank spelling":    "x-foo \n",
		"other name":        "x-foo X-Bar\n",
		"two words":         "x-foo X-Foo more\n",
		"comment after":     "x-foo X-Foo # c\n",
		"duplicate":         "x-foo X-Foo\nX-FOO x-foo\n",
		"duplicate of line": "x-baz X-Baz\n",
		"empty":             "",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "case.txt", file)
			checkParity(t, "global\n    h1-case-adjust x-baz X-BAZ\n    h1-case-adjust-file "+path+"\n"+parityBase)
		})
	}
}

// saveEnv returns a function that gives the environment back as it is
// now, for tests whose configurations clear it.
func saveEnv() (restore func()) {
	env := os.Environ()
	return func() {
		os.Clearenv()
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			_ = os.Setenv(k, v)
		}
	}
}

// TestInteropResetenvMatchesHAProxy: resetenv clears the environment
// but for the names given, as the file is read, so a variable it dropped
// expands to nothing on the lines after it; insecure-setuid-wanted is
// taken, without arguments.
func TestInteropResetenvMatchesHAProxy(t *testing.T) {
	t.Setenv("LB_TEST_KEEP", "kept")
	t.Setenv("LB_TEST_DROP", "dropped")
	for _, c := range []struct {
		name, text string
		ok         bool
	}{
		{"kept", "resetenv LB_TEST_KEEP\n    presetenv A \"${LB_TEST_KEEP}\"", true},
		{"dropped", "resetenv LB_TEST_KEEP\n    presetenv A \"${LB_TEST_DROP}\"", false},
		{"all dropped", "resetenv\n    presetenv A \"${LB_TEST_KEEP}\"", false},
		{"set before", "setenv B x\n    resetenv LB_TEST_KEEP\n    presetenv A \"${B}\"", false},
		{"set after", "resetenv\n    setenv B x\n    presetenv A \"${B}\"", true},
		{"name is whole", "resetenv LB_TEST\n    presetenv A \"${LB_TEST_KEEP}\"", false},
		{"expanded before", "presetenv A \"${LB_TEST_DROP}\"\n    resetenv LB_TEST_KEEP", true},
		{"insecure-setuid-wanted", "insecure-setuid-wanted", true},
		{"insecure-setuid-wanted x", "insecure-setuid-wanted x", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			restore := saveEnv()
			defer restore()
			text := "global\n    " + c.text + "\n" + parityBase
			checkParity(t, text)
			restore()
			_, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
			require.Equal(t, c.ok, err == nil, "%v", err)
		})
	}
}

// TestInteropNPNMatchesHAProxy: npn is taken on bind and server lines,
// with or without ssl, and refused without its list.
func TestInteropNPNMatchesHAProxy(t *testing.T) {
	crt := newPKI(t, "npn").issue("crt.pem", "npn.test", nil, false, false)
	for _, c := range []struct{ bind, server string }{
		{"npn h2,http/1.1", ""},
		{"npn http/1.1", ""},
		{"npn", ""},
		{"ssl crt " + crt + " npn h2,http/1.1 alpn h2,http/1.1", ""},
		{"", "npn h2"},
		{"", "ssl verify none npn h2,http/1.1"},
		{"", "npn"},
	} {
		t.Run(c.bind+c.server, func(t *testing.T) {
			text := strings.Replace(parityBase, "bind 127.0.0.1:18001", "bind 127.0.0.1:18001 "+c.bind, 1)
			checkParity(t, strings.Replace(text, "server s 127.0.0.1:2", "server s 127.0.0.1:2 "+c.server, 1))
		})
	}
	checkParity(t, strings.Replace(parityBase, "    server s", "    default-server npn h2\n    server s", 1))
}

// TestInteropBackendUniqueIDAndFrontendPersistMatchHAProxy: a backend's
// unique-id-format and unique-id-header, and a frontend's persist, are
// checked and left unused, without a warning; words after a
// unique-id-header's name or a persist method are not read.
func TestInteropBackendUniqueIDAndFrontendPersistMatchHAProxy(t *testing.T) {
	fe := func(l string) string {
		return strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    "+l+"\n", 1)
	}
	for _, l := range []string{
		`unique-id-format %{+X}o\ %ci:%cp`,
		"unique-id-format",
		"unique-id-format a b",
		"unique-id-format %[nosuchfetch]",
		"unique-id-format %[src,nosuchconv]",
		"unique-id-header X-Id",
		"unique-id-header X-Id more",
		"unique-id-header",
		"persist rdp-cookie",
		"persist rdp-cookie(x) more",
		"persist rdp-cookie more",
		"persist rdp-cookie(",
		"persist",
		"persist cookie",
	} {
		t.Run(l, func(t *testing.T) {
			require.Empty(t, checkParity(t, parityBase+"    "+l+"\n"))
			require.Empty(t, checkParity(t, fe(l)))
		})
	}

	// At run time, the backend's lines add no header.
	haproxyBin(t)
	got := make(chan string, 2)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Id") + "|" + r.Header.Get("X-Fe")
	})
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    unique-id-format fe-id
    unique-id-header X-Fe
    default_backend be
backend be
    unique-id-format be-id
    unique-id-header X-Id
    server s %s
`, port, web)
	}
	hp := freePort(t)
	runHAProxy(t, cfg(hp), fmt.Sprintf("127.0.0.1:%d", hp))
	b, _, _ := startInProcess(t, cfg(0))
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", hp), b.Addrs("fe")[0].String()} {
		resp, err := http.Get("http://" + addr + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, "|fe-id", <-got, addr)
	}
}

// TestInteropLogGlobalBeforeGlobalMatchesHAProxy: "log global" takes the
// global log targets declared by then, so a proxy, or a defaults section,
// read before the global section's log lines logs nowhere through it,
// and one read after logs there.
func TestInteropLogGlobalBeforeGlobalMatchesHAProxy(t *testing.T) {
	const defaults = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
	const fe = "frontend %s\n    bind 127.0.0.1:%d\n    log global\n    log-format \"%s %%ST\"\n    http-request return status 200\n"
	cfg := func(p1, p2, p3 int) string {
		return defaults + fmt.Sprintf(fe, "early", p1, "early") +
			"defaults\n    mode http\n    log global\n    timeout client 1s\n" +
			fmt.Sprintf(strings.Replace(fe, "    log global\n", "", 1), "inherits", p2, "inherits") +
			"global\n    log stdout format raw local0\n" + defaults + fmt.Sprintf(fe, "late", p3, "late")
	}
	w := checkParity(t, cfg(18001, 18002, 18003))
	require.Equal(t, []string{
		": log format ignored for frontend 'early' since it has no log address.",
		": log format ignored for frontend 'inherits' since it has no log address.",
	}, w)
	checkParity(t, "global\n    log stdout local0\n"+cfg(18001, 18002, 18003))

	ports := freePorts(t, 3)
	out := startHAProxy(t, cfg(ports[0], ports[1], ports[2]), func() bool { return true })
	b, logs, mu := startInProcess(t, cfg(0, 0, 0))
	for _, c := range []struct {
		name  string
		addrs []string
		log   func() string
	}{
		{"haproxy", []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])}, out},
		{"lb", []string{b.Addrs("early")[0].String(), b.Addrs("inherits")[0].String(), b.Addrs("late")[0].String()}, func() string {
			mu.Lock()
			defer mu.Unlock()
			return logs.String()
		}},
	} {
		for _, a := range c.addrs {
			resp, err := http.Get("http://" + a + "/")
			require.NoError(t, err, c.name)
			_ = resp.Body.Close()
		}
		require.Eventually(t, func() bool { return strings.Contains(c.log(), "late 200") }, 5*time.Second, 20*time.Millisecond, "%s: %s", c.name, c.log())
		require.NotContains(t, c.log(), "early 200", c.name)
		require.NotContains(t, c.log(), "inherits 200", c.name)
	}
}

// TestInteropACLWithoutPatternsMatchesHAProxy: an ACL written with a
// fetch and nothing after it never matches, and haproxy warns of it but
// for a boolean fetch; a flag, "--" or a pattern file silences it. A var
// fetch, whose type is not known, needs its -m unless converters give
// one.
func TestInteropACLWithoutPatternsMatchesHAProxy(t *testing.T) {
	w := checkParity(t, parityBase+"    acl a hdr(x)\n")
	require.Equal(t, []string{": parsing acl keyword 'hdr(x)' :"}, w)
	for _, l := range []string{
		"acl a src", "acl a req.len", "acl a ssl_fc", "acl a hdr(x) -m found", "acl a req.len -m bool",
		"acl a hdr(x) --", "acl a always_true", "acl a hdr(x) -i", "acl a hdr_beg(x)", "acl a path,lower",
		"acl a hdr(x) -m str", "acl a nbsrv(be)", "acl a str(x)", "acl a bool(1)", "acl a int(1)",
		"acl a hdr_cnt(x)", "acl a method", "acl a path_reg", "acl a http_first_req", "acl a hdr(x) -f /dev/null",
		"acl a hdr(x)\n    acl a hdr(y)", "acl a hdr(x) foo",
		"http-request deny if { hdr(x) }", "http-request deny if { req.len } || { src }",
		"tcp-request content reject if { src }",
		"acl a var(txn.x) foo", "acl a var(txn.x) -i foo", "acl a var(txn.x) -m str foo", "acl a var(txn.x) -m found",
		"acl a var(txn.x),lower foo", "http-request deny if { var(txn.x),bool }",
		"acl a req.payload(0,1) foo", "acl a req.payload(0,1),lower foo",
	} {
		t.Run(l, func(t *testing.T) { checkParity(t, parityBase+"    "+l+"\n") })
	}
	checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    use_backend be if { src }\n", 1))
}

// TestInteropTuneKeywordsMatchHAProxy: global tuning keywords lb takes
// without effect are checked as haproxy checks their values, strictly,
// as atoi reads them, or not at all.
func TestInteropTuneKeywordsMatchHAProxy(t *testing.T) {
	values := []string{"", "x", "-1", "0", "1", "100", "100 200", "65536", "99999999", "on", "off", "10k", "12abc", "+5", "--5"}
	for _, kw := range []string{
		"tune.h2.header-table-size", "tune.h2.max-frame-size", "tune.http.logurilen", "fd-hard-limit",
		"tune.pool-low-fd-ratio", "tune.pool-high-fd-ratio", "tune.pattern.cache-size",
		"tune.vars.global-max-size", "tune.vars.proc-max-size", "tune.vars.sess-max-size",
		"tune.vars.txn-max-size", "tune.vars.reqres-max-size", "thread-groups",
		"tune.sched.low-latency", "tune.idle-pool.shared", "cluster-secret", "h2-workaround-bogus-websocket-clients",
	} {
		t.Run(kw, func(t *testing.T) {
			for _, v := range values {
				require.Empty(t, checkParity(t, "global\n    "+kw+" "+v+"\n"+parityBase), v)
			}
		})
	}
}

// TestInteropServerStateFileWarningsMatchHAProxy: a global
// server-state-file that does not open is warned of once, whether a
// backend loads it or not; a backend's own file that does not open, and
// a backend loading the global file where there is none, are warned of
// in haproxy's words.
func TestInteropServerStateFileWarningsMatchHAProxy(t *testing.T) {
	dir := t.TempDir()
	settle := func(cfg *config.Config) error { return cfg.Resolve(context.Background(), config.SystemLookup) }
	for _, g := range []string{"", "server-state-file " + dir + "/nostate", "server-state-file nostate\n    server-state-base " + dir, "server-state-base " + dir + "/nodir"} {
		for _, b := range []string{"", "load-server-state-from-file global", "load-server-state-from-file local",
			"load-server-state-from-file local\n    server-state-file-name foo", "load-server-state-from-file none"} {
			t.Run(g+"|"+b, func(t *testing.T) {
				text := parityBase + "    " + b + "\n"
				if g != "" {
					text = "global\n    " + g + "\n" + text
				}
				checkParityWith(t, text, settle)
			})
		}
	}
}

// TestInteropStickFetchTablesMatchHAProxy: a src_* fetch without a table
// reads the rule's own proxy's, which must have one; a table named to
// src_*, scN_* or sc_* must exist, in an ACL or a sample expression.
func TestInteropStickFetchTablesMatchHAProxy(t *testing.T) {
	fe := func(l string) string {
		return strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    "+l+"\n", 1) +
			"backend st\n    stick-table type ip size 1k store conn_rate(1s),http_req_rate(1s),gpc0\n"
	}
	for _, l := range []string{
		"tcp-request connection reject if { src_conn_rate gt 10 }",
		"tcp-request connection reject if { src_conn_rate(st) gt 10 }",
		"tcp-request connection reject if { src_conn_rate(be) gt 10 }",
		"tcp-request connection reject if { src_conn_rate(nosuch) gt 10 }",
		"http-request set-var(txn.x) src_http_req_rate",
		"http-request set-var(txn.x) src_http_req_rate,add(1)",
		"http-request set-var(txn.x) src_http_req_rate(st)",
		"http-request deny if { sc0_conn_rate(nosuch) gt 1 }",
		"http-request deny if { sc0_conn_rate gt 1 }",
		"http-request deny if { sc1_conn_rate(st) gt 1 }",
		"http-request deny if { sc_conn_rate(0,nosuch) gt 1 }",
		"http-request deny if { sc_conn_rate(0,st) gt 1 }",
		"http-request deny if { sc_conn_rate(0) gt 1 }",
		"acl a src_get_gpc0 gt 1",
		"http-request track-sc0 src_conn_rate",
		"http-request capture src_conn_rate len 10",
		"http-request set-header x %[src_conn_rate]",
		"http-request set-header x src_conn_rate",
	} {
		t.Run(l, func(t *testing.T) { checkParity(t, fe(l)) })
	}
}
