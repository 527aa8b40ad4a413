package xprt_test

import (
	"fmt"
	"net"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// A raw transport over a TCP socket exposes the socket, so the data path
// can splice; over an in-memory pipe it cannot.
func ExampleNewRaw() {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	t := xprt.NewRaw(a)
	_, splice := t.Raw()
	fmt.Println(t.Name(), splice)
	// Output: raw false
}
