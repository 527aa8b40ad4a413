package balancer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// TestHTXSizes: messages are counted as HAProxy's HTX holds them, with
// the sizes haproxy 2.6 was seen to log for the same messages.
func TestHTXSizes(t *testing.T) {
	var m htx.Message
	m.SetResponse(200, "OK")
	m.Version = htx.Version11
	m.Add("server", "BaseHTTP/0.6 Python/3.11.7")
	m.Add("date", "Sun, 06 Dec 2026 05:47:31 GMT")
	m.Add("content-length", "5")
	require.Equal(t, int64(114), htxResponseSize(&m), "haproxy logged 119 with the 5-byte body")

	// Connection: close and keep-alive go; another token stays.
	m.Add("connection", "close")
	require.Equal(t, int64(114), htxResponseSize(&m))
	m.Del("connection")
	m.Add("connection", "keep-alive, Upgrade")
	require.Equal(t, int64(114+len("connection")+len("Upgrade")), htxResponseSize(&m))

	// An answer of lb's own carries its length as a flag.
	var a htx.Message
	a.SetResponse(200, "OK")
	a.Add("content-type", "text/plain")
	a.Flags |= htx.FlagContentLength
	a.ContentLength = 3
	require.Equal(t, int64(71), htxResponseSize(&a), "haproxy logged 74 with the 3-byte body")

	// Chunked bodies end with one byte more, and their trailers.
	var c htx.Message
	require.Equal(t, int64(0), htxEndSize(&c))
	c.Flags |= htx.FlagChunked
	require.Equal(t, int64(1), htxEndSize(&c))
	c.AddTrailer("x-sum", "12")
	require.Equal(t, int64(1+5+2), htxEndSize(&c))

	// Requests: haproxy logged %U 106 for this HTTP/2 request, whose
	// authority becomes a Host field, and 43 for the HTTP/1.1 one.
	var r htx.Message
	r.SetRequest("GET", "http", "127.0.0.1:18115", "/h2")
	r.Version = htx.Version20
	r.Add("user-agent", "curl/7.88.1")
	r.Add("accept", "*/*")
	var l httpLog
	l.setRequestLine(&r)
	require.Equal(t, "GET http://127.0.0.1:18115/h2 HTTP/2.0", string(l.reqLine))
	require.Equal(t, int64(106), htxRequestSize(&r, l.reqLine))
	var h1 htx.Message
	h1.SetRequest("GET", "", "", "/plain")
	h1.Version = htx.Version11
	h1.Add("Host", "x")
	h1.Add("Connection", "close")
	l.setRequestLine(&h1)
	require.Equal(t, int64(43), htxRequestSize(&h1, l.reqLine))

	for n, want := range map[int64]int{0: 1, 9: 1, 10: 2, 93: 2, 1000: 4, -5: 2} {
		require.Equal(t, want, digits(n), n)
	}
}
