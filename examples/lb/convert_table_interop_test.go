package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// convTableCfg has one frontend count users by a request field in a
// string table, and another track clients by address, limit their rate
// and answer with what the stick-table converters read from both tables.
func convTableCfg(counter, front int) string {
	return fmt.Sprintf(httpDefaults+`backend st
    stick-table type ip size 100 expire 30s store conn_cnt,http_req_cnt,http_req_rate(10s),gpc0,gpt0
backend users
    stick-table type string len 5 size 100 expire 30s store http_req_cnt
frontend counter
    bind 127.0.0.1:%d
    http-request track-sc0 req.hdr(x-user) table users
    http-request return status 200 content-type text/plain lf-string "counted %%[req.hdr(x-user)]\n"
frontend fe
    bind 127.0.0.1:%d
    http-request track-sc0 src table st unless { path /untracked /settle }
    http-request sc-inc-gpc0(0) if { path /inc }
    http-request deny deny_status 429 if { src,table_http_req_rate(st) gt 4 }
    http-request set-header X-Src "%%[src,in_table(st)] %%[src,table_http_req_cnt(st)] %%[src,table_http_req_rate(st)] %%[src,table_gpc0(st)] %%[src,table_gpt0(st)] %%[src,table_trackers(st)] %%[src,table_conn_rate(st)]|%%[src,table_kbytes_in(st)]|%%[src,table_gpc(0,st)]|"
    http-request set-header X-Abs "%%[str(10.9.9.9),in_table(st)] %%[str(10.9.9.9),table_http_req_cnt(st)] %%[str(10.9.9.9),table_conn_rate(st)] %%[str(10.9.9.9),table_trackers(st)] %%[str(10.9.9.9),table_expire(st)]|%%[str(10.9.9.9),table_idle(st,-1)] %%[str(nope),in_table(st)]|"
    http-request set-header X-User "%%[req.hdr(x-user),in_table(users)] %%[req.hdr(x-user),table_http_req_cnt(users)] %%[req.hdr(x-user),table_trackers(users)]"
    http-request set-header X-Fresh yes if { src,table_expire(st) gt 25000 } { src,table_idle(st) lt 5000 }
    http-request return status 200 content-type text/plain lf-string "src=%%[req.hdr(x-src)]\nabsent=%%[req.hdr(x-abs)]\nuser=%%[req.hdr(x-user)]\nfresh=%%[req.hdr(x-fresh)]\n"
`, counter, front)
}

// TestInteropTableConvertersMatchHAProxy: the stick-table converters read
// the same values as haproxy's, in a table the rules track and in one
// another frontend fills, and a rate limit written with one of them
// denies the same requests.
func TestInteropTableConvertersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(port int, path, user string) string {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		require.NoError(t, err)
		if user != "" {
			req.Header.Set("X-User", user)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("%s: %d", path, resp.StatusCode)
		}
		return path + ":\n" + string(body)
	}
	run := func(counter, front int) []string {
		got := []string{get(counter, "/", "alice"), get(counter, "/", "alice"), get(counter, "/", "robert-long")}
		// A request lets its entries go once answered and logged, a
		// moment after its answer comes: wait for that before the next
		// one, so that the trackers read are the same each time.
		settled := regexp.MustCompile(`src=(?:1 \d+ \d+ \d+ 0 1 |0 0 0 0 0 0 0)\|.*\n(?s:.*)user=1 \d+ 1\n|: 429$`)
		settle := func(user string) {
			require.Eventually(t, func() bool { return settled.MatchString(get(front, "/settle", user)) }, 5*time.Second, 5*time.Millisecond)
		}
		for _, p := range []string{"/a", "/inc", "/untracked", "/b", "/c", "/d", "/e"} {
			user := "alice"
			if p == "/b" {
				user = "robert"
			}
			// The user's own entry too: the other frontend's last
			// request may hold it a moment longer.
			settle(user)
			got = append(got, get(front, p, user))
		}
		return got
	}
	ports := freePorts(t, 4)
	startHAProxyReady(t, convTableCfg(ports[0], ports[1]))
	want := run(ports[0], ports[1])
	startInProcess(t, convTableCfg(ports[2], ports[3]))
	got := run(ports[2], ports[3])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got[3], "src=1 1 1 0 0 2 |||\n", "one tracked request so far; no sample for what st does not store")
	require.Contains(t, got[4], "src=1 2 2 1 0 2 |||\n", "gpc0 went up")
	require.Contains(t, got[5], "src=1 2 2 1 0 1 |||\n", "untracked: only the reading reference")
	require.Contains(t, got[3], "absent=0 0 0 0 |-1 |\n", "absent keys")
	require.Contains(t, got[3], "user=1 2 1\n", "alice counted twice by the other frontend")
	require.Contains(t, got[6], "user=1 1 1\n", "robert is robert-long cut to the key length")
	require.Contains(t, got[3], "fresh=yes\n", "just tracked: expires in about 30s, idle for about 0")
	require.Contains(t, got[7], "src=1 4 4 ")
	require.Equal(t, "/d: 429", got[8], "the fifth tracked request goes over the rate")
	require.Equal(t, "/e: 429", got[9])
}
