package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropHTTPRateLimitMatchesHAProxy runs HAProxy's canonical HTTP
// rate limit (track-sc0 src in an ip table, deny 429 over a request
// rate) with a string table tracked by an API key header and a deny on
// that key's error count, in haproxy and lb. The same fifteen requests,
// on keep-alive and new connections, get the same statuses and the same
// counters in their X-Rate and X-Key fields, and the stats sockets show
// the same tables afterwards.
func TestInteropHTTPRateLimitMatchesHAProxy(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
` + httpDefaults + `frontend fe
    bind %s
    http-request track-sc0 src table per_ip
    http-request track-sc1 req.hdr(x-api-key) table per_key
    http-request sc-inc-gpc0(0) if { path_beg /count }
    http-request deny deny_status 403 if { sc_http_err_cnt(1) gt 3 }
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }
    http-after-response set-header X-Rate %%[sc_http_req_rate(0)]
    http-after-response set-header X-Key %%[sc_http_req_cnt(1)]/%%[sc1_http_err_cnt]/%%[sc_http_fail_cnt(1)]/%%[sc_tracked(1)]
    default_backend app
backend per_ip
    stick-table type ip size 100k expire 30s store http_req_rate(10s),http_err_rate(10s),gpc0,http_req_cnt,http_err_cnt
backend per_key
    stick-table type string len 16 size 1k expire 30s store http_req_cnt,http_req_rate(10s),http_err_cnt,http_fail_cnt,conn_cnt,conn_cur
backend app
    server s1 %s
`
	app := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(404)
		case "/boom":
			w.WriteHeader(500)
		case "/nosupp":
			w.WriteHeader(501)
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, app)

	type req struct {
		path, key string
		fresh     bool // on a new connection, else on the keep-alive one
	}
	seq := []req{
		{"/", "", false}, {"/count", "k1", false}, {"/missing", "k1", false}, {"/missing", "k1", false}, {"/boom", "k1", false},
		{"/count", "", true}, {"/missing", "k2", true}, {"/nosupp", "k1", true}, {"/", "k1", true}, {"/missing", "k1", true},
		{"/", "k1", false}, {"/count", "k1", false}, {"/", "", false}, {"/missing", "k2", true}, {"/", "k1", false},
	}
	run := func(addr string) []string {
		keep := &http.Transport{MaxConnsPerHost: 1}
		fresh := &http.Transport{DisableKeepAlives: true}
		defer keep.CloseIdleConnections()
		var out []string
		for i, r := range seq {
			hr, err := http.NewRequest("GET", "http://"+addr+r.path, nil)
			require.NoError(t, err)
			if r.key != "" {
				hr.Header.Set("X-Api-Key", r.key)
			}
			tr := keep
			if r.fresh {
				tr = fresh
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(hr)
			require.NoError(t, err, "request %d", i+1)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			out = append(out, fmt.Sprintf("%d %s rate=%s key=%s", i+1, resp.Status[:3], resp.Header.Get("X-Rate"), resp.Header.Get("X-Key")))
		}
		return out
	}
	hpSeq := run(hp)
	lbSeq := run(lb)
	require.Equal(t, hpSeq, lbSeq, "haproxy:\n%s\nlb:\n%s", strings.Join(hpSeq, "\n"), strings.Join(lbSeq, "\n"))
	// What both answered, spelled out: requests 11 on over the rate
	// limit get 429, those with key k1 past 3 errors 403 first.
	require.Equal(t, []string{
		"1 200 rate=1 key=///0",
		"2 200 rate=2 key=1/0/0/1",
		"3 404 rate=3 key=2/1/0/1",
		"4 404 rate=4 key=3/2/0/1",
		"5 500 rate=5 key=4/2/1/1",
		"6 200 rate=6 key=///0",
		"7 404 rate=7 key=1/1/0/1",
		"8 501 rate=8 key=5/2/1/1",
		"9 200 rate=9 key=6/2/1/1",
		"10 404 rate=10 key=7/3/1/1",
		"11 429 rate=11 key=8/4/1/1",
		"12 403 rate=12 key=9/5/1/1",
		"13 429 rate=13 key=///0",
		"14 429 rate=14 key=2/2/0/1",
		"15 403 rate=15 key=10/6/1/1",
	}, lbSeq)

	// Request-level tracking ended with each request: use=0 everywhere,
	// conn_cur back to 0. Only the expiry dates differ.
	for _, table := range []string{"per_ip", "per_key"} {
		var hpOut, lbOut string
		require.Eventually(t, func() bool {
			hpOut = normalizeDump(cliCommand(t, hpSock, "show table "+table))
			lbOut = normalizeDump(cliCommand(t, lbSock, "show table "+table))
			return hpOut == lbOut
		}, 5*time.Second, 20*time.Millisecond, "table %s\nhaproxy:\n%s\nlb:\n%s", table, hpOut, lbOut)
		t.Logf("%s", lbOut)
	}
	require.Contains(t, normalizeDump(cliCommand(t, lbSock, "show table per_ip")),
		"key=127.0.0.1 use=0 exp=X gpc0=3 http_req_cnt=15 http_req_rate(10000)=15 http_err_cnt=")
}

// TestInteropHTTPTrackSlots checks what haproxy does with slots in HTTP
// mode, in lb too: a slot the connection tracks (tcp-request connection)
// is not tracked again by an http-request rule, and counts every request
// of the connection; an entry tracked in two slots counts each request
// and each error twice; sc-inc-gpc0 on a slot not tracked yet does
// nothing.
func TestInteropHTTPTrackSlots(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
` + httpDefaults + `frontend fe
    bind %s
    tcp-request connection track-sc1 src table conn_t
    http-request track-sc1 src table req_t
    http-request track-sc0 src table req_t
    http-request sc-inc-gpc0(2)
    http-request track-sc2 src table req_t
    http-request sc-inc-gpc0(1)
    http-request sc-set-gpt0(0) req.hdr(x-tag)
    http-request deny deny_status 429 if { path /deny }
    http-after-response set-header X-Sc %%[sc0_http_req_cnt]/%%[sc_http_req_cnt(1)]/%%[sc_conn_cur(0)]/%%[sc0_trackers]/%%[sc_http_req_cnt(1,req_t)]
    default_backend app
backend conn_t
    stick-table type ip size 10 expire 30s store gpc0,conn_cnt,conn_cur,http_req_cnt,http_err_cnt
backend req_t
    stick-table type ip size 10 expire 30s store gpt0,gpc0,conn_cnt,conn_cur,http_req_cnt,http_err_cnt
backend app
    server s1 %s
`
	app := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, app)
	run := func(addr string) []string {
		tr := &http.Transport{MaxConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		var out []string
		for i, path := range []string{"/", "/deny", "/"} {
			hr, err := http.NewRequest("GET", "http://"+addr+path, nil)
			require.NoError(t, err)
			hr.Header.Set("X-Tag", fmt.Sprint(i+5))
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(hr)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			out = append(out, resp.Status[:3]+" "+resp.Header.Get("X-Sc"))
		}
		return out
	}
	hpSeq, lbSeq := run(hp), run(lb)
	require.Equal(t, hpSeq, lbSeq)
	require.Equal(t, []string{"200 2/1/2/2/2", "429 4/2/2/2/4", "200 6/3/2/2/6"}, lbSeq)
	for _, table := range []string{"conn_t", "req_t"} {
		var hpOut, lbOut string
		require.Eventually(t, func() bool {
			hpOut = normalizeDump(cliCommand(t, hpSock, "show table "+table))
			lbOut = normalizeDump(cliCommand(t, lbSock, "show table "+table))
			return hpOut == lbOut
		}, 5*time.Second, 20*time.Millisecond, "table %s\nhaproxy:\n%s\nlb:\n%s", table, hpOut, lbOut)
		t.Logf("%s", lbOut)
	}
}
