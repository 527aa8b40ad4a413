package testnet

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

// TestPeerClosesHeldConnections: a handler that holds its connection ends
// with the test, and nothing is left behind.
func TestPeerClosesHeldConnections(t *testing.T) {
	check := Snapshot(t)
	t.Run("held", func(t *testing.T) {
		addr, running := Peer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, "hi\n")
			_, _ = io.Copy(io.Discard, c) // held until the cleanup closes it
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "hi\n" {
			t.Fatalf("greeting %q, %v", line, err)
		}
		if n := running.Load(); n != 1 {
			t.Fatalf("running = %d, want 1", n)
		}
	})
	check()
}

func TestClientHelloNamesTheServer(t *testing.T) {
	h := ClientHello(t, "a.example.com")
	if len(h) < 6 || h[0] != 0x16 || h[5] != 1 {
		t.Fatalf("not a TLS handshake record holding a ClientHello: % x", h[:min(len(h), 8)])
	}
	if !bytes.Contains(h, []byte("a.example.com")) {
		t.Fatal("the server name is not in the hello")
	}
}
