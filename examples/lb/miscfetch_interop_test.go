package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropMiscFetchesMatchHAProxy sends a request through rules that
// set headers from capture.req.method, capture.req.uri, capture.req.ver,
// uuid, date and rand, under haproxy and lb: the request-line parts must
// be equal, the uuid a version 4 one, the date within a few seconds of
// now, rand below its range.
func TestInteropMiscFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	seen := make(chan http.Header, 2)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, "ok")
	})
	run := func(start func(text string)) http.Header {
		port := freePorts(t, 1)[0]
		start(fmt.Sprintf(`%slisten web
    bind 127.0.0.1:%d
    http-request set-header X-Method %%[capture.req.method]
    http-request set-header X-Uri %%[capture.req.uri]
    http-request set-header X-Ver %%[capture.req.ver]
    http-request set-header X-Id %%[uuid]
    http-request set-header X-Time %%[date]
    http-request set-header X-Later %%[date(3600)]
    http-request set-header X-Rand %%[rand(10)]
    server s %s
`, httpDefaults, port, web))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/a/b?c=d", port))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return <-seen
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	for _, h := range []string{"X-Method", "X-Uri", "X-Ver"} {
		assert.Equal(t, want.Get(h), got.Get(h), h)
	}
	assert.Equal(t, "/a/b?c=d", got.Get("X-Uri"))
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for name, hd := range map[string]http.Header{"haproxy": want, "lb": got} {
		assert.Regexp(t, uuid, hd.Get("X-Id"), name)
		now, err := strconv.ParseInt(hd.Get("X-Time"), 10, 64)
		require.NoError(t, err, name)
		assert.InDelta(t, time.Now().Unix(), now, 5, name)
		later, err := strconv.ParseInt(hd.Get("X-Later"), 10, 64)
		require.NoError(t, err, name)
		assert.InDelta(t, now+3600, later, 1, name)
		r, err := strconv.Atoi(hd.Get("X-Rand"))
		require.NoError(t, err, name)
		assert.True(t, r >= 0 && r < 10, "%s: rand(10) gave %d", name, r)
	}
}
