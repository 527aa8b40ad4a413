package stick

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"reflect"
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
	// With 1 shard eviction is least-recently-used, except that one
	// creation re-sorts at most about a thousand entries touched since
	// they were queued before it evicts one of them anyway.
	Shards int
	// Clock gives the date in milliseconds. nil gives the table a
	// freq.CachedClock of its own, which Close stops: while the table is
	// busy, its dates come from memory (at most about a millisecond
	// late, as HAProxy's now_ms) instead of a clock read per operation.
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
		if s.Type.IsArray() {
			if s.Count < 1 || s.Count > MaxArrayLen {
				return fmt.Errorf("%w: table %q: array size %d is out of allowed range (1-%d) for store option '%s'", ErrBadConfig, c.Name, s.Count, MaxArrayLen, s.Type)
			}
		} else if s.Count != 0 {
			return fmt.Errorf("%w: table %q: %s is not an array", ErrBadConfig, c.Name, s.Type)
		}
	}
	// An array overrides the scalars it generalises: HAProxy's fetches
	// and actions for those read its first elements instead.
	for _, r := range [...]struct {
		array    DataType
		scalars  [2]DataType
		arr, old string
	}{
		{DataGPT, [2]DataType{DataGPT0, DataGPT0}, "gpt", "gpt0"},
		{DataGPC, [2]DataType{DataGPC0, DataGPC1}, "gpc", "gpc[0/1]"},
		{DataGPCRate, [2]DataType{DataGPC0Rate, DataGPC1Rate}, "gpc_rate", "gpc[0/1]_rate"},
	} {
		if seen[r.array] && (seen[r.scalars[0]] || seen[r.scalars[1]]) {
			return fmt.Errorf("%w: table %q: simultaneous usage of '%s' and '%s' in a same table is not permitted as '%s' overrides '%s'", ErrBadConfig, c.Name, r.arr, r.old, r.arr, r.old)
		}
	}
	return nil
}

// dataLayout places one stored type in an entry's data area.
type dataLayout struct {
	stored bool
	std    stdType
	n      uint8  // elements: 1, or an array's count
	off    uint16 // byte offset of the first element in the entry
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
	cached   *freq.CachedClock // clock, when the table made it; nil otherwise
	layout   [dataTypeCount]dataLayout
	stored   []DataType // in HAProxy's enum order, for dumps
	stride   int        // bytes per entry: header, data, key
	keyOff   uint16     // byte offset of the key in an entry
	slabLog  uint       // log2 of entries per slab
	slabType reflect.Type
	rehome   func(w uint64) uint64 // hash of an index word, for moves

	seed      maphash.Seed
	seed64    uint64
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
	mu    sync.Mutex
	keys  index
	exps  *btree.BTreeG[expItem]
	slabs []unsafe.Pointer // first entry of each slab
	free  uint32           // head of the free-slot list, linked through Entry.upd
	next  uint32           // first never-used slot
	// view is what lock-free lookups see (acquire); nil once closed.
	view atomic.Pointer[shardView]
	_    [64]byte // keep neighbouring shards' locks off one cache line
}

// shardView publishes a shard's index words and slabs to lookups that
// take no lock. It is replaced whole when the index grows or a slab is
// added (slabs is then a new slice, so a published one never changes);
// the words are written in place, atomically.
type shardView struct {
	words []uint64
	slabs []unsafe.Pointer
}

// publish makes the shard's current index and slabs visible to acquire;
// s.mu must be held.
func (s *shard) publish() {
	s.view.Store(&shardView{words: s.keys.words, slabs: s.slabs})
}

// A slab is one allocation holding many entries, each its header, data
// and key in one block of Table.stride bytes: an entry costs no
// allocation of its own, and the collector scans only the slab's first
// word (the table). Entries start at slabFirst, a cache-line boundary in
// the large slabs of big tables.
const slabFirst = 64

// slabBytes is the size aimed at for one slab.
const slabBytes = 64 << 10

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
	noSlot   = ^uint32(0)
	btreeDeg = 32
	// evictScan bounds the expiry-tree items one eviction examines over
	// all shards, as HAProxy bounds its candidates: an entry touched since
	// queued costs a move in the tree, and a burst of such entries at the
	// head of the order must not stall one creation.
	evictScan = 256
	// maxCreateTries bounds how often GetOrCreate evicts before giving
	// up: others may take the room it made, and a table whose entries
	// were all touched since queued needs a few passes to reorder them.
	maxCreateTries = 64
	// strictEvictTries is how many of those evict strictly in the order
	// of last touch before evicting forcibly (see evict).
	strictEvictTries = 4
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
		seed64:  rand.Uint64(),
	}
	t.expireMs = uint32(cfg.Expire / time.Millisecond)
	if t.clock == nil {
		t.cached = freq.NewCachedClock()
		t.clock = t.cached
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

	// The data follow the 28-byte header: 32-bit values and the 12-byte
	// rate counters first, then 64-bit values 8-byte aligned, then the key.
	// Four rates or counters and an IPv4 key fill one 64-byte line.
	for _, s := range cfg.Store {
		t.layout[s.Type] = dataLayout{stored: true, std: dataTypes[s.Type].std, n: uint8(max(1, s.Count)), period: uint32(s.Period / time.Millisecond)}
	}
	off := int(entryHdr)
	for _, std := range []stdType{stdFRQP, stdUINT, stdSINT, stdULL} {
		for dt := range t.layout {
			l := &t.layout[dt]
			if !l.stored || l.std != std {
				continue
			}
			switch std {
			case stdULL:
				off = (off + 7) &^ 7
				l.off = uint16(off)
				off += 8
			case stdFRQP:
				l.off = uint16(off)
				off += int(l.n) * int(unsafe.Sizeof(freq.Ctr{}))
			default:
				l.off = uint16(off)
				off += int(l.n) * 4
			}
		}
	}
	for dt := range t.layout {
		if t.layout[dt].stored {
			t.stored = append(t.stored, DataType(dt))
		}
	}
	t.keyOff = uint16(off)
	t.stride = (off + t.keyLen + 7) &^ 7

	n := cfg.Shards
	if n == 0 {
		n = 64
		for n > 1 && cfg.Size/n < 64 {
			n /= 2
		}
	}
	perShard := (cfg.Size + n - 1) / n
	t.slabLog = min(uint(bits.Len(uint(perShard-1))), uint(max(0, bits.Len(uint(slabBytes/t.stride))-1)))
	t.slabType = reflect.StructOf([]reflect.StructField{
		{Name: "T", Type: reflect.TypeFor[*Table]()},
		{Name: "M", Type: reflect.ArrayOf((slabFirst-8+(1<<t.slabLog)*t.stride)/8, reflect.TypeFor[uint64]())},
	})
	if t.fixedKey() {
		seed := t.seed64
		t.rehome = func(w uint64) uint64 { return mix32(uint32(w>>32), seed) }
	} else {
		t.rehome = func(w uint64) uint64 { return w &^ (1<<32 - 1) }
	}
	t.shardMask = uint32(n - 1)
	t.shards = make([]shard, n)
	for i := range t.shards {
		s := &t.shards[i]
		s.free = noSlot
		s.exps = btree.NewG(btreeDeg, expLess)
		s.keys.init()
		s.publish()
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
func (t *Table) Now() uint32 { return t.now() }

// now reads the table's clock, calling its own CachedClock directly.
func (t *Table) now() uint32 {
	if c := t.cached; c != nil {
		return c.NowMs()
	}
	return t.clock.NowMs()
}

// KeyLen returns the key length: 4 for ip and integer keys, 16 for ipv6,
// the longest string a string table keeps, the exact length of binary
// keys.
func (t *Table) KeyLen() int { return t.keyLen }

// ExpireAfter returns how long an entry lives after its last touch, 0 if
// entries never expire.
func (t *Table) ExpireAfter() time.Duration {
	return time.Duration(t.expireMs) * time.Millisecond
}

// StoredTypes returns the stored data types in HAProxy's order (by
// DataType value).
func (t *Table) StoredTypes() []DataType { return append([]DataType(nil), t.stored...) }

// Len returns the number of entries.
func (t *Table) Len() int { return int(t.current.Load()) }

// Stores reports whether the table stores data type dt.
func (t *Table) Stores(dt DataType) bool { return dt.known() && t.layout[dt].stored }

// Elems returns the number of elements of a stored data type: an
// array's count, 1 for the other types, 0 if the table does not store it.
func (t *Table) Elems(dt DataType) int {
	if !t.Stores(dt) {
		return 0
	}
	return int(t.layout[dt].n)
}

// Resolve returns where HAProxy's fetches, converters and actions for a
// scalar general purpose type find it: on a table that stores gpt, gpc or
// gpc_rate instead of gpt0, gpc0/gpc1 or gpc0_rate/gpc1_rate, those read
// and write the array's element 0 (1 for gpc1 and gpc1_rate). It returns
// dt and 0 for every other type, and for a table storing the scalar. ok
// is false when the table stores neither, or the array is too short.
func (t *Table) Resolve(dt DataType) (DataType, int, bool) {
	if t.Stores(dt) {
		return dt, 0, true
	}
	arr, idx := dt, 0
	switch dt {
	case DataGPT0:
		arr = DataGPT
	case DataGPC0:
		arr = DataGPC
	case DataGPC1:
		arr, idx = DataGPC, 1
	case DataGPC0Rate:
		arr = DataGPCRate
	case DataGPC1Rate:
		arr, idx = DataGPCRate, 1
	default:
		return dt, 0, false
	}
	return arr, idx, idx < t.Elems(arr)
}

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
		s.view.Store(nil)
		s.keys, s.slabs = index{}, nil
		s.exps.Clear(false)
		s.mu.Unlock()
	}
	if t.sync {
		t.upd.mu.Lock()
		t.upd.tree.Clear(false)
		t.upd.mu.Unlock()
	}
	t.current.Store(0)
	if t.cached != nil {
		// Later reads (entries still held) take the system clock.
		t.cached.Close()
	}
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
			t.Expire(t.now())
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

// hash returns the hash of a normalised key: its low bits choose the
// shard, its high bits the place in the shard's index.
func (t *Table) hash(key []byte, k32 uint32) uint64 {
	if t.fixedKey() {
		return mix32(k32, t.seed64)
	}
	return maphash.Bytes(t.seed, key)
}

func (t *Table) shardFor(h uint64) *shard { return &t.shards[uint32(h)&t.shardMask] }

func (s *shard) entry(t *Table, idx uint32) *Entry {
	return (*Entry)(unsafe.Add(s.slabs[idx>>t.slabLog], uintptr(idx&(1<<t.slabLog-1))*uintptr(t.stride)))
}

// find returns the entry for the key; s.mu must be held.
func (s *shard) find(t *Table, key []byte, k32 uint32, h uint64) *Entry {
	x := &s.keys
	if t.fixedKey() {
		if idx, ok := x.findTag(h, k32); ok {
			return s.entry(t, idx)
		}
		return nil
	}
	tag := uint32(h >> 32)
	for i := x.home(h); ; i = (i + 1) & x.mask {
		w := x.words[i]
		if w == 0 {
			return nil
		}
		if uint32(w>>32) == tag {
			if e := s.entry(t, uint32(w)-1); string(e.rawKey()) == string(key) {
				return e
			}
		}
	}
}

// insert stores a new entry for key; s.mu must be held and the caller
// must have counted it in t.current.
func (s *shard) insert(t *Table, key []byte, k32 uint32, h uint64, now uint32) *Entry {
	var e *Entry
	if s.free != noSlot {
		e = s.entry(t, s.free)
		s.free = e.upd
		clear(unsafe.Slice((*byte)(e.at(entryHdr)), t.stride-int(entryHdr)))
	} else {
		idx := s.next
		if si := idx >> t.slabLog; int(si) == len(s.slabs) {
			base := reflect.New(t.slabType).UnsafePointer()
			(*slabHead)(base).t = t
			first := unsafe.Add(base, slabFirst)
			for i := range 1 << t.slabLog {
				e := (*Entry)(unsafe.Add(first, i*t.stride))
				e.back = uint32(slabFirst + i*t.stride)
				e.idx = si<<t.slabLog | uint32(i)
				e.state().Store(refDead)
			}
			// A new slice, so that views already published stay valid.
			s.slabs = append(s.slabs[:len(s.slabs):len(s.slabs)], first)
			s.publish()
		}
		s.next++
		e = s.entry(t, idx)
	}
	e.upd, e.updFlags = 0, 0
	exp := tickAdd(now, t.expireMs)
	e.expKey = exp
	kb := unsafe.Slice((*byte)(e.at(t.keyOff)), t.keyLen)
	tag := uint32(h >> 32)
	if t.fixedKey() {
		if t.typ == KeyIPv4 {
			copy(kb, key)
		} else {
			// Little-endian bytes sort integer keys the way HAProxy's
			// memory-compared tree does, so dumps list them alike.
			binary.LittleEndian.PutUint32(kb, k32)
		}
		e.keyLen = 4
		tag = k32
	} else {
		e.keyLen = uint16(copy(kb, key))
	}
	// Referenced before it is reachable: a lock-free lookup that finds
	// the index word must see a live entry.
	e.state().Store(uint64(exp)<<32 | 1)
	grown := len(s.keys.words)
	s.keys.insert(h, tag, e.idx, t.rehome)
	if len(s.keys.words) != grown {
		s.publish()
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
		if !e.kill() {
			t.upd.mu.Unlock()
			return false
		}
		t.upd.unlink(e)
		t.upd.mu.Unlock()
	} else if !e.kill() {
		// Marking the entry dead races with acquire's reference: one wins.
		return false
	}
	var h uint64
	if t.fixedKey() {
		h = t.hash(nil, s.intKey(t, e))
	} else {
		h = t.hash(e.rawKey(), 0)
	}
	s.keys.remove(h, e.idx, t.rehome)
	s.exps.Delete(expItem{exp: e.expKey, idx: e.idx})
	e.keyLen = 0
	e.upd = s.free
	s.free = e.idx
	t.current.Add(-1)
	return true
}

func (s *shard) intKey(t *Table, e *Entry) uint32 {
	kb := unsafe.Slice((*byte)(e.at(t.keyOff)), 4)
	if t.typ == KeyIPv4 {
		return binary.BigEndian.Uint32(kb)
	}
	return binary.LittleEndian.Uint32(kb)
}

// acquire returns the entry for a 4-byte key with a reference taken,
// without the shard lock, or nil when it cannot tell: the key is absent,
// or the index moved under it, or the table is closing. The caller then
// takes the locked path, which decides. The index word's tag is the key,
// but the slot may have been freed and reused since the word was read, so
// the key is checked again once the reference pins the entry: a
// referenced entry is never removed, and a removed one is marked dead
// (refDead) so that no reference can be taken on it.
func (s *shard) acquire(t *Table, k32 uint32, h uint64) *Entry {
	v := s.view.Load()
	if v == nil {
		return nil
	}
	mask := uint32(len(v.words) - 1)
	for i := uint32(h>>32) & mask; ; i = (i + 1) & mask {
		w := atomic.LoadUint64(&v.words[i])
		if w == 0 {
			return nil
		}
		if uint32(w>>32) != k32 {
			continue
		}
		idx := uint32(w) - 1
		si := int(idx >> t.slabLog)
		if si >= len(v.slabs) {
			return nil // a slab added after this view
		}
		e := (*Entry)(unsafe.Add(v.slabs[si], uintptr(idx&(1<<t.slabLog-1))*uintptr(t.stride)))
		if !e.tryRef() {
			return nil
		}
		if e.keyLen == 0 || s.intKey(t, e) != k32 {
			e.Release()
			return nil
		}
		return e
	}
}

// requeue moves an entry's expiry-tree position to its real expiry.
func (s *shard) requeue(e *Entry) {
	exp := e.expiry()
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
	h := t.hash(nk, k32)
	s := t.shardFor(h)
	if t.fixedKey() {
		if e := s.acquire(t, k32, h); e != nil {
			return e, nil
		}
	}
	s.mu.Lock()
	if t.closed.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	e := s.find(t, nk, k32, h)
	if e != nil {
		e.state().Add(1)
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
	tried := t.typ == KeyIPv4 && len(key) == 4
	if tried {
		// The common case first: an address already tracked.
		k32 := binary.BigEndian.Uint32(key)
		h := mix32(k32, t.seed64)
		if e := t.shardFor(h).acquire(t, k32, h); e != nil {
			return e, nil
		}
	}
	var buf keyBuf
	nk, k32, err := t.normKey(key, &buf)
	if err != nil {
		return nil, err
	}
	h := t.hash(nk, k32)
	s := t.shardFor(h)
	if t.fixedKey() && !tried {
		if e := s.acquire(t, k32, h); e != nil {
			return e, nil
		}
	}
	for try := range maxCreateTries {
		s.mu.Lock()
		// Checked under the shard lock: Close marks the table closed
		// before it empties the shards.
		if t.closed.Load() {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if e := s.find(t, nk, k32, h); e != nil {
			e.state().Add(1)
			s.mu.Unlock()
			return e, nil
		}
		if t.current.Add(1) <= t.size {
			e := s.insert(t, nk, k32, h, t.now())
			s.mu.Unlock()
			return e, nil
		}
		t.current.Add(-1)
		s.mu.Unlock()
		// Evicting locks other shards, so it runs with ours released.
		if t.noPurge {
			break
		}
		if freed, progressed := t.evict(try >= strictEvictTries); freed == 0 && !progressed {
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
//
// With force, an entry touched since it was queued is evicted like the
// others when nobody holds it: creation then costs a bounded amount of
// work even when many such entries head the expiry order, at the price
// of evicting an entry that is old in the order but was touched lately.
func (t *Table) evict(force bool) (int, bool) {
	n := len(t.shards)
	// HAProxy frees up to 100 entries per pass; a small table keeps
	// all but 1/64th of its entries.
	want := max(1, min((100+n-1)/n, int(t.size/64)))
	start := int(rand.Uint32() & t.shardMask)
	now := t.now()
	progressed := false
	budget := evictScan
	for i := 0; i < n && budget > 0; i++ {
		s := &t.shards[(start+i)&int(t.shardMask)]
		s.mu.Lock()
		freed, moved := 0, false
		if !t.closed.Load() {
			freed, moved = t.evictShard(s, now, want, &budget, force)
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
// up to want unreferenced entries, examining at most *budget items. An
// entry touched since it was queued is moved to its real expiry, ahead of
// the walk, so it is met again in its right place: eviction is
// least-recently-touched first. s.mu must be held.
func (t *Table) evictShard(s *shard, now uint32, want int, budget *int, force bool) (freed int, moved bool) {
	var arr [64]expItem
	var cursor *expItem
	for *budget > 0 {
		items := s.walk(now, cursor, arr[:0:min(*budget, len(arr))])
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			*budget--
			e := s.entry(t, it.idx)
			if e.expiry() != it.exp && (!force || e.refs() != 0) {
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
				if exp := e.expiry(); exp != it.exp && !expired(exp, now) {
					s.requeue(e)
					continue
				}
				if !t.remove(s, e) {
					e.setExpiry(tickAdd(now, t.expireMs))
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
