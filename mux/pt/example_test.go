package pt_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/proxyblocks/proxyblocks/mux"
	_ "github.com/proxyblocks/proxyblocks/mux/pt"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// A TCP-mode frontend connection gets the pass-through mux, whose single
// stream is the connection itself.
func Example() {
	client, server := net.Pipe()
	defer client.Close()
	m, err := mux.New(xprt.NewRaw(server), "", mux.SideFront, mux.ModeTCP)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	st, _ := m.Accept(context.Background())
	go func() { client.Write([]byte("hi")); client.Close() }()
	b, _ := io.ReadAll(st.(mux.Tunnel))
	fmt.Println(m.Name(), string(b))
	// Output: pt hi
}
