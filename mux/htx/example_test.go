package htx_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// A header rule rewrites a request in place: the same code serves HTTP/1
// and HTTP/2 clients, since both muxes hand over an htx.Message.
func Example() {
	var m htx.Message
	m.SetRequest("GET", "https", "example.com", "/old/path?user=42&lang=fr")
	m.Add("X-Forwarded-For", "10.0.0.1")
	m.Add("Cookie", "a=1")

	m.SetPath("/new/path")
	m.Set("X-Forwarded-For", "192.0.2.7")
	m.Del("cookie")
	lang, _ := m.QueryParam("lang")

	fmt.Println(string(m.Path()))
	fmt.Println(string(lang))
	xff, _ := m.Get("x-forwarded-for")
	fmt.Println(string(xff), m.NumFields())

	// Reuse the message for the next request: no allocation once warm.
	m.Reset()
	fmt.Println(m.NumFields())
	// Output:
	// /new/path?user=42&lang=fr
	// fr
	// 192.0.2.7 1
	// 0
}
