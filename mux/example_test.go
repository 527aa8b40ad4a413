package mux_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/mux"
)

// In a TCP-mode proxy the pass-through mux serves every connection, even
// one whose TLS handshake negotiated h2.
func ExampleBest() {
	e, err := mux.Best("", "h2", mux.SideFront, mux.ModeTCP)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q %s\n", e.Name, e.Modes)
	// Output: "" tcp
}
