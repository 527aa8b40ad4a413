package acl

import (
	"strconv"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/stretchr/testify/require"
)

// TestTableConverters looks keys up in a table as haproxy 2.6 does: a
// present key gives its counters (no sample for one the table does not
// store), an absent one zero, a sample that cannot be a key nothing.
func TestTableConverters(t *testing.T) {
	tb := newTable(t, "conn_cnt,http_req_cnt,http_req_rate(10s),bytes_in_cnt,gpc0,gpt0,server_id")
	other := newTable(t, "conn_cur")
	c := newCtx("10.0.0.1:1000")
	c.tables = map[string]*stick.Table{"": tb, "t": tb, "o": other}
	key, ok := AddrKey(tb, c.src.Addr())
	require.True(t, ok)
	e, err := tb.GetOrCreate(key)
	require.NoError(t, err)
	e.Touch()
	defer e.Release() // held, as a tracking stream holds it
	e.Inc(stick.DataConnCnt, 3)
	e.Inc(stick.DataHTTPReqCnt, 7)
	e.Inc(stick.DataHTTPReqRate, 4)
	e.Inc(stick.DataBytesInCnt, 5000)
	e.Inc(stick.DataGPC0, 2)
	require.NoError(t, e.Set(stick.DataGPT0, 9))
	require.NoError(t, e.Set(stick.DataServerID, 12))

	for expr, want := range map[string]string{
		"src,in_table(t)":                 "1",
		"src,in_table":                    "1",
		"str(10.0.0.9),in_table(t)":       "0",
		"int(167772161),in_table(t)":      "1", // 10.0.0.1 as an integer
		"src,table_conn_cnt(t)":           "3",
		"str(10.0.0.1),table_conn_cnt(t)": "3",
		"src,table_http_req_cnt(t)":       "7",
		"src,table_http_req_rate(t)":      "4",
		"src,table_kbytes_in(t)":          "4",
		"src,table_gpc0(t)":               "2",
		"src,table_gpt0(t)":               "9",
		"src,table_server_id(t)":          "12",
		"src,table_trackers(t)":           "2", // ours and the reading one
		"src,table_expire(t)":             "30000",
		"src,table_idle(t)":               "0",
		"src,table_expire(t,5)":           "30000",
		"str(10.0.0.9),table_expire(t,5)": "5",
		"str(10.0.0.9),table_idle(t,-1)":  "-1",
		// Absent keys read zero, stored or not.
		"str(10.0.0.9),table_conn_cnt(t)":  "0",
		"str(10.0.0.9),table_conn_rate(t)": "0",
		"str(10.0.0.9),table_trackers(t)":  "0",
		"str(10.0.0.9),table_gpc(0,t)":     "0",
		"src,table_conn_cur(o)":            "0",
		"src,in_table(o)":                  "0",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		if want == "30000" || want == "0" && strings.Contains(expr, "table_idle") {
			// The time left or idle, in milliseconds: the clock may
			// have moved by a few since the entry was touched.
			n, err := strconv.Atoi(s.String())
			require.NoError(t, err, expr)
			w, _ := strconv.Atoi(want)
			require.InDelta(t, w, n, 1000, expr)
			continue
		}
		require.Equal(t, want, s.String(), expr)
	}
	for _, expr := range []string{
		"src,table_conn_rate(t)",        // not stored
		"src,table_gpc1(t)",             // not stored
		"src,table_kbytes_out(t)",       // not stored
		"src,table_gpc(0,t)",            // no gpc array
		"src,table_gpc_rate(1,t)",       // no gpc_rate array
		"src,table_gpt(0,t)",            // no gpt array
		"str(abc),in_table(t)",          // not an address
		"str(10.0.0.9),table_expire(t)", // absent, no default
		"src,in_table(nosuch)",          // no such table (refused at start)
	} {
		s, ok := fetchOn(t, expr, c)
		require.False(t, ok, "%s gave %v", expr, s)
	}
	require.Equal(t, 1, e.Refs(), "every read gave its reference back")
	require.Equal(t, 1, tb.Len(), "reading creates no entries")

	// Types: in_table is a boolean, the others integers.
	f, _, err := CompileFetch("src,in_table(t)")
	require.NoError(t, err)
	require.Equal(t, TypeBool, f.Type)
	f, _, err = CompileFetch("src,table_idle(t)")
	require.NoError(t, err)
	require.Equal(t, TypeInt, f.Type)
	checkExprs(t, c, []exprCase{
		{"src,table_http_req_cnt(t) gt 6", true},
		{"src,table_http_req_cnt(t) gt 7", false},
		{"src,in_table(t)", true},
		{"src,in_table(o)", false},
	})
	// A context without tables finds nothing.
	_, ok = fetchOn(t, "src,table_conn_cnt(t)", plain{src: c.src})
	require.False(t, ok)
}

// TestTableConvertersStringKeys: the sample takes the table's key type,
// truncated to its length.
func TestTableConvertersStringKeys(t *testing.T) {
	cfg, err := stick.ParseConfig([]string{"type", "string", "len", "4", "size", "10", "store", "http_req_cnt"})
	require.NoError(t, err)
	cfg.Name = "s"
	tb, err := stick.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tb.Close() })
	e, err := tb.GetOrCreate([]byte("abcd"))
	require.NoError(t, err)
	e.Release()
	c := newCtx("10.0.0.1:1000")
	c.tables = map[string]*stick.Table{"s": tb}
	for expr, want := range map[string]string{
		"str(abcd),in_table(s)":     "1",
		"str(abcdefgh),in_table(s)": "1",
		"str(abc),in_table(s)":      "0",
		"src,in_table(s)":           "0",
		"int(12),in_table(s)":       "0",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
}

func TestTableConverterErrors(t *testing.T) {
	for expr, msg := range map[string]string{
		"src,table_conn_cnt(t,x)":  "expects only [<table>]",
		"src,in_table(t,x)":        "expects only [<table>]",
		"src,table_gpc":            "expects arguments",
		"src,table_gpc(1)":         "expects <idx>,<table>",
		"src,table_gpc(x,t)":       "failed to parse 'x' as type 'integer' at position 1",
		"src,table_gpt(t)":         "expects <idx>,<table>",
		"src,table_expire(t,abc)":  "default value 'abc' is not an integer",
		"src,table_idle(t,1,2)":    "expects [<table>][,<default_value>]",
		"src,table_conn_cnt(t),nx": "unknown converter 'nx'",
	} {
		_, _, err := CompileFetch(expr)
		require.Error(t, err, expr)
		require.Contains(t, err.Error(), msg, expr)
	}
	for _, name := range TableConverters() {
		require.NotEqual(t, RefNone, ProxyRefOf(name), name)
	}
	require.Equal(t, RefConvIdxTable, ProxyRefOf("table_gpc_rate"))
	require.Equal(t, RefConvTable, ProxyRefOf("table_expire"))
	require.Len(t, TableConverters(), 28)
}

// TestTableConvertersNoAlloc: looking an address up costs no allocation.
func TestTableConvertersNoAlloc(t *testing.T) {
	tb := newTable(t, "http_req_cnt")
	c := newCtx("10.0.0.1:1000")
	c.tables = map[string]*stick.Table{"t": tb}
	key, _ := AddrKey(tb, c.src.Addr())
	e, err := tb.GetOrCreate(key)
	require.NoError(t, err)
	e.Release()
	for _, expr := range []string{"src,table_http_req_cnt(t)", "src,in_table(t)", "src,table_trackers(t)"} {
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err)
		require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = fn(c) }), expr)
	}
}
