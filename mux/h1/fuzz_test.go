package h1

import (
	"errors"
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
	"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\na",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\rContent-Length: 5\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"\r\n\nGET / HTTP/1.1\nHost: h\n\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
	"HTTP/1.1 999\r\n\r\n",
}

// fuzzMessage parses in whole and byte by byte and checks both give the
// same verdict, that refusals carry a 4xx/5xx status, and that an
// accepted head serialises into a head the parser accepts again.
func fuzzMessage(t *testing.T, in []byte, resp bool, req htx.Flags) {
	whole, errWhole := parseAll(t, in, resp, req, 0, true)
	split, errSplit := parseAll(t, in, resp, req, 1, true)
	if (errWhole == nil) != (errSplit == nil) {
		t.Fatalf("whole: %v, byte by byte: %v", errWhole, errSplit)
	}
	if errWhole != nil {
		var e1, e2 *Error
		if errors.As(errWhole, &e1) != errors.As(errSplit, &e2) {
			t.Fatalf("error kinds differ: %v / %v", errWhole, errSplit)
		}
		if e1 != nil && (e1.Status < 400 || e1.Status > 599 || e1.Status != e2.Status) {
			t.Fatalf("statuses %d / %d", e1.Status, e2.Status)
		}
		return
	}
	if string(whole.body) != string(split.body) || whole.used != split.used || whole.m.Flags != split.m.Flags {
		t.Fatalf("whole and byte-by-byte parses differ")
	}
	var p Parser
	var again htx.Message
	if resp {
		out, _ := AppendResponse(nil, &whole.m, req, htx.Version11)
		if _, err := p.ParseResponse(out, &again, req); err != nil {
			t.Fatalf("serialised response refused: %v\n%q", err, out)
		}
		return
	}
	out, _ := AppendRequest(nil, &whole.m)
	if whole.m.Version == htx.Version11 {
		if _, err := p.ParseRequest(out, &again); err != nil {
			t.Fatalf("serialised request refused: %v\n%q", err, out)
		}
		if string(again.Path()) != string(whole.m.Path()) || FramingOf(&again) != FramingOf(&whole.m) {
			t.Fatalf("round trip changed the request: %q", out)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzMessage(t, in, false, 0)
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false, false)
	}
	f.Fuzz(func(t *testing.T, in []byte, head, upgrade bool) {
		req := htx.FlagRequest
		if head {
			req |= htx.FlagHead
		}
		if upgrade {
			req |= htx.FlagUpgrade
		}
		fuzzMessage(t, in, true, req)
	})
}
