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

// convVarsCfg sets and unsets variables from converters, with and
// without conditions, and answers with what each step gave and what the
// variable held after it.
func convVarsCfg(port int) string {
	return fmt.Sprintf(httpDefaults+`frontend fe
    bind 127.0.0.1:%d
    http-request set-var(txn.x) int(5)
    http-request set-header X-A "%%[str(a),set-var(txn.new,ifnotexists)]/%%[var(txn.new)] %%[str(b),set-var(txn.x,ifnotexists)]/%%[var(txn.x)] %%[int(3),set-var(txn.x,ifgt)]/%%[var(txn.x)] %%[int(9),set-var(txn.x,iflt)]/%%[var(txn.x)] %%[int(1),set-var(txn.x,iflt)]/%%[var(txn.x)]"
    http-request set-header X-B "%%[str(q),set-var(txn.z,ifexists)]/%%[var(txn.z)] %%[str(q),unset-var(txn.x)]/%%[var(txn.x)] %%[str(r),set-var(txn.x,ifset)]/%%[var(txn.x)] %%[str(r),set-var(txn.x,ifnotset)]/%%[var(txn.x)]"
    http-request set-header X-C "%%[var(proc.p)] %%[str(p),set-var(proc.p,ifnotexists)]/%%[var(proc.p)] %%[path,set-var(proc.p,ifexists)]/%%[var(proc.p)] %%[path,set-var(proc.q,ifnotset)]/%%[var(proc.q)]"
    http-request set-header X-D "%%[str(),set-var(txn.q,ifnotempty)]/%%[var(txn.q)] %%[str(k),set-var(txn.q,ifexists)]/%%[var(txn.q)] %%[int(0),set-var(txn.y,ifempty)]/%%[var(txn.y)] %%[str(),set-var(txn.e,ifempty)]/%%[var(txn.e),length] %%[str(9),set-var(txn.n)]/%%[int(3),set-var(txn.n,ifgt)]/%%[var(txn.n)]"
    http-request set-header X-S "%%[var(sess.first)] %%[path,set-var(sess.first,ifnotexists)]/%%[var(sess.first)]"
    http-request set-header X-Seen yes if { req.hdr(x-in),set-var(txn.in) -m found } { var(txn.in) -m str hello }
    http-request return status 200 content-type text/plain lf-string "A=%%[req.hdr(x-a)]\nB=%%[req.hdr(x-b)]\nC=%%[req.hdr(x-c)]\nD=%%[req.hdr(x-d)]\nS=%%[req.hdr(x-s)]\nSeen=%%[req.hdr(x-seen)] in=%%[var(txn.in)]\n"
`, port)
}

// TestInteropSetVarConverterMatchesHAProxy: the set-var and unset-var
// converters set, keep and unset the same variables under haproxy and
// lb, over requests on one connection and on another.
func TestInteropSetVarConverterMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(port int) []string {
		var got []string
		for _, conn := range [][]string{{"/a", "/b"}, {"/c"}} {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			for i, p := range conn {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, p), nil)
				require.NoError(t, err)
				if i == 0 {
					req.Header.Set("X-In", "hello")
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				got = append(got, p+":\n"+string(body))
			}
			client.CloseIdleConnections()
		}
		return got
	}
	ports := freePorts(t, 2)
	startHAProxyReady(t, convVarsCfg(ports[0]))
	want := run(ports[0])
	startInProcess(t, convVarsCfg(ports[1]))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's values, then lb's")
	all := strings.Join(got, "\n")
	require.Contains(t, got[0], "A=a/a /5 3/3 9/9 /9\n", "conditions decide, a failed one leaves no sample")
	require.Contains(t, got[0], "B=/ q/ / r/r\n", "unset-var passes the sample on and unsets")
	require.Contains(t, got[0], "D=/ k/k / /0 9/3/3\n", "a failed condition leaves the variable existing")
	require.Contains(t, got[1], "C=/a //a /b//b //a\n", "proc variables exist from the start and outlive requests")
	require.Contains(t, got[1], "S=/a //a\n", "sess variables outlive the request")
	require.Contains(t, got[2], "S=/c//c\n", "and not the connection")
	require.Contains(t, all, "Seen=yes in=hello")
	require.Contains(t, got[1], "Seen= in=\n")
}
