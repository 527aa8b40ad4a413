package acl

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/stretchr/testify/require"
)

// ctx is a connection context with optional stick counters.
type ctx struct {
	src, dst netip.AddrPort
	sc       [Slots]*stick.Entry
	tables   map[string]*stick.Table
}

func (c *ctx) Src() netip.AddrPort            { return c.src }
func (c *ctx) Dst() netip.AddrPort            { return c.dst }
func (c *ctx) Tracked(slot int) *stick.Entry  { return c.sc[slot] }
func (c *ctx) Table(name string) *stick.Table { return c.tables[name] }

// plain is a Context without stick counters.
type plain struct{ src, dst netip.AddrPort }

func (c plain) Src() netip.AddrPort { return c.src }
func (c plain) Dst() netip.AddrPort { return c.dst }

func newCtx(src string) *ctx {
	return &ctx{src: netip.MustParseAddrPort(src), dst: netip.MustParseAddrPort("127.0.0.1:8080")}
}

func mustSet(t *testing.T, lines ...string) *Set {
	t.Helper()
	s := &Set{}
	for _, l := range lines {
		require.NoError(t, s.Add(strings.Fields(l)), l)
	}
	return s
}

// exprCase is an ACL expression and whether it matches.
type exprCase struct {
	expr string
	want bool
}

// checkExprs parses every case's expression and checks what it gives
// against c.
func checkExprs(t *testing.T, c Context, cases []exprCase) {
	t.Helper()
	for _, tc := range cases {
		e, err := ParseExpr(strings.Fields(tc.expr))
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, e.Eval(c), tc.expr)
	}
}

// condCase is a condition, the source a connection comes from, and
// whether the condition holds for it.
type condCase struct {
	cond, src string
	want      bool
}

// checkConds parses every case's condition with the ACLs of set and
// checks what it gives for a connection from the case's source.
func checkConds(t *testing.T, set *Set, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		c, err := ParseCond(strings.Fields(tc.cond), set)
		require.NoError(t, err, tc.cond)
		require.Equal(t, tc.want, c.Eval(newCtx(tc.src)), "%s with src %s", tc.cond, tc.src)
	}
}

func TestExprTruthTable(t *testing.T) {
	c := newCtx("10.1.2.3:40000")
	checkExprs(t, c, []exprCase{
		{"always_true", true},
		{"always_false", false},
		{"src 10.1.2.3", true},
		{"src 10.1.2.4", false},
		{"src 10.0.0.0/8", true},
		{"src 192.168.0.0/16 10.0.0.0/255.0.0.0", true},
		{"src 192.168.0.0/16", false},
		{"src ::ffff:10.1.2.3", true},
		{"src -m ip 10.1.2.3/32", true},
		{"dst 127.0.0.1", true},
		{"dst_port 8080", true},
		{"dst_port eq 8080", true},
		{"dst_port gt 8080", false},
		{"dst_port ge 8080", true},
		{"dst_port lt 8080", false},
		{"dst_port le 8080", true},
		{"dst_port 80 443 8000:9000", true},
		{"dst_port 80 443", false},
		{"dst_port :8080", true},
		{"dst_port 8081:", false},
		{"src_port gt 39999", true},
		{"src_port lt 1024", false},
		{"src -m str 10.1.2.3", true},
		{"src -m found", true},
		{"dst_port", false}, // no pattern: never matches, as in HAProxy
		{"dst_port -m bool", true},
		{"src -m found", true},
	})
}

func TestCondTruthTable(t *testing.T) {
	set := mustSet(t,
		"yes always_true",
		"no always_false",
		"lan src 10.0.0.0/8",
		"lan src 192.168.0.0/16", // ORed with the line above
	)
	checkConds(t, set, []condCase{
		{"if yes", "1.1.1.1:1", true},
		{"if no", "1.1.1.1:1", false},
		{"unless yes", "1.1.1.1:1", false},
		{"unless no", "1.1.1.1:1", true},
		{"if !no", "1.1.1.1:1", true},
		{"if ! no", "1.1.1.1:1", true},
		{"if yes no", "1.1.1.1:1", false},           // AND
		{"if yes !no", "1.1.1.1:1", true},           // AND
		{"if no or yes", "1.1.1.1:1", true},         // OR
		{"if no || no", "1.1.1.1:1", false},         // OR
		{"if no yes or yes no", "1.1.1.1:1", false}, // (F∧T)∨(T∧F)
		{"if no yes or yes yes", "1.1.1.1:1", true},
		{"if lan", "10.9.9.9:1", true},
		{"if lan", "192.168.1.1:1", true},
		{"if lan", "8.8.8.8:1", false},
		{"if !lan", "8.8.8.8:1", true},
		{"if { src 8.8.8.8 }", "8.8.8.8:1", true},
		{"if ! { src 8.8.8.8 }", "8.8.8.8:1", false},
		{"if { src 8.8.8.8 } lan", "8.8.8.8:1", false},
		{"if { src 8.8.8.8 } or lan", "10.0.0.1:1", true},
		{"unless { dst_port 8080 } or no", "1.1.1.1:1", false},
		{"if TRUE", "1.1.1.1:1", true},
		{"if FALSE", "1.1.1.1:1", false},
		{"if LOCALHOST", "127.0.0.2:1", true},
		{"if LOCALHOST", "10.0.0.1:1", false},
	})
	var nilCond *Cond
	require.True(t, nilCond.Eval(newCtx("1.1.1.1:1")))
}

// TestEmptyCond: a bare "if" never holds and a bare "unless" always
// does, as haproxy 2.6 runs them.
func TestEmptyCond(t *testing.T) {
	for words, want := range map[string]bool{"if": false, "unless": true, "if !": false, "unless or": true} {
		c, err := ParseCond(strings.Fields(words), nil)
		require.NoError(t, err, words)
		require.Equal(t, want, c.Eval(newCtx("1.1.1.1:1")), words)
	}
}

func TestParseErrors(t *testing.T) {
	set := mustSet(t, "yes always_true")
	for _, tc := range []struct {
		cond string
		want error
		msg  string
	}{
		{"when yes", ErrSyntax, "starts with 'if'"},
		{"if nope", ErrUnknownACL, "'nope'"},
		{"if { dst_port -m bool 1 }", ErrBadPattern, "takes no pattern"},
		{"if { src 1.2.3.4", ErrSyntax, "missing '}'"},
		{"if yes }", ErrSyntax, "unexpected '}'"},
		{"if { nosuch 1 }", ErrUnknownFetch, "'nosuch'"},
		{"if { src 1.2.3.999 }", ErrBadPattern, "not an IP address"},
		{"if { src 1.2.3.4/40 }", ErrBadPattern, "bad mask"},
		{"if { dst_port gt }", ErrBadPattern, "without a value"},
		{"if { dst_port abc }", ErrBadPattern, "not an integer"},
		{"if { dst_port 9:1 }", ErrBadPattern, "empty range"},
		{"if { src -m nosuch 1 }", ErrUnknownMatch, "'nosuch'"},
		{"if { src -x 1 }", ErrSyntax, "unknown ACL flag '-x'"},
		{"if { src(x) 1.2.3.4 }", ErrSyntax, "takes no argument"},
		{"if { src_conn_rate(t gt 1 }", ErrSyntax, "missing closing parenthesis"},
		{"if { always_true 1 }", ErrBadPattern, "takes no pattern"},
		{"if { sc_conn_rate(3) gt 1 }", ErrBadSlot, "'3'"},
		{"if { sc_conn_rate(x,t) gt 1 }", ErrBadSlot, "'x'"},
		{"if { sc_conn_rate gt 1 }", ErrSyntax, "expects an argument"},
	} {
		_, err := ParseCond(strings.Fields(tc.cond), set)
		require.ErrorIs(t, err, tc.want, tc.cond)
		require.Contains(t, err.Error(), tc.msg, tc.cond)
	}
	require.ErrorIs(t, (&Set{}).Add([]string{"x"}), ErrSyntax)
	require.ErrorIs(t, (&Set{}).Add([]string{"a b", "always_true"}), ErrSyntax)
	// A negative number is a pattern, not a flag.
	e, err := ParseExpr([]string{"dst_port", "gt", "-1"})
	require.NoError(t, err)
	require.True(t, e.Eval(newCtx("1.1.1.1:1")))
}

func TestSplitCond(t *testing.T) {
	before, c, err := SplitCond(strings.Fields("reject if { src 1.1.1.1 }"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"reject"}, before)
	require.True(t, c.Eval(newCtx("1.1.1.1:2")))
	before, c, err = SplitCond([]string{"accept"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"accept"}, before)
	require.Nil(t, c)
}

func newTable(t *testing.T, store string) *stick.Table {
	t.Helper()
	cfg, err := stick.ParseConfig(strings.Fields("type ip size 100 expire 30s store " + store))
	require.NoError(t, err)
	cfg.Name = "t"
	tb, err := stick.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tb.Close() })
	return tb
}

func TestStickFetches(t *testing.T) {
	tb := newTable(t, "conn_cur,conn_cnt,conn_rate(10s),gpc0,gpc0_rate(10s),bytes_in_cnt,http_req_rate(10s)")
	c := newCtx("10.0.0.1:1000")
	c.tables = map[string]*stick.Table{"": tb, "t": tb}
	eval := func(expr string) bool {
		e, err := ParseExpr(strings.Fields(expr))
		require.NoError(t, err, expr)
		return e.Eval(c)
	}
	// Nothing tracked: sc0_* find nothing, src_* read 0.
	require.False(t, eval("sc0_conn_cur ge 0"))
	require.True(t, eval("src_conn_cur eq 0"))
	require.False(t, eval("sc0_tracked"))

	key, ok := AddrKey(tb, c.src.Addr())
	require.True(t, ok)
	e, err := tb.GetOrCreate(key)
	require.NoError(t, err)
	defer e.Release()
	e.StartConn()
	e.StartConn()
	c.sc[0] = e
	require.True(t, eval("sc0_tracked"))
	require.False(t, eval("sc1_tracked"))
	require.True(t, eval("sc0_conn_cur eq 2"))
	require.True(t, eval("sc0_conn_cnt eq 2"))
	require.True(t, eval("sc0_conn_rate gt 1"))
	require.True(t, eval("src_conn_rate eq 2"))
	require.True(t, eval("src_conn_rate(t) eq 2"))
	require.False(t, eval("src_conn_rate(other) ge 0"), "no such table")
	require.True(t, eval("sc0_get_gpc0 eq 0"))
	require.True(t, eval("sc0_inc_gpc0 eq 1"))
	require.True(t, eval("src_inc_gpc0 eq 2"))
	require.True(t, eval("sc0_gpc0_rate eq 2"))
	require.True(t, eval("sc0_clr_gpc0 eq 2"))
	require.True(t, eval("sc0_get_gpc0 eq 0"))
	require.False(t, eval("sc0_get_gpc1 ge 0"), "gpc1 not stored")
	require.False(t, eval("src_sess_cnt ge 0"), "sess_cnt not stored")
	e.Inc(stick.DataBytesInCnt, 3000)
	require.True(t, eval("sc0_kbytes_in eq 2"))
	require.True(t, eval("sc0_trackers eq 1"))
	e.Inc(stick.DataHTTPReqRate, 5)
	require.True(t, eval("src_http_req_rate eq 5"))

	// Another source has its own (absent) entry.
	c.src = netip.MustParseAddrPort("10.0.0.2:1")
	require.True(t, eval("src_conn_rate eq 0"))
	require.Equal(t, 1, tb.Len(), "reading src_* does not create entries")
	// A context without stick counters finds nothing.
	e2, err := ParseExpr([]string{"src_conn_rate", "ge", "0"})
	require.NoError(t, err)
	require.False(t, e2.Eval(plain{src: c.src}))
}

func TestAddrKey(t *testing.T) {
	ip := newTable(t, "gpc0")
	k, ok := AddrKey(ip, netip.MustParseAddr("::ffff:1.2.3.4"))
	require.True(t, ok)
	require.Equal(t, []byte{1, 2, 3, 4}, k)
	_, ok = AddrKey(ip, netip.MustParseAddr("::1"))
	require.False(t, ok)
	cfg, err := stick.ParseConfig(strings.Fields("type ipv6 size 10"))
	require.NoError(t, err)
	v6, err := stick.New(cfg)
	require.NoError(t, err)
	defer v6.Close()
	k, ok = AddrKey(v6, netip.MustParseAddr("1.2.3.4"))
	require.True(t, ok)
	require.Len(t, k, 16)
}

// registerTestFetch registers, once per process as registration is (go
// test -count N runs TestRegistry again), a fetch, a match and a keyword
// from outside, as the HTTP engine does for its own fetches.
var registerTestFetch = sync.OnceFunc(func() {
	RegisterFetch(Fetch{Name: "test_name", Type: TypeStr, Arg: ArgRequired, Compile: func(arg string) (FetchFunc, error) {
		return func(Context) (Sample, bool) { return Str("Hello-" + arg), true }, nil
	}})
	RegisterMatch(Matcher{Name: "test_prefix", Compile: func(p []string, _ MatchOptions) (func(Sample) bool, error) {
		return func(s Sample) bool { return strings.HasPrefix(s.Str, p[0]) }, nil
	}})
	RegisterKeyword("test_name_beg", "test_name", "test_prefix")
})

func TestRegistry(t *testing.T) {
	registerTestFetch()
	require.Panics(t, func() { RegisterFetch(Fetch{Name: "src", Type: TypeIP, Compile: noArg(nil)}) })
	c := plain{}
	checkExprs(t, c, []exprCase{
		{"test_name(x) Hello-x", true},
		{"test_name(x) -i hello-X", true},
		{"test_name(x) hello-x", false},
		{"test_name(x) -m test_prefix Hel", true},
		{"test_name_beg(x) Hel", true},
		{"test_name_beg(x) Bye", false},
	})
	_, err := ParseExpr([]string{"test_name", "x"})
	require.ErrorIs(t, err, ErrSyntax)
	// -m replaces a keyword's match method, as in HAProxy.
	checkExprs(t, c, []exprCase{
		{"test_name_beg(x) -m str Hello-x", true},
		{"test_name_beg(x) -m str Hel", false},
	})
	f, fn, err := CompileFetch("test_name(y)")
	require.NoError(t, err)
	require.Equal(t, TypeStr, f.Type)
	s, ok := fn(c)
	require.True(t, ok)
	require.Equal(t, "Hello-y", s.Str)
}

// The generic sc_*(slot[,table]) fetches read the slot named by their
// argument, and a table argument (on sc_* and scN_* alike) reads the
// entry holding the tracked key in that table, zero when it has none.
func TestStickFetchesGeneric(t *testing.T) {
	tb := newTable(t, "gpc0,http_req_cnt,http_req_rate(10s)")
	other := newTable(t, "http_req_cnt,gpc0")
	c := newCtx("10.0.0.1:1000")
	c.tables = map[string]*stick.Table{"": tb, "t": tb, "o": other}
	eval := func(expr string) bool {
		e, err := ParseExpr(strings.Fields(expr))
		require.NoError(t, err, expr)
		return e.Eval(c)
	}
	require.False(t, eval("sc_tracked(1)"))
	require.False(t, eval("sc_http_req_cnt(1) ge 0"))

	key, _ := AddrKey(tb, c.src.Addr())
	e, err := tb.GetOrCreate(key)
	require.NoError(t, err)
	defer e.Release()
	e.Inc(stick.DataHTTPReqCnt, 4)
	c.sc[1] = e
	require.True(t, eval("sc_tracked(1)"))
	require.True(t, eval("sc_http_req_cnt(1) eq 4"))
	require.True(t, eval("sc1_http_req_cnt eq 4"))
	require.True(t, eval("sc_inc_gpc0(1) eq 1"))
	require.True(t, eval("sc_get_gpc0(1) eq 1"))
	require.True(t, eval("sc_trackers(1) eq 1"))
	require.False(t, eval("sc_http_err_cnt(1) ge 0"), "not stored")

	// The same key in table o: absent reads zero, present its value.
	require.True(t, eval("sc_http_req_cnt(1,o) eq 0"))
	require.True(t, eval("sc_tracked(1,o)"))
	o, err := other.GetOrCreate(key)
	require.NoError(t, err)
	o.Inc(stick.DataHTTPReqCnt, 9)
	o.Release()
	require.True(t, eval("sc_http_req_cnt(1,o) eq 9"))
	require.True(t, eval("sc1_http_req_cnt(o) eq 9"))
	require.True(t, eval("sc_inc_gpc0(1,o) eq 1"))
	require.True(t, eval("sc_get_gpc0(1) eq 1"), "the tracked entry is left alone")
	require.False(t, eval("sc_http_req_cnt(1,nosuch) ge 0"))
	require.Equal(t, 1, other.Len())
}

// Samples become keys of each table type as HAProxy casts them.
func TestSampleKey(t *testing.T) {
	table := func(typ string) *stick.Table {
		cfg, err := stick.ParseConfig(strings.Fields("type " + typ + " size 10"))
		require.NoError(t, err)
		tb, err := stick.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tb.Close() })
		return tb
	}
	ip, ip6, in, str, bin := table("ip"), table("ipv6"), table("integer"), table("string len 8"), table("binary len 4")
	v4 := netip.MustParseAddr("10.1.2.3")
	for _, tc := range []struct {
		name string
		tb   *stick.Table
		s    Sample
		want []byte // nil: no key
	}{
		{"ip from ip", ip, IP(v4), []byte{10, 1, 2, 3}},
		{"ip from mapped", ip, IP(netip.MustParseAddr("::ffff:10.1.2.3")), []byte{10, 1, 2, 3}},
		{"ip from ipv6", ip, IP(netip.MustParseAddr("2001:db8::1")), nil},
		{"ip from string", ip, Str("10.1.2.3"), []byte{10, 1, 2, 3}},
		{"ip from junk", ip, Str("key-1"), nil},
		{"ip from int", ip, Int(0x0a010203), []byte{10, 1, 2, 3}},
		{"ip from bool", ip, Bool(true), nil},
		{"ipv6 from ip", ip6, IP(v4), netip.MustParseAddr("::ffff:10.1.2.3").AsSlice()},
		{"ipv6 from v4 string", ip6, Str("10.1.2.3"), nil},
		{"int from string", in, Str("12abc"), []byte{0, 0, 0, 0, 0, 0, 0, 12}},
		{"int from letters", in, Str("abc"), []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"int from empty", in, Str(""), nil},
		{"int from bool", in, Bool(true), []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{"string from string", str, Str("key-1"), []byte("key-1")},
		{"string from int", str, Int(42), []byte("42")},
		{"string from ip", str, IP(v4), []byte("10.1.2.3")},
		{"binary from bool", bin, Bool(true), nil},
	} {
		got, ok := SampleKey(nil, tc.tb, tc.s)
		require.Equal(t, tc.want != nil, ok, tc.name)
		if ok {
			require.Equal(t, tc.want, got, tc.name)
		}
	}
	require.False(t, KeyConvertible(TypeBool, stick.KeyIPv4))
	require.True(t, KeyConvertible(TypeBool, stick.KeyString))
	require.True(t, KeyConvertible(TypeStr, stick.KeyIPv4))
}
