package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// varCtx is a connection context with variables.
type varCtx struct {
	*ctx
	vars map[string]Sample
}

func (c *varCtx) Var(name string) (Sample, bool) { s, ok := c.vars[name]; return s, ok }
func (c *varCtx) SetVar(name string, s Sample)   { c.vars[name] = s }
func (c *varCtx) UnsetVar(name string)           { delete(c.vars, name) }

func newVarCtx() *varCtx {
	return &varCtx{ctx: newCtx("10.0.0.1:1000"), vars: map[string]Sample{}}
}

// TestSetVarConverter runs the steps in order on one context, each an
// expression, what it gives ("" for no sample) and what var() reads
// after it, as haproxy 2.6 gave them for the same steps.
func TestSetVarConverter(t *testing.T) {
	c := newVarCtx()
	for _, st := range []struct{ expr, out, var_, after string }{
		{"str(a),set-var(txn.new,ifnotexists)", "a", "txn.new", "a"},
		{"int(5),set-var(txn.x)", "5", "txn.x", "5"},
		{"str(b),set-var(txn.x,ifnotexists)", "", "txn.x", "5"},
		{"int(3),set-var(txn.x,ifgt)", "3", "txn.x", "3"},
		{"int(9),set-var(txn.x,iflt)", "9", "txn.x", "9"},
		{"int(1),set-var(txn.x,iflt)", "", "txn.x", "9"},
		{"str(q),set-var(txn.z,ifexists)", "", "txn.z", ""},
		{"str(q),unset-var(txn.x)", "q", "txn.x", ""},
		{"str(r),set-var(txn.x,ifset)", "", "txn.x", ""},
		{"str(r),set-var(txn.x,ifnotset)", "r", "txn.x", "r"},
		{"str(p),set-var(proc.p,ifnotexists)", "", "proc.p", ""},
		{"str(p),set-var(proc.p,ifexists)", "p", "proc.p", "p"},
		{"str(9),set-var(txn.n)", "9", "txn.n", "9"},
		{"int(3),set-var(txn.n,ifgt)", "3", "txn.n", "3"},
		{"str(),set-var(txn.e2,ifnotempty)", "", "txn.e2", ""},
		{"int(0),set-var(txn.y2,ifempty)", "", "txn.y2", ""},
		// A failed condition after the existence checks leaves the
		// variable existing but unset.
		{"str(),set-var(txn.q,ifnotempty)", "", "txn.q", ""},
		{"str(k),set-var(txn.q,ifexists)", "k", "txn.q", "k"},
		{"str(),set-var(txn.r,ifnotempty)", "", "txn.r", ""},
		{"str(k),set-var(txn.r,ifset)", "", "txn.r", ""},
		{"str(m),set-var(txn.r,ifnotset)", "m", "txn.r", "m"},
		// ifgt and iflt compare integers only.
		{"int(1),set-var(txn.s,ifgt)", "1", "txn.s", "1"},
		{"bool(1),set-var(txn.s,ifgt)", "1", "txn.s", "1"},
		{"int(2),set-var(txn.s,iflt)", "2", "txn.s", "2"},
		{"int(2),set-var(txn.s,iflt)", "", "txn.s", "2"},
		{"str(w),set-var(txn.t,ifnotexists,ifempty)", "", "txn.t", ""},
		{"str(b),set-var(txn.t,ifexists)", "b", "txn.t", "b"},
	} {
		s, ok := fetchOn(t, st.expr, c)
		if st.out == "" {
			require.False(t, ok, "%s: %v", st.expr, s)
		} else {
			require.True(t, ok, st.expr)
			require.Equal(t, st.out, s.String(), st.expr)
		}
		v, ok := fetchOn(t, "var("+st.var_+")", c)
		require.Equal(t, st.after != "", ok, "%s: var(%s)", st.expr, st.var_)
		require.Equal(t, st.after, v.String(), "%s: var(%s)", st.expr, st.var_)
	}
	// The sample keeps its type, in the variable too.
	s, ok := fetchOn(t, "src,set-var(txn.ip)", c)
	require.True(t, ok)
	require.Equal(t, TypeIP, s.Type)
	require.Equal(t, TypeIP, c.vars["txn.ip"].Type)
	f, _, err := CompileFetch("src,set-var(txn.ip)")
	require.NoError(t, err)
	require.Equal(t, TypeIP, f.Type)
	// Without variables (a context that has none) there is no sample.
	_, ok = fetchOn(t, "str(a),set-var(txn.a)", plain{})
	require.False(t, ok)
}

func TestSetVarConverterErrors(t *testing.T) {
	for expr, msg := range map[string]string{
		"str(a),set-var":              "expects arguments",
		"str(a),set-var()":            "expects arguments",
		"str(a),set-var(a)":           "invalid variable name 'a'",
		"str(a),set-var(foo.a)":       "invalid variable name 'foo.a'",
		"str(a),set-var(txn.)":        "empty variable name",
		"str(a),set-var(txn.a-b)":     "invalid character '-'",
		"str(a),set-var(txn.a,bogus)": `unknown condition "bogus"`,
		"str(a),set-var(txn.a,ifgt,iflt,ifset,ifnotset,ifempty)": "at most 4 conditions",
		"str(a),unset-var":                 "expects arguments",
		"str(a),unset-var(txn.a,ifexists)": "expects only <var>",
		"str(a),unset-var(txn.a-b)":        "invalid character '-'",
	} {
		_, _, err := CompileFetch(expr)
		require.Error(t, err, expr)
		require.Contains(t, err.Error(), msg, expr)
		require.Contains(t, err.Error(), "set-var", expr)
	}
	for _, expr := range []string{"str(a),set-var(txn.a,ifgt,iflt,ifset,ifnotset)", "str(a),set-var(txn.a, ifexists)", "str(a),set-var(proc.a.b)"} {
		_, _, err := CompileFetch(expr)
		require.NoError(t, err, expr)
	}
}

// earlyCtx has variables of scopes sess and proc only, as a connection
// before its stream.
type earlyCtx struct{ *varCtx }

func (c earlyCtx) HasVarScope(scope string) bool { return scope == "sess" || scope == "proc" }

func TestSetVarConverterScopes(t *testing.T) {
	c := earlyCtx{newVarCtx()}
	for expr, ok := range map[string]bool{
		"str(a),set-var(sess.a)": true, "str(a),set-var(proc.a)": true, "str(a),unset-var(sess.b)": true,
		"str(a),set-var(txn.a)": false, "str(a),set-var(req.a,ifnotset)": false, "str(a),unset-var(res.a)": false,
	} {
		_, got := fetchOn(t, expr, c)
		require.Equal(t, ok, got, expr)
	}
	require.Equal(t, map[string]Sample{"sess.a": Str("a"), "proc.a": Str("a")}, c.vars)
}

// TestVariableArguments: the converters whose argument may name a
// variable read it when they run. The expectations are haproxy 2.6.12's
// answers to the same expressions and variables (txn.a and txn.b set
// from url_param, so as text; an absent one unset).
func TestVariableArguments(t *testing.T) {
	exprs := []string{
		"var(txn.a),add(txn.b)", "int(3),mul(txn.b)", "int(7),div(txn.b)", "int(7),mod(txn.b)",
		"str(x),concat(<,txn.b,>)", "var(txn.a),add_item(-,txn.b,s)", "var(txn.a),add_item(-,txn.b)",
		"var(txn.a),strcmp(txn.b)", "var(txn.a),secure_memcmp(txn.b)",
	}
	for _, tc := range []struct {
		vars map[string]string
		want []string // by expression; "" for no sample
	}{
		{map[string]string{"a": "5", "b": "3"}, []string{"8", "9", "2", "1", "x<3>", "5-3s", "5-3", "2", "0"}},
		{map[string]string{"a": "5"}, []string{"", "", "", "", "x<>", "5-s", "5", "", ""}},
		{map[string]string{"b": "3"}, []string{"", "9", "2", "1", "x<3>", "", "", "", ""}},
		{map[string]string{"a": "5", "b": "12abc"}, []string{"17", "36", "0", "7", "x<12abc>", "5-12abcs", "5-12abc", "4", "0"}},
		{map[string]string{"a": "5", "b": ""}, []string{"", "", "", "", "x<>", "5-s", "5", "1", "0"}},
		{map[string]string{"a": "abc", "b": "abc"}, []string{"0", "0", "9223372036854775807", "0", "x<abc>", "abc-abcs", "abc-abc", "0", "1"}},
		{map[string]string{"a": "abc", "b": "abd"}, []string{"0", "0", "9223372036854775807", "0", "x<abd>", "abc-abds", "abc-abd", "-1", "0"}},
		{map[string]string{"a": "abc", "b": "ab"}, []string{"0", "0", "9223372036854775807", "0", "x<ab>", "abc-abs", "abc-ab", "1", "0"}},
		{map[string]string{"a": "", "b": "x"}, []string{"", "0", "9223372036854775807", "0", "x<x>", "xs", "x", "-1", "0"}},
		{map[string]string{"a": "x", "b": ""}, []string{"", "", "", "", "x<>", "x-s", "x", "1", "0"}},
		{map[string]string{"a": "5", "b": "0"}, []string{"5", "0", "9223372036854775807", "0", "x<0>", "5-0s", "5-0", "5", "0"}},
	} {
		c := newVarCtx()
		for k, v := range tc.vars {
			c.vars["txn."+k] = Str(v)
		}
		for i, expr := range exprs {
			_, fn, err := CompileFetch(expr)
			require.NoError(t, err, expr)
			got := ""
			if s, ok := fn(c); ok {
				got = s.String()
			}
			require.Equal(t, tc.want[i], got, "%s with %v", expr, tc.vars)
		}
	}
	c := newVarCtx()
	c.vars["txn.t"] = Bool(true)
	c.vars["txn.k"] = Str("a2V5") // "key"
	for expr, want := range map[string]string{
		"int(7),and(txn.t)": "1",
		"str(msg),hmac(sha1,txn.k),hex":// openssl dgst -sha1 -hmac key
		"102900B72B7BF1031EEC76B4804B66052376896B",
	} {
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		s, ok := fn(c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
}
