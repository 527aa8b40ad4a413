package sslcache_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

// A TLS server keeps its sessions in the cache; a client's second
// connection resumes. Every process opening the same file shares them.
func ExampleCache_Configure() {
	tc, err := sharedCert()
	if err != nil {
		fmt.Println(err)
		return
	}
	// ssl-session-cache shm PATH, tune.ssl.cachesize, tune.ssl.lifetime;
	// an empty path keeps the cache to this process.
	cache, err := sslcache.New("", 20000, 300*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close()

	cfg := &tls.Config{Certificates: []tls.Certificate{tc.cert}}
	cache.Configure(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := serve(ln, cfg)
	defer srv.Close()

	client := &tls.Config{ServerName: serverName, RootCAs: tc.pool, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	for i := range 2 {
		c, err := tls.Dial("tcp", srv.addr, client)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, _ = io.ReadFull(c, make([]byte, 6))
		fmt.Printf("connection %d resumed: %v\n", i+1, c.ConnectionState().DidResume)
		c.Close()
	}
	fmt.Println("sessions stored:", cache.Stats().Stores)
	// Output:
	// connection 1 resumed: false
	// connection 2 resumed: true
	// sessions stored: 2
}
