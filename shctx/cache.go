package shctx

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Cache is an open shared cache. Its methods are safe for concurrent use by
// many goroutines, and the region it maps may be open in other processes at
// the same time. Close must not run concurrently with other methods.
type Cache struct {
	mem        []byte
	g          geometry
	seed       uint64
	shardShift uint // hash >> shardShift picks the shard
	pid        uint32
	stealAfter time.Duration
	logger     *slog.Logger
	path       string
	shards     []shard
}

// Open maps a cache as described by opts: a new anonymous one when
// opts.Path is empty, otherwise the file at opts.Path, created and
// initialised if it is new or empty. Opening an existing file whose layout
// differs from opts fails with an error wrapping [ErrLayout].
func Open(opts Options) (*Cache, error) {
	g, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	c := &Cache{
		g:          g,
		pid:        uint32(os.Getpid()),
		stealAfter: opts.StealAfter,
		logger:     opts.Logger,
		path:       opts.Path,
	}
	if c.stealAfter == 0 {
		c.stealAfter = DefaultStealAfter
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.pid >= pidMax {
		return nil, fmt.Errorf("shctx: process id %d does not fit a lock word: %w", c.pid, ErrOptions)
	}
	if opts.Path == "" {
		c.mem, err = mapAnon(&g)
		if err == nil {
			c.attach()
			c.initRegion()
		}
	} else {
		mode := uint32(opts.Mode.Perm())
		if mode == 0 {
			mode = 0o600
		}
		c.mem, err = mapFile(opts.Path, mode, &g, func(mem []byte) {
			c.mem = mem
			c.attach()
			c.initRegion()
		})
		if err == nil {
			c.attach()
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cache) header() *header { return (*header)(unsafe.Pointer(&c.mem[0])) }

// attach builds this process's views of the shards.
func (c *Cache) attach() {
	g := &c.g
	base := unsafe.Pointer(&c.mem[0])
	c.seed = c.header().seed
	c.shardShift = uint(64 - bits.TrailingZeros32(g.shards))
	c.shards = make([]shard, g.shards)
	for i := range c.shards {
		idx := unsafe.Add(base, g.indexOff+uint64(i)*uint64(g.buckets)*4)
		c.shards[i] = shard{
			hdr:     (*shardHdr)(unsafe.Add(base, g.shardsOff+uint64(i)*uint64(unsafe.Sizeof(shardHdr{})))),
			buckets: unsafe.Slice((*uint32)(idx), g.buckets),
			blocks:  unsafe.Add(base, g.blocksOff+uint64(i)*uint64(g.bps)*g.stride),
			stride:  uintptr(g.stride),
			bs:      g.blockSize,
			bps:     g.bps,
			mask:    g.buckets - 1,
		}
	}
}

// initRegion formats a region nobody else can see yet.
func (c *Cache) initRegion() {
	for i := range c.shards {
		s := &c.shards[i]
		*s.hdr = shardHdr{}
		s.reset()
		s.hdr.resets = 0
	}
	c.g.writeHeader(c.header(), newSeed())
	c.seed = c.header().seed
}

// Close unmaps the region. Entries stay in a named file for other and
// later processes; an anonymous region is gone. Close is idempotent.
func (c *Cache) Close() error {
	if c.mem == nil {
		return nil
	}
	mem := c.mem
	c.mem, c.shards = nil, nil
	if err := unix.Munmap(mem); err != nil {
		return fmt.Errorf("shctx: munmap %s: %w", c.where(), err)
	}
	return nil
}

func (c *Cache) where() string {
	if c.path == "" {
		return "anonymous region"
	}
	return c.path
}

// Extra returns the user area of Options.ExtraSize bytes, shared like the
// rest of the region and zero when the region is created. The cache never
// touches it; callers coordinate their own access, for example with the
// atomic operations of sync/atomic on aligned words (the area starts on a
// 64-byte boundary).
func (c *Cache) Extra() []byte {
	if c.mem == nil || c.g.extra == 0 {
		return nil
	}
	return c.mem[c.g.extraOff : c.g.extraOff+uint64(c.g.extra) : c.g.extraOff+uint64(c.g.extra)]
}

// MaxKeyLen returns the longest key the cache accepts.
func (c *Cache) MaxKeyLen() int { return int(c.g.maxKey) }

// MaxValueLen returns the longest value that fits with a key of keyLen
// bytes: an entry may use at most one shard's blocks.
func (c *Cache) MaxValueLen(keyLen int) int {
	return int(min(uint64(c.g.bps)*uint64(c.g.blockSize), math.MaxUint32, uint64(math.MaxInt)) - uint64(keyLen))
}

func (c *Cache) shardOf(h uint64) *shard {
	return &c.shards[h>>c.shardShift&uint64(len(c.shards)-1)]
}

// Store saves value under key, replacing any previous value; it expires
// after ttl, or never when ttl <= 0. Keys are 1 to MaxKeyLen bytes.
// Older entries are evicted to make room.
func (c *Cache) Store(key, value []byte, ttl time.Duration) error {
	var exp int64
	if ttl > 0 {
		exp = time.Now().Add(ttl).UnixNano()
	}
	return c.store(key, value, exp)
}

// StoreUntil is [Cache.Store] with an absolute expiry; the zero time means
// never. The expiry is compared with the wall clock, which all processes on
// one host share.
func (c *Cache) StoreUntil(key, value []byte, expire time.Time) error {
	var exp int64
	if !expire.IsZero() {
		exp = max(expire.UnixNano(), 1)
	}
	return c.store(key, value, exp)
}

func (c *Cache) store(key, value []byte, exp int64) error {
	if c.mem == nil {
		return fmt.Errorf("shctx: store: %w", ErrClosed)
	}
	if len(key) == 0 || len(key) > int(c.g.maxKey) {
		return fmt.Errorf("shctx: store: key of %d bytes, want 1 to %d: %w", len(key), c.g.maxKey, ErrKeySize)
	}
	total := uint64(len(key)) + uint64(len(value))
	need := (total + uint64(c.g.blockSize) - 1) / uint64(c.g.blockSize)
	if need > uint64(c.g.bps) || total > math.MaxUint32 {
		return fmt.Errorf("shctx: store: %d bytes of key and value need %d blocks, a shard has %d: %w",
			total, need, c.g.bps, ErrTooLarge)
	}
	h := hashKey(c.seed, key)
	s := c.shardOf(h)
	c.lock(s)
	storeOrdered(&s.hdr.dirty, 1)
	if !s.store(h, key, value, uint32(need), exp) {
		// The shard was damaged from outside; rebuilt empty, it has room.
		s.reset()
		s.store(h, key, value, uint32(need), exp)
	}
	storeOrdered(&s.hdr.dirty, 0)
	c.unlock(s)
	return nil
}

// Get copies the value stored under key into dst and returns its length.
// When the value is longer than dst, only len(dst) bytes are copied and n
// is still the full length, so the caller can retry with a larger buffer.
// ok is false when key is absent or expired (or not a valid key). Get does
// not allocate.
func (c *Cache) Get(key, dst []byte) (n int, ok bool) {
	if c.mem == nil || len(key) == 0 || len(key) > int(c.g.maxKey) {
		return 0, false
	}
	h := hashKey(c.seed, key)
	s := c.shardOf(h)
	c.lock(s)
	first, good := s.find(h, key)
	if first == 0 {
		if !good {
			c.rebuild(s)
		}
		s.hdr.misses++
		c.unlock(s)
		return 0, false
	}
	b := s.blk(first)
	if b.expire != 0 && b.expire <= time.Now().UnixNano() {
		storeOrdered(&s.hdr.dirty, 1)
		if !s.remove(first) {
			s.reset()
		}
		storeOrdered(&s.hdr.dirty, 0)
		s.hdr.expired++
		s.hdr.misses++
		c.unlock(s)
		return 0, false
	}
	n, good = s.read(first, dst)
	if !good {
		c.rebuild(s)
		s.hdr.misses++
		c.unlock(s)
		return 0, false
	}
	if b.ref == 0 {
		b.ref = 1
	}
	s.hdr.hits++
	c.unlock(s)
	return n, true
}

// rebuild empties a shard found damaged, under its lock.
func (c *Cache) rebuild(s *shard) {
	storeOrdered(&s.hdr.dirty, 1)
	s.reset()
	storeOrdered(&s.hdr.dirty, 0)
	c.logger.Warn("shctx: rebuilt a shard found inconsistent", "path", c.path)
}

// Delete removes key and reports whether it was there.
func (c *Cache) Delete(key []byte) bool {
	if c.mem == nil || len(key) == 0 || len(key) > int(c.g.maxKey) {
		return false
	}
	h := hashKey(c.seed, key)
	s := c.shardOf(h)
	c.lock(s)
	first, good := s.find(h, key)
	if first != 0 {
		storeOrdered(&s.hdr.dirty, 1)
		if s.remove(first) {
			s.hdr.deletes++
		} else {
			s.reset()
		}
		storeOrdered(&s.hdr.dirty, 0)
	} else if !good {
		c.rebuild(s)
	}
	c.unlock(s)
	return first != 0
}

// Iterate calls fn for every live entry until fn returns false. Entries are
// copied out one shard at a time under that shard's lock and fn runs with
// no lock held, so fn may call the cache's other methods; each shard is
// seen as of one instant, the cache as a whole is not. key and value are
// valid only during the call. expire is the zero time for entries that
// never expire.
func (c *Cache) Iterate(fn func(key, value []byte, expire time.Time) bool) error {
	if c.mem == nil {
		return fmt.Errorf("shctx: iterate: %w", ErrClosed)
	}
	type ent struct {
		off, klen, vlen int
		exp             int64
	}
	var (
		buf  []byte
		ents []ent
	)
	for i := range c.shards {
		s := &c.shards[i]
		buf, ents = buf[:0], ents[:0]
		now := time.Now().UnixNano()
		c.lock(s)
		good := true
		for r, n := s.hdr.lruTail, uint32(0); r != 0; n++ {
			if !s.valid(r) || n >= s.bps {
				good = false
				break
			}
			b := s.blk(r)
			if b.expire == 0 || b.expire > now {
				off := len(buf)
				if buf, good = s.appendRow(buf, r); !good {
					break
				}
				ents = append(ents, ent{off, int(b.keyLen), int(b.valLen), b.expire})
			}
			r = b.prev
		}
		if !good {
			c.rebuild(s)
			ents = ents[:0]
		}
		c.unlock(s)
		for _, e := range ents {
			var exp time.Time
			if e.exp != 0 {
				exp = time.Unix(0, e.exp)
			}
			k := buf[e.off : e.off+e.klen : e.off+e.klen]
			v := buf[e.off+e.klen : e.off+e.klen+e.vlen : e.off+e.klen+e.vlen]
			if !fn(k, v, exp) {
				return nil
			}
		}
		if c.mem == nil {
			return nil
		}
	}
	return nil
}

// Stats are counters summed over all shards. Counters live in the region,
// so they include the work of every process that opened it.
type Stats struct {
	Blocks     int    // total blocks
	BlocksFree int    // blocks in the available lists
	BlocksUsed int    // blocks holding entries
	Entries    int    // live entries (some possibly expired but not yet reclaimed)
	Hits       uint64 // lookups that found a live entry
	Misses     uint64 // lookups that found nothing, or an expired entry
	Stores     uint64 // successful stores, replacements included
	Deletes    uint64 // deletions of present keys
	Evictions  uint64 // entries dropped to make room before they expired
	Expired    uint64 // entries dropped because they expired
	LockSteals uint64 // locks taken from processes that died holding them
	Resets     uint64 // shards rebuilt empty after a crash or damage
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	var st Stats
	if c.mem == nil {
		return st
	}
	for i := range c.shards {
		s := &c.shards[i]
		c.lock(s)
		h := s.hdr
		st.BlocksFree += int(h.nbav)
		st.Entries += int(h.rows)
		st.Hits += h.hits
		st.Misses += h.misses
		st.Stores += h.stores
		st.Deletes += h.deletes
		st.Evictions += h.evictions
		st.Expired += h.expired
		st.LockSteals += h.steals
		st.Resets += h.resets
		c.unlock(s)
	}
	st.Blocks = len(c.shards) * int(c.g.bps)
	st.BlocksUsed = st.Blocks - st.BlocksFree
	return st
}

func nowNano(now *int64) int64 {
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	return *now
}

// hashKey is a seeded 64-bit hash built on the 64×64→128-bit multiply (the
// wyhash construction). It must give the same result in every process, so
// it cannot use hash/maphash, whose seeds are per process; the seed is
// instead drawn when the region is created and kept in its header, which
// keeps bucket placement unpredictable from outside.
func hashKey(seed uint64, b []byte) uint64 {
	const (
		p0 = 0xa0761d6478bd642f
		p1 = 0xe7037ed1a0b428db
		p2 = 0x8ebc6af09c88c6e3
	)
	h := seed ^ p0 ^ uint64(len(b))*p1
	for len(b) >= 16 {
		h = mix(binary.LittleEndian.Uint64(b)^p1, binary.LittleEndian.Uint64(b[8:])^h)
		b = b[16:]
	}
	if len(b) >= 8 {
		h = mix(binary.LittleEndian.Uint64(b)^p1, h^p2)
		b = b[8:]
	}
	if len(b) > 0 {
		var t uint64
		for i, x := range b {
			t |= uint64(x) << (8 * i)
		}
		h = mix(t^p1, h^p0)
	}
	return mix(h^p2, seed^p1)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
