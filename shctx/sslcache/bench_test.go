package sslcache_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

// BenchmarkHandshake compares full handshakes with handshakes resumed
// through the cache over loopback (ECDSA P-256 certificate, X25519).
// "resumed-shared" disables the process's level so every lookup copies
// the session out of the /dev/shm file, as a second process would.
func BenchmarkHandshake(b *testing.B) {
	tc := newTestCert(b)
	for _, v := range versions {
		for _, mode := range []string{"full", "resumed-local", "resumed-shared"} {
			b.Run(v.name+"/"+mode, func(b *testing.B) {
				local := 0
				if mode == "resumed-shared" {
					local = -1
				}
				path := shmPathB(b)
				c, err := sslcache.Open(sslcache.Options{Path: path, Size: 20000, LocalSize: local})
				require.NoError(b, err)
				defer c.Close()
				cfg := serverConfig(tc, v.v)
				c.Configure(cfg)
				srv := startServer(b, cfg)
				var cache tls.ClientSessionCache
				if mode != "full" {
					cache = tls.NewLRUClientSessionCache(4)
				}
				ccfg := clientConfig(tc, v.v, cache)
				dial(b, srv.addr, ccfg) // warm: the session to resume
				b.ResetTimer()
				for range b.N {
					if resumed := dial(b, srv.addr, ccfg); resumed != (mode != "full") {
						b.Fatalf("resumed=%v in mode %s", resumed, mode)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			})
		}
	}
}

func shmPathB(b *testing.B) string {
	p := "/dev/shm/sslcache-bench-" + randHex(6)
	b.Cleanup(func() { _ = os.Remove(p) })
	return p
}

// BenchmarkCache measures the cache alone on a 120-byte session (the
// size of a TLS 1.3 server session without client certificates).
func BenchmarkCache(b *testing.B) {
	sess := make([]byte, 120)
	sess[1], sess[2] = 0x04, 1
	binary.BigEndian.PutUint64(sess[5:], uint64(time.Now().Unix()))
	const n = 4096
	ids := make([][32]byte, n)
	for i := range ids {
		_, _ = rand.Read(ids[i][:])
	}
	for _, level := range []struct {
		name  string
		local int
	}{{"shared", -1}, {"local", 2 * n}} {
		open := func(b *testing.B) *sslcache.Cache {
			c, err := sslcache.Open(sslcache.Options{Path: shmPathB(b), Size: 20000, LocalSize: level.local})
			require.NoError(b, err)
			b.Cleanup(func() { _ = c.Close() })
			return c
		}
		b.Run("GetInto/"+level.name, func(b *testing.B) {
			c := open(b)
			for _, id := range ids {
				c.Import(id, sess)
			}
			dst := make([]byte, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, ok := c.GetInto(ids[i%n], dst); !ok {
					b.Fatal("miss")
				}
			}
		})
		b.Run("GetInto-parallel/"+level.name, func(b *testing.B) {
			c := open(b)
			for _, id := range ids {
				c.Import(id, sess)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]byte, 4096)
				i := 0
				for pb.Next() {
					if _, ok := c.GetInto(ids[i%n], dst); !ok {
						b.Fatal("miss")
					}
					i++
				}
			})
		})
		b.Run("Get/"+level.name, func(b *testing.B) {
			c := open(b)
			for _, id := range ids {
				c.Import(id, sess)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, ok := c.Get(ids[i%n]); !ok {
					b.Fatal("miss")
				}
			}
		})
		b.Run("Put/"+level.name, func(b *testing.B) {
			c := open(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c.Put(ids[i%n], sess)
			}
		})
	}
}
