package lua

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// verdictOf keeps RunAction's verdict.
func verdictOf(v Verdict, _ *Reply) Verdict { return v }

// script writes a Lua file into a temporary directory and returns its
// path.
func script(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.lua")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

// loaded returns a runtime with src loaded, closed at the test's end.
func loaded(t *testing.T, src string) (*Runtime, *acl.Refs) {
	t.Helper()
	refs := acl.NewRefs()
	rt := New(refs)
	refs.SetScripts(rt)
	require.NoError(t, rt.Load(script(t, src), false))
	t.Cleanup(rt.Close)
	return rt, refs
}

// testCtx is a stream context with variables and a request.
type testCtx struct {
	mu   sync.Mutex
	vars map[string]acl.Sample
	req  *htx.Message
	res  *htx.Message
}

func newCtx() *testCtx {
	c := &testCtx{vars: map[string]acl.Sample{}, req: &htx.Message{}}
	c.req.SetRequest("GET", "http", "example.com", "/a/b?x=1")
	c.req.Flags |= htx.FlagRequest
	c.req.Add("Host", "example.com")
	c.req.Add("X-Multi", "one")
	c.req.Add("x-multi", "two")
	return c
}

func (c *testCtx) Src() netip.AddrPort              { return netip.MustParseAddrPort("192.0.2.7:4242") }
func (c *testCtx) Dst() netip.AddrPort              { return netip.MustParseAddrPort("127.0.0.1:80") }
func (c *testCtx) HTTPRequest() *htx.Message        { return c.req }
func (c *testCtx) HTTPResponse() *htx.Message       { return c.res }
func (c *testCtx) UnsetVar(name string)             { c.mu.Lock(); delete(c.vars, name); c.mu.Unlock() }
func (c *testCtx) SetVar(name string, s acl.Sample) { c.mu.Lock(); c.vars[name] = s; c.mu.Unlock() }
func (c *testCtx) Var(name string) (acl.Sample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.vars[name]
	return s, ok
}

func TestLoadErrors(t *testing.T) {
	rt := New(nil)
	defer rt.Close()
	err := rt.Load(filepath.Join(t.TempDir(), "missing.lua"), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "error in Lua file")
	assert.Contains(t, err.Error(), "No such file or directory")

	p := script(t, "x = 1\ny = = 2\n")
	err = rt.Load(p, false)
	require.Error(t, err)
	assert.Regexp(t, `s\.lua:2: `, err.Error())

	err = rt.Load(script(t, "error('boom')\n"), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Lua runtime error:")
	assert.Contains(t, err.Error(), "boom")

	// A Go panic while loading is an error, not a crash.
	err = rt.Load(script(t, "core.register_service()\n"), false)
	require.Error(t, err)
}

func TestLua51Limits(t *testing.T) {
	rt := New(nil)
	defer rt.Close()
	for _, src := range []string{"local a = 7 // 2\n", "local a = 1 & 2\n", "goto x\n"} {
		require.Error(t, rt.Load(script(t, src), false), src)
	}
}

func TestRegistrations(t *testing.T) {
	rt, _ := loaded(t, `
core.register_service("web", "http", function(applet) end)
core.register_service("echo", "tcp", function(applet) end)
core.register_action("a1", {"http-req", "tcp-req"}, function(txn) end, 2)
core.register_fetches("f1", function(txn) return "x" end)
core.register_converters("c1", function(s) return s end)
`)
	ok, http := rt.HasService("web")
	assert.True(t, ok)
	assert.True(t, http)
	ok, http = rt.HasService("echo")
	assert.True(t, ok)
	assert.False(t, http)
	ok, _ = rt.HasService("nope")
	assert.False(t, ok)
	ok, n := rt.HasAction("a1", StageTCPReq)
	assert.True(t, ok)
	assert.Equal(t, 2, n)
	ok, _ = rt.HasAction("a1", StageHTTPRes)
	assert.False(t, ok)
	assert.True(t, rt.ActionRegistered("a1"))
	_, ok = rt.ScriptFetch("f1", nil)
	assert.True(t, ok)
	_, ok = rt.ScriptConverter("c1", nil)
	assert.True(t, ok)
	_, ok = rt.ScriptFetch("c1", nil)
	assert.False(t, ok)
}

func TestActionVerdictsAndTxn(t *testing.T) {
	rt, _ := loaded(t, `
local hits = 0
core.register_action("set", {"http-req"}, function(txn, v)
  hits = hits + 1
  txn:set_var("txn.arg", v)
  txn:set_var("txn.hits", hits)
  txn:set_var("txn.src", txn.f:src())
  txn:set_var("txn.lower", txn.c:lower("ABC"))
  txn:set_var("txn.path", txn.sf:path())
  txn.http:req_set_header("x-added", txn:get_var("txn.arg"))
  local h = txn.http:req_get_headers()
  txn:set_var("txn.multi", h["x-multi"][0] .. "," .. h["x-multi"][1])
  txn.http:req_set_path("/new")
end, 1)
core.register_action("verdict", {"http-req"}, function(txn, v) return act[v] end, 1)
core.register_action("fail", {"http-req"}, function(txn) error("oops") end)
core.register_action("done", {"http-req"}, function(txn) txn:done() end)
`)
	var logged []string
	rt.SetLogger(func(_ acl.Context, level int, msg string, _ bool) { logged = append(logged, LevelName(level)+" "+msg) })
	c := newCtx()
	assert.Equal(t, Continue, verdictOf(rt.RunAction("set", StageHTTPReq, c, []string{"val"})))
	assert.Equal(t, Continue, verdictOf(rt.RunAction("set", StageHTTPReq, c, []string{"val"})))
	get := func(n string) string { s, _ := c.Var(n); return s.String() }
	assert.Equal(t, "val", get("txn.arg"))
	assert.Equal(t, "2", get("txn.hits"), "a global of the file is shared by the calls")
	assert.Equal(t, "192.0.2.7", get("txn.src"))
	assert.Equal(t, "abc", get("txn.lower"))
	assert.Equal(t, "/new", get("txn.path"), "the second call sees what the first set")
	assert.Equal(t, "one,two", get("txn.multi"))
	v, _ := c.req.Get("x-added")
	assert.Equal(t, "val", string(v))
	assert.Equal(t, "/new?x=1", string(c.req.Path()))

	for name, want := range map[string]Verdict{"CONTINUE": Continue, "STOP": Stop, "ERROR": Error, "DONE": Done, "DENY": Deny, "ABORT": Abort, "INVALID": Invalid} {
		assert.Equal(t, want, verdictOf(rt.RunAction("verdict", StageHTTPReq, c, []string{name})), name)
	}
	assert.Equal(t, Continue, verdictOf(rt.RunAction("fail", StageHTTPReq, c, nil)))
	require.Len(t, logged, 1)
	assert.Contains(t, logged[0], "err Lua function 'fail': [state-id 0] runtime error:")
	assert.Contains(t, logged[0], ":16: oops from [C]: in global 'error', ")
	assert.Equal(t, Closed, verdictOf(rt.RunAction("done", StageHTTPReq, c, nil)))
}

func TestFetchAndConverter(t *testing.T) {
	_, refs := loaded(t, `
core.register_fetches("pick", function(txn, a, b) return a .. "-" .. b .. "-" .. txn.sf:dst_port() end)
core.register_fetches("num", function(txn) return 42.9 end)
core.register_fetches("none", function(txn) return nil end)
core.register_fetches("yes", function(txn) return true end)
core.register_converters("wrap", function(s, l, r) return l .. s .. r end)
`)
	c := newCtx()
	eval := func(expr string) (acl.Sample, bool) {
		_, fn, err := refs.CompileFetch(expr)
		require.NoError(t, err, expr)
		return fn(c)
	}
	s, ok := eval("lua.pick(x,y)")
	require.True(t, ok)
	assert.Equal(t, "x-y-80", s.String())
	s, ok = eval("lua.num")
	require.True(t, ok)
	assert.Equal(t, acl.Int(42), s)
	_, ok = eval("lua.none")
	assert.False(t, ok)
	s, ok = eval("lua.yes")
	require.True(t, ok)
	assert.Equal(t, acl.Bool(true), s)
	s, ok = eval("str(mid),lua.wrap([,]),upper")
	require.True(t, ok)
	assert.Equal(t, "[MID]", s.String())
	_, _, err := refs.CompileFetch("lua.unknown")
	assert.ErrorIs(t, err, acl.ErrUnknownFetch)
	_, _, err = refs.CompileFetch("str(a),lua.unknown")
	require.Error(t, err)
}

func TestTimeoutAndPanicDoNotCrash(t *testing.T) {
	rt, _ := loaded(t, `
core.register_action("loop", {"http-req"}, function(txn) while true do end end)
core.register_action("badarg", {"http-req"}, function(txn) txn:set_var("nope", 1) end)
core.register_fetches("self", function(txn) return "x" end)
core.register_action("reenter", {"http-req"}, function(txn) return txn.f["lua.self"](txn.f) end)
`)
	rt.SessionTimeout = 20 * time.Millisecond
	var msgs []string
	rt.SetLogger(func(_ acl.Context, _ int, msg string, _ bool) { msgs = append(msgs, msg) })
	assert.Equal(t, Continue, verdictOf(rt.RunAction("loop", StageHTTPReq, newCtx(), nil)))
	assert.Equal(t, Continue, verdictOf(rt.RunAction("badarg", StageHTTPReq, newCtx(), nil)))
	assert.Equal(t, Continue, verdictOf(rt.RunAction("reenter", StageHTTPReq, newCtx(), nil)), "no deadlock")
	require.Len(t, msgs, 3)
	assert.Contains(t, msgs[0], "execution timeout")
	assert.Contains(t, msgs[1], "invalid variable name")
	assert.Contains(t, msgs[2], "cannot be called from a script")
}

// fakeHTTP is an HTTP service's stream in memory.
type fakeHTTP struct {
	*testCtx
	body io.Reader
	head htx.Message
	out  strings.Builder
}

func (f *fakeHTTP) ReadBody(p []byte) (int, error) { return f.body.Read(p) }
func (f *fakeHTTP) WriteHead(m *htx.Message) error { f.head.CopyFrom(m); return nil }
func (f *fakeHTTP) WriteBody(p []byte) error       { f.out.Write(p); return nil }

func TestHTTPService(t *testing.T) {
	rt, _ := loaded(t, `
core.register_service("hello", "http", function(applet)
  local body = applet:receive()
  applet:set_status(201, "Made")
  applet:add_header("X-Path", applet.path .. "?" .. applet.qs)
  applet:add_header("content-length", tostring(#body + 2))
  applet:add_header("x-host", applet.headers["host"][0])
  applet:start_response()
  applet:send("<" .. body .. ">")
end)
core.register_service("lines", "http", function(applet)
  local a = applet:getline()
  local b = applet:getline()
  applet:start_response()
  applet:send(b .. a)
end)
core.register_service("broken", "http", function(applet) error("bad") end)
`)
	c := newCtx()
	f := &fakeHTTP{testCtx: c, body: strings.NewReader("data")}
	require.NoError(t, rt.RunHTTPService("hello", f))
	assert.Equal(t, 201, f.head.Status)
	assert.Equal(t, "Made", string(f.head.Reason()))
	v, _ := f.head.Get("x-path")
	assert.Equal(t, "/a/b?x=1", string(v))
	assert.NotZero(t, f.head.Flags&htx.FlagContentLength)
	assert.EqualValues(t, 6, f.head.ContentLength)
	assert.Equal(t, "<data>", f.out.String())

	f = &fakeHTTP{testCtx: c, body: strings.NewReader("one\ntwo\n")}
	require.NoError(t, rt.RunHTTPService("lines", f))
	assert.Equal(t, 200, f.head.Status)
	assert.Zero(t, f.head.Flags&htx.FlagContentLength, "no length: chunked")
	assert.Equal(t, "two\none\n", f.out.String())

	rt.SetLogger(func(acl.Context, int, string, bool) {})
	f = &fakeHTTP{testCtx: c, body: strings.NewReader("")}
	require.Error(t, rt.RunHTTPService("broken", f))
	assert.Equal(t, 500, f.head.Status)
}

// pipeTCP is a TCP service's stream over an in-memory pipe.
type pipeTCP struct {
	*testCtx
	r io.Reader
	w io.Writer
}

func (p *pipeTCP) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeTCP) Write(b []byte) (int, error) { return p.w.Write(b) }

func TestTCPServiceEchoAndConcurrency(t *testing.T) {
	rt, _ := loaded(t, `
core.register_service("echo", "tcp", function(applet)
  while true do
    local l = applet:getline()
    if l == nil or l == "" then return end
    applet:send("echo: " .. l)
  end
end)
`)
	// Two services wait on their clients at once: one waiting must not
	// hold the state from the other.
	type conn struct {
		in  *io.PipeWriter
		out *io.PipeReader
	}
	var conns []conn
	var wg sync.WaitGroup
	for range 2 {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		conns = append(conns, conn{inW, outR})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rt.RunTCPService("echo", &pipeTCP{testCtx: newCtx(), r: inR, w: outW})
			_ = outW.Close()
		}()
	}
	for i := len(conns) - 1; i >= 0; i-- {
		_, err := io.WriteString(conns[i].in, "hi\n")
		require.NoError(t, err)
		buf := make([]byte, 64)
		n, err := conns[i].out.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "echo: hi\n", string(buf[:n]))
	}
	for _, c := range conns {
		_ = c.in.Close()
	}
	wg.Wait()
}

func TestTasksStopAtClose(t *testing.T) {
	before := runtime.NumGoroutine()
	refs := acl.NewRefs()
	rt := New(refs)
	p := script(t, `
started = false
core.register_init(function() core.Info("init ran") end)
core.register_task(function()
  while true do core.msleep(5) end
end)
`)
	require.NoError(t, rt.Load(p, false))
	var mu sync.Mutex
	var msgs []string
	rt.Start(func(_ acl.Context, _ int, m string, _ bool) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() })
	rt.Close()
	mu.Lock()
	assert.Equal(t, []string{"init ran"}, msgs)
	mu.Unlock()
	// Close waits for the tasks: none is left (polled from this
	// goroutine, as a helper's own goroutines would count).
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, now:\n%s", before, buf[:runtime.Stack(buf, true)])
		}
	}
}

func TestCoreHelpers(t *testing.T) {
	rt, _ := loaded(t, `
core.register_fetches("helpers", function(txn)
  local c = core.concat()
  c:add("a") c:add("b")
  local t = core.tokenize("x, y,,z", ", ", true)
  local n = core.parse_addr("10.0.0.0/8")
  local h = core.parse_addr("10.1.2.3")
  local p = table.pack(1, 2, 3)
  return c:dump() .. "|" .. table.concat(t, ";") .. "|" .. tostring(core.match_addr(n, h)) .. "|" .. p.n .. "|" .. core.info
end)
`)
	fn, ok := rt.ScriptFetch("helpers", nil)
	require.True(t, ok)
	s, ok := fn(newCtx())
	require.True(t, ok)
	assert.Equal(t, "ab|x;y;z|true|3|6", s.String())
}

func TestPatternUpdates(t *testing.T) {
	refs := acl.NewRefs()
	file := filepath.Join(t.TempDir(), "m.map")
	require.NoError(t, os.WriteFile(file, []byte("other x\n"), 0o600))
	_, _, err := refs.CompileFetch("str(k),map(" + file + ")")
	require.NoError(t, err)
	ref := refs.Lookup(file, acl.RefMap)
	require.NotNil(t, ref)
	rt := New(refs)
	refs.SetScripts(rt)
	require.NoError(t, rt.Load(script(t, `
core.register_action("m", {"http-req"}, function(txn, f) core.set_map(f, "k", "v1") core.set_map(f, "k", "v2") core.del_map(f, "other") end, 1)
`), false))
	defer rt.Close()
	rt.RunAction("m", StageHTTPReq, newCtx(), []string{file})
	es := ref.Entries(ref.Current())
	require.Len(t, es, 1)
	assert.Equal(t, "v2", es[0].Value)
}

func TestPrependPathAndPerThread(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "helper.lua"), []byte("return { twice = function(s) return s .. s end }\n"), 0o600))
	rt := New(acl.NewRefs())
	defer rt.Close()
	require.NoError(t, rt.PrependPath(filepath.Join(dir, "?.lua"), "path"))
	require.Error(t, rt.PrependPath("/x", "other"))
	require.NoError(t, rt.Load(script(t, `
local helper = require("helper")
core.register_converters("twice", function(s) return helper.twice(s) end)
`), true))
	conv, ok := rt.ScriptConverter("twice", nil)
	require.True(t, ok)
	s, ok := conv(newCtx(), acl.Str("ab"))
	require.True(t, ok)
	assert.Equal(t, "abab", s.String())
}

// privCtx keeps the private data of a transaction.
type privCtx struct {
	*testCtx
	priv any
}

func (p *privCtx) LuaPriv() *any { return &p.priv }

func TestActionPerStageAndPriv(t *testing.T) {
	rt, _ := loaded(t, `
core.register_action("cors", {"http-req"}, function(txn, origin)
  txn:set_priv({ origin = origin })
end, 1)
core.register_action("cors", {"http-res"}, function(txn, origin)
  local p = txn:get_priv()
  txn:set_var("txn.seen", p and p.origin or "none")
end, 1)
`)
	ok, n := rt.HasAction("cors", StageHTTPRes)
	assert.True(t, ok)
	assert.Equal(t, 1, n)
	ok, _ = rt.HasAction("cors", StageTCPReq)
	assert.False(t, ok)
	c := &privCtx{testCtx: newCtx()}
	rt.RunAction("cors", StageHTTPReq, c, []string{"https://a.example"})
	rt.RunAction("cors", StageHTTPRes, c, []string{"x"})
	s, _ := c.Var("txn.seen")
	assert.Equal(t, "https://a.example", s.String(), "the request's function kept it for the response's")
	// Without a holder, the data lasts the call.
	plain := newCtx()
	rt.RunAction("cors", StageHTTPReq, plain, []string{"https://b.example"})
	rt.RunAction("cors", StageHTTPRes, plain, []string{"x"})
	s, _ = plain.Var("txn.seen")
	assert.Equal(t, "none", s.String())
}

// panicTCP is a TCP stream whose reads panic.
type panicTCP struct{ *testCtx }

func (panicTCP) Read([]byte) (int, error)    { panic("read exploded") }
func (panicTCP) Write(b []byte) (int, error) { return len(b), nil }

func TestPanicInStreamIsAnError(t *testing.T) {
	rt, _ := loaded(t, `
core.register_service("reader", "tcp", function(applet) applet:receive() end)
core.register_fetches("ok", function(txn) return "fine" end)
`)
	var msgs []string
	rt.SetLogger(func(_ acl.Context, _ int, msg string, _ bool) { msgs = append(msgs, msg) })
	err := rt.RunTCPService("reader", panicTCP{newCtx()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read exploded")
	// The state is usable afterwards.
	fn, ok := rt.ScriptFetch("ok", nil)
	require.True(t, ok)
	s, ok := fn(newCtx())
	require.True(t, ok)
	assert.Equal(t, "fine", s.String())
}

func TestReply(t *testing.T) {
	rt, _ := loaded(t, `
core.register_action("pre", {"http-req"}, function(txn)
  local reply = txn:reply({ status = 204, headers = { ["X-One"] = { "1", "2" } } })
  reply:add_header("Access-Control-Allow-Origin", "https://a.example")
  reply:add_header("x-del", "gone")
  reply:del_header("X-Del")
  reply:set_status(200, "Fine")
  reply:set_body("body")
  txn:done(reply)
end)
core.register_action("plain", {"http-req"}, function(txn) txn:done({ status = 403, body = "no" }) end)
`)
	v, r := rt.RunAction("pre", StageHTTPReq, newCtx(), nil)
	assert.Equal(t, Closed, v)
	require.NotNil(t, r)
	assert.Equal(t, &Reply{Status: 200, Reason: "Fine", Body: "body", Headers: [][2]string{
		{"access-control-allow-origin", "https://a.example"}, {"x-one", "1"}, {"x-one", "2"},
	}}, r)
	_, r = rt.RunAction("plain", StageHTTPReq, newCtx(), nil)
	assert.Equal(t, &Reply{Status: 403, Body: "no"}, r)
}

func TestDeepRecursion(t *testing.T) {
	rt, _ := loaded(t, `
local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
core.register_fetches("deep", function(txn, n) return depth(tonumber(n)) end)
`)
	fn, ok := rt.ScriptFetch("deep", []string{"900"})
	require.True(t, ok)
	s, ok := fn(newCtx())
	require.True(t, ok)
	assert.Equal(t, acl.Int(900), s)
	// Deeper than the stack: an error, logged, no crash.
	rt.SetLogger(func(acl.Context, int, string, bool) {})
	fn, _ = rt.ScriptFetch("deep", []string{"100000"})
	_, ok = fn(newCtx())
	assert.False(t, ok)
}

func TestHTTPClientPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Header.Get("X-A"))
		w.WriteHeader(201)
		_, _ = io.WriteString(w, r.Method+" "+string(body))
	}))
	defer srv.Close()
	rt, _ := loaded(t, `
core.register_fetches("post", function(txn, url)
  local r = core.httpclient():post{url = url, headers = { ["x-a"] = "v" }, body = "payload", timeout = 5000}
  return r.status .. " " .. r.reason .. " " .. r.headers["x-got"][0] .. " " .. r.body
end)
`)
	fn, ok := rt.ScriptFetch("post", []string{srv.URL + "/p"})
	require.True(t, ok)
	s, ok := fn(newCtx())
	require.True(t, ok)
	assert.Equal(t, "201 Created v POST payload", s.String())
}
