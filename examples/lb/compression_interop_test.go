package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compressionBody is long and repetitive enough to shrink.
var compressionBody = strings.Repeat("<p>proxyblocks compresses what haproxy compresses</p>\n", 400)

// compressionServer answers each path with a response of the kind its
// name says.
func compressionServer(t *testing.T) string {
	return strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		body := compressionBody
		status := 200
		h.Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/json":
			h.Set("Content-Type", "application/json")
		case "/etag":
			h.Set("ETag", `"abc"`)
		case "/weak":
			h.Set("ETag", `W/"abc"`)
		case "/badetag":
			h.Set("ETag", `abc`)
		case "/encoded":
			h.Set("Content-Encoding", "br")
		case "/notransform":
			h.Set("Cache-Control", "public, no-transform")
		case "/404":
			status = 404
		case "/multipart":
			h.Set("Content-Type", "multipart/mixed; boundary=x")
		case "/notype":
			h["Content-Type"] = nil
		case "/echo-ae":
			h.Set("Content-Type", "text/plain")
			body = "accept-encoding=" + r.Header.Get("Accept-Encoding") + "\n" + compressionBody
		}
		if r.URL.Path == "/chunked" {
			w.WriteHeader(status)
			for i := range 4 {
				_, _ = io.WriteString(w, compressionBody[i*1000:(i+1)*1000])
				w.(http.Flusher).Flush()
			}
			return
		}
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}), "http://")
}

// TestInteropCompressionMatchesHAProxy sends the same requests through
// haproxy and lb with compression configured and compares what the
// client gets: whether the response was compressed and with which
// coding, Vary, ETag, the framing (Content-Length or chunked), and the
// body once decoded; and, under compression offload, the Accept-Encoding
// the server saw.
func TestInteropCompressionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := compressionServer(t)
	cfg := func(ports []int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen c1
    bind 127.0.0.1:%d
    compression algo gzip deflate
    compression type text/html text/plain
    server s1 %s
listen c2
    bind 127.0.0.1:%d
    compression algo raw-deflate identity
    compression offload
    server s1 %s
`, ports[0], srv, ports[1], srv)
	}
	type req struct {
		proxy            int
		method, path, ae string
		extra            string // more header lines
		version          string
	}
	reqs := []req{
		{0, "GET", "/", "gzip", "", "1.1"},
		{0, "GET", "/", "deflate;q=0.5, gzip;q=0.8", "", "1.1"},
		{0, "GET", "/", "deflate", "", "1.1"},
		{0, "GET", "/", "br", "", "1.1"},
		{0, "GET", "/", "*", "", "1.1"},
		{0, "GET", "/", "gzip;q=0", "", "1.1"},
		{0, "GET", "/", "gzip", "", "1.0"},
		{0, "HEAD", "/", "gzip", "", "1.1"},
		{0, "GET", "/json", "gzip", "", "1.1"},
		{0, "GET", "/etag", "gzip", "", "1.1"},
		{0, "GET", "/weak", "gzip", "", "1.1"},
		{0, "GET", "/badetag", "gzip", "", "1.1"},
		{0, "GET", "/encoded", "gzip", "", "1.1"},
		{0, "GET", "/notransform", "gzip", "", "1.1"},
		{0, "GET", "/404", "gzip", "", "1.1"},
		{0, "GET", "/chunked", "gzip", "", "1.1"},
		{0, "GET", "/multipart", "gzip", "", "1.1"},
		{0, "GET", "/notype", "gzip", "", "1.1"},
		{0, "GET", "/", "gzip", "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0)\r\n", "1.1"},
		{0, "GET", "/", "gzip", "User-Agent: Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)\r\n", "1.1"},
		{1, "GET", "/echo-ae", "deflate", "", "1.1"},
		{1, "GET", "/echo-ae", "br", "", "1.1"},
		{1, "GET", "/echo-ae", "", "", "1.1"},
		{1, "GET", "/json", "gzip, deflate", "", "1.1"},
	}
	type answer struct {
		Status                       int
		Encoding, Vary, ETag, Length string
		Chunked                      bool
		Body                         string
	}
	run := func(start func(text string)) []answer {
		ports := freePorts(t, 2)
		start(cfg(ports))
		var out []answer
		for _, r := range reqs {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[r.proxy]))
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			head := fmt.Sprintf("%s %s HTTP/%s\r\nHost: x\r\nConnection: close\r\n%s", r.method, r.path, r.version, r.extra)
			if r.ae != "" {
				head += "Accept-Encoding: " + r.ae + "\r\n"
			}
			_, err = io.WriteString(c, head+"\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: r.method})
			require.NoError(t, err, "%+v", r)
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err, "%+v", r)
			_ = c.Close()
			a := answer{Status: resp.StatusCode, Encoding: resp.Header.Get("Content-Encoding"), Vary: strings.Join(resp.Header.Values("Vary"), ","),
				ETag: resp.Header.Get("ETag"), Length: resp.Header.Get("Content-Length"), Chunked: len(resp.TransferEncoding) > 0}
			a.Body = decodeBody(t, a.Encoding, raw)
			if a.Body == compressionBody {
				a.Body = "BODY"
			}
			out = append(out, a)
		}
		return out
	}
	haStart := func(text string) { startHAProxyReady(t, text) }
	lbStart := func(text string) { startInProcess(t, text) }
	want := run(haStart)
	got := run(lbStart)
	for i := range reqs {
		assert.Equal(t, want[i], got[i], "request %+v", reqs[i])
	}
	require.Equal(t, "gzip", got[0].Encoding)
	require.Equal(t, "deflate", got[2].Encoding)
	require.Equal(t, "W/\"abc\"", got[9].ETag)
	require.True(t, strings.HasPrefix(got[20].Body, "accept-encoding=\n"), "offload: the server saw no Accept-Encoding")
}

// decodeBody undoes the response's content coding; "deflate" may be
// zlib's format or raw deflate (HAProxy's raw-deflate is labelled
// deflate too).
func decodeBody(t *testing.T, encoding string, raw []byte) string {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "":
		return string(raw)
	case "gzip":
		gr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		r = gr
	case "deflate":
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(raw))
		}
	default:
		return "?" + encoding
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err, "decoding %s", encoding)
	return string(b)
}
