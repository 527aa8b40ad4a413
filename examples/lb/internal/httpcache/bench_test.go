package httpcache

import (
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// BenchmarkHit is the work of a hit: the lookup, the stored head
// rebuilt with Age, the body handed out.
func BenchmarkHit(b *testing.B) {
	c, err := New(Config{Name: "b", Size: 4 << 20, MaxObjectSize: 16 << 10, MaxAge: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	body := strings.Repeat("x", 4096)
	req := request("GET", "/bench?x=1", "User-Agent: bench", "Accept: */*")
	resp := response(200, body, "Cache-Control: max-age=60", "Content-Type: text/plain", "Server: bench", "ETag: \"abc\"")
	var tx Txn
	_, _ = c.Use(&tx, req, now)
	p := c.Store(&tx, req, resp, now)
	p.Write([]byte(body))
	if !p.Commit(resp) {
		b.Fatal("not kept")
	}
	var out htx.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		tx.Reset()
		hit, _ := c.Use(&tx, req, now)
		if hit == nil {
			b.Fatal("miss")
		}
		hit.Head(&out, now)
		if len(hit.Body()) != len(body) {
			b.Fatal("short body")
		}
		hit.Release()
	}
}

// BenchmarkStore is the work of keeping a response: the head encoded,
// the body copied, the entry written.
func BenchmarkStore(b *testing.B) {
	c, err := New(Config{Name: "b", Size: 4 << 20, MaxObjectSize: 16 << 10, MaxAge: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	body := []byte(strings.Repeat("x", 4096))
	req := request("GET", "/bench?x=1", "User-Agent: bench", "Accept: */*")
	resp := response(200, string(body), "Cache-Control: max-age=60", "Content-Type: text/plain", "Server: bench")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var tx Txn
		_, _ = c.Use(&tx, req, now)
		p := c.Store(&tx, req, resp, now)
		p.Write(body)
		if !p.Commit(resp) {
			b.Fatal("not kept")
		}
	}
}
