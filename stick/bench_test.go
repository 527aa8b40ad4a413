package stick

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
)

// The benchmarks below do the work of "track-sc0 src" plus an HTTP request
// on a table of 1M IPv4 entries storing conn_cur, conn_rate(10s),
// http_req_rate(10s) and gpc0: look the source up (creating it if
// needed), count a connection and a request, end the connection, touch
// and release (one call). A mutex-guarded Go map doing the same work runs beside it.
// The table reads its own clock (a freq.CachedClock unless Config.Clock is
// set); the map reads freq.SystemClock, as a plain Go service would.

const benchEntries = 1 << 20

var benchStore = []DataSpec{{DataConnCur, 0, 0}, {DataConnRate, 10 * time.Second, 0}, {DataHTTPReqRate, 10 * time.Second, 0}, {DataGPC0, 0, 0}}

func benchKeys(n int) [][4]byte {
	keys := make([][4]byte, n)
	for i := range keys {
		binary.BigEndian.PutUint32(keys[i][:], uint32(i)*2654435761)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}

func newBenchTable(b *testing.B, sync bool) *Table {
	t, err := New(Config{Name: "bench", Type: KeyIPv4, Size: benchEntries, Expire: 30 * time.Second, Store: benchStore, Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func stickWork(t *Table, k []byte) {
	e, err := t.GetOrCreate(k)
	if err != nil {
		panic(err)
	}
	now := t.Now() // one read of the table's clock for the whole operation
	e.Inc(DataConnCur, 1)
	e.IncAt(DataConnRate, 1, now)
	e.IncAt(DataHTTPReqRate, 1, now)
	e.Inc(DataGPC0, 1)
	e.Dec(DataConnCur, 1)
	e.TouchReleaseAt(now)
}

// mapRec is what the map baseline stores per key: the same counters.
type mapRec struct {
	connCur  uint32
	gpc0     uint32
	expire   uint32
	connRate freq.Ctr
	reqRate  freq.Ctr
}

type mutexMap struct {
	mu sync.Mutex
	m  map[[4]byte]*mapRec
}

func (m *mutexMap) work(k [4]byte, now uint32) {
	m.mu.Lock()
	r := m.m[k]
	if r == nil {
		r = &mapRec{}
		m.m[k] = r
	}
	r.connCur++
	r.connRate.Update(now, 10000, 1)
	r.reqRate.Update(now, 10000, 1)
	r.gpc0++
	r.connCur--
	r.expire = now + 30000
	m.mu.Unlock()
}

var (
	benchOnce  sync.Once
	benchKeySl [][4]byte
)

func sharedKeys() [][4]byte {
	benchOnce.Do(func() { benchKeySl = benchKeys(benchEntries) })
	return benchKeySl
}

func BenchmarkTrack(b *testing.B) {
	keys := sharedKeys()
	for _, sync := range []bool{false, true} {
		name := "stick"
		if sync {
			name = "stick-sync"
		}
		var t *Table
		setup := func(b *testing.B) {
			if t == nil {
				t = newBenchTable(b, sync)
				for i := range keys {
					stickWork(t, keys[i][:])
				}
			}
		}
		b.Run(name+"/single", func(b *testing.B) {
			setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			for i := 0; b.Loop(); i++ {
				stickWork(t, keys[i&(benchEntries-1)][:])
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			setup(b)
			var seed atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919) * 104729)
				for pb.Next() {
					stickWork(t, keys[i&(benchEntries-1)][:])
					i++
				}
			})
		})
		b.Run(name+"/churn", func(b *testing.B) {
			// Half the keys are absent: the full table evicts on every miss.
			setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := keys[i&(benchEntries-1)]
				if i&1 == 1 {
					k[0] ^= 0x80
				}
				stickWork(t, k[:])
			}
		})
		b.Cleanup(func() {
			if t != nil {
				t.Close()
			}
		})
	}

	var m *mutexMap
	setupMap := func() {
		if m == nil {
			m = &mutexMap{m: make(map[[4]byte]*mapRec)}
			for _, k := range keys {
				m.work(k, freq.SystemClock.NowMs())
			}
		}
	}
	b.Run("mutexmap/single", func(b *testing.B) {
		setupMap()
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			m.work(keys[i&(benchEntries-1)], freq.SystemClock.NowMs())
		}
	})
	b.Run("mutexmap/parallel", func(b *testing.B) {
		setupMap()
		var seed atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919) * 104729)
			for pb.Next() {
				m.work(keys[i&(benchEntries-1)], freq.SystemClock.NowMs())
				i++
			}
		})
	})
}

// reportCPU locks the benchmark to its thread and returns the function
// that reports the thread's CPU time per operation ("cpu-ns/op"): on a
// shared machine it leaves out the time other processes held the CPU,
// which the wall-clock ns/op counts.
func reportCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		end := threadCPU()
		runtime.UnlockOSThread()
		if start >= 0 && end >= 0 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBytesPerEntry fills 1M entries and reports the live heap they
// take per entry (run it with -benchtime=1x).
func BenchmarkBytesPerEntry(b *testing.B) {
	keys := sharedKeys()
	for _, sync := range []bool{false, true} {
		name := "stick"
		if sync {
			name = "stick-sync"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				before := heapAfterGC()
				t := newBenchTable(b, sync)
				for i := range keys {
					stickWork(t, keys[i][:])
				}
				after := heapAfterGC()
				b.ReportMetric(float64(after-before)/benchEntries, "B/entry")
				runtime.KeepAlive(t)
				t.Close()
			}
		})
	}
	b.Run("mutexmap", func(b *testing.B) {
		for b.Loop() {
			before := heapAfterGC()
			m := &mutexMap{m: make(map[[4]byte]*mapRec)}
			now := freq.SystemClock.NowMs()
			for _, k := range keys {
				m.work(k, now)
			}
			after := heapAfterGC()
			b.ReportMetric(float64(after-before)/benchEntries, "B/entry")
			runtime.KeepAlive(m)
		}
	})
}
