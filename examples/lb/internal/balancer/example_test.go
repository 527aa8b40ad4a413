package balancer_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// A balancer in front of one server that greets its clients.
func ExampleStart() {
	srv, _ := net.Listen("tcp", "127.0.0.1:0")
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello from app1")
			c.Close()
		}
	}()

	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: fmt.Appendf(nil, `
defaults
    mode tcp
    timeout connect 2s
listen web
    bind 127.0.0.1:0
    balance roundrobin
    server app1 %s
`, srv.Addr())})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()

	c, err := net.Dial("tcp", b.Addrs("web")[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)
	// Output: hello from app1
}
