package channel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// loopback returns both ends of a TCP connection on 127.0.0.1.
func loopback() (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	s, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	return c, s
}

// A server with many mostly idle connections starts each tunnel and lets
// the accepting goroutine go: while neither side sends anything the
// tunnel holds no goroutine, buffer or pipe, and done reports how it
// ended.
func ExampleTunnel_Start() {
	client, front := loopback()
	back, server := loopback()
	defer client.Close()
	defer server.Close()

	tun, err := channel.NewTunnel(xprt.NewRaw(front), xprt.NewRaw(back), channel.TunnelConfig{
		ClientTimeout: 30 * time.Second, ServerTimeout: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	done := make(chan channel.Result, 1)
	if err := tun.Start(context.Background(), func(r channel.Result) { done <- r }); err != nil {
		panic(err)
	}

	_, _ = client.Write([]byte("ping"))
	_ = client.(*net.TCPConn).CloseWrite()
	req, _ := io.ReadAll(server)
	_ = server.(*net.TCPConn).CloseWrite()

	r := <-done
	fmt.Println(string(req), r.TermState(), r.Request.Out)
	// Output:
	// ping -- 4
}
