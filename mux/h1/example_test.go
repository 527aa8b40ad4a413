package h1_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Parse a request arriving in two pieces, rewrite it, and serialise it
// for a server: the hop-by-hop fields go, framing is rebuilt.
func Example() {
	var p h1.Parser
	var m htx.Message
	in := []byte("POST /upload HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")

	_, err := p.ParseRequest(in[:20], &m)
	fmt.Println(err == h1.ErrNeedMore)
	n, err := p.ParseRequest(in, &m)
	fmt.Println(n, err, string(m.Authority()))

	m.SetPath("/v2/upload")
	m.Add("X-Forwarded-Proto", "https")
	out, framing := h1.AppendRequest(nil, &m)
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	fmt.Println(framing == h1.FrameLength)

	_, err = p.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), &m)
	var perr *h1.Error
	fmt.Println(errors.As(err, &perr), perr.Status)
	// Output:
	// true
	// 82 <nil> example.com
	// POST /v2/upload HTTP/1.1
	// Host: example.com
	// X-Forwarded-Proto: https
	// Content-Length: 5
	// Connection: close
	//
	// true
	// true 400
}
