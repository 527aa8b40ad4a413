package httpcache

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

func request(method, path string, fields ...string) *htx.Message {
	m := new(htx.Message)
	m.SetRequest(method, "", "example.test", path)
	m.Flags |= htx.FlagRequest
	m.Version = htx.Version11
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		m.Add(k, v)
	}
	return m
}

func response(status int, body string, fields ...string) *htx.Message {
	m := new(htx.Message)
	m.SetResponse(status, http.StatusText(status))
	m.Version = htx.Version11
	m.Flags |= htx.FlagContentLength
	m.ContentLength = int64(len(body))
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		m.Add(k, v)
	}
	return m
}

func newCache(t *testing.T, cfg Config) *Cache {
	t.Helper()
	if cfg.Size == 0 {
		cfg.Size = 1 << 20
	}
	if cfg.MaxObjectSize == 0 {
		cfg.MaxObjectSize = cfg.Size / 256
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = time.Minute
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// store runs a request and its response through the cache as a miss:
// cache-use, then cache-store with the body; it reports whether the
// response was kept.
func store(t *testing.T, c *Cache, req, resp *htx.Message, body string, now time.Time) bool {
	t.Helper()
	var tx Txn
	hit, _ := c.Use(&tx, req, now)
	require.Nil(t, hit, "a miss")
	p := c.Store(&tx, req, resp, now)
	if p == nil {
		return false
	}
	p.Write([]byte(body))
	return p.Commit(resp)
}

// serve looks req up and renders the hit as "status\nfields\n\nbody",
// "" for a miss.
func serve(t *testing.T, c *Cache, req *htx.Message, now time.Time) string {
	t.Helper()
	var tx Txn
	hit, looked := c.Use(&tx, req, now)
	if hit == nil {
		return ""
	}
	require.True(t, looked)
	defer hit.Release()
	var resp htx.Message
	hit.Head(&resp, now)
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s\n", resp.Status, resp.Reason())
	for i := 0; i < resp.NumFields(); i++ {
		k, v := resp.Field(i)
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	if resp.Flags&htx.FlagContentLength != 0 {
		fmt.Fprintf(&b, "(length %d)\n", resp.ContentLength)
	}
	if !hit.NotModified() {
		b.WriteString("\n" + string(hit.Body()))
	}
	return b.String()
}

func TestStoreThenServe(t *testing.T) {
	c := newCache(t, Config{Name: "c", MaxAge: 100 * time.Second})
	now := time.Now().Truncate(time.Second)
	body := "hello, cache"
	resp := response(200, body, "Cache-Control: max-age=30", "Age: 4", "X-A: 1", "X-A: 2")
	require.True(t, store(t, c, request("GET", "/x?q=1"), resp, body, now))
	_, age := resp.Get("age")
	require.False(t, age, "the server's Age leaves the response it stores")

	want := "200 OK\nCache-Control: max-age=30\nX-A: 1\nX-A: 2\nage: %d\n(length 12)\n\nhello, cache"
	require.Equal(t, fmt.Sprintf(want, 4), serve(t, c, request("GET", "/x?q=1"), now))
	require.Equal(t, fmt.Sprintf(want, 14), serve(t, c, request("GET", "/x?q=1"), now.Add(10*time.Second)))
	require.Equal(t, fmt.Sprintf(want, 33), serve(t, c, request("HEAD", "/x?q=1"), now.Add(29*time.Second)), "HEAD is served too")
	require.Empty(t, serve(t, c, request("GET", "/x?q=1"), now.Add(30*time.Second)), "expired after max-age")
	require.Empty(t, serve(t, c, request("GET", "/x?q=2"), now), "another query is another key")
	other := request("GET", "/x?q=1")
	other.SetAuthority("other.test")
	require.Empty(t, serve(t, c, other, now), "another host is another key")
}

func TestLifetime(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	date := func(d time.Duration) string { return now.Add(d).UTC().Format(http.TimeFormat) }
	for _, tc := range []struct {
		fields    []string
		effective int64
		own       int64
	}{
		{nil, 60, 0},
		{[]string{"Cache-Control: max-age=10"}, 10, 10},
		{[]string{"Cache-Control: max-age=1000"}, 60, 1000},
		{[]string{"Cache-Control: s-maxage=5, max-age=20"}, 5, 5},
		{[]string{"Cache-Control: max-age=\"7\""}, 7, 7},
		{[]string{"Cache-Control: max-age=12abc"}, 12, 12},
		{[]string{"Cache-Control: max-age=-1"}, -1, 0},
		{[]string{"Cache-Control: max-age=x"}, -1, 0},
		{[]string{"Expires: " + date(30*time.Second)}, 30, 30},
		{[]string{"Expires: " + date(-30*time.Second)}, 0, 0},
		{[]string{"Expires: yesterday"}, 0, 0},
		{[]string{"Cache-Control: max-age=15", "Expires: " + date(30*time.Second)}, 15, 15},
	} {
		eff, own := maxAge(response(200, "", tc.fields...), now, 60)
		require.Equal(t, [2]int64{tc.effective, tc.own}, [2]int64{eff, own}, "%q", tc.fields)
	}
}

func TestWhatIsKept(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		req     *htx.Message
		resp    *htx.Message
		kept    bool
		checkIn bool // a later plain GET is served
	}{
		{"max-age", request("GET", "/"), response(200, "b", "Cache-Control: max-age=9"), true, true},
		{"etag alone", request("GET", "/"), response(200, "b", "ETag: \"a\""), true, true},
		{"last-modified alone", request("GET", "/"), response(200, "b", "Last-Modified: Mon, 02 Jan 2006 15:04:05 GMT"), true, true},
		{"no lifetime, no validator", request("GET", "/"), response(200, "b"), false, false},
		{"404", request("GET", "/"), response(404, "b", "Cache-Control: max-age=9"), false, false},
		{"private", request("GET", "/"), response(200, "b", "Cache-Control: private"), false, false},
		{"no-store", request("GET", "/"), response(200, "b", "Cache-Control: no-store"), false, false},
		{"pragma", request("GET", "/"), response(200, "b", "Pragma: no-cache", "Cache-Control: max-age=9"), false, false},
		{"vary without process-vary", request("GET", "/"), response(200, "b", "Vary: accept-encoding", "Cache-Control: max-age=9"), false, false},
		{"age zero", request("GET", "/"), response(200, "b", "Age: 0", "Cache-Control: max-age=9"), false, false},
		{"stale", request("GET", "/"), response(200, "b", "Age: 10", "Cache-Control: max-age=9"), false, false},
		{"authorization", request("GET", "/", "Authorization: Basic eDp5"), response(200, "b", "Cache-Control: max-age=9"), false, false},
		{"request no-cache still stores", request("GET", "/", "Cache-Control: no-cache"), response(200, "b", "Cache-Control: max-age=9"), true, true},
		{"request no-store", request("GET", "/", "Cache-Control: no-store"), response(200, "b", "Cache-Control: max-age=9"), false, false},
		{"too large", request("GET", "/"), response(200, strings.Repeat("b", 5000), "Cache-Control: max-age=9"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{Name: "c"})
			var tx Txn
			_, _ = c.Use(&tx, tc.req, now)
			p := c.Store(&tx, tc.req, tc.resp, now)
			kept := false
			if p != nil {
				p.Write(make([]byte, tc.resp.ContentLength))
				kept = p.Commit(tc.resp)
			}
			require.Equal(t, tc.kept, kept)
			require.Equal(t, tc.checkIn, serve(t, c, request("GET", "/"), now) != "")
		})
	}
}

func TestStoreNeedsCacheUse(t *testing.T) {
	c := newCache(t, Config{Name: "c"})
	var tx Txn
	require.Nil(t, c.Store(&tx, request("GET", "/"), response(200, "", "Cache-Control: max-age=9"), time.Now()), "no key without cache-use")
	old := request("GET", "/")
	old.Version = htx.Version10
	hit, looked := c.Use(&tx, old, time.Now())
	require.Nil(t, hit)
	require.False(t, looked, "HTTP/1.0 is not looked up")
}

func TestLargeBodyDropped(t *testing.T) {
	c := newCache(t, Config{Name: "c", MaxObjectSize: 2000})
	now := time.Now()
	req := request("GET", "/chunked")
	resp := response(200, "", "Cache-Control: max-age=9")
	resp.Flags &^= htx.FlagContentLength // chunked: the size shows as it comes
	var tx Txn
	_, _ = c.Use(&tx, req, now)
	p := c.Store(&tx, req, resp, now)
	require.NotNil(t, p)
	for range 3 {
		p.Write(make([]byte, 1000))
	}
	require.False(t, p.Commit(resp))
	require.Empty(t, serve(t, c, req, now))
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	c := newCache(t, Config{Name: "c"})
	now := time.Now()
	require.True(t, store(t, c, request("GET", "/r"), response(200, "b", "Cache-Control: max-age=9"), "b", now))
	for _, tc := range []struct {
		method string
		status int
		drops  bool
	}{{"POST", 500, false}, {"OPTIONS", 200, false}, {"PUT", 204, true}} {
		var tx Txn
		req := request(tc.method, "/r")
		_, _ = c.Use(&tx, req, now)
		require.Nil(t, c.Store(&tx, req, response(tc.status, ""), now))
		require.Equal(t, !tc.drops, serve(t, c, request("GET", "/r"), now) != "", "%s answered %d", tc.method, tc.status)
	}
}

func TestConditional(t *testing.T) {
	c := newCache(t, Config{Name: "c"})
	now := time.Now().Truncate(time.Second)
	lm := now.Add(-time.Hour).UTC().Format(http.TimeFormat)
	require.True(t, store(t, c, request("GET", "/e"), response(200, "b", "ETag: W/\"v1\""), "b", now))
	require.True(t, store(t, c, request("GET", "/m"), response(200, "b", "Last-Modified: "+lm), "b", now))
	for _, tc := range []struct {
		path, field string
		not         bool
	}{
		{"/e", `If-None-Match: "v1"`, true},
		{"/e", `If-None-Match: "x", W/"v1"`, true},
		{"/e", `If-None-Match: *`, true},
		{"/e", `If-None-Match: "v2"`, false},
		{"/e", `If-None-Match: v1`, false},
		{"/e", "If-Modified-Since: " + now.UTC().Format(http.TimeFormat), true},
		{"/m", "If-Modified-Since: " + now.UTC().Format(http.TimeFormat), true},
		{"/m", "If-Modified-Since: " + lm, true},
		{"/m", "If-Modified-Since: " + now.Add(-2*time.Hour).UTC().Format(http.TimeFormat), false},
		{"/m", `If-None-Match: "v1"`, false}, // If-None-Match wins, and there is no ETag
		{"/m", "If-Modified-Since: garbage", false},
	} {
		got := serve(t, c, request("GET", tc.path, tc.field), now)
		require.Equal(t, tc.not, strings.HasPrefix(got, "304 Not Modified\n"), "%s %s: %s", tc.path, tc.field, got)
		if tc.not {
			require.Contains(t, got, "(length 1)", "a 304 keeps the stored length")
		}
	}
}

func TestVariants(t *testing.T) {
	c := newCache(t, Config{Name: "v", ProcessVary: true, MaxSecondaryEntries: 2})
	now := time.Now()
	vary := func(ce string) *htx.Message {
		r := response(200, ce, "Vary: Accept-Encoding", "Cache-Control: max-age=9")
		if ce != "" {
			r.Add("Content-Encoding", ce)
		}
		return r
	}
	ae := func(v string) *htx.Message { return request("GET", "/v", "Accept-Encoding: "+v) }
	body := func(req *htx.Message) string {
		s := serve(t, c, req, now)
		_, b, _ := strings.Cut(s, "\n\n")
		return b
	}
	require.True(t, store(t, c, ae("gzip"), vary("gzip"), "gzip", now))
	require.Equal(t, "gzip", body(ae("gzip")))
	require.Equal(t, "gzip", body(ae("br, GZIP;q=0.5")))
	require.Empty(t, body(ae("br")), "gzip not accepted")
	require.Empty(t, body(ae("gzip;q=0, br")), "gzip refused")
	require.Equal(t, "gzip", body(request("GET", "/v")), "no Accept-Encoding accepts all")
	require.Equal(t, "gzip", body(ae("*")))
	require.True(t, store(t, c, ae("br"), vary("br"), "br", now))
	require.Equal(t, "br", body(ae("br")))
	require.Equal(t, "gzip", body(ae("gzip, br")), "the first stored that fits")
	require.False(t, store(t, c, ae("deflate"), vary("deflate"), "deflate", now), "two variants at most")
	require.Equal(t, "", body(ae("deflate")))
	require.False(t, store(t, c, ae("x"), vary("mystery"), "m", now), "an unknown coding is not kept")
	require.False(t, store(t, c, ae("compress"), response(200, "", "Vary: User-Agent", "Cache-Control: max-age=9"), "", now), "only Accept-Encoding and Referer")
	many := request("GET", "/v")
	for range 16 {
		many.Add("Accept-Encoding", "gzip")
	}
	require.Empty(t, body(many), "16 values cannot be matched")
	require.Equal(t, "gzip", body(ae("gzip")), "an expired variant is skipped, not the others")
	require.Empty(t, serve(t, c, ae("gzip"), now.Add(10*time.Second)))
}

func TestAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   uint32
		ok     bool
	}{
		{nil, ^uint32(0), true},
		{[]string{""}, encIdentity, true},
		{[]string{"gzip"}, encIdentity | encGzip, true},
		{[]string{"gzip, deflate", "BR"}, encIdentity | encGzip | encDeflate | encBr, true},
		{[]string{"x-gzip, x-compress, zstd"}, encIdentity | encGzip | encCompress | encZstd, true},
		{[]string{"identity;q=0, gzip"}, encGzip, true},
		{[]string{"*"}, ^uint32(0), true},
		{[]string{"*, gzip;q=0"}, ^encGzip, true},
		{[]string{"foo"}, encIdentity | encOther, true},
		{[]string{"gzap"}, encIdentity, true},
		{[]string{"gzip;q=0.0"}, encIdentity | encGzip, true},
		{[]string{"gzip x"}, encIdentity | encOther, true},
		{[]string{strings.Repeat("gzip,", 15) + "gzip"}, 0, false},
	} {
		req := request("GET", "/")
		for _, v := range tc.values {
			req.Add("Accept-Encoding", v)
		}
		got, ok := acceptEncoding(req)
		require.Equal(t, tc.ok, ok, "%q", tc.values)
		require.Equal(t, tc.want, got, "%q: %b", tc.values, got)
	}
}

func TestBadConfig(t *testing.T) {
	_, err := New(Config{Name: "c", Size: 100})
	require.ErrorIs(t, err, ErrConfig)
}

// TestEntries checks the list "show cache" prints: one entry per stored
// response, ordered by the first 32 bits of its URL's key.
func TestEntries(t *testing.T) {
	c := newCache(t, Config{Name: "c", MaxAge: 100 * time.Second})
	now := time.Now().Truncate(time.Second)
	for _, p := range []string{"/a", "/b", "/c?x=1"} {
		require.True(t, store(t, c, request("GET", p), response(200, "body", "Cache-Control: max-age=30"), "body", now))
	}
	es, err := c.Entries()
	require.NoError(t, err)
	require.Len(t, es, 3)
	for i, e := range es {
		require.Zero(t, e.Vary)
		require.Positive(t, e.Size)
		require.WithinDuration(t, now.Add(30*time.Second), e.Expire, time.Second)
		if i > 0 {
			require.LessOrEqual(t, es[i-1].Hash, e.Hash)
		}
	}
}
