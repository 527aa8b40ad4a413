package h1

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// TestRoundTrip parses a message, serialises it, parses the result and
// checks nothing that matters changed.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		resp bool
		req  htx.Flags
		peer htx.Version
		want string // exact serialisation
	}{
		{
			name: "request with hop-by-hop fields",
			in:   "GET /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nAccept: */*\r\n\r\n",
			want: "GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
		},
		{
			name: "chunked request",
			in:   "POST /p HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: "POST /p HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "absolute form kept",
			in:   "GET http://h:81/x HTTP/1.1\r\nHost: h:81\r\n\r\n",
			want: "GET http://h:81/x HTTP/1.1\r\nHost: h:81\r\n\r\n",
		},
		{
			name: "HTTP/1.0 request gains Host-less 1.1 line and close",
			in:   "GET / HTTP/1.0\r\n\r\n",
			want: "GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
		},
		{
			name: "upgrade request",
			in:   "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			want: "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		},
		{
			name: "response with length", resp: true, peer: htx.Version11,
			in:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n",
		},
		{
			name: "close-delimited response to a 1.1 client becomes chunked", resp: true, peer: htx.Version11,
			in:   "HTTP/1.0 200 OK\r\nServer: s\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nServer: s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		},
		{
			name: "chunked response to a 1.0 client runs to close", resp: true, peer: htx.Version10,
			in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
		},
		{
			name: "HEAD response keeps its length", resp: true, req: htx.FlagRequest | htx.FlagHead, peer: htx.Version11,
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
		},
		{
			name: "204", resp: true, peer: htx.Version11,
			in:   "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
			want: "HTTP/1.1 204 No Content\r\n\r\n",
		},
		{
			name: "101", resp: true, req: htx.FlagRequest | htx.FlagUpgrade, peer: htx.Version11,
			in:   "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
			want: "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var m, m2 htx.Message
			var err error
			var out []byte
			if tc.resp {
				_, err = p.ParseResponse([]byte(tc.in), &m, tc.req)
				require.NoError(t, err)
				out, _ = AppendResponse(nil, &m, tc.req, tc.peer)
				_, err = p.ParseResponse(out, &m2, tc.req)
				require.NoError(t, err)
				require.Equal(t, m.Status, m2.Status)
			} else {
				_, err = p.ParseRequest([]byte(tc.in), &m)
				require.NoError(t, err)
				out, _ = AppendRequest(nil, &m)
				if m.Version == htx.Version11 {
					_, err = p.ParseRequest(out, &m2)
					require.NoError(t, err)
					require.Equal(t, string(m.Path()), string(m2.Path()))
					require.Equal(t, string(m.Authority()), string(m2.Authority()))
					require.Equal(t, FramingOf(&m), FramingOf(&m2))
				}
			}
			require.Equal(t, tc.want, string(out))
		})
	}
}

func TestChunkFraming(t *testing.T) {
	var m htx.Message
	m.AddTrailer("X-Sum", "1")
	b := AppendChunkHeader(nil, 255)
	b = append(b, make([]byte, 255)...)
	b = append(b, "\r\n"...)
	b = AppendLastChunk(b, &m)
	var d BodyDecoder
	var got htx.Message
	got.Flags = htx.FlagChunked
	d.Reset(&got)
	total := 0
	for !d.Done() {
		n, data, err := d.Decode(b, &got)
		require.NoError(t, err)
		b = b[n:]
		total += len(data)
	}
	require.Equal(t, 255, total)
	require.Empty(t, b)
	v, ok := got.GetTrailer("x-sum")
	require.True(t, ok)
	require.Equal(t, "1", string(v))
}

// typicalRequest is about 500 bytes with 10 fields, like a browser's.
var typicalRequest = []byte("GET /static/js/app.min.js?v=20260101 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/products/index.html\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=4f2c9a7e1b3d5c8f0a6e2d4b9c1f7a3e; theme=dark; lang=en\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"If-None-Match: \"5e8f-61a2b3c4d5e6f\"\r\n\r\n")

var typicalResponse = []byte("HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 GMT\r\n" +
	"Server: nginx\r\n" +
	"Content-Type: application/javascript; charset=utf-8\r\n" +
	"Content-Length: 48213\r\n" +
	"Last-Modified: Sun, 01 Nov 2026 08:00:00 GMT\r\n" +
	"ETag: \"5e8f-61a2b3c4d5e6f\"\r\n" +
	"Cache-Control: public, max-age=31536000, immutable\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"Connection: keep-alive\r\n\r\n")

func TestNoAllocationPerMessage(t *testing.T) {
	var p Parser
	var m htx.Message
	var out []byte
	tests := []struct {
		name string
		fn   func()
	}{
		{"parse request", func() {
			if _, err := p.ParseRequest(typicalRequest, &m); err != nil {
				t.Fatal(err)
			}
		}},
		{"parse response", func() {
			if _, err := p.ParseResponse(typicalResponse, &m, htx.FlagRequest); err != nil {
				t.Fatal(err)
			}
		}},
		{"serialise request", func() {
			_, _ = p.ParseRequest(typicalRequest, &m)
			out, _ = AppendRequest(out[:0], &m)
		}},
		{"serialise response", func() {
			_, _ = p.ParseResponse(typicalResponse, &m, htx.FlagRequest)
			out, _ = AppendResponse(out[:0], &m, htx.FlagRequest, htx.Version11)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn()
			require.Zero(t, testing.AllocsPerRun(100, tc.fn))
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	var p Parser
	var m htx.Message
	b.SetBytes(int64(len(typicalRequest)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseRequest(typicalRequest, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	var p Parser
	var m htx.Message
	b.SetBytes(int64(len(typicalResponse)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseResponse(typicalResponse, &m, htx.FlagRequest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSerialiseRequest(b *testing.B) {
	var p Parser
	var m htx.Message
	if _, err := p.ParseRequest(typicalRequest, &m); err != nil {
		b.Fatal(err)
	}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out, _ = AppendRequest(out[:0], &m)
	}
	b.SetBytes(int64(len(out)))
}

func BenchmarkSerialiseResponse(b *testing.B) {
	var p Parser
	var m htx.Message
	if _, err := p.ParseResponse(typicalResponse, &m, htx.FlagRequest); err != nil {
		b.Fatal(err)
	}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out, _ = AppendResponse(out[:0], &m, htx.FlagRequest, htx.Version11)
	}
	b.SetBytes(int64(len(out)))
}
