package shctx

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// quiet drops the warnings tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

func openT(t *testing.T, o Options) *Cache {
	t.Helper()
	c, err := Open(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func get(c *Cache, key string) (string, bool) {
	buf := make([]byte, 1<<16)
	n, ok := c.Get([]byte(key), buf)
	return string(buf[:n]), ok
}

// val builds a value whose bytes depend on the key and its length, so a
// reader can tell a torn or misplaced value from a good one.
func val(key string, n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = key[i%len(key)] ^ byte(i)
	}
	return v
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"block size not multiple of 8", Options{BlockSize: 100}, "block size 100"},
		{"block size too small", Options{BlockSize: 8}, "block size 8"},
		{"negative blocks", Options{Blocks: -1}, "blocks -1"},
		{"key longer than block", Options{BlockSize: 64, MaxKeyLen: 65}, "max key length 65"},
		{"shards not power of two", Options{Shards: 3}, "shards 3"},
		{"index not power of two", Options{IndexSize: 100}, "index size 100"},
		{"negative extra", Options{ExtraSize: -1}, "extra size -1"},
		{"negative steal", Options{StealAfter: -1}, "steal after"},
		{"region too large", Options{Blocks: 1 << 30, BlockSize: 1 << 20}, "region of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.o)
			require.ErrorIs(t, err, ErrOptions)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	c := openT(t, Options{})
	st := c.Stats()
	require.GreaterOrEqual(t, st.Blocks, DefaultBlocks)
	require.Equal(t, st.Blocks, st.BlocksFree)
	require.Equal(t, DefaultMaxKeyLen, c.MaxKeyLen())
	require.Greater(t, len(c.shards), 1, "a default cache is sharded")
}

func TestStoreGet(t *testing.T) {
	c := openT(t, Options{BlockSize: 64, Blocks: 64, Shards: 1, MaxKeyLen: 32})
	for _, tc := range []struct {
		name   string
		key    string
		vlen   int
		blocks int
	}{
		{"empty value", "k-empty", 0, 1},
		{"fills one block", "k-one", 64 - 5, 1},
		{"one byte over", "k-two", 64 - 5 + 1, 2},
		{"spans blocks", "k-span", 300, 5},
		{"key of max length", "0123456789abcdef0123456789abcdef", 10, 1},
		{"largest entry", "k-max", 64*64 - 5, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.Stats().BlocksUsed
			v := val(tc.key, tc.vlen)
			require.NoError(t, c.Store([]byte(tc.key), v, 0))
			got, ok := get(c, tc.key)
			require.True(t, ok)
			require.Equal(t, string(v), got)
			if tc.blocks < 64 {
				require.Equal(t, tc.blocks, c.Stats().BlocksUsed-before, "blocks used by the row")
			}
			require.NoError(t, c.check())
		})
	}
	_, ok := get(c, "absent")
	require.False(t, ok)
	st := c.Stats()
	require.Equal(t, uint64(1), st.Misses)
	require.Equal(t, uint64(6), st.Stores)
	require.Equal(t, uint64(6), st.Hits)
}

func TestGetShortBuffer(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 16})
	v := val("key", 100)
	require.NoError(t, c.Store([]byte("key"), v, 0))
	for _, size := range []int{0, 1, 28, 29, 99, 100, 200} {
		dst := make([]byte, size)
		n, ok := c.Get([]byte("key"), dst)
		require.True(t, ok)
		require.Equal(t, 100, n, "full length is reported whatever the buffer")
		require.Equal(t, v[:min(size, 100)], dst[:min(size, 100)])
	}
}

func TestKeyAndSizeErrors(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 8, Shards: 2, MaxKeyLen: 16})
	require.ErrorIs(t, c.Store(nil, []byte("v"), 0), ErrKeySize)
	require.ErrorIs(t, c.Store(make([]byte, 17), []byte("v"), 0), ErrKeySize)
	err := c.Store([]byte("k"), make([]byte, 4*32), 0)
	require.ErrorIs(t, err, ErrTooLarge, "a shard has 4 blocks of 32 bytes")
	require.Contains(t, err.Error(), "a shard has 4")
	require.Equal(t, 4*32-1, c.MaxValueLen(1))
	require.NoError(t, c.Store([]byte("k"), make([]byte, c.MaxValueLen(1)), 0))
	n, ok := c.Get(make([]byte, 17), nil)
	require.False(t, ok)
	require.Zero(t, n)
	require.False(t, c.Delete(nil))
}

func TestReplaceKeepsOneEntry(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 32, Shards: 1})
	for _, n := range []int{10, 200, 0, 31, 90} {
		v := val("k", n)
		require.NoError(t, c.Store([]byte("k"), v, 0))
		got, ok := get(c, "k")
		require.True(t, ok)
		require.Equal(t, string(v), got)
		st := c.Stats()
		require.Equal(t, 1, st.Entries)
		require.Equal(t, max((n+1+31)/32, 1), st.BlocksUsed)
		require.NoError(t, c.check())
	}
}

func TestDelete(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 32, Shards: 1})
	require.NoError(t, c.Store([]byte("a"), val("a", 100), 0))
	require.NoError(t, c.Store([]byte("b"), val("b", 10), 0))
	require.True(t, c.Delete([]byte("a")))
	require.False(t, c.Delete([]byte("a")))
	_, ok := get(c, "a")
	require.False(t, ok)
	_, ok = get(c, "b")
	require.True(t, ok)
	st := c.Stats()
	require.Equal(t, 1, st.BlocksUsed, "deleted blocks are free at once")
	require.Equal(t, uint64(1), st.Deletes)
	require.NoError(t, c.check())
}

// With one shard of 8 one-block rows, the ninth store evicts the oldest
// row that was not read since; a read row gets a second chance.
func TestLRUEviction(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 8, Shards: 1})
	key := func(i int) []byte { return []byte(fmt.Sprintf("key%d", i)) }
	for i := range 8 {
		require.NoError(t, c.Store(key(i), val("x", 20), 0))
	}
	require.Equal(t, 0, c.Stats().BlocksFree)
	_, ok := c.Get(key(0), nil) // key0 is now referenced
	require.True(t, ok)

	require.NoError(t, c.Store(key(8), val("x", 20), 0))
	_, ok = c.Get(key(1), nil)
	require.False(t, ok, "key1 is the least recently used unreferenced row")
	_, ok = c.Get(key(0), nil)
	require.True(t, ok, "key0 was read and gets a second chance")
	require.Equal(t, uint64(1), c.Stats().Evictions)

	// A two-block row evicts the next two cold rows.
	require.NoError(t, c.Store(key(9), val("x", 40), 0))
	for _, i := range []int{2, 3} {
		_, ok = c.Get(key(i), nil)
		require.False(t, ok, "key%d evicted", i)
	}
	for _, i := range []int{0, 4, 5, 6, 7, 8, 9} {
		_, ok = c.Get(key(i), nil)
		require.True(t, ok, "key%d kept", i)
	}
	require.Equal(t, uint64(3), c.Stats().Evictions)
	require.NoError(t, c.check())
}

// Freed blocks scattered through the shard serve one long row without
// evicting anything: rows are chains, not contiguous runs.
func TestFragmentedBlocksServeLongRow(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 16, Shards: 1})
	key := func(i int) []byte { return []byte(fmt.Sprintf("key%02d", i)) }
	for i := range 16 {
		require.NoError(t, c.Store(key(i), val("x", 20), 0))
	}
	for i := 0; i < 16; i += 2 {
		require.True(t, c.Delete(key(i)))
	}
	require.Equal(t, 8, c.Stats().BlocksFree)
	long := val("long", 8*32-4)
	require.NoError(t, c.Store([]byte("long"), long, 0))
	got, ok := get(c, "long")
	require.True(t, ok)
	require.Equal(t, string(long), got)
	st := c.Stats()
	require.Zero(t, st.Evictions)
	require.Zero(t, st.BlocksFree)
	for i := 1; i < 16; i += 2 {
		_, ok = c.Get(key(i), nil)
		require.True(t, ok)
	}
	require.NoError(t, c.check())

	// Full, and every row was read since it was stored: the clock sweeps
	// once, clearing the marks, then evicts in storing order as many rows
	// as the new one needs.
	require.NoError(t, c.Store([]byte("more"), val("more", 60), 0))
	for _, i := range []int{1, 3} {
		_, ok = c.Get(key(i), nil)
		require.False(t, ok, "key%d evicted", i)
	}
	_, ok = c.Get(key(5), nil)
	require.True(t, ok)
	require.Equal(t, uint64(2), c.Stats().Evictions)
	require.NoError(t, c.check())
}

func TestExpiry(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 4, Shards: 1})
	past := time.Now().Add(-time.Second)
	future := time.Now().Add(time.Hour)
	require.NoError(t, c.StoreUntil([]byte("old"), []byte("v"), past))
	require.NoError(t, c.StoreUntil([]byte("new"), []byte("v"), future))
	require.NoError(t, c.Store([]byte("forever"), []byte("v"), 0))
	require.NoError(t, c.Store([]byte("ttl"), []byte("v"), time.Hour))

	var seen []string
	require.NoError(t, c.Iterate(func(k, _ []byte, exp time.Time) bool {
		seen = append(seen, string(k))
		if string(k) == "forever" {
			require.True(t, exp.IsZero())
		} else {
			require.WithinDuration(t, future, exp, time.Minute)
		}
		return true
	}))
	require.ElementsMatch(t, []string{"new", "forever", "ttl"}, seen, "iterate skips expired entries")

	_, ok := get(c, "old")
	require.False(t, ok)
	for _, k := range []string{"new", "forever", "ttl"} {
		_, ok = get(c, k)
		require.True(t, ok, k)
	}
	st := c.Stats()
	require.Equal(t, uint64(1), st.Expired)
	require.Equal(t, 3, st.Entries, "the expired row was reclaimed by the lookup")

	// An expired row at the cold end is reclaimed before live rows.
	require.NoError(t, c.StoreUntil([]byte("old2"), []byte("v"), past))
	require.NoError(t, c.Store([]byte("x"), []byte("v"), 0))
	require.Equal(t, uint64(0), c.Stats().Evictions)
	require.NoError(t, c.check())
}

func TestIterate(t *testing.T) {
	// Room for every entry in any shard, whatever the hash seed.
	c := openT(t, Options{BlockSize: 32, Blocks: 4 * 256, Shards: 4})
	want := map[string]string{}
	for i := range 50 {
		k := fmt.Sprintf("key%d", i)
		v := val(k, i*3)
		want[k] = string(v)
		require.NoError(t, c.Store([]byte(k), v, 0))
	}
	got := map[string]string{}
	require.NoError(t, c.Iterate(func(k, v []byte, _ time.Time) bool {
		got[string(k)] = string(v)
		// The callback runs without a lock, so it may use the cache.
		c.Delete(k)
		return true
	}))
	require.Equal(t, want, got)
	require.Zero(t, c.Stats().Entries)

	for i := range 10 {
		require.NoError(t, c.Store([]byte(fmt.Sprint(i)), nil, 0))
	}
	calls := 0
	require.NoError(t, c.Iterate(func(_, _ []byte, _ time.Time) bool {
		calls++
		return false
	}))
	require.Equal(t, 1, calls)
	require.NoError(t, c.check())
}

func TestClosed(t *testing.T) {
	c, err := Open(Options{Blocks: 16})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Store([]byte("k"), nil, 0), ErrClosed)
	_, ok := c.Get([]byte("k"), nil)
	require.False(t, ok)
	require.False(t, c.Delete([]byte("k")))
	require.ErrorIs(t, c.Iterate(func(_, _ []byte, _ time.Time) bool { return true }), ErrClosed)
	require.Equal(t, Stats{}, c.Stats())
	require.Nil(t, c.Extra())
}

func TestGetDoesNotAllocate(t *testing.T) {
	c := openT(t, Options{})
	key := bytes.Repeat([]byte{7}, 32)
	require.NoError(t, c.Store(key, val("k", 200), time.Hour))
	dst := make([]byte, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := c.Get(key, dst); !ok {
			panic("miss")
		}
	})
	require.Zero(t, allocs)
	allocs = testing.AllocsPerRun(100, func() {
		_ = c.Store(key, dst[:200], 0)
	})
	require.Zero(t, allocs)
}

// Many goroutines store, read and delete over a cache far smaller than
// their key space; every value read must be intact and the structure must
// hold at the end.
func TestConcurrentGoroutines(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 256, Shards: 4, MaxKeyLen: 16})
	workers := 4 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			buf := make([]byte, 512)
			for range 2000 {
				k := fmt.Sprintf("k%d", r.IntN(300))
				switch op := r.IntN(10); {
				case op < 4:
					if err := c.Store([]byte(k), val(k, r.IntN(200)), 0); err != nil {
						errs <- err
						return
					}
				case op < 9:
					n, ok := c.Get([]byte(k), buf)
					if ok && !bytes.Equal(buf[:n], val(k, n)) {
						errs <- fmt.Errorf("torn value for %s", k)
						return
					}
				default:
					c.Delete([]byte(k))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, c.check())
	st := c.Stats()
	require.Greater(t, st.Evictions, uint64(0))
	require.Zero(t, st.LockSteals)
	require.Zero(t, st.Resets, "no operation found the structure damaged")
}

// The lock alone must exclude: goroutines increment a plain word in the
// extra area under one shard's lock, and no increment may be lost.
func TestLockExcludesGoroutines(t *testing.T) {
	c := openT(t, Options{Blocks: 16, ExtraSize: 64})
	word := (*uint64)(unsafePointer(c.Extra()))
	const workers, rounds = 4, 5000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				c.lock(&c.shards[0])
				slowIncrement(word)
				c.unlock(&c.shards[0])
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(workers*rounds), *word)
}

func TestLayoutMismatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache")
	base := Options{Path: path, BlockSize: 64, Blocks: 64, ExtraSize: 16}
	openT(t, base)

	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"block size", func(o *Options) { o.BlockSize = 128 }, "block size 64 in the file, 128 requested"},
		{"blocks", func(o *Options) { o.Blocks = 128 }, "blocks per shard"},
		{"shards", func(o *Options) { o.Shards = 2 }, "shards"},
		{"extra", func(o *Options) { o.ExtraSize = 0 }, "extra size 16 in the file, 0 requested"},
		{"key length", func(o *Options) { o.MaxKeyLen = 8 }, "max key length"},
		{"index", func(o *Options) { o.IndexSize = 8 }, "index size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			_, err := Open(o)
			require.ErrorIs(t, err, ErrLayout)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), path)
		})
	}

	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("junk"), 1000), 0o600))
	_, err := Open(Options{Path: junk})
	require.ErrorIs(t, err, ErrLayout)
	require.Contains(t, err.Error(), "magic")

	tiny := filepath.Join(dir, "tiny")
	require.NoError(t, os.WriteFile(tiny, []byte("x"), 0o600))
	_, err = Open(Options{Path: tiny})
	require.ErrorIs(t, err, ErrLayout)

	_, err = Open(Options{Path: filepath.Join(dir, "no", "such", "dir")})
	require.Error(t, err)
	require.Contains(t, err.Error(), "open")
}

// Two opens of one file see each other's entries and the same extra area.
func TestSharedFileTwoMappings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	o := Options{Path: path, Blocks: 128, ExtraSize: 64}
	a := openT(t, o)
	b := openT(t, o)
	require.NoError(t, a.Store([]byte("k"), []byte("from a"), 0))
	got, ok := get(b, "k")
	require.True(t, ok)
	require.Equal(t, "from a", got)
	copy(b.Extra(), "note")
	require.Equal(t, "note", string(a.Extra()[:4]))
	require.Equal(t, a.seed, b.seed, "both use the region's hash seed")

	// A file left with a size but no magic (its creator died mid-init)
	// is initialised by the next opener.
	half := filepath.Join(t.TempDir(), "half")
	g, err := Options{Path: half}.resolve()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(half, nil, 0o600))
	require.NoError(t, os.Truncate(half, int64(g.size)))
	c := openT(t, Options{Path: half})
	require.NoError(t, c.Store([]byte("k"), []byte("v"), 0))
	require.NoError(t, c.check())
}

func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// settle waits briefly for counts that other tests' cleanup may still be
// moving, then reports whether want held.
func settle(want func() bool) bool {
	for range 100 {
		if want() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return want()
}

func TestCloseLeavesNoFDOrGoroutine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	fds, gs := fdCount(t), runtime.NumGoroutine()
	for range 3 {
		c, err := Open(Options{Path: path, Blocks: 64})
		require.NoError(t, err)
		require.NoError(t, c.Store([]byte("k"), []byte("v"), 0))
		require.LessOrEqual(t, fdCount(t), fds, "an open cache holds no fd")
		require.NoError(t, c.Close())
	}
	require.True(t, settle(func() bool { return fdCount(t) <= fds }), "fds: %d before, %d after", fds, fdCount(t))
	require.True(t, settle(func() bool { return runtime.NumGoroutine() <= gs }), "goroutines: %d before, %d after", gs, runtime.NumGoroutine())
}

// Garbage written into the region by someone else must cost entries, not
// a crash, and leave a consistent structure.
func TestDamagedRegion(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 64, Shards: 2, Logger: quiet})
	r := rand.New(rand.NewPCG(1, 2))
	region := c.mem[c.g.shardsOff:]
	for round := range 200 {
		for i := range 20 {
			require.NoError(t, c.Store([]byte(fmt.Sprint(round, i)), val("v", r.IntN(80)), 0))
		}
		// Damage a few words in the shard headers, the index or the blocks,
		// leaving the lock and dirty words alone.
		for range 1 + r.IntN(3) {
			off := r.IntN(len(region) - 4)
			if off%128 < 8 && uint64(off) < c.g.extraOff-c.g.shardsOff {
				continue
			}
			region[off] = byte(r.Uint32())
		}
		buf := make([]byte, 100)
		for i := range 20 {
			k := []byte(fmt.Sprint(round, i))
			switch i % 3 {
			case 0:
				c.Get(k, buf)
			case 1:
				c.Delete(k)
			default:
				require.NoError(t, c.Store(k, val("w", r.IntN(80)), 0))
			}
		}
		require.NoError(t, c.Iterate(func(_, _ []byte, _ time.Time) bool { return true }))
		c.Stats()
		if round%20 == 19 {
			// Reads do not scan everything, so repair what the damage
			// left before checking.
			for i := range c.shards {
				if c.shards[i].check() != nil {
					c.rebuild(&c.shards[i])
				}
			}
			require.NoError(t, c.check())
		}
	}
	require.Greater(t, c.Stats().Resets, uint64(0), "some damage was detected")
}

func TestHashSpreads(t *testing.T) {
	// Keys differing in one byte at any position, and keys of every length
	// up to 40, all hash apart.
	seen := map[uint64]string{}
	base := bytes.Repeat([]byte{'a'}, 40)
	for l := 1; l <= 40; l++ {
		for pos := range l {
			k := bytes.Clone(base[:l])
			k[pos] = 'b'
			h := hashKey(42, k)
			prev, dup := seen[h]
			require.False(t, dup, "%q and %q collide", k, prev)
			seen[h] = string(k)
		}
	}
	require.NotEqual(t, hashKey(1, []byte("k")), hashKey(2, []byte("k")), "the seed changes the hash")
}

// slowIncrement widens the window between reading and writing the word,
// so that without mutual exclusion increments are lost at once.
// The busy work lands in the region too (two words further on), out of
// sight of the race detector, which cannot see this lock's ordering.
func slowIncrement(word *uint64) {
	v := *word
	acc := v
	for i := range 200 {
		acc = acc*31 + uint64(i)
	}
	*(*uint64)(unsafe.Add(unsafe.Pointer(word), 16)) = acc
	*word = v + 1
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// Rewriting a value of the same size happens in place and counts as a
// use: the row outlives older rows that were not touched.
func TestReplaceInPlaceCountsAsUse(t *testing.T) {
	c := openT(t, Options{BlockSize: 32, Blocks: 4, Shards: 1})
	for i := range 4 {
		require.NoError(t, c.Store([]byte(fmt.Sprint("k", i)), val("a", 20), 0))
	}
	first := c.shards[0].hdr.lruHead
	require.NoError(t, c.Store([]byte("k0"), val("b", 25), 0))
	require.Equal(t, first, c.shards[0].hdr.lruHead, "same blocks, same place")
	require.NoError(t, c.Store([]byte("k4"), val("c", 20), 0))
	got, ok := get(c, "k0")
	require.True(t, ok)
	require.Equal(t, string(val("b", 25)), got)
	_, ok = get(c, "k1")
	require.False(t, ok, "k1 is the oldest untouched row")
	require.NoError(t, c.check())
}
