package conn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/proxyblocks/proxyblocks/conn"
)

// A listener that requires a PROXY header learns the client's address from
// it; a dialer sends one on behalf of that client.
func Example() {
	ctx := context.Background()
	l, err := conn.ListenConfig{AcceptProxy: true, MaxConn: 100}.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()

	seen := make(chan string, 1)
	go l.Serve(ctx, func(ctx context.Context, c *conn.Conn) {
		line := make([]byte, 5)
		io.ReadFull(c, line)
		seen <- fmt.Sprintf("%s says %q via %s", c.Src(), line, c.ProxyHeader().Authority())
	})

	client := netip.MustParseAddrPort("203.0.113.7:4242")
	front := netip.MustParseAddrPort("198.51.100.1:443")
	h := conn.NewProxyHeader(client, front)
	h.AddTLV(conn.TLVAuthority, []byte("www.example.com"))
	h.AddCRC32C()

	d := conn.Dialer{SendProxy: 2}
	c, err := d.Dial(ctx, "tcp", l.Addr().String(), h)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	fmt.Println(<-seen)
	// Output: 203.0.113.7:4242 says "hello" via www.example.com
}

// Parsing into a reused header allocates nothing; the length returned
// tells where the application's bytes begin.
func ExampleParseProxyHeader() {
	in := []byte("PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\nGET / HTTP/1.1\r\n")
	var h conn.ProxyHeader
	n, err := conn.ParseProxyHeader(in, &h)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.String())
	fmt.Printf("%q\n", in[n:])
	// Output:
	// v1 PROXY TCP4 192.0.2.1:56324 -> 192.0.2.2:443
	// "GET / HTTP/1.1\r\n"
}

// Connection rules run on the bare socket, before any byte is read.
func ExampleRule() {
	blocked := netip.MustParsePrefix("192.0.2.0/24")
	cfg := conn.ListenConfig{Rules: []conn.Rule{
		func(c *conn.Conn) conn.Verdict {
			if blocked.Contains(c.Src().Addr()) {
				return conn.SilentDrop
			}
			return conn.Continue
		},
	}}
	fmt.Println(len(cfg.Rules), conn.SilentDrop)
	// Output: 1 silent-drop
}

// A dialer can reach its server through a SOCKS4 proxy, as HAProxy's
// "socks4" server option does: the proxy is asked to connect to the
// server, and a refusal comes back as a *conn.SOCKS4Error.
func ExampleDialer_socks4() {
	req, _ := conn.AppendSOCKS4Request(nil, netip.MustParseAddrPort("192.0.2.10:443"), "HAProxy")
	fmt.Printf("% x\n", req)

	err := conn.ParseSOCKS4Reply([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
	var refused *conn.SOCKS4Error
	fmt.Println(errors.As(err, &refused), refused.Code)

	d := conn.Dialer{SOCKS4: "127.0.0.1:1080", SOCKS4UserID: "HAProxy", SendProxy: 1}
	_ = d // d.Dial(ctx, "tcp", "192.0.2.10:443", header) goes through the proxy
	// Output:
	// 04 01 01 bb c0 00 02 0a 48 41 50 72 6f 78 79 00
	// true 91
}
