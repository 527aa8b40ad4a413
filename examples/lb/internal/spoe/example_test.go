package spoe_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
)

// An agent that scores a client address, and a Client asking it.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			f, _, err := spoe.ReadFrame(c, nil, 16380)
			if err != nil {
				return
			}
			var b []byte
			switch f.Type {
			case spoe.FrameHAProxyHello:
				b = spoe.AppendAgentHello(nil, 16380, "pipelining")
			case spoe.FrameNotify:
				msgs, _ := spoe.ParseMessages(f.Payload)
				score := int64(100)
				if msgs[0].Args[0].Value.IP.String() == "192.0.2.66" {
					score = 5
				}
				b = spoe.AppendFrameHead(nil, spoe.FrameAck, spoe.FlagFin, f.StreamID, f.FrameID)
				b = spoe.AppendAction(b, spoe.Action{Type: spoe.ActionSetVar, Scope: spoe.ScopeSess, Name: []byte("score"),
					Value: spoe.Value{Type: spoe.TypeInt32, Int: score}})
			default:
				return
			}
			if _, err := c.Write(spoe.FinishFrame(b, 0)); err != nil {
				return
			}
		}
	}()

	client := spoe.NewClient(spoe.ClientConfig{Pipelining: true, Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}})
	defer client.Close()
	addr := netip.MustParseAddr("192.0.2.66")
	msg := spoe.AppendMessage(nil, "check-ip", []spoe.Arg{{Name: "ip", Value: spoe.Value{Type: spoe.TypeIPv4, IP: addr}}})
	ack, err := client.Notify(time.Now().Add(5*time.Second), 0, 1, msg, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	acts, _ := spoe.ParseActions(nil, ack)
	for _, a := range acts {
		fmt.Printf("set-var(%s.%s) %s\n", spoe.ScopeName(a.Scope), a.Name, a.Value)
	}
	// Output: set-var(sess.score) 5
}
