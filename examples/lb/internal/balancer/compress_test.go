package balancer

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAcceptEncodingItems(t *testing.T) {
	for _, tc := range []struct {
		item  string
		token string
		q     int
	}{
		{"gzip", "gzip", 1000},
		{" gzip ; q=0.5 ", "gzip", 500},
		{"deflate;level=1;q=0.25", "deflate", 250},
		{"br;q=0", "br", 0},
		{"*;q=1.0", "*", 1000},
		{"x;q=0.1234", "x", 123},
		{"x;q=2", "x", 0},
		{"x;q=", "x", 0},
	} {
		token, q := acceptItem([]byte(tc.item))
		require.Equal(t, tc.token, string(token), tc.item)
		require.Equal(t, tc.q, q, tc.item)
	}
}

func TestOldMozilla(t *testing.T) {
	require.True(t, oldMozilla([]byte("Mozilla/4.0 (compatible; MSIE 5.0)")))
	require.True(t, oldMozilla([]byte("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)")))
	require.False(t, oldMozilla([]byte("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)")))
	require.False(t, oldMozilla([]byte("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)")))
	require.False(t, oldMozilla([]byte("Mozilla/5.0 (X11; Linux x86_64)")))
	require.False(t, oldMozilla([]byte("curl/8.0")))
}

func TestValidETag(t *testing.T) {
	for v, ok := range map[string]bool{`"a"`: true, `W/"a"`: true, `""`: true, `a`: false, `"a`: false, `W/a`: false, `"a"b"`: false} {
		require.Equal(t, ok, validETag([]byte(v)), v)
	}
}

// TestCompressionOverHTTP2 compresses for HTTP/2 clients and from
// HTTP/2 servers: the answer loses its length and carries the coding,
// and the body decodes to what the server sent, streamed or not.
func TestCompressionOverHTTP2(t *testing.T) {
	body := strings.Repeat("compressible text\n", 2000)
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/stream" {
			for i := 0; i < len(body); i += 4000 {
				_, _ = io.WriteString(w, body[i:min(i+4000, len(body))])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	app.EnableHTTP2 = true
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	app.Config.Protocols = &p
	app.Start()
	t.Cleanup(app.Close)
	addr := strings.TrimPrefix(app.URL, "http://")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
frontend f
    bind 127.0.0.1:0 proto h2
    compression algo gzip
    default_backend b
backend b
    server s1 %[1]s proto h2
frontend f1
    bind 127.0.0.1:0
    compression algo gzip
    default_backend b
`, addr))
	for _, tc := range []struct {
		client *http.Client
		fe     string
	}{{h2Client(), "f"}, {h1Client(), "f1"}} {
		for _, path := range []string{"/", "/stream"} {
			req, err := http.NewRequest("GET", "http://"+feAddr(t, b, tc.fe)+path, nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := tc.client.Do(req)
			require.NoError(t, err)
			require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), "%s %s", tc.fe, path)
			require.Equal(t, int64(-1), resp.ContentLength)
			zr, err := gzip.NewReader(resp.Body)
			require.NoError(t, err)
			got, err := io.ReadAll(zr)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, body, string(got), "%s %s", tc.fe, path)
			closeClient(tc.client)
		}
	}
}
