package serve

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// Until serves every accepted connection and returns once SIGTERM closes
// the listener.
func TestUntilServesThenStopsOnSignal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Until(ln, func(c net.Conn) {
			defer c.Close()
			_, _ = io.Copy(c, c)
		})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hi" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	_ = c.Close()
	// The handler's Notify is in place once a connection was served.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Until: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Until did not return after SIGTERM")
	}
}
