package xprt_test

import (
	"fmt"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// A server with a silent client lets its goroutine go: the IdleWait
// starts a new one when the client's next bytes come (or the deadline
// passes), and reading picks up from there.
func ExampleIdleWait() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	defer server.Close()
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		panic(err)
	}
	done := make(chan string)
	var w xprt.IdleWait
	err = w.Wait(rc, time.Now().Add(time.Minute), func() {
		b := make([]byte, 16)
		n, _ := server.Read(b)
		done <- string(b[:n])
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("waiting goroutine-free in the poller:", xprt.Parked())
	_, _ = client.Write([]byte("next request"))
	fmt.Println(<-done)
	// Output:
	// waiting goroutine-free in the poller: 1
	// next request
}
