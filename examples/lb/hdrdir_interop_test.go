package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropHdrDirectionMatchesHAProxy runs rules whose values read
// %[hdr()] in requests and in responses under haproxy and lb: in
// http-request rules it reads the request, in http-response rules the
// response, so the headers the client and the server see must match.
// (haproxy 2.6 refuses req.hdr() and hdr_cnt() in response rules, and an
// ACL on hdr() there never matches; lb reads the request for the first
// two and the response for the last.)
func TestInteropHdrDirectionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Header.Get("X-Req-CT"))
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b, c")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	})
	run := func(start func(text string)) []string {
		port := freePorts(t, 1)[0]
		start(fmt.Sprintf(`%slisten web
    bind 127.0.0.1:%d
    http-request set-header X-Req-CT %%[hdr(content-type)]
    http-response set-header X-CT %%[hdr(content-type)]
    http-response set-header X-Json yes if { res.hdr(content-type) -m sub json }
    server s %s
`, httpDefaults, port, web))
		req, err := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/", port), strings.NewReader("x"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		var got []string
		for _, h := range []string{"X-Seen", "X-CT", "X-Json"} {
			got = append(got, h+": "+resp.Header.Get(h))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"X-Seen: text/plain", "X-CT: application/json", "X-Json: yes"}, got)
}
