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

// convCaptureCfg fills request and response capture slots with the
// capture-req and capture-res converters, beside header captures, reads
// them back and logs them.
func convCaptureCfg(port int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
%s
frontend fe
    bind 127.0.0.1:%d
    log-format "cap %%hr %%hs %%ST"
    declare capture request len 5
    declare capture request len 3
    capture request header X-H len 4
    capture response header X-Srv len 6
    declare capture response len 4
    http-request set-header X-A "%%[req.hdr(x-a),capture-req(0)]|%%[capture.req.hdr(0)]|%%[str(zz),capture-req(9)]|%%[str(zz),capture-req(-1)]|%%[int(42),capture-req(1)]|%%[capture.req.hdr(1)]"
    http-request set-header X-B "%%[str(resp-val),capture-res(1)]|%%[str(srv-early),capture-res(0)]|%%[req.hdr(x-b),capture-req(2)]|%%[str(r),capture-res(2)]"
    http-request set-var(txn.seen) str(yes) if { req.hdr(x-a),capture-req(1) -m found }
    http-response set-header X-C "%%[capture.res.hdr(0)]|%%[capture.res.hdr(1)]|%%[var(txn.seen)]"
    http-response set-header X-D "%%[res.hdr(x-srv),lower,capture-res(1)]" if { res.hdr(x-srv) -m found }
    default_backend be
backend be
    server s1 %s
`, httpLogDefaults, port, echo)
}

// TestInteropCaptureConvertersMatchHAProxy: capture-req and capture-res
// fill the same slots as haproxy's, which capture.req.hdr,
// capture.res.hdr and the log read back, and pass the sample on.
func TestInteropCaptureConvertersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("srv"); v != "" {
			w.Header().Set("X-Srv", v)
		}
		_, _ = fmt.Fprintf(w, "A=%s B=%s", r.Header.Get("X-A"), r.Header.Get("X-B"))
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	cases := []struct{ path, a, b, h string }{
		{"/?srv=Server-One", "hello-world", "b-val", "head-er"},
		{"/", "", `q"|x`, ""},
		{"/?srv=S2", "ab", "", "h"},
	}
	run := func(port int) []string {
		var got []string
		for _, c := range cases {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, c.path), nil)
			require.NoError(t, err)
			for k, v := range map[string]string{"X-A": c.a, "X-B": c.b, "X-H": c.h} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s %s C=%s D=%s", c.path, body, resp.Header.Get("X-C"), resp.Header.Get("X-D")))
		}
		return got
	}
	pick := func(l string) (string, bool) { return l, strings.HasPrefix(l, "cap ") }
	ports := freePorts(t, 2)
	haOut := startHAProxyReady(t, convCaptureCfg(ports[0], echo))
	want := run(ports[0])
	wantLog := sortedLines(t, haOut, len(cases), pick)
	lbOut := lbLogs(t)(convCaptureCfg(ports[1], echo))
	got := run(ports[1])
	gotLog := sortedLines(t, lbOut, len(cases), pick)
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, wantLog, gotLog, "haproxy's log lines, then lb's")
	t.Logf("answers:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(gotLog, "\n"))
	require.Equal(t, "/?srv=Server-One A=hello-world|hello|||42|42 B=resp-val|srv-early|b-val| C=Server|resp|yes D=server-one", got[0],
		"the sample passes on whole, no slot gives no sample, the header capture replaces an early capture-res(0)")
	require.Contains(t, gotLog, "cap {hello|hel|b-va} {Server|serv} 200", "slots cut to their length, the response rule's capture-res(1) last")
	require.Contains(t, gotLog, "cap {|#7C#7C#7C|q#22#7Cx} {srv-ea|resp} 200", "without the field, the converter's value stays")
}
