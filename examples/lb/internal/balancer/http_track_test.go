package balancer

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/stretchr/testify/require"
)

// Which answers count as HTTP errors and failures on tracked entries,
// the connection's (tcp-request connection) and the request's own
// (http-request track-sc) alike: server 4xx, 401 included, and denied
// requests are errors; server 5xx but 501 and 505, and the 502 of a
// server that closed without answering, are failures; a 503 lb makes
// itself for want of a server is neither. Bytes go both ways, and the
// request's entries are given back when it ends.
func TestHTTPTrackCounting(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Path[1:])
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "body")
	}))
	defer ts.Close()
	closer := testnet.Serve(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4096))
		_ = c.Close()
	})
	done := testnet.Snapshot(t)
	b, _ := startLB(t, parseCfg(t, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    tcp-request connection track-sc0 src table conn_t
    http-request track-sc1 req.hdr(x-k) table req_t
    http-request deny if { path /deny }
    use_backend closer if { path /close }
    use_backend none if { path /none }
    default_backend app
backend conn_t
    stick-table type ip size 10 store http_req_cnt,http_err_cnt,http_err_rate(10s),http_fail_cnt,http_fail_rate(10s),bytes_in_cnt,bytes_out_cnt,conn_cur
backend req_t
    stick-table type string size 10 store http_req_cnt,http_err_cnt,http_fail_cnt,bytes_in_cnt,bytes_out_cnt,conn_cur,conn_cnt
backend app
    server s1 %s
backend closer
    server s1 %s
backend none
`, ts.Listener.Addr(), closer))
	addr := feAddr(t, b, "fe")
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	want := map[string]int{"/200": 200, "/401": 401, "/404": 404, "/500": 500, "/501": 501, "/503": 503, "/505": 505, "/deny": 403, "/close": 502, "/none": 503}
	for _, p := range []string{"/200", "/401", "/404", "/500", "/501", "/503", "/505", "/deny", "/close", "/none"} {
		req, err := http.NewRequest("GET", "http://"+addr+p, nil)
		require.NoError(t, err)
		req.Header.Set("X-K", "key")
		resp, err := client.Do(req)
		require.NoError(t, err, p)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, want[p], resp.StatusCode, p)
	}
	get := func(table, key string) *stick.Entry {
		t.Helper()
		k := []byte(key)
		if key == "127.0.0.1" {
			k = []byte{127, 0, 0, 1}
		}
		e, err := b.Table(table).Lookup(k)
		require.NoError(t, err, table)
		e.Release()
		return e
	}
	for _, table := range []string{"conn_t", "req_t"} {
		key := "key"
		if table == "conn_t" {
			key = "127.0.0.1"
		}
		e := get(table, key)
		require.EqualValues(t, 10, e.Get(stick.DataHTTPReqCnt), table)
		require.EqualValues(t, 3, e.Get(stick.DataHTTPErrCnt), table+": 401, 404 and the deny")
		require.EqualValues(t, 3, e.Get(stick.DataHTTPFailCnt), table+": 500, 503 and the closed server's 502")
		require.Positive(t, e.Get(stick.DataBytesInCnt), table)
		require.Positive(t, e.Get(stick.DataBytesOutCnt), table)
	}
	require.EqualValues(t, 3, get("conn_t", "127.0.0.1").Get(stick.DataHTTPErrRate))
	require.EqualValues(t, 3, get("conn_t", "127.0.0.1").Get(stick.DataHTTPFailRate))
	k := get("req_t", "key")
	require.EqualValues(t, 10, k.Get(stick.DataConnCnt), "each request tracks it anew")
	// The last request ends (and gives its entry back) once its answer
	// is out, maybe after the client read it.
	require.Eventually(t, func() bool { return k.Get(stick.DataConnCur) == 0 && k.Refs() == 0 },
		5*time.Second, 10*time.Millisecond, "the request's tracking ends with it")

	tr.CloseIdleConnections()
	require.Eventually(t, func() bool { return get("conn_t", "127.0.0.1").Get(stick.DataConnCur) == 0 },
		5*time.Second, 10*time.Millisecond, "the connection's tracking ends with it")
	_ = b.Close()
	done()
}

// src_* fetches in HTTP rules read the rule's own proxy's table, and a
// request that tracks nothing finds no stick counter (sc0_tracked is
// false).
func TestHTTPSrcFetchOwnTable(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Seen"))
	}))
	defer ts.Close()
	b, _ := startLB(t, parseCfg(t, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 store gpc0
    http-request set-header X-Seen %%[src_inc_gpc0]/%%[sc0_tracked]
    default_backend app
backend app
    server s1 %s
`, ts.Listener.Addr()))
	addr := feAddr(t, b, "fe")
	for i := 1; i <= 2; i++ {
		resp, err := http.Get("http://" + addr + "/")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, strconv.Itoa(i)+"/0", string(body))
	}
}
