package stick

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIndexAgainstMap drives a shard index with random inserts and
// removals, with a seed and a mask small enough that probe runs collide
// and wrap, and checks every key against a Go map after each step.
func TestIndexAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fixed  bool
		hashOf func(k uint32) uint64
	}{
		{"fixed keys", true, func(k uint32) uint64 { return mix32(k, 42) }},
		// Every key hashes to one of four homes: long runs that wrap.
		{"colliding hashes", false, func(k uint32) uint64 { return uint64(k%4) << 32 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x index
			x.init()
			want := map[uint32]uint32{} // key -> slot
			tagOf := func(k uint32) uint32 {
				if tc.fixed {
					return k
				}
				return uint32(tc.hashOf(k) >> 32)
			}
			// For colliding hashes the tag does not identify the key, so
			// the test keeps slot -> key to find its word.
			keyOfSlot := map[uint32]uint32{}
			rehome := func(w uint64) uint64 {
				if tc.fixed {
					return mix32(uint32(w>>32), 42)
				}
				return tc.hashOf(keyOfSlot[uint32(w)-1])
			}
			find := func(k uint32) (uint32, bool) {
				h := tc.hashOf(k)
				for i := x.home(h); ; i = (i + 1) & x.mask {
					w := x.words[i]
					if w == 0 {
						return 0, false
					}
					if uint32(w>>32) == tagOf(k) && keyOfSlot[uint32(w)-1] == k {
						return uint32(w) - 1, true
					}
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			next := uint32(0)
			for step := range 3000 {
				k := uint32(r.IntN(400))
				if slot, ok := want[k]; ok {
					require.True(t, x.remove(tc.hashOf(k), slot, rehome), "step %d: remove %d", step, k)
					delete(want, k)
					delete(keyOfSlot, slot)
				} else {
					x.insert(tc.hashOf(k), tagOf(k), next, rehome)
					want[k] = next
					keyOfSlot[next] = k
					next++
				}
				require.Equal(t, len(want), int(x.n))
				if step%97 == 0 || step > 2900 {
					for k := range uint32(400) {
						slot, ok := find(k)
						ws, wok := want[k]
						require.Equal(t, wok, ok, "step %d key %d", step, k)
						require.Equal(t, ws, slot, "step %d key %d", step, k)
					}
				}
			}
			require.LessOrEqual(t, int(x.n)*4, len(x.words)*3, "load stays at most 3/4")
		})
	}
}

// TestEvictionBoundedWhenAllTouched fills a one-shard table, then touches
// every entry so that the whole expiry order is stale: creating an entry
// must still succeed, by evicting an unreferenced entry after a bounded
// number of moves, and never a referenced one.
func TestEvictionBoundedWhenAllTouched(t *testing.T) {
	const size = 4 * evictScan * strictEvictTries
	tb, clk := newTable(t, Config{Type: KeyIPv4, Size: size, Shards: 1, Expire: time.Hour})
	held, err := tb.GetOrCreate(ip4(0))
	require.NoError(t, err)
	for i := range uint32(size - 1) {
		e, err := tb.GetOrCreate(ip4(i + 1))
		require.NoError(t, err)
		e.Release()
	}
	clk.Advance(1000)
	for i := range uint32(size) {
		e, err := tb.Lookup(ip4(i))
		require.NoError(t, err)
		e.Touch()
		e.Release()
	}
	for i := range uint32(8) {
		e, err := tb.GetOrCreate(ip4(1<<20 + i))
		require.NoError(t, err, "creation %d", i)
		e.Release()
	}
	// One eviction frees a batch (up to 1/64th of a small table).
	require.LessOrEqual(t, tb.Len(), size)
	require.GreaterOrEqual(t, tb.Len(), size-size/64)
	got, err := tb.Lookup(ip4(0))
	require.NoError(t, err, "the referenced entry stays")
	require.Same(t, held, got)
	got.Release()
	held.Release()
}

// TestEntryKeepsTableAlive checks that an entry held after its table is
// dropped still reads its table: the slab's first word keeps it alive.
func TestEntryKeepsTableAlive(t *testing.T) {
	e := func() *Entry {
		tb, err := New(Config{Name: "gone", Type: KeyIPv4, Size: 10, Store: []DataSpec{{DataGPC0, 0, 0}}})
		require.NoError(t, err)
		e, err := tb.GetOrCreate(ip4(7))
		require.NoError(t, err)
		e.Inc(DataGPC0, 3)
		return e
	}()
	for range 3 {
		runtime.GC()
		_ = make([]byte, 1<<20) // reuse freed memory if the table was freed
	}
	require.Equal(t, "gone", e.Table().Name())
	require.Equal(t, int64(3), e.Get(DataGPC0))
	require.Equal(t, "0.0.0.7", e.Key())
	e.Release()
}

// TestEntryLayout checks the layout the benchmarks rely on: four counters
// and an IPv4 key in one 64-byte block.
func TestEntryLayout(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Size: 10, Store: benchStore})
	require.Equal(t, 28, int(entryHdr))
	require.Equal(t, 64, tb.stride, fmt.Sprint(tb.layout))
}
