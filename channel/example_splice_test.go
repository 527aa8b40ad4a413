//go:build linux && !proxyblocks_nosplice

package channel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// A balancer links the client's connection and the server's with a
// tunnel; with both ends raw and option splice-request/splice-response,
// the bytes move by splice(2) through pipes borrowed only while they are
// in flight.
func ExampleRunTunnel() {
	client, front := loopback()
	back, server := loopback()
	defer client.Close()
	defer server.Close()

	pipes, _ := buffer.NewPipePool(buffer.PipePoolConfig{Max: 1024})
	defer pipes.Close()
	cfg := channel.TunnelConfig{
		Pipes:         pipes,
		SpliceRequest: channel.SpliceAlways, SpliceResponse: channel.SpliceAlways,
		ClientTimeout: 30 * time.Second, ServerTimeout: 30 * time.Second,
	}
	done := make(chan channel.Result)
	go func() {
		r, _ := channel.RunTunnel(context.Background(), xprt.NewRaw(front), xprt.NewRaw(back), cfg)
		done <- r
	}()

	_, _ = client.Write([]byte("hello"))
	_ = client.(*net.TCPConn).CloseWrite()
	req, _ := io.ReadAll(server)
	_, _ = server.Write([]byte("world!"))
	_ = server.(*net.TCPConn).CloseWrite()
	res, _ := io.ReadAll(client)

	r := <-done
	fmt.Printf("%s %s\n", req, res)
	fmt.Println(r.TermState(), r.FirstShut, r.Request.Out, r.Response.Out, r.Request.Spliced)
	// Output:
	// hello world!
	// -- client 5 6 5
}
