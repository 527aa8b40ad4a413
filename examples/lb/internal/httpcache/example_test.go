package httpcache_test

import (
	"fmt"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/httpcache"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// A response kept on its way to the client answers the next request for
// the same URL, with an Age field.
func Example() {
	c, err := httpcache.New(httpcache.Config{Name: "pages", Size: 1 << 20, MaxObjectSize: 4096, MaxAge: time.Minute})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	req := new(htx.Message)
	req.SetRequest("GET", "", "example.test", "/index.html")
	req.Flags |= htx.FlagRequest
	req.Version = htx.Version11
	now := time.Now()

	// The first request misses; its response is kept as it goes out.
	var tx httpcache.Txn
	hit, _ := c.Use(&tx, req, now)
	fmt.Println("first request served from the cache:", hit != nil)
	resp := new(htx.Message)
	resp.SetResponse(200, "OK")
	resp.Add("Cache-Control", "max-age=30")
	body := []byte("<h1>hello</h1>")
	resp.Flags |= htx.FlagContentLength
	resp.ContentLength = int64(len(body))
	if p := c.Store(&tx, req, resp, now); p != nil {
		p.Write(body)
		fmt.Println("kept:", p.Commit(resp))
	}

	// Five seconds later the same URL is answered from the cache.
	tx.Reset()
	hit, _ = c.Use(&tx, req, now.Add(5*time.Second))
	defer hit.Release()
	var out htx.Message
	hit.Head(&out, now.Add(5*time.Second))
	age, _ := out.Get("age")
	fmt.Printf("%d, age %s, body %s\n", out.Status, age, hit.Body())
	// Output:
	// first request served from the cache: false
	// kept: true
	// 200, age 5, body <h1>hello</h1>
}
