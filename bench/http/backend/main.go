// Command backend is the HTTP server behind the HTTP benchmarks and the
// manual checks of lb's HTTP mode: HTTP/1.1 and clear-text HTTP/2 (prior
// knowledge) on one port. GET answers a short body naming the server;
// POST answers the size of the body it read.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	name := flag.String("name", "backend", "name put in answers")
	flag.Parse()
	body := []byte("hello from " + *name + "\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			// Go's HTTP/1 server is not full duplex: read the body
			// whole, then answer its size.
			n, _ := io.Copy(io.Discard, r.Body)
			_, _ = fmt.Fprintf(w, "%d\n", n)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Server", *name)
		_, _ = w.Write(body)
	})
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: *addr, Handler: h, Protocols: &p}
	log.Fatal(srv.ListenAndServe())
}
