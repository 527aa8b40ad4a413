package testcert_test

import (
	"crypto/tls"
	"fmt"
	"io"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
)

// A CA signs a server certificate; a client trusting the CA's pool
// verifies it. Outside a test (here, in an Example) the testing.TB is
// nil and an error would panic.
func Example() {
	ca := testcert.NewCA(nil, "example CA")
	srv := ca.Issue(nil, testcert.Options{Names: []string{"www.example.test", "127.0.0.1"}})

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srv.Certificate}})
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
		_, _ = io.WriteString(c, "hello\n")
	}()

	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "www.example.test"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	line := make([]byte, 6)
	_, _ = io.ReadFull(c, line)
	peer := c.ConnectionState().PeerCertificates[0]
	fmt.Printf("%s from %s, serial %v, %d certificates sent\n", line[:5], peer.Subject.CommonName, peer.SerialNumber,
		len(c.ConnectionState().PeerCertificates))
	// Output:
	// hello from www.example.test, serial 2, 2 certificates sent
}
