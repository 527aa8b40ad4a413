package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// spliceTo must deliver every byte, in order, across several pipe fills,
// and return nil at the peer's close.
func TestSpliceTo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := make([]byte, 3*spliceChunk+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(want)
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := os.CreateTemp(t.TempDir(), "sink")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := spliceTo(out, c.(*net.TCPConn)); err != nil {
		t.Fatalf("spliceTo: %v", err)
	}
	got, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want the %d sent, in order", len(got), len(want))
	}
}

// serveHTTP answers every request with body on a new listener, over
// HTTP/1.1 and HTTP/2 with prior knowledge; withLength says whether the
// answer gives its length.
func serveHTTP(t *testing.T, withLength bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if withLength {
			w.Header().Set("Content-Length", "5")
		} else {
			w.(http.Flusher).Flush() // chunked from here
		}
		_, _ = io.WriteString(w, "hello")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// oneRequest and oneH2Request read a whole answer and leave the
// connection open; oneRequest refuses an answer without a length, whose
// end it could not tell.
func TestIdleRequests(t *testing.T) {
	addr := serveHTTP(t, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ { // the connection stays usable
		if err := oneRequest(c); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	tr, err := oneH2Request(addr, false)
	if err != nil {
		t.Fatalf("HTTP/2 request: %v", err)
	}
	tr.CloseIdleConnections()

	c2, err := net.Dial("tcp", serveHTTP(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := oneRequest(c2); err == nil {
		t.Fatal("an answer without Content-Length was taken")
	}
}

// With -tls, the idle connections speak TLS: HTTP/2 after ALPN h2, and
// HTTP/1.1 after ALPN http/1.1, each answered in full.
func TestIdleRequestsTLS(t *testing.T) {
	protos := make(chan string, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	tr, err := oneH2Request(addr, true)
	if err != nil {
		t.Fatalf("HTTP/2 over TLS: %v", err)
	}
	tr.CloseIdleConnections()
	if p := <-protos; p != "HTTP/2.0" {
		t.Fatalf("the HTTP/2 client's request came over %s", p)
	}

	c, err := dialIdle(addr, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; got != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", got)
	}
	for i := 0; i < 2; i++ {
		if err := oneRequest(c); err != nil {
			t.Fatalf("HTTP/1.1 over TLS, request %d: %v", i, err)
		}
		if p := <-protos; p != "HTTP/1.1" {
			t.Fatalf("the HTTP/1.1 client's request came over %s", p)
		}
	}
}
