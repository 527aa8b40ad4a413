package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// http-request track-sc0/1/2 take a key expression and an optional
// table; sc-inc-gpc0/1 and sc-set-gpt0 name their stick counter in
// parentheses (0 without).
func TestHTTPTrackRules(t *testing.T) {
	c := mustParse(t, `backend per_ip
    stick-table type ip size 10 store http_req_rate(10s),gpc0,gpt0
backend per_key
    stick-table type string len 16 size 10 store http_req_cnt
frontend fe
    mode http
    bind :0
    http-request track-sc0 src table per_ip
    http-request track-sc1 req.hdr(x-api-key) table per_key if { path_beg /api }
    http-request sc-inc-gpc0(0)
    http-request sc-inc-gpc1
    http-request sc-set-gpt0(2) 42
    http-request sc-set-gpt0(0) req.hdr(x-tag)
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }
listen li
    mode http
    bind :0
    stick-table type integer size 10 store http_req_cnt
    http-request track-sc2 hdr_cnt(host)
`)
	rules := c.Proxy("fe", KindFrontend).HTTP.RequestRules
	require.Len(t, rules, 7)
	require.Equal(t, "track-sc", rules[0].Action)
	require.Equal(t, 0, rules[0].Slot)
	require.Equal(t, "src", rules[0].Value)
	require.Equal(t, "per_ip", rules[0].Table)
	require.Equal(t, 1, rules[1].Slot)
	require.Equal(t, "req.hdr(x-api-key)", rules[1].Value)
	require.NotNil(t, rules[1].Cond)
	require.Equal(t, "sc-inc-gpc0", rules[2].Action)
	require.Equal(t, "sc-inc-gpc1", rules[3].Action)
	require.Equal(t, 0, rules[3].Slot)
	require.Equal(t, "sc-set-gpt0", rules[4].Action)
	require.Equal(t, 2, rules[4].Slot)
	require.Equal(t, "42", rules[4].Value)
	require.Equal(t, "req.hdr(x-tag)", rules[5].Value)
	li := c.Proxy("li", KindFrontend)
	require.Equal(t, "", li.HTTP.RequestRules[0].Table)
	require.Equal(t, 2, li.HTTP.RequestRules[0].Slot)
}

func TestHTTPTrackErrors(t *testing.T) {
	const tables = "backend per_ip\n stick-table type ip size 10\nbackend per_key\n stick-table type string size 10\n"
	const fe = tables + "frontend fe\n mode http\n bind :0\n"
	for _, tc := range []struct {
		name, text string
		line       int
		sentinel   error
		msg        string
	}{
		{"bad slot", fe + " http-request track-sc3 src table per_ip\n", 8, ErrBadValue, "track-sc3"},
		{"no key", fe + " http-request track-sc0\n", 8, ErrBadValue, "expects a key expression"},
		{"unknown fetch", fe + " http-request track-sc0 nosuch table per_ip\n", 8, ErrBadValue, "'nosuch'"},
		{"junk after key", fe + " http-request track-sc0 src tabel per_ip\n", 8, ErrBadValue, "unexpected 'tabel per_ip'"},
		{"unknown table", fe + " http-request track-sc0 src table nope\n", 8, ErrReference, "refers to table 'nope'"},
		{"no own table", fe + " http-request track-sc1 src\n", 8, ErrReference, "needs a stick-table"},
		{"key type mismatch", fe + " http-request track-sc2 ssl_fc table per_ip\n", 8, ErrBadValue, "incompatible with the 'track-sc2' key 'ssl_fc'"},
		{"gpc bad slot", fe + " http-request sc-inc-gpc0(5)\n", 8, ErrBadValue, "'5'"},
		{"gpc no paren", fe + " http-request sc-inc-gpc0(1\n", 8, ErrBadValue, "sc-inc-gpc0(<stick counter>)"},
		{"gpc argument", fe + " http-request sc-inc-gpc1(1) 2\n", 8, ErrBadValue, "takes no argument"},
		{"gpt no value", fe + " http-request sc-set-gpt0(1)\n", 8, ErrBadValue, "expects an integer or a sample expression"},
		{"gpt bad value", fe + " http-request sc-set-gpt0(1) nosuch\n", 8, ErrBadValue, "'nosuch'"},
		{"after-response track", fe + " http-after-response track-sc0 src table per_ip\n", 8, ErrUnsupported, "track-sc0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.sentinel)
			var ce *Error
			require.True(t, errors.As(err, &ce), err.Error())
			require.Equal(t, tc.line, ce.Line, err.Error())
			require.True(t, strings.HasPrefix(err.Error(), "lb.cfg:"), err.Error())
			require.True(t, strings.HasPrefix(ce.Keyword, "http-"), "keyword %q", ce.Keyword)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}
