package stick

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/btree"

	"github.com/proxyblocks/proxyblocks/freq"
)

// Config describes a table. ParseConfig builds one from configuration
// words; the zero value of every optional field is a sensible default.
type Config struct {
	// Name identifies the table in dumps ("# table: NAME").
	Name string
	// Type is the key type.
	Type KeyType
	// KeyLen is the maximum length of string keys, or the exact length of
	// binary keys; 0 selects the default. It is ignored for other types.
	KeyLen int
	// Size is the maximum number of entries (required).
	Size int
	// Expire is how long an entry lives after its last touch; 0 keeps
	// entries until evicted to make room. At most 2^31-1 ms.
	Expire time.Duration
	// NoPurge refuses new entries when the table is full instead of
	// evicting the oldest unused ones.
	NoPurge bool
	// Store lists the stored data types. Order does not matter.
	Store []DataSpec
	// Sync keeps the update sequence (the order peers send updates in).
	// It costs one table-wide lock per touch, so it is off unless asked.
	Sync bool
	// Peers is the name of the peers section the table is shared with.
	// It is informational; Sync is what turns on update tracking.
	Peers string
	// Shards is the number of independently locked shards, a power of
	// two up to 1024. 0 picks up to 64, fewer for small tables so that
	// eviction stays close to a strict least-recently-used order.
	// With 1 shard eviction is exactly least-recently-used.
	Shards int
	// Clock gives the date in milliseconds; nil means freq.SystemClock.
	Clock freq.Clock
	// ExpireInterval is how often the background expirer runs; 0 picks a
	// quarter of Expire, between 10 ms and 1 s. Negative disables the
	// background expirer (call Expire yourself).
	ExpireInterval time.Duration
}

func (c *Config) validate() error {
	if c.Size <= 0 || c.Size > 1<<31-1 {
		return fmt.Errorf("%w: table %q: size %d must be from 1 to 2^31-1", ErrBadConfig, c.Name, c.Size)
	}
	if int(c.Type) >= len(keyTypeWords) {
		return fmt.Errorf("%w: table %q: unknown key type %d", ErrBadConfig, c.Name, c.Type)
	}
	if (c.Type == KeyString || c.Type == KeyBinary) && (c.KeyLen < 0 || c.KeyLen > MaxKeyLen) {
		return fmt.Errorf("%w: table %q: key length %d must be from 1 to %d", ErrBadConfig, c.Name, c.KeyLen, MaxKeyLen)
	}
	if c.Expire < 0 || c.Expire > maxTicks*time.Millisecond {
		return fmt.Errorf("%w: table %q: expire %v must be from 0 to %d ms", ErrBadConfig, c.Name, c.Expire, maxTicks)
	}
	if c.Shards < 0 || c.Shards > 1024 || (c.Shards > 0 && c.Shards&(c.Shards-1) != 0) {
		return fmt.Errorf("%w: table %q: shards %d must be a power of two up to 1024", ErrBadConfig, c.Name, c.Shards)
	}
	var seen [dataTypeCount]bool
	for _, s := range c.Store {
		if !s.Type.known() {
			return fmt.Errorf("%w: table %q: %w: %d", ErrBadConfig, c.Name, ErrUnknownDataType, s.Type)
		}
		if seen[s.Type] {
			return fmt.Errorf("%w: table %q: %s stored twice", ErrBadConfig, c.Name, s.Type)
		}
		seen[s.Type] = true
		if s.Type.IsRate() {
			if s.Period < time.Millisecond || s.Period > maxTicks*time.Millisecond {
				return fmt.Errorf("%w: table %q: %s period %v must be from 1 ms to %d ms", ErrBadConfig, c.Name, s.Type, s.Period, maxTicks)
			}
		} else if s.Period != 0 {
			return fmt.Errorf("%w: table %q: %s takes no period", ErrBadConfig, c.Name, s.Type)
		}
	}
	return nil
}

// dataLayout places one stored type in an entry's data area.
type dataLayout struct {
	stored bool
	std    stdType
	off    uint16 // byte offset in the data area
	period uint32 // ms, rates only
}

// Table is a stick table: a size-limited, expiring map from typed keys to
// entries holding typed counters. All methods are safe for concurrent use.
type Table struct {
	name     string
	typ      KeyType
	keyLen   int // max (string) or exact (binary) key bytes
	size     int64
	expireMs uint32
	noPurge  bool
	sync     bool
	clock    freq.Clock
	layout   [dataTypeCount]dataLayout
	stored   []DataType // in HAProxy's enum order, for dumps
	stride   int        // uint64 words per entry: data then key
	keyOff   int        // byte offset of the key in an entry's words
	chunkLog uint       // log2 of entries per chunk

	seed      maphash.Seed
	shardMask uint32
	shards    []shard
	current   atomic.Int64
	closed    atomic.Bool

	upd updates // only used when sync

	stop     chan struct{}
	done     chan struct{}
	closeMux sync.Mutex
}

// shard holds the entries whose key hashes to it, under its own lock.
type shard struct {
	mu     sync.Mutex
	ints   map[uint32]uint32 // ip and integer keys -> slot
	strs   map[string]uint32 // other keys (the string points at the entry's key bytes) -> slot
	exps   *btree.BTreeG[expItem]
	chunks []*chunk
	free   uint32 // head of the free-slot list, linked through Entry.upd
	next   uint32 // first never-used slot
	id     uint16
	_      [64]byte // keep neighbouring shards' locks off one cache line
}

// chunk is a block of entries and their data areas, allocated together so
// that an entry costs no allocation of its own and no per-object overhead.
type chunk struct {
	ents  []Entry
	words []uint64
}

// expItem positions an entry in its shard's expiry tree. exp may be stale
// (older than the entry's real expiry): touches do not move it, walks do.
type expItem struct {
	exp uint32
	idx uint32
}

func expLess(a, b expItem) bool {
	if a.exp != b.exp {
		return a.exp < b.exp
	}
	return a.idx < b.idx
}

const (
	noSlot    = ^uint32(0)
	btreeDeg  = 32
	maxChunk  = 8    // log2 of the largest chunk (256 entries)
	evictScan = 4096 // entries examined per shard and eviction
	// maxCreateTries bounds how often GetOrCreate evicts before giving
	// up: others may take the room it made, and a table whose entries
	// were all touched since queued needs a few passes to reorder them.
	maxCreateTries = 64
)

// New creates a table from cfg and starts its background expirer when the
// table has an expiry. Close stops it.
func New(cfg Config) (*Table, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Table{
		name:    cfg.Name,
		typ:     cfg.Type,
		size:    int64(cfg.Size),
		noPurge: cfg.NoPurge,
		sync:    cfg.Sync,
		clock:   cfg.Clock,
		seed:    maphash.MakeSeed(),
	}
	t.expireMs = uint32(cfg.Expire / time.Millisecond)
	if t.clock == nil {
		t.clock = freq.SystemClock
	}
	switch cfg.Type {
	case KeyIPv4, KeyInteger:
		t.keyLen = 4
	case KeyIPv6:
		t.keyLen = 16
	case KeyString:
		t.keyLen = DefaultStringLen
	case KeyBinary:
		t.keyLen = DefaultBinaryLen
	}
	if (cfg.Type == KeyString || cfg.Type == KeyBinary) && cfg.KeyLen > 0 {
		t.keyLen = cfg.KeyLen
	}

	// 64-bit values first so they stay 8-byte aligned, then the 12-byte
	// rate counters, then 32-bit values: no padding inside the area.
	for _, s := range cfg.Store {
		t.layout[s.Type] = dataLayout{stored: true, std: dataTypes[s.Type].std, period: uint32(s.Period / time.Millisecond)}
	}
	off := 0
	for _, std := range []stdType{stdULL, stdFRQP, stdUINT, stdSINT} {
		for dt := range t.layout {
			l := &t.layout[dt]
			if !l.stored || l.std != std {
				continue
			}
			l.off = uint16(off)
			switch std {
			case stdULL:
				off += 8
			case stdFRQP:
				off += int(unsafe.Sizeof(freq.Ctr{}))
			default:
				off += 4
			}
		}
	}
	for dt := range t.layout {
		if t.layout[dt].stored {
			t.stored = append(t.stored, DataType(dt))
		}
	}
	t.keyOff = (off + 7) &^ 7
	t.stride = (t.keyOff + t.keyLen + 7) / 8

	n := cfg.Shards
	if n == 0 {
		n = 64
		for n > 1 && cfg.Size/n < 64 {
			n /= 2
		}
	}
	perShard := (cfg.Size + n - 1) / n
	t.chunkLog = min(uint(bits.Len(uint(perShard-1))), maxChunk)
	t.shardMask = uint32(n - 1)
	t.shards = make([]shard, n)
	for i := range t.shards {
		s := &t.shards[i]
		s.id = uint16(i)
		s.free = noSlot
		s.exps = btree.NewG(btreeDeg, expLess)
		if t.fixedKey() {
			s.ints = make(map[uint32]uint32)
		} else {
			s.strs = make(map[string]uint32)
		}
	}
	if t.sync {
		t.upd.init()
	}

	interval := cfg.ExpireInterval
	if interval == 0 {
		interval = min(max(cfg.Expire/4, 10*time.Millisecond), time.Second)
	}
	if t.expireMs > 0 && interval > 0 {
		t.stop = make(chan struct{})
		t.done = make(chan struct{})
		go t.expirer(interval)
	}
	return t, nil
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// KeyType returns the table's key type.
func (t *Table) KeyType() KeyType { return t.typ }

// Size returns the maximum number of entries.
func (t *Table) Size() int { return int(t.size) }

// Now returns the date of the table's clock, in milliseconds.
func (t *Table) Now() uint32 { return t.clock.NowMs() }

// Len returns the number of entries.
func (t *Table) Len() int { return int(t.current.Load()) }

// Stores reports whether the table stores data type dt.
func (t *Table) Stores(dt DataType) bool { return dt.known() && t.layout[dt].stored }

// Period returns the period of a stored rate, or 0.
func (t *Table) Period(dt DataType) time.Duration {
	if !t.Stores(dt) {
		return 0
	}
	return time.Duration(t.layout[dt].period) * time.Millisecond
}

// Close stops the background expirer and drops every entry. Later calls
// return ErrClosed. Close is idempotent.
func (t *Table) Close() error {
	t.closeMux.Lock()
	defer t.closeMux.Unlock()
	if t.closed.Swap(true) {
		return nil
	}
	if t.stop != nil {
		close(t.stop)
		<-t.done
	}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.ints, s.strs, s.chunks = nil, nil, nil
		s.exps.Clear(false)
		s.mu.Unlock()
	}
	if t.sync {
		t.upd.mu.Lock()
		t.upd.tree.Clear(false)
		t.upd.mu.Unlock()
	}
	t.current.Store(0)
	return nil
}

func (t *Table) expirer(interval time.Duration) {
	defer close(t.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.Expire(t.clock.NowMs())
		}
	}
}

func (t *Table) fixedKey() bool { return t.typ == KeyIPv4 || t.typ == KeyInteger }

// tickAdd returns now+ms as a tick, never 0 (which means "never").
func tickAdd(now, ms uint32) uint32 {
	if v := now + ms; v != 0 {
		return v
	}
	return 1
}

// expired reports whether tick t is at or before now, wrapping.
func expired(t, now uint32) bool { return t != 0 && int32(t-now) <= 0 }

// keyBuf holds a normalised key too short to be used in place.
type keyBuf [64]byte

// normKey returns the key in the table's stored form, and for ip and
// integer tables its 32-bit map key. buf may be used for the result.
func (t *Table) normKey(key []byte, buf *keyBuf) ([]byte, uint32, error) {
	switch t.typ {
	case KeyIPv4:
		switch {
		case len(key) == 4:
		case len(key) == 16 && isV4Mapped(key):
			key = key[12:]
		default:
			return nil, 0, fmt.Errorf("%w: table %q takes 4-byte IPv4 keys, got %d bytes", ErrBadKey, t.name, len(key))
		}
		return key, binary.BigEndian.Uint32(key), nil
	case KeyInteger:
		var v uint32
		switch len(key) {
		case 4:
			v = binary.BigEndian.Uint32(key)
		case 8:
			v = uint32(binary.BigEndian.Uint64(key))
		default:
			return nil, 0, fmt.Errorf("%w: table %q takes 4- or 8-byte big-endian integer keys, got %d bytes", ErrBadKey, t.name, len(key))
		}
		return nil, v, nil
	case KeyIPv6:
		switch len(key) {
		case 16:
			return key, 0, nil
		case 4:
			b := buf[:16]
			clear(b[:10])
			b[10], b[11] = 0xff, 0xff
			copy(b[12:], key)
			return b, 0, nil
		}
		return nil, 0, fmt.Errorf("%w: table %q takes 16-byte IPv6 keys, got %d bytes", ErrBadKey, t.name, len(key))
	case KeyString:
		for i, c := range key {
			if c == 0 {
				key = key[:i]
				break
			}
		}
		if len(key) > t.keyLen {
			key = key[:t.keyLen]
		}
		return key, 0, nil
	default: // binary
		if len(key) >= t.keyLen {
			return key[:t.keyLen], 0, nil
		}
		var b []byte
		if t.keyLen <= len(buf) {
			b = buf[:t.keyLen]
		} else {
			b = make([]byte, t.keyLen)
		}
		n := copy(b, key)
		clear(b[n:])
		return b, 0, nil
	}
}

func isV4Mapped(b []byte) bool {
	for _, c := range b[:10] {
		if c != 0 {
			return false
		}
	}
	return b[10] == 0xff && b[11] == 0xff
}

func (t *Table) shardFor(key []byte, k32 uint32) *shard {
	var h uint32
	if t.fixedKey() {
		h = k32 * 0x9E3779B1
		h ^= h >> 16
	} else {
		h = uint32(maphash.Bytes(t.seed, key))
	}
	return &t.shards[h&t.shardMask]
}

func (s *shard) entry(t *Table, idx uint32) *Entry {
	return &s.chunks[idx>>t.chunkLog].ents[idx&(1<<t.chunkLog-1)]
}

// find returns the entry for the key; s.mu must be held.
func (s *shard) find(t *Table, key []byte, k32 uint32) *Entry {
	var idx uint32
	var ok bool
	if s.ints != nil {
		idx, ok = s.ints[k32]
	} else {
		idx, ok = s.strs[string(key)]
	}
	if !ok {
		return nil
	}
	return s.entry(t, idx)
}

// insert stores a new entry for key; s.mu must be held and the caller
// must have counted it in t.current.
func (s *shard) insert(t *Table, key []byte, k32 uint32, now uint32) *Entry {
	var e *Entry
	if s.free != noSlot {
		e = s.entry(t, s.free)
		s.free = e.upd
		clear(unsafe.Slice((*uint64)(e.data), t.stride))
	} else {
		idx := s.next
		ci := idx >> t.chunkLog
		if int(ci) == len(s.chunks) {
			n := 1 << t.chunkLog
			c := &chunk{ents: make([]Entry, n), words: make([]uint64, n*t.stride)}
			for i := range c.ents {
				c.ents[i] = Entry{t: t, data: unsafe.Pointer(&c.words[i*t.stride]), idx: ci<<t.chunkLog | uint32(i), shard: s.id}
			}
			s.chunks = append(s.chunks, c)
		}
		s.next++
		e = s.entry(t, idx)
	}
	e.upd, e.updFlags = 0, 0
	e.seen.Store(false)
	exp := tickAdd(now, t.expireMs)
	e.expire.Store(exp)
	e.expKey = exp
	kb := unsafe.Slice((*byte)(unsafe.Add(e.data, t.keyOff)), t.keyLen)
	if s.ints != nil {
		if t.typ == KeyIPv4 {
			copy(kb, key)
		} else {
			// Little-endian bytes sort integer keys the way HAProxy's
			// memory-compared tree does, so dumps list them alike.
			binary.LittleEndian.PutUint32(kb, k32)
		}
		e.keyLen = 4
		s.ints[k32] = e.idx
	} else {
		e.keyLen = uint16(copy(kb, key))
		s.strs[unsafe.String(&kb[0], int(e.keyLen))] = e.idx
	}
	s.exps.ReplaceOrInsert(expItem{exp: exp, idx: e.idx})
	return e
}

// remove deletes an unreferenced entry; s.mu must be held. It returns
// false, leaving the entry, if someone holds a reference.
func (t *Table) remove(s *shard, e *Entry) bool {
	if t.sync {
		// Peers take references under the update lock, so the check is
		// repeated under it (lock order: shard, then updates).
		t.upd.mu.Lock()
		if e.ref.Load() != 0 {
			t.upd.mu.Unlock()
			return false
		}
		t.upd.unlink(e)
		t.upd.mu.Unlock()
	} else if e.ref.Load() != 0 {
		return false
	}
	if s.ints != nil {
		delete(s.ints, s.intKey(t, e))
	} else {
		delete(s.strs, unsafe.String((*byte)(unsafe.Add(e.data, t.keyOff)), int(e.keyLen)))
	}
	s.exps.Delete(expItem{exp: e.expKey, idx: e.idx})
	e.keyLen = 0
	e.upd = s.free
	s.free = e.idx
	t.current.Add(-1)
	return true
}

func (s *shard) intKey(t *Table, e *Entry) uint32 {
	kb := unsafe.Slice((*byte)(unsafe.Add(e.data, t.keyOff)), 4)
	if t.typ == KeyIPv4 {
		return binary.BigEndian.Uint32(kb)
	}
	return binary.LittleEndian.Uint32(kb)
}

// requeue moves an entry's expiry-tree position to its real expiry.
func (s *shard) requeue(e *Entry) {
	exp := e.expire.Load()
	if exp == e.expKey {
		return
	}
	s.exps.Delete(expItem{exp: e.expKey, idx: e.idx})
	e.expKey = exp
	s.exps.ReplaceOrInsert(expItem{exp: exp, idx: e.idx})
}

// oldest appends to buf, in chronological order, the items of the shard's
// expiry tree while keep accepts them and buf has room. Ticks wrap, so the
// walk starts half a wrap before now and wraps around the tree's end.
func (s *shard) oldest(now uint32, buf []expItem, keep func(expItem) bool) []expItem {
	pivot := expItem{exp: now - 1<<31}
	done := false
	visit := func(it expItem) bool {
		if !keep(it) {
			done = true
			return false
		}
		buf = append(buf, it)
		done = len(buf) == cap(buf)
		return !done
	}
	s.exps.AscendGreaterOrEqual(pivot, visit)
	if !done {
		s.exps.AscendLessThan(pivot, visit)
	}
	return buf
}

// Lookup returns the entry for key with a reference taken, which the
// caller gives back with Release. It returns ErrNotFound if the key is
// absent.
func (t *Table) Lookup(key []byte) (*Entry, error) {
	var buf keyBuf
	nk, k32, err := t.normKey(key, &buf)
	if err != nil {
		return nil, err
	}
	s := t.shardFor(nk, k32)
	s.mu.Lock()
	if t.closed.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	e := s.find(t, nk, k32)
	if e != nil {
		e.ref.Add(1)
	}
	s.mu.Unlock()
	if e == nil {
		return nil, ErrNotFound
	}
	return e, nil
}

// GetOrCreate returns the entry for key, creating it if absent, with a
// reference taken that the caller gives back with Release (usually after
// Touch). A new entry expires after the table's expiry unless touched.
// When the table is full the oldest unused entries are evicted; if none
// can be (all are in use, or the table is "nopurge"), it returns
// ErrTableFull.
func (t *Table) GetOrCreate(key []byte) (*Entry, error) {
	var buf keyBuf
	nk, k32, err := t.normKey(key, &buf)
	if err != nil {
		return nil, err
	}
	s := t.shardFor(nk, k32)
	for range maxCreateTries {
		s.mu.Lock()
		// Checked under the shard lock: Close marks the table closed
		// before it empties the shards.
		if t.closed.Load() {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if e := s.find(t, nk, k32); e != nil {
			e.ref.Add(1)
			s.mu.Unlock()
			return e, nil
		}
		if t.current.Add(1) <= t.size {
			e := s.insert(t, nk, k32, t.clock.NowMs())
			e.ref.Store(1)
			s.mu.Unlock()
			return e, nil
		}
		t.current.Add(-1)
		s.mu.Unlock()
		// Evicting locks other shards, so it runs with ours released.
		if t.noPurge {
			break
		}
		if freed, progressed := t.evict(); freed == 0 && !progressed {
			break
		}
	}
	return nil, fmt.Errorf("%w: table %q holds %d entries, none of them evictable", ErrTableFull, t.name, t.size)
}

// evict frees a few of the oldest unreferenced entries, scanning shards
// from a random one and stopping at the first shard where it freed some,
// as HAProxy does. It returns how many it freed and whether it made
// progress otherwise, by moving touched entries to their real place in
// the expiry order (the next call then finds the oldest one sooner).
func (t *Table) evict() (int, bool) {
	n := len(t.shards)
	// HAProxy frees up to 100 entries per pass; a small table keeps
	// all but 1/64th of its entries.
	want := max(1, min((100+n-1)/n, int(t.size/64)))
	start := int(rand.Uint32() & t.shardMask)
	now := t.clock.NowMs()
	progressed := false
	for i := range n {
		s := &t.shards[(start+i)&int(t.shardMask)]
		s.mu.Lock()
		freed, moved := 0, false
		if !t.closed.Load() {
			freed, moved = t.evictShard(s, now, want)
		}
		s.mu.Unlock()
		if freed > 0 {
			return freed, true
		}
		progressed = progressed || moved
	}
	return 0, progressed
}

// evictShard walks the shard's expiry order from the oldest entry and frees
// up to want unreferenced entries. An entry touched since it was queued is
// moved to its real expiry, ahead of the walk, so it is met again in its
// right place: eviction is least-recently-touched first. s.mu must be held.
func (t *Table) evictShard(s *shard, now uint32, want int) (freed int, moved bool) {
	var arr [64]expItem
	var cursor *expItem
	examined := 0
	for examined < evictScan {
		items := s.walk(now, cursor, arr[:0])
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			examined++
			e := s.entry(t, it.idx)
			if e.expire.Load() != it.exp {
				s.requeue(e)
				moved = true
				continue
			}
			if t.remove(s, e) {
				if freed++; freed == want {
					return freed, moved
				}
			}
		}
		cursor = &items[len(items)-1]
	}
	return freed, moved
}

// walk appends to buf the items that follow cursor (or the oldest items,
// when cursor is nil) in the shard's chronological expiry order, until buf
// is full. Ticks wrap, so that order starts half a wrap before now and
// wraps around the tree's end.
func (s *shard) walk(now uint32, cursor *expItem, buf []expItem) []expItem {
	pivot := expItem{exp: now - 1<<31}
	visit := func(it expItem) bool {
		buf = append(buf, it)
		return len(buf) < cap(buf)
	}
	switch {
	case cursor == nil:
		s.exps.AscendGreaterOrEqual(pivot, visit)
		if len(buf) < cap(buf) {
			s.exps.AscendLessThan(pivot, visit)
		}
	case !expLess(*cursor, pivot):
		s.exps.AscendGreaterOrEqual(expItem{exp: cursor.exp, idx: cursor.idx + 1}, visit)
		if len(buf) < cap(buf) {
			s.exps.AscendLessThan(pivot, visit)
		}
	default:
		s.exps.AscendRange(expItem{exp: cursor.exp, idx: cursor.idx + 1}, pivot, visit)
	}
	return buf
}

// Expire removes the entries whose expiry is at or before now and that
// nobody references; a referenced expired entry gets a new expiry of now
// plus the table's expiry, as HAProxy does. It returns how many entries it
// removed. Tables without an expiry never expire entries.
func (t *Table) Expire(now uint32) int {
	if t.expireMs == 0 || t.closed.Load() {
		return 0
	}
	removed := 0
	var arr [128]expItem
	due := func(it expItem) bool { return expired(it.exp, now) }
	for i := range t.shards {
		s := &t.shards[i]
		for {
			// Batches bound how long creators wait on this shard.
			s.mu.Lock()
			if t.closed.Load() {
				s.mu.Unlock()
				return removed
			}
			items := s.oldest(now, arr[:0], due)
			for _, it := range items {
				e := s.entry(t, it.idx)
				if exp := e.expire.Load(); exp != it.exp && !expired(exp, now) {
					s.requeue(e)
					continue
				}
				if !t.remove(s, e) {
					e.expire.Store(tickAdd(now, t.expireMs))
					s.requeue(e)
					continue
				}
				removed++
			}
			s.mu.Unlock()
			if len(items) < cap(arr) {
				break
			}
		}
	}
	return removed
}
