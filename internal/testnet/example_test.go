package testnet_test

import (
	"bufio"
	"fmt"
	"net"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// An echo server that stops cleanly: stop closes the listener and waits
// for every handler.
func ExampleAccept() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	stop := testnet.Accept(ln, func(c net.Conn) {
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprint(c, line)
	})
	defer stop()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	reply, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(reply)
	// Output: hello
}
