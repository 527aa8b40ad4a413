package h1

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// parsed is everything a whole message turned into.
type parsed struct {
	m    htx.Message
	body []byte
	used int
}

// parseAll parses a request (resp=false) or response from in, fed step
// bytes at a time (0 means all at once), and decodes its body.
func parseAll(t testing.TB, in []byte, resp bool, req htx.Flags, step int, eof bool) (*parsed, error) {
	t.Helper()
	var p Parser
	var d BodyDecoder
	out := &parsed{}
	avail := len(in)
	if step > 0 {
		avail = 0
	}
	grow := func() bool {
		if avail >= len(in) {
			return false
		}
		avail += step
		if avail > len(in) {
			avail = len(in)
		}
		return true
	}
	var n int
	var err error
	for {
		if resp {
			n, err = p.ParseResponse(in[:avail], &out.m, req)
		} else {
			n, err = p.ParseRequest(in[:avail], &out.m)
		}
		if err == ErrNeedMore && grow() {
			continue
		}
		break
	}
	if err != nil {
		return nil, err
	}
	pos := n
	d.Reset(&out.m)
	for !d.Done() {
		k, data, err := d.Decode(in[pos:avail], &out.m)
		pos += k
		out.body = append(out.body, data...)
		if err == ErrNeedMore {
			if grow() {
				continue
			}
			if eof {
				if err := d.EOF(); err != nil {
					return nil, err
				}
				break
			}
			return nil, err
		}
		if err != nil {
			return nil, err
		}
	}
	out.used = pos
	return out, nil
}

func TestParseRequestValid(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		method    string
		authority string
		path      string
		form      htx.Form
		version   htx.Version
		flags     htx.Flags
		body      string
		trailers  map[string]string
		fields    int
	}{
		{
			name:   "GET 1.1",
			in:     "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n",
			method: "GET", authority: "example.com", path: "/a/b?x=1", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless, fields: 2,
		},
		{
			name:   "HTTP/1.0 without Host closes",
			in:     "GET / HTTP/1.0\r\n\r\n",
			method: "GET", path: "/", version: htx.Version10,
			flags: htx.FlagRequest | htx.FlagBodyless | htx.FlagClose,
		},
		{
			name:   "HTTP/1.0 keep-alive",
			in:     "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			method: "GET", path: "/", version: htx.Version10,
			flags: htx.FlagRequest | htx.FlagBodyless | htx.FlagKeepAlive, fields: 1,
		},
		{
			name:   "bare LF line ends and leading empty line",
			in:     "\r\nPOST /p HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello",
			method: "POST", authority: "h", path: "/p", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagContentLength, body: "hello", fields: 2,
		},
		{
			name:   "chunked with extensions and trailers",
			in:     "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 42\r\nX-B: b\r\n\r\n",
			method: "POST", authority: "h", path: "/up", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagChunked, body: "hello world",
			trailers: map[string]string{"x-sum": "42", "X-B": "b"}, fields: 2,
		},
		{
			name:   "absolute form",
			in:     "GET http://Example.com:8080/x?y HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
			method: "GET", authority: "Example.com:8080", path: "/x?y", form: htx.FormAbsolute, version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless, fields: 1,
		},
		{
			name:   "absolute form with empty path",
			in:     "GET http://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "GET", authority: "h", path: "/?q=1", form: htx.FormAbsolute, version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless, fields: 1,
		},
		{
			name:   "CONNECT",
			in:     "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 3\r\n\r\n",
			method: "CONNECT", authority: "h:443", form: htx.FormAuthority, version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless | htx.FlagConnect, fields: 2,
		},
		{
			name:   "OPTIONS asterisk",
			in:     "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "OPTIONS", authority: "h", path: "*", form: htx.FormAsterisk, version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless, fields: 1,
		},
		{
			name:   "upgrade",
			in:     "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
			method: "GET", authority: "h", path: "/ws", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless | htx.FlagUpgrade, fields: 3,
		},
		{
			name:   "HEAD with expect and duplicate equal lengths",
			in:     "HEAD / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok",
			method: "HEAD", authority: "h", path: "/", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagHead | htx.FlagContentLength | htx.FlagExpectContinue, body: "ok", fields: 4,
		},
		{
			name:   "HTTP/1.2 is handled as 1.1, close",
			in:     "DELETE /x HTTP/1.2\r\nHost: h\r\nConnection: close\r\n\r\n",
			method: "DELETE", authority: "h", path: "/x", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless | htx.FlagClose, fields: 2,
		},
		{
			name:   "obs-text and tabs in values",
			in:     "GET / HTTP/1.1\r\nHost: h\r\nX-A:\t caf\xc3\xa9 \t\r\n\r\n",
			method: "GET", authority: "h", path: "/", version: htx.Version11,
			flags: htx.FlagRequest | htx.FlagBodyless, fields: 2,
		},
	}
	for _, tc := range tests {
		for _, step := range []int{0, 1, 7} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := parseAll(t, []byte(tc.in), false, 0, step, false)
				require.NoError(t, err)
				m := &out.m
				require.Equal(t, tc.method, string(m.Method()))
				require.Equal(t, tc.authority, string(m.Authority()))
				require.Equal(t, tc.path, string(m.Path()))
				require.Equal(t, tc.form, m.Form)
				require.Equal(t, tc.version, m.Version)
				require.Equal(t, tc.flags, m.Flags, "flags")
				require.Equal(t, tc.body, string(out.body))
				require.Equal(t, tc.fields, m.NumFields())
				require.Equal(t, len(tc.in), out.used, "every byte consumed")
				require.Equal(t, len(tc.trailers), m.NumTrailers())
				for k, v := range tc.trailers {
					got, ok := m.GetTrailer(k)
					require.True(t, ok, k)
					require.Equal(t, v, string(got))
				}
			})
		}
	}
}

func TestParseRequestRefused(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400},
		{"TE chunked twice in one field", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE chunked twice in two fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
		{"TE chunked not last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"TE gzip then chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE with quote", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE with space before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
		{"CL 1 and 2", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"CL list 1, 2", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400},
		{"CL plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n", 400},
		{"CL minus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
		{"CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
		{"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
		{"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
		{"CL trailing comma", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\n", 400},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400},
		{"CR LF injection via bare CR ending", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\rContent-Length: 5\r\n\r\n", 400},
		{"NUL in name", "GET / HTTP/1.1\r\nHost: h\r\nX\x00A: a\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nnocolon\r\n\r\n", 400},
		{"control char in target", "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"double space in request line", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
		{"HTTP/2 in HTTP/1 syntax", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"HTTP/0.9 style", "GET /\r\n\r\n", 400},
		{"missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"absolute form vs Host mismatch", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", 400},
		{"userinfo in absolute form", "GET http://u@a/ HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"asterisk outside OPTIONS", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"CONNECT without port", "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400},
		{"chunk data without CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 400},
		{"NUL in chunk extension", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x00\r\na\r\n0\r\n\r\n", 400},
		{"negative chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
		{"obs-fold in trailer", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n", 400},
	}
	for _, tc := range tests {
		for _, step := range []int{0, 1} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := parseAll(t, []byte(tc.in), false, 0, step, false)
				var e *Error
				require.True(t, errors.As(err, &e), "want *Error, got %v", err)
				require.Equal(t, tc.status, e.Status, e.Reason)
				require.ErrorIs(t, err, ErrMalformed)
				require.NotEmpty(t, e.Reason)
			})
		}
	}
}

func TestParseLimits(t *testing.T) {
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'a'
	}
	lim := Limits{BufSize: 128, MaxHeaders: 3, MaxBody: 10}
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"request line too long", "GET /" + string(long) + " HTTP/1.1\r\n\r\n", 414},
		{"headers too large", "GET / HTTP/1.1\r\nHost: h\r\nX-A: " + string(long) + "\r\n\r\n", 431},
		{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
		{"declared body over the limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413},
		{"chunked body over the limit", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", 413},
	}
	for _, tc := range tests {
		for _, step := range []int{0, 1} {
			t.Run(tc.name, func(t *testing.T) {
				p := Parser{Limits: lim}
				d := BodyDecoder{Limits: lim}
				var m htx.Message
				in := []byte(tc.in)
				avail := len(in)
				if step > 0 {
					avail = 1
				}
				var n int
				var err error
				for {
					n, err = p.ParseRequest(in[:avail], &m)
					if err == ErrNeedMore && avail < len(in) {
						avail++
						continue
					}
					break
				}
				if err == nil {
					d.Reset(&m)
					for err == nil && !d.Done() {
						var k int
						k, _, err = d.Decode(in[n:], &m)
						n += k
					}
				}
				var e *Error
				require.True(t, errors.As(err, &e), "want *Error, got %v", err)
				require.Equal(t, tc.status, e.Status, e.Reason)
			})
		}
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		req     htx.Flags
		status  int
		reason  string
		flags   htx.Flags
		framing Framing
		body    string
		eof     bool
	}{
		{
			name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
			status: 200, reason: "OK", flags: htx.FlagContentLength, framing: FrameLength, body: "abc",
		},
		{
			name: "HTTP/1.0 until close", in: "HTTP/1.0 200 OK\r\n\r\nall of it", eof: true,
			status: 200, reason: "OK", flags: htx.FlagClose, framing: FrameClose, body: "all of it",
		},
		{
			name: "chunked with trailers", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nGrpc-Status: 0\r\n\r\n",
			status: 200, reason: "OK", flags: htx.FlagChunked, framing: FrameChunked, body: "abc",
		},
		{
			name: "100 continue", in: "HTTP/1.1 100 Continue\r\nContent-Length: 10\r\n\r\n",
			status: 100, reason: "Continue", flags: htx.FlagBodyless, framing: FrameNone,
		},
		{
			name: "101 switching", in: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			req: htx.FlagRequest | htx.FlagUpgrade, status: 101, reason: "Switching Protocols",
			flags: htx.FlagBodyless | htx.FlagTunnel | htx.FlagUpgrade, framing: FrameNone,
		},
		{
			name: "204", in: "HTTP/1.1 204 No Content\r\n\r\n",
			status: 204, reason: "No Content", flags: htx.FlagBodyless, framing: FrameNone,
		},
		{
			name: "304 keeps its length", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
			status: 304, reason: "Not Modified", flags: htx.FlagBodyless | htx.FlagContentLength, framing: FrameNone,
		},
		{
			name: "HEAD response", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", req: htx.FlagRequest | htx.FlagHead,
			status: 200, reason: "OK", flags: htx.FlagBodyless, framing: FrameNone,
		},
		{
			name: "CONNECT established", in: "HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\n", req: htx.FlagRequest | htx.FlagConnect,
			status: 200, reason: "Connection established", flags: htx.FlagBodyless | htx.FlagTunnel, framing: FrameNone,
		},
		{
			name: "TE overrides CL and closes", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
			status: 200, reason: "OK", flags: htx.FlagChunked | htx.FlagClose, framing: FrameChunked, body: "x",
		},
		{
			name: "TE without chunked runs to close", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", eof: true,
			status: 200, reason: "OK", flags: htx.FlagClose, framing: FrameClose, body: "zzz",
		},
		{
			name: "no reason", in: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
			status: 404, flags: htx.FlagContentLength, framing: FrameNone,
		},
	}
	for _, tc := range tests {
		for _, step := range []int{0, 1, 5} {
			t.Run(tc.name, func(t *testing.T) {
				out, err := parseAll(t, []byte(tc.in), true, tc.req, step, tc.eof)
				require.NoError(t, err)
				m := &out.m
				require.False(t, m.IsRequest())
				require.Equal(t, tc.status, m.Status)
				require.Equal(t, tc.reason, string(m.Reason()))
				require.Equal(t, tc.flags, m.Flags, "flags")
				require.Equal(t, tc.framing, FramingOf(m))
				require.Equal(t, tc.body, string(out.body))
				require.Equal(t, len(tc.in), out.used)
			})
		}
	}
}

func TestParseResponseRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
		req  htx.Flags
	}{
		{"CL 1 and 2", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0},
		{"signed CL", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0},
		{"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", 0},
		{"no space after version", "HTTP/1.1200 OK\r\n\r\n", 0},
		{"unrequested 101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", htx.FlagRequest},
		{"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n", 0},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAll(t, []byte(tc.in), true, tc.req, 0, true)
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %v", err)
			require.Equal(t, 502, e.Status, e.Reason)
		})
	}
}

// TestPipelined checks that a parser stops at the end of one message so
// the next can be parsed from the rest.
func TestPipelined(t *testing.T) {
	in := []byte("POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nabGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
	out, err := parseAll(t, in, false, 0, 0, false)
	require.NoError(t, err)
	require.Equal(t, "ab", string(out.body))
	out2, err := parseAll(t, in[out.used:], false, 0, 0, false)
	require.NoError(t, err)
	require.Equal(t, "/2", string(out2.m.Path()))
}

// TestTargetCharacters: the characters RFC 3986 leaves out of a URI but
// clients send unencoded pass as haproxy 2.6 lets them pass; a fragment
// and bytes outside ASCII are refused, as there.
func TestTargetCharacters(t *testing.T) {
	for _, target := range []string{`/a"b`, "/a<b>", `/a\b`, "/a^b", "/a`b", "/a{b}", "/a|b", "/q?x=[1]&y=~%20"} {
		m, err := parseAll(t, []byte("GET "+target+" HTTP/1.1\r\nHost: h\r\n\r\n"), false, 0, 0, false)
		require.NoError(t, err, target)
		require.Equal(t, target, string(m.m.Path()))
	}
	for _, target := range []string{"/a#b", "/caf\xc3\xa9", "/a\x7fb"} {
		_, err := parseAll(t, []byte("GET "+target+" HTTP/1.1\r\nHost: h\r\n\r\n"), false, 0, 0, false)
		require.ErrorIs(t, err, ErrMalformed, "%q", target)
	}
}
