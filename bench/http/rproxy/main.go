// Command rproxy is the Go baseline of the HTTP benchmark: the standard
// library's httputil.ReverseProxy in front of one server, as most Go
// proxies are built.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8001", "listen address")
	target := flag.String("target", "http://127.0.0.1:8000", "server URL")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	log.Fatal(http.ListenAndServe(*addr, rp))
}
