package channel_test

import (
	"fmt"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
)

// A server with a silent client lets its goroutine go: the IdleWait
// starts a new one when the client's next bytes come (or the deadline
// passes), and reading picks up from there.
func ExampleIdleWait() {
	client, server := loopback()
	defer client.Close()
	defer server.Close()
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		panic(err)
	}
	done := make(chan string)
	var w channel.IdleWait
	err = w.Wait(rc, time.Now().Add(time.Minute), func() {
		b := make([]byte, 16)
		n, _ := server.Read(b)
		done <- string(b[:n])
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("waiting goroutine-free in the poller:", channel.Parked())
	_, _ = client.Write([]byte("next request"))
	fmt.Println(<-done)
	// Output:
	// waiting goroutine-free in the poller: 1
	// next request
}
