// Command gocopy is the plain Go proxy the TCP benchmark measures lb
// against: for each accepted connection it dials the server and runs
// io.Copy in both directions. Between two *net.TCPConn, io.Copy reaches
// TCPConn.ReadFrom, which splices through a pipe the runtime keeps for the
// call's whole life, so this is what the standard library alone achieves.
//
//	gocopy -listen 127.0.0.1:8000 -connect 127.0.0.1:9000 [-copy] [-rcvbuf N] [-sndbuf N]
//
// With -copy the source is hidden behind a plain io.Reader, so io.Copy
// falls back to its 32 KiB buffer: the no-splice contender. -rcvbuf and
// -sndbuf set SO_RCVBUF and SO_SNDBUF on both sockets of a connection, as
// the tune.rcvbuf.* and tune.sndbuf.* keywords do for the other proxies.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/proxyblocks/proxyblocks/bench/internal/serve"
)

// rcvBuf and sndBuf are the socket buffer sizes asked for; 0 leaves them.
var rcvBuf, sndBuf int

func main() {
	listen := flag.String("listen", "127.0.0.1:8000", "listen address")
	connect := flag.String("connect", "127.0.0.1:9000", "server address")
	copyOnly := flag.Bool("copy", false, "copy through a buffer instead of splicing")
	flag.IntVar(&rcvBuf, "rcvbuf", 0, "SO_RCVBUF for both sockets (0: the kernel's sizing)")
	flag.IntVar(&sndBuf, "sndbuf", 0, "SO_SNDBUF for both sockets (0: the kernel's sizing)")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gocopy:", err)
		os.Exit(1)
	}
	_ = serve.Until(ln, func(c net.Conn) { proxy(c.(*net.TCPConn), *connect, *copyOnly) })
}

// proxy proxies one connection until both directions have ended.
func proxy(client *net.TCPConn, addr string, copyOnly bool) {
	defer client.Close()
	sc, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	server := sc.(*net.TCPConn)
	defer server.Close()
	for _, c := range []*net.TCPConn{client, server} {
		if rcvBuf > 0 {
			_ = c.SetReadBuffer(rcvBuf)
		}
		if sndBuf > 0 {
			_ = c.SetWriteBuffer(sndBuf)
		}
	}
	done := make(chan struct{})
	go func() {
		pass(server, client, copyOnly)
		close(done)
	}()
	pass(client, server, copyOnly)
	<-done
}

// pass copies src to dst, then half-closes dst so the end propagates.
func pass(dst, src *net.TCPConn, copyOnly bool) {
	if copyOnly {
		_, _ = io.Copy(dst, struct{ io.Reader }{src})
	} else {
		_, _ = io.Copy(dst, src)
	}
	_ = dst.CloseWrite()
}
