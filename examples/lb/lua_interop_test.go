package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// luaFile writes a Lua script into a directory of the test's and
// returns its path.
func luaFile(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

// luaStarts are the two ways the interop tests run a configuration:
// under haproxy and in process, each returning what the proxy logged.
func luaStarts(t *testing.T) (ha, lb func(text string) func() string) {
	ha = func(text string) func() string { return startHAProxyReady(t, text) }
	lb = func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	return ha, lb
}

// httpAnswer is what the HTTP interop tests compare of a response.
type httpAnswer struct {
	Status  int
	Headers string
	Body    string
}

// answerOf reads a response's status, its fields but Date (names
// lowercase, sorted) and body.
func answerOf(t *testing.T, resp *http.Response) httpAnswer {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	var hdrs []string
	for k, vs := range resp.Header {
		if k == "Date" {
			continue
		}
		for _, v := range vs {
			hdrs = append(hdrs, strings.ToLower(k)+": "+v)
		}
	}
	if len(resp.TransferEncoding) > 0 {
		hdrs = append(hdrs, "transfer-encoding: "+strings.Join(resp.TransferEncoding, ","))
	}
	if resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0 {
		hdrs = append(hdrs, fmt.Sprintf("content-length: %d", resp.ContentLength))
	}
	sort.Strings(hdrs)
	return httpAnswer{resp.StatusCode, strings.Join(hdrs, "\n"), string(body)}
}

// luaServiceAnswers runs script under haproxy, then lb, in an HTTP
// frontend whose every request goes to the script's service, and
// returns the answer each gave to GET /.
func luaServiceAnswers(t *testing.T, script, service string) (want, got httpAnswer) {
	t.Helper()
	return luaServiceAnswersWith(t, script, service, "")
}

// luaServiceAnswersWith is luaServiceAnswers with more sections after
// the frontend.
func luaServiceAnswersWith(t *testing.T, script, service, more string) (want, got httpAnswer) {
	t.Helper()
	run := func(start func(string) func() string) httpAnswer {
		port := freePorts(t, 1)[0]
		start(fmt.Sprintf(`global
    lua-load %s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    http-request use-service lua.%s
%s`, script, port, service, more))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		return answerOf(t, resp)
	}
	ha, lb := luaStarts(t)
	return run(ha), run(lb)
}

// TestInteropLuaHTTPMatchesHAProxy runs an ACME http-01 like service, an
// action setting variables and fields from fetches and converters with
// arguments, a fetch choosing the backend and a converter, under haproxy
// and lb, and compares the answers and the log lines.
func TestInteropLuaHTTPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	webroot := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(webroot, "tok123"), []byte("tok123.thumbprint"), 0o600))
	script := luaFile(t, "acme.lua", fmt.Sprintf(`
local webroot = %q
local served = 0

core.register_service("acme", "http", function(applet)
  local token = string.match(applet.path, "^/%%.well%%-known/acme%%-challenge/([%%w_-]+)$")
  local f = token and io.open(webroot .. "/" .. token, "rb")
  if not f then
    local body = "no token\n"
    applet:set_status(404)
    applet:add_header("content-type", "text/plain")
    applet:add_header("content-length", tostring(#body))
    applet:start_response()
    applet:send(body)
    return
  end
  local data = f:read("*a")
  f:close()
  served = served + 1
  applet:set_status(200)
  applet:add_header("content-type", "application/octet-stream")
  applet:add_header("content-length", tostring(#data))
  applet:start_response()
  applet:send(data)
end)

core.register_service("stream", "http", function(applet)
  local body = applet:receive()
  applet:set_status(202, "Taken")
  applet:add_header("x-method", applet.method)
  applet:start_response()
  applet:send(applet.method .. " " .. applet.path .. "?" .. applet.qs .. " ")
  applet:send("len=" .. applet.length .. " body=" .. body .. " h=" .. applet.headers["x-h"][0] .. "," .. applet.headers["x-h"][1])
end)

core.register_action("tag", {"http-req"}, function(txn, prefix)
  local id = txn.sf:req_hdr("x-id") or "none"
  local part = txn.c:field(id, 2, "-") or "nopart"
  txn:set_var("txn.tag", prefix .. ":" .. string.upper(part))
  txn:set_var("txn.len", string.len(id))
  txn:set_var("req.ok", true)
  txn.http:req_set_header("x-tagged", prefix)
  txn.http:req_del_header("x-drop")
  txn:Info("tagged " .. id)
end, 1)

core.register_action("resp", {"http-req"}, function(txn)
  txn:set_priv("kept " .. txn.sf:path())
end)

core.register_action("resp", {"http-res"}, function(txn)
  txn.http:res_set_header("x-priv", tostring(txn:get_priv()))
  txn.http:res_set_header("x-status", txn.sf:status())
  txn.http:res_del_header("x-server-secret")
  txn.http:res_set_status(203)
  txn:set_var("txn.tag", "resp")
end)

core.register_action("boom", {"http-req"}, function(txn)
  error("boom here")
end)

core.register_fetches("pick", function(txn, a, b)
  if txn.sf:path() == "/b3" then return "b3" end
  if txn.sf:path() == "/b2" then return b end
  return a
end)

core.register_converters("wrap", function(s, l, r)
  return l .. s .. r
end)
`, webroot))
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server-Secret", "s3cr3t")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "from the server\n")
	})
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST %%b %%s %%[var(txn.tag)] %%[var(txn.len)]"
    http-request use-service lua.acme if { path_beg /.well-known/acme-challenge/ }
    http-request use-service lua.stream if { path_beg /stream }
    http-request lua.tag pre if { path_beg /b }
    http-request lua.boom if { path /boom }
    http-request lua.resp if { path /b3 }
    http-response set-header x-resp %%[status]
    http-after-response set-header x-after yes
    use_backend %%[lua.pick(b1,b2)]
backend b1
    http-request return status 200 content-type text/plain lf-string "b1 %%[var(txn.tag)] %%[req.hdr(x-tagged)] %%[req.hdr(x-drop)] %%[str(mid),lua.wrap(<,>)]\n"
backend b2
    http-request return status 200 content-type text/plain lf-string "b2 %%[var(txn.tag),lua.wrap([,])] %%[var(req.ok)]\n"
backend b3
    http-response lua.resp
    server s1 %s
`, script, port, web)
	}
	type step struct {
		method, path, body string
		hdrs               map[string]string
	}
	steps := []step{
		{"GET", "/.well-known/acme-challenge/tok123", "", nil},
		{"GET", "/.well-known/acme-challenge/missing", "", nil},
		{"GET", "/b1", "", map[string]string{"X-Id": "ab-cd-ef", "X-Drop": "gone"}},
		{"GET", "/b2", "", map[string]string{"X-Id": "12-xy"}},
		{"GET", "/b2", "", nil},
		{"GET", "/b3", "", nil},
		{"GET", "/boom", "", nil},
		{"POST", "/stream/x?q=1", "payload", map[string]string{"X-H": "v1|v2"}},
	}
	run := func(start func(string) func() string) ([]httpAnswer, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var answers []httpAnswer
		for _, s := range steps {
			req, err := http.NewRequest(s.method, fmt.Sprintf("http://127.0.0.1:%d%s", port, s.path), strings.NewReader(s.body))
			require.NoError(t, err)
			for k, v := range s.hdrs {
				for _, x := range strings.Split(v, "|") {
					req.Header.Add(k, x)
				}
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			answers = append(answers, answerOf(t, resp))
		}
		keep := func(l string) (string, bool) {
			// A script's error is logged with its file and line;
			// haproxy adds a traceback after the message, lb does not.
			if i := strings.Index(l, "boom here"); i >= 0 && strings.HasPrefix(l, "Lua function") {
				return l[:i], true
			}
			return l, strings.HasPrefix(l, "L ") || strings.HasPrefix(l, "tagged ")
		}
		// One line per request, "tagged" from the 5 paths starting
		// with /b, one error.
		return answers, sortedLines(t, out, len(steps)+6, keep)
	}
	ha, lb := luaStarts(t)
	wantAnswers, wantLines := run(ha)
	gotAnswers, gotLines := run(lb)
	assert.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "tok123.thumbprint", gotAnswers[0].Body)
	require.Equal(t, 404, gotAnswers[1].Status)
	require.Contains(t, gotAnswers[2].Body, "b1 pre:CD pre")
	require.Contains(t, gotAnswers[0].Headers, "x-resp: 200", "the service's answer goes through the http-response rules")
	require.Contains(t, gotAnswers[5].Headers, "x-priv: kept /b3", "the request's action kept it for the response's")
	require.Equal(t, 203, gotAnswers[5].Status)
}

// TestInteropLuaTCPMatchesHAProxy runs a tcp-request content action
// and a TCP service echoing lines, under haproxy and lb, and compares
// what the clients read and the log lines.
func TestInteropLuaTCPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "echo.lua", `
core.register_action("mark", {"tcp-req"}, function(txn, who)
  txn:set_var("sess.who", who .. "@" .. txn.sf:src())
  txn:set_var("sess.port", txn.f:int(7) * 6)
end, 1)

core.register_service("echo", "tcp", function(applet)
  applet:send("hello " .. applet:get_var("sess.who") .. " " .. applet:get_var("sess.port") .. "\n")
  local n = 0
  while true do
    local line = applet:getline()
    if line == nil or line == "" or line == "quit\n" then break end
    n = n + 1
    applet:send(n .. ": " .. string.upper(line))
  end
  applet:send("bye after " .. n .. "\n")
end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "T %%ft %%b %%s %%[var(sess.who)] %%[var(sess.port)] %%ts %%B %%U"
    tcp-request inspect-delay 1s
    tcp-request content lua.mark guest
    tcp-request content use-service lua.echo
`, script, port)
	}
	run := func(start func(string) func() string) ([]string, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		var transcripts []string
		for _, lines := range [][]string{{"one", "two", "quit", "never"}, {"alpha"}} {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			greet, err := r.ReadString('\n')
			require.NoError(t, err)
			got := []string{greet}
			for _, l := range lines {
				if _, err := io.WriteString(c, l+"\n"); err != nil {
					break
				}
				if l == "quit" {
					break
				}
				s, err := r.ReadString('\n')
				require.NoError(t, err)
				got = append(got, s)
			}
			if len(lines) == 1 {
				// The client shuts its side: the service sees the end.
				require.NoError(t, c.(*net.TCPConn).CloseWrite())
			}
			rest, _ := io.ReadAll(r)
			got = append(got, string(rest))
			_ = c.Close()
			transcripts = append(transcripts, strings.Join(got, ""))
		}
		// haproxy's readiness probe, which sends nothing, is served
		// too, and logged: its line is left out.
		keep := func(l string) (string, bool) {
			return l, strings.HasPrefix(l, "T ") && !strings.HasSuffix(l, " 0")
		}
		return transcripts, sortedLines(t, out, 2, keep)
	}
	ha, lb := luaStarts(t)
	want, wantLines := run(ha)
	got, gotLines := run(lb)
	assert.Equal(t, want, got, "haproxy's transcripts, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "hello guest@127.0.0.1 42\n", got[0][:len("hello guest@127.0.0.1 42\n")])
	require.Contains(t, got[0], "2: TWO\nbye after 2\n")
}

// TestInteropLuaConfigMatchesHAProxy: haproxy -c and lb accept and
// refuse the same Lua configurations.
func TestInteropLuaConfigMatchesHAProxy(t *testing.T) {
	good := luaFile(t, "good.lua", `
core.register_service("web", "http", function(applet) end)
core.register_service("echo", "tcp", function(applet) end)
core.register_action("act", {"http-req"}, function(txn) end)
core.register_action("two", {"http-req"}, function(txn, a, b) end, 2)
core.register_action("tact", {"tcp-req"}, function(txn) end)
core.register_action("tres", {"tcp-res"}, function(txn) end)
core.register_fetches("f", function(txn) return "x" end)
core.register_converters("c", function(s) return s end)
`)
	syntax := luaFile(t, "syntax.lua", "local x = = 1\n")
	failing := luaFile(t, "failing.lua", "error('at load')\n")
	missing := filepath.Join(t.TempDir(), "missing.lua")
	head := "global\n    lua-load " + good + "\n"
	for name, text := range map[string]string{
		"good":              head + parityBase + "    http-request use-service lua.web if { path /w }\n    http-request lua.act\n    http-request lua.two a b\n    http-request set-var(txn.x) lua.f,lua.c\n",
		"timeouts":          "global\n    tune.lua.session-timeout 2s\n    tune.lua.service-timeout 3000\n    tune.lua.task-timeout 1m\n    tune.lua.forced-yield 5000\n    tune.lua.maxmem 64\n    lua-prepend-path /tmp/?.lua\n    lua-prepend-path /tmp/?.so cpath\n    lua-load-per-thread " + good + "\n" + parityBase,
		"bad timeout":       "global\n    tune.lua.session-timeout abc\n" + parityBase,
		"loggers":           "global\n    tune.lua.log.loggers on\n" + parityBase,
		"bool conversion":   "global\n    tune.lua.bool-sample-conversion normal\n" + parityBase,
		"missing file":      "global\n    lua-load " + missing + "\n" + parityBase,
		"syntax error":      "global\n    lua-load " + syntax + "\n" + parityBase,
		"error at load":     "global\n    lua-load " + failing + "\n" + parityBase,
		"no file":           "global\n    lua-load\n" + parityBase,
		"unknown service":   head + parityBase + "    http-request use-service lua.nope\n",
		"tcp service":       head + parityBase + "    http-request use-service lua.echo\n",
		"http service tcp":  head + parityBase + "    tcp-request content use-service lua.web\n",
		"unknown action":    head + parityBase + "    http-request lua.nope\n",
		"action wrong side": head + parityBase + "    http-request lua.tact\n",
		"missing argument":  head + parityBase + "    http-request lua.two a\n",
		"unknown fetch":     head + parityBase + "    http-request set-var(txn.x) lua.nope\n",
		"unknown converter": head + parityBase + "    http-request set-var(txn.x) str(a),lua.nope\n",
		"acl fetch":         head + parityBase + "    acl a lua.f -m found\n    http-request deny if a\n",
		"acl unknown":       head + parityBase + "    acl a lua.nope -m found\n    http-request deny if a\n",
		"no lua-load":       parityBase + "    http-request lua.act\n",
		"after-response":    head + parityBase + "    http-after-response lua.act\n",
		"response action":   head + parityBase + "    http-response lua.act\n",
		"use-server":        head + parityBase + "    use-server %[lua.f] if TRUE\n",
		"tcp-response":      head + "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten l\n    bind 127.0.0.1:18002\n    tcp-response inspect-delay 1s\n    tcp-response content lua.tres\n    server s 127.0.0.1:2\n",
		"tcp-response http": head + "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten l\n    bind 127.0.0.1:18002\n    tcp-response content lua.act\n    server s 127.0.0.1:2\n",
	} {
		t.Run(name, func(t *testing.T) {
			checkParity(t, text)
			if name == "good" || name == "timeouts" || name == "acl fetch" || name == "tcp-response" {
				// Taken by both, not refused by both.
				_, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
				require.NoError(t, err)
			}
		})
	}
}

// TestInteropLuaTimeoutMatchesHAProxy: an action and a service that
// never return are stopped at tune.lua.session-timeout and
// tune.lua.service-timeout; the action's rules go on, the service's
// client gets a 500, both logged as haproxy logs them.
func TestInteropLuaTimeoutMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "loop.lua", `
core.register_action("spin", {"http-req"}, function(txn) while true do end end)
core.register_service("spinner", "http", function(applet) while true do end end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    tune.lua.session-timeout 100
    tune.lua.service-timeout 100
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST %%s"
    http-request lua.spin if { path /action }
    http-request use-service lua.spinner if { path /service }
    http-request return status 200 content-type text/plain string "went on\n"
`, script, port)
	}
	run := func(start func(string) func() string) ([]httpAnswer, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var answers []httpAnswer
		for _, path := range []string{"/action", "/service"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
			require.NoError(t, err)
			answers = append(answers, answerOf(t, resp))
		}
		keep := func(l string) (string, bool) {
			if i := strings.Index(l, "execution timeout"); i >= 0 && strings.HasPrefix(l, "Lua ") {
				return l[:i], true
			}
			return l, strings.HasPrefix(l, "L ")
		}
		return answers, sortedLines(t, out, 4, keep)
	}
	ha, lb := luaStarts(t)
	wantAnswers, wantLines := run(ha)
	gotAnswers, gotLines := run(lb)
	assert.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "went on\n", gotAnswers[0].Body)
	require.Equal(t, 500, gotAnswers[1].Status)
}

// TestInteropLuaLogMatchesHAProxy: what scripts log (core.log,
// core.Info..., txn:Warning, txn:log) from an init function, a task and
// an action reaches the log servers and standard error as haproxy's
// does: at every level on the log servers, but debug on standard error.
func TestInteropLuaLogMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "log.lua", `
core.register_init(function() core.Info("init ran") end)
core.register_task(function() core.Alert("task alert") end)
core.register_action("w", {"http-req"}, function(txn)
  core.log(core.warning, "core warned")
  txn:Warning("txn warned")
  txn:log(core.notice, "txn noticed")
  core.Debug("debugged")
end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST"
    http-request lua.w
    http-request return status 200 content-type text/plain string "ok\n"
`, script, port)
	}
	stamp := regexp.MustCompile(`^\[(\w+)\] \d{3}/\d{6} \(\d+\) : `)
	run := func(start func(string) func() string) []string {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		_ = resp.Body.Close()
		keep := func(l string) (string, bool) {
			l = stamp.ReplaceAllString(l, "[$1] : ")
			return l, strings.Contains(l, "ran") || strings.Contains(l, "alert") || strings.Contains(l, "warned") ||
				strings.Contains(l, "noticed") || strings.Contains(l, "debugged") || strings.HasPrefix(l, "L ")
		}
		return sortedLines(t, out, 12, keep)
	}
	lbStart := func(text string) func() string {
		cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
		require.NoError(t, err)
		var logs bytes.Buffer
		var mu sync.Mutex
		w := lockedWriter{&mu, &logs}
		b, err := balancer.Start(context.Background(), cfg, balancer.Options{Stdout: w, Stderr: w})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(lbStart)
	assert.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Contains(t, got, "[warning] : txn warned")
	require.NotContains(t, got, "[debug] : debugged")
}

// TestInteropLuaReplyMatchesHAProxy: an action answers with
// txn:done(reply), the reply built with txn:reply() and its methods or
// given as a table, as a CORS preflight is answered.
func TestInteropLuaReplyMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "reply.lua", `
core.register_action("preflight", {"http-req"}, function(txn)
  local reply = txn:reply({ status = 204, headers = { ["Access-Control-Max-Age"] = { "600" } } })
  reply:add_header("Access-Control-Allow-Origin", txn.sf:req_hdr("origin"))
  txn:done(reply)
end)
core.register_action("teapot", {"http-req"}, function(txn)
  local reply = txn:reply()
  reply:set_status(418, "Teapot")
  reply:add_header("content-type", "text/plain")
  reply:add_header("x-del", "gone")
  reply:del_header("x-del")
  reply:set_body("short and stout\n")
  txn:done(reply)
end)
core.register_action("table", {"http-req"}, function(txn)
  txn:done({ status = 403, body = "no\n" })
end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST %%tsc %%b %%s"
    http-request lua.preflight if METH_OPTIONS
    http-request lua.teapot if { path /teapot }
    http-request lua.table if { path /table }
    http-request return status 200 content-type text/plain string "ok\n"
`, script, port)
	}
	run := func(start func(string) func() string) ([]httpAnswer, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var answers []httpAnswer
		for _, tc := range []struct{ method, path string }{{"OPTIONS", "/x"}, {"GET", "/teapot"}, {"GET", "/table"}, {"GET", "/"}} {
			req, err := http.NewRequest(tc.method, fmt.Sprintf("http://127.0.0.1:%d%s", port, tc.path), nil)
			require.NoError(t, err)
			req.Header.Set("Origin", "https://a.example")
			resp, err := client.Do(req)
			require.NoError(t, err)
			answers = append(answers, answerOf(t, resp))
		}
		return answers, sortedLines(t, out, 4, withPrefix("L "))
	}
	ha, lb := luaStarts(t)
	wantAnswers, wantLines := run(ha)
	gotAnswers, gotLines := run(lb)
	assert.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, 418, gotAnswers[1].Status)
	require.Contains(t, gotAnswers[0].Headers, "access-control-allow-origin: https://a.example")
}

// TestInteropLuaProxiesMatchHAProxy: core.proxies, core.frontends and
// core.backends list the proxies, their capabilities, modes and servers
// as haproxy's do.
func TestInteropLuaProxiesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "proxies.lua", `
core.register_service("list", "http", function(applet)
  local names, out = {}, {}
  local s2 = core.backends["be"].servers["s2"]
  if applet.path == "/change" then
    s2:set_weight("40")
    s2:set_drain()
  elseif applet.path == "/ready" then
    s2:set_ready()
  end
  for n in pairs(core.proxies) do table.insert(names, n) end
  table.sort(names)
  for _, n in ipairs(names) do
    local p = core.proxies[n]
    local line = n .. " " .. p.name .. " " .. p.uuid .. " " .. p:get_cap() .. " " .. p:get_mode() ..
      " fe=" .. tostring(core.frontends[n] ~= nil) .. " be=" .. tostring(core.backends[n] ~= nil)
    local sn = {}
    for s in pairs(p.servers) do table.insert(sn, s) end
    table.sort(sn)
    for _, s in ipairs(sn) do
      local sv = p.servers[s]
      line = line .. " [" .. sv.name .. " " .. sv.puid .. " " .. sv:get_addr() .. " " .. sv:get_weight() .. " " .. sv:is_draining() .. "]"
    end
    table.insert(out, line)
  end
  local body = table.concat(out, "\n") .. "\n"
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)
`)
	cfg := func(ports []int) string {
		return fmt.Sprintf(`global
    lua-load %s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request use-service lua.list
    default_backend be
backend be
    server s1 127.0.0.1:9001 weight 5
    server s2 127.0.0.2:9002 id 7
listen tl
    mode tcp
    bind 127.0.0.1:%d
    server t1 127.0.0.1:9003
`, script, ports[0], ports[1])
	}
	run := func(start func(string) func() string) []httpAnswer {
		ports := freePorts(t, 2)
		start(cfg(ports))
		var answers []httpAnswer
		for _, p := range []string{"/", "/change", "/ready"} {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", ports[0], p))
			require.NoError(t, err)
			answers = append(answers, answerOf(t, resp))
		}
		return answers
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got[0].Body, "be be 2 backend http fe=false be=true [s1 1 127.0.0.1:9001 5 0]")
	require.Contains(t, got[1].Body, "[s2 7 127.0.0.2:9002 40 1]")
}

// TestInteropLuaChannelMatchesHAProxy: a tcp-request content action
// reads what the client sent through txn.req, as haproxy's does.
func TestInteropLuaChannelMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "peek.lua", `
core.register_action("peek", {"tcp-req"}, function(txn)
  txn:set_var("sess.dup", txn.req:dup())
  txn:set_var("sess.data", txn.req:data(1, 3))
  txn:set_var("sess.line", txn.req:line())
  txn:set_var("sess.input", txn.req:input())
  txn:set_var("sess.resp", tostring(txn.req:is_resp()) .. "/" .. tostring(txn.res:is_resp()))
end)
core.register_service("show", "tcp", function(applet)
  for _, v in ipairs({"dup", "data", "line", "input", "resp"}) do
    applet:send(v .. "=" .. tostring(applet:get_var("sess." .. v)) .. "|")
  end
end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    tcp-request inspect-delay 2s
    tcp-request content lua.peek if { req.len ge 12 }
    tcp-request content use-service lua.show
`, script, port)
	}
	run := func(start func(string) func() string) string {
		port := freePorts(t, 1)[0]
		start(cfg(port))
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(c, "hello\nworld\n")
		require.NoError(t, err)
		b, _ := io.ReadAll(c)
		return string(b)
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got, "line=hello\n|")
}

// TestInteropLuaMapMatchesHAProxy: Map.new and its lookups read a map
// file as haproxy's do.
func TestInteropLuaMapMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.map")
	require.NoError(t, os.WriteFile(hosts, []byte("example.com be1\n.example.org be2\n# a comment\n"), 0o600))
	nets := filepath.Join(dir, "nets.map")
	require.NoError(t, os.WriteFile(nets, []byte("10.0.0.0/8 lan\n"), 0o600))
	script := luaFile(t, "maps.lua", fmt.Sprintf(`
local hosts = Map.new(%q, Map._str)
local doms = Map.new(%q, Map._dom)
local nets = Map.new(%q, Map._ip)
core.register_service("maps", "http", function(applet)
  local out = {
    tostring(hosts:lookup("example.com")), tostring(hosts:lookup("nope")), "[" .. hosts:slookup("nope") .. "]",
    tostring(doms:lookup("www.example.org")), tostring(nets:lookup("10.1.2.3")), tostring(nets:lookup("192.0.2.1")),
    Map._found, Map._str, Map._dom, Map._ip, Map._reg,
  }
  applet:start_response()
  applet:send(table.concat(out, ","))
end)
`, hosts, hosts, nets))
	want, got := luaServiceAnswers(t, script, "maps")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Equal(t, "be1,nil,[],be2,lan,nil,0,6,10,3,12", got.Body)
}

// TestInteropLuaContentInHTTPMatchesHAProxy: a tcp-request content Lua
// action runs in an HTTP frontend too, before the HTTP rules.
func TestInteropLuaContentInHTTPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "gate.lua", `
core.register_action("gate", {"tcp-req"}, function(txn, word)
  txn:set_var("sess.gate", word .. " by " .. txn.sf:src())
end, 1)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST %%[var(sess.gate)]"
    tcp-request content lua.gate opened
    http-request return status 200 content-type text/plain lf-string "%%[var(sess.gate)]\n"
`, script, port)
	}
	run := func(start func(string) func() string) (httpAnswer, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		return answerOf(t, resp), sortedLines(t, out, 1, withPrefix("L "))
	}
	ha, lb := luaStarts(t)
	want, wantLines := run(ha)
	got, gotLines := run(lb)
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "opened by 127.0.0.1\n", got.Body)
}

// TestInteropLuaVerdictsMatchHAProxy: what each act.* verdict, an error
// and txn:done() make of the request, answers and log lines.
func TestInteropLuaVerdictsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "verdicts.lua", `
core.register_action("ret", {"http-req"}, function(txn, v)
  txn:set_var("txn.v", v)
  return act[v]
end, 1)
core.register_action("fail", {"http-req"}, function(txn) error("failed") end)
core.register_action("close", {"http-req"}, function(txn) txn:done() end)
`)
	verdicts := []string{"CONTINUE", "STOP", "ERROR", "DONE", "DENY", "ABORT", "INVALID"}
	cfg := func(port int) string {
		var rules strings.Builder
		for _, v := range verdicts {
			fmt.Fprintf(&rules, "    http-request lua.ret %s if { path /%s }\n", v, strings.ToLower(v))
		}
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "L %%ST %%tsc %%b %%[var(txn.v)] %%HP"
%s    http-request lua.fail if { path /fail }
    http-request lua.close if { path /close }
    http-request return status 200 content-type text/plain string "frontend\n"
    default_backend be
backend be
    http-request return status 200 content-type text/plain string "backend\n"
`, script, port, rules.String())
	}
	paths := []string{"/fail", "/close"}
	for _, v := range verdicts {
		paths = append(paths, "/"+strings.ToLower(v))
	}
	run := func(start func(string) func() string) ([]string, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		var answers []string
		for _, p := range paths {
			b := oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			// The status line and the body: the fields' case and order
			// differ between the two.
			resp := string(b)
			status, _, _ := strings.Cut(resp, "\r\n")
			_, body, _ := strings.Cut(resp, "\r\n\r\n")
			answers = append(answers, p+" "+status+" "+body)
		}
		return answers, sortedLines(t, out, len(paths), withPrefix("L "))
	}
	ha, lb := luaStarts(t)
	wantAnswers, wantLines := run(ha)
	gotAnswers, gotLines := run(lb)
	assert.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "/stop HTTP/1.1 200 OK backend\n", gotAnswers[3], "STOP skips the frontend's other rules")
	require.Contains(t, gotAnswers[6], "/deny HTTP/1.1 403")
	require.Equal(t, "/close  ", gotAnswers[1], "txn:done() closes without an answer")
}

// TestInteropLuaSocketMatchesHAProxy: a service talks to a TCP server
// through core.tcp(), as haproxy's scripts do.
func TestInteropLuaSocketMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				line, _ := r.ReadString('\n')
				_, _ = io.WriteString(c, "pong "+line+"tail")
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	script := luaFile(t, "socket.lua", fmt.Sprintf(`
core.register_service("ask", "http", function(applet)
  local s = core.tcp()
  s:settimeout(5)
  local ok, err = s:connect(%q, %s)
  local out = "connect=" .. tostring(ok) .. " " .. tostring(err)
  out = out .. " sent=" .. tostring(s:send("ping\n"))
  out = out .. " line=" .. tostring(s:receive("*l"))
  out = out .. " rest=" .. tostring(s:receive("*a"))
  s:close()
  local bad = core.tcp()
  bad:settimeout(2)
  out = out .. " refused=" .. tostring(bad:connect("127.0.0.1", 1))
  applet:start_response()
  applet:send(out)
end)
`, host, port))
	want, got := luaServiceAnswers(t, script, "ask")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "line=pong ping rest=tail")
}

// TestInteropLuaHTTPClientMatchesHAProxy: a service asks another HTTP
// server through core.httpclient(), as haproxy's scripts do.
func TestInteropLuaHTTPClientMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Srv", "one")
		w.Header().Add("X-Srv", "two")
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" a="+r.Header.Get("X-A")+" body="+string(body))
	})
	script := luaFile(t, "client.lua", fmt.Sprintf(`
core.register_service("ask", "http", function(applet)
  local hc = core.httpclient()
  local out = {}
  local r = hc:get{url = "http://%[1]s/first", headers = { ["x-a"] = { "1" } }}
  table.insert(out, r.status .. " " .. r.reason .. " [" .. r.body .. "] " .. r.headers["x-srv"][0] .. "," .. r.headers["x-srv"][1] .. " " .. r.headers["content-length"][0])
  r = hc:get{url = "http://%[1]s/missing"}
  table.insert(out, r.status .. " " .. r.reason)
  applet:start_response()
  applet:send(table.concat(out, "\n"))
end)
`, web))
	want, got := luaServiceAnswers(t, script, "ask")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "200 OK [GET /first a=1 body=] one,two")
}
