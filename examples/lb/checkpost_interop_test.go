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

// TestInteropCheckPostMatchesHAProxy: "balance url_param id check_post"
// hashes the parameter from the query, else from a POST's url-encoded
// body, else goes round robin; the same requests reach the same servers
// as under haproxy.
func TestInteropCheckPostMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var srvs []string
	for _, name := range []string{"s1", "s2", "s3"} {
		srvs = append(srvs, strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", name, b)
		}), "http://"))
	}
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    balance url_param id check_post
    server s1 %s
    server s2 %s weight 2
    server s3 %s
`, port, srvs[0], srvs[1], srvs[2])
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	run := func(addr string) []string {
		var out []string
		for i := 0; i < 24; i++ {
			var req *http.Request
			var err error
			switch i % 4 {
			case 0: // the parameter in the body
				req, err = http.NewRequest("POST", "http://"+addr+"/form", strings.NewReader(fmt.Sprintf("a=1&id=user%d&b=2", i*37)))
			case 1: // in the query, the body holding another
				req, err = http.NewRequest("POST", fmt.Sprintf("http://%s/form?id=q%d", addr, i*11), strings.NewReader("id=ignored"))
			case 2: // nowhere: round robin
				req, err = http.NewRequest("POST", "http://"+addr+"/form", strings.NewReader("x=1"))
			default: // a GET is not looked into
				req, err = http.NewRequest("GET", "http://"+addr+"/page", nil)
			}
			require.NoError(t, err)
			if req.Body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%d %s", resp.StatusCode, b))
		}
		return out
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	runHAProxy(t, cfg(hp), hpAddr)
	want := run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got := run(lb.Addrs("l")[0].String())
	require.Equal(t, want, got, "the servers haproxy chose, then lb's")
	seen := map[string]bool{}
	for _, g := range got {
		seen[strings.Fields(g)[1]] = true
	}
	require.Len(t, seen, 3, "every server took requests")
}
