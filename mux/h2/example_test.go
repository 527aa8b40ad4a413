package h2_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/h2"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// A front-side mux answers a request that a back-side mux sends over
// the same loopback connection.
func Example() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, _ := ln.Accept()
		front, _ := h2.New(xprt.NewRaw(c), mux.SideFront, h2.Config{})
		defer front.Close()
		st, err := front.Accept(context.Background())
		if err != nil {
			return
		}
		s := st.(*h2.Stream)
		defer s.Close()
		req := s.Request()
		var resp htx.Message
		resp.SetResponse(200, "")
		resp.Add("Content-Type", "text/plain")
		_ = s.WriteResponse(&resp)
		_, _ = fmt.Fprintf(s, "you asked for %s %s", req.Method(), req.Path())
		_ = s.Finish(nil)
	}()

	c, _ := net.Dial("tcp", ln.Addr().String())
	back, _ := mux.New(xprt.NewRaw(c), "h2", mux.SideBack, mux.ModeHTTP)
	defer back.Close()
	st, _ := back.Open(context.Background())
	s := st.(mux.HTTPStream)
	var req htx.Message
	req.SetRequest("GET", "http", "example.com", "/hello")
	req.Flags |= htx.FlagBodyless
	_ = s.WriteRequest(&req)
	var resp htx.Message
	_ = s.ReadResponse(&resp)
	body, _ := io.ReadAll(s)
	_ = s.Close()
	ct, _ := resp.Get("content-type")
	fmt.Println(resp.Status, string(ct), string(body))
	<-done
	// Output: 200 text/plain you asked for GET /hello
}
