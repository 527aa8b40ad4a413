package serve_test

import (
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/proxyblocks/proxyblocks/bench/internal/serve"
)

// An echo server that runs until the process is told to stop.
func ExampleUntil() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	stopped := make(chan error)
	go func() {
		stopped <- serve.Until(ln, func(c net.Conn) {
			defer c.Close()
			_, _ = io.Copy(c, c)
		})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	_, _ = c.Write([]byte("ping"))
	got := make([]byte, 4)
	_, _ = io.ReadFull(c, got) // answered: Until is running, signals caught
	_ = c.Close()
	fmt.Println(string(got))
	_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM) // as a bench script stops it
	fmt.Println(<-stopped)
	// Output:
	// ping
	// <nil>
}
