// Package shctx_test compares proxyblocks/shctx with freecache and
// fastcache doing the same work in the same run: 32-byte keys and
// 200-byte values, the shape of TLS sessions, over a key set that fits
// each cache so that Get always hits and Store replaces.
package shctx_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/coocood/freecache"

	"github.com/proxyblocks/proxyblocks/shctx"
)

const (
	nKeys    = 1 << 16
	keyLen   = 32
	valueLen = 200
	// Each cache gets about 4x the bytes of the data set, so none evicts.
	cacheBytes = 64 << 20
)

var keys, values = func() ([][]byte, [][]byte) {
	r := rand.New(rand.NewPCG(1, 2))
	k := make([][]byte, nKeys)
	v := make([][]byte, nKeys)
	for i := range k {
		k[i] = make([]byte, keyLen)
		v[i] = make([]byte, valueLen)
		for j := range k[i] {
			k[i][j] = byte(r.Uint32())
		}
		for j := range v[i] {
			v[i][j] = byte(r.Uint32())
		}
	}
	return k, v
}()

// cache is the work each contender does. The interface call costs the
// same for all three.
type cache interface {
	set(k, v []byte)
	get(k, dst []byte) int // -1 on a miss
	close()
}

type shctxCache struct{ c *shctx.Cache }

func (s shctxCache) set(k, v []byte) {
	if err := s.c.Store(k, v, 0); err != nil {
		panic(err)
	}
}

func (s shctxCache) get(k, dst []byte) int {
	n, ok := s.c.Get(k, dst)
	if !ok {
		return -1
	}
	return n
}

func (s shctxCache) close() { _ = s.c.Close() }

type freeCache struct{ c *freecache.Cache }

func (f freeCache) set(k, v []byte) {
	if err := f.c.Set(k, v, 0); err != nil {
		panic(err)
	}
}

func (f freeCache) get(k, dst []byte) int {
	v, err := f.c.GetWithBuf(k, dst)
	if err != nil {
		return -1
	}
	return len(v)
}

func (f freeCache) close() {}

type fastCache struct{ c *fastcache.Cache }

func (f fastCache) set(k, v []byte) { f.c.Set(k, v) }

func (f fastCache) get(k, dst []byte) int {
	v, ok := f.c.HasGet(dst[:0], k)
	if !ok {
		return -1
	}
	return len(v)
}

func (f fastCache) close() { f.c.Reset() }

var contenders = []struct {
	name string
	open func() cache
}{
	{"shctx", func() cache {
		// 256-byte blocks: one block per entry, as HAProxy sizes its
		// SSL cache, and room for twice the entries..
		c, err := shctx.Open(shctx.Options{BlockSize: 256, Blocks: 2 * nKeys, MaxKeyLen: keyLen})
		if err != nil {
			panic(err)
		}
		return shctxCache{c}
	}},
	{"shctx-shm", func() cache {
		// The same cache in a file under /dev/shm, as processes share it.
		dir, err := os.MkdirTemp(shmDir(), "shctx-bench")
		if err != nil {
			panic(err)
		}
		c, err := shctx.Open(shctx.Options{Path: filepath.Join(dir, "cache"), BlockSize: 256, Blocks: 2 * nKeys, MaxKeyLen: keyLen})
		os.RemoveAll(dir) // the mapping keeps the pages
		if err != nil {
			panic(err)
		}
		return shctxCache{c}
	}},
	{"freecache", func() cache { return freeCache{freecache.NewCache(cacheBytes)} }},
	{"fastcache", func() cache { return fastCache{fastcache.New(cacheBytes)} }},
}

// cpuTime is the CPU time this process has used. On a shared machine the
// wall-clock ns/op counts time other programs held the CPUs; CPU time per
// operation does not, so the benchmarks report both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure resets the timer and returns a function reporting cpu-ns/op.
func measure(b *testing.B) func() {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func shmDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func filled(b *testing.B, open func() cache) cache {
	c := open()
	b.Cleanup(c.close)
	for i := range keys {
		c.set(keys[i], values[i])
	}
	dst := make([]byte, valueLen)
	for i := range keys {
		if c.get(keys[i], dst) != valueLen {
			b.Fatalf("key %d lost after filling", i)
		}
	}
	return c
}

func BenchmarkGet(b *testing.B) {
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			c := filled(b, ct.open)
			dst := make([]byte, 256)
			misses := 0
			done := measure(b)
			defer done()
			for i := 0; i < b.N; i++ {
				if c.get(keys[i&(nKeys-1)], dst) != valueLen {
					misses++
				}
			}
			if misses > 0 {
				b.Fatalf("%d misses", misses)
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			c := filled(b, ct.open)
			var misses, seed atomic.Int64
			done := measure(b)
			defer done()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]byte, 256)
				i := int(seed.Add(7919))
				for pb.Next() {
					if c.get(keys[i&(nKeys-1)], dst) != valueLen {
						misses.Add(1)
					}
					i++
				}
			})
			if misses.Load() > 0 {
				b.Fatalf("%d misses", misses.Load())
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			c := filled(b, ct.open)
			done := measure(b)
			defer done()
			for i := 0; i < b.N; i++ {
				j := i & (nKeys - 1)
				c.set(keys[j], values[j])
			}
		})
	}
}

func BenchmarkStoreParallel(b *testing.B) {
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			c := filled(b, ct.open)
			var seed atomic.Int64
			done := measure(b)
			defer done()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				for pb.Next() {
					j := i & (nKeys - 1)
					c.set(keys[j], values[j])
					i++
				}
			})
		})
	}
}

// BenchmarkMixedParallel is a session cache's load: nine lookups for each
// new session.
func BenchmarkMixedParallel(b *testing.B) {
	for _, ct := range contenders {
		b.Run(ct.name, func(b *testing.B) {
			c := filled(b, ct.open)
			var seed atomic.Int64
			done := measure(b)
			defer done()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]byte, 256)
				i := int(seed.Add(7919))
				for pb.Next() {
					j := i & (nKeys - 1)
					if i%10 == 0 {
						c.set(keys[j], values[j])
					} else {
						c.get(keys[j], dst)
					}
					i++
				}
			})
		})
	}
}

func TestContendersAgree(t *testing.T) {
	for _, ct := range contenders {
		t.Run(ct.name, func(t *testing.T) {
			c := ct.open()
			defer c.close()
			dst := make([]byte, 256)
			if c.get(keys[0], dst) != -1 {
				t.Fatal("hit in an empty cache")
			}
			c.set(keys[0], values[0])
			if n := c.get(keys[0], dst); n != valueLen || fmt.Sprint(dst[:n]) != fmt.Sprint(values[0]) {
				t.Fatalf("got %d bytes back", n)
			}
		})
	}
}
