package stick

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/proxyblocks/proxyblocks/freq"
)

// Entry is one key of a table and its stored data. Entries are handed out
// referenced (by Lookup, GetOrCreate and the update iterator); a
// referenced entry is never evicted nor expired. Give the reference back
// with Release (or TouchRelease), and do not use the entry afterwards: its
// memory is reused for another key once it is removed.
//
// The data accessors are safe for concurrent use and take no lock: every
// value is updated atomically in place.
type Entry struct {
	// back is the entry's byte offset in its slab, whose first word holds
	// the table: the header stays pointer-free and 28 bytes long, so the
	// header, the data and a short key share one cache line.
	back uint32
	idx  uint32 // slot in its shard
	// st holds the expiry tick (high half, never 0 while the entry is
	// live) and the reference count (low half, an int32) in one 64-bit
	// word, read and written only through state: a touch and a release
	// are then one compare-and-swap. Its offset is 8, and entries sit at
	// 8-byte boundaries in their slab, so the word is aligned.
	st       [2]uint32
	expKey   uint32 // position in the shard's expiry tree (shard lock)
	upd      uint32 // update sequence (update lock); next free slot when free
	keyLen   uint16
	updFlags uint8 // updInTree, updLocal, updSeen (update lock)
	_        uint8
}

// The state word must be 8-byte aligned within the entry.
var _ = [1]struct{}{}[unsafe.Offsetof(Entry{}.st)%8]

const (
	refMask = 1<<32 - 1
	// refDead is the reference count (as the low half of the state word,
	// a negative int32) of a removed entry or a never-used slot: no
	// reference can be taken on it, and Release ignores it.
	refDead = 1 << 31
)

// state returns the entry's expiry and reference word.
func (e *Entry) state() *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&e.st)) }

// refs returns the reference count (refDead once removed).
func (e *Entry) refs() int32 { return int32(uint32(e.state().Load())) }

// expiry returns the expiry tick.
func (e *Entry) expiry() uint32 { return uint32(e.state().Load() >> 32) }

// setExpiry stores the expiry tick, leaving the reference count alone.
func (e *Entry) setExpiry(exp uint32) {
	p := e.state()
	for {
		s := p.Load()
		if uint32(s>>32) == exp || p.CompareAndSwap(s, uint64(exp)<<32|s&refMask) {
			return
		}
	}
}

// tryRef takes a reference unless the entry is dead.
func (e *Entry) tryRef() bool {
	p := e.state()
	for {
		s := p.Load()
		if int32(uint32(s)) < 0 {
			return false
		}
		if p.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// kill marks an unreferenced entry dead; it fails if anyone holds a
// reference. Marking the entry dead races with tryRef: one wins.
func (e *Entry) kill() bool {
	p := e.state()
	for {
		s := p.Load()
		if uint32(s) != 0 {
			return false
		}
		if p.CompareAndSwap(s, s|refDead) {
			return true
		}
	}
}

// entryHdr is the size of the header; the data area follows it.
const entryHdr = uint16(unsafe.Sizeof(Entry{}))

// slabHead is the start of a slab as the garbage collector sees it: the
// table pointer, which keeps the table alive while anyone holds one of
// its entries, then words holding entries only.
type slabHead struct{ t *Table }

// tab returns the entry's table.
func (e *Entry) tab() *Table {
	return (*slabHead)(unsafe.Add(unsafe.Pointer(e), -int(e.back))).t
}

// at returns the address of the byte at offset off in the entry.
func (e *Entry) at(off uint16) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(e), off) }

// Release gives back a reference taken by Lookup, GetOrCreate or the
// update iterator. Releasing more than was taken is ignored.
func (e *Entry) Release() {
	p := e.state()
	for {
		s := p.Load()
		if int32(uint32(s)) <= 0 || p.CompareAndSwap(s, s-1) {
			return
		}
	}
}

// Table returns the table the entry belongs to.
func (e *Entry) Table() *Table { return e.tab() }

// Refs returns the number of references held on the entry.
func (e *Entry) Refs() int { return max(0, int(e.refs())) }

// Touch refreshes the entry's expiry to now plus the table's expiry and,
// on a table with Sync, gives it a new local update sequence so that peers
// learn about it. Call it after changing data, like HAProxy's
// stktable_touch_local.
func (e *Entry) Touch() { e.TouchAt(e.tab().now()) }

// TouchAt is Touch with the date given, for callers that read the table's
// clock (Table.Now) once for several operations.
func (e *Entry) TouchAt(now uint32) {
	t := e.tab()
	// An entry touched again within the same millisecond keeps its
	// expiry: the load is cheaper than the locked store.
	e.setExpiry(tickAdd(now, t.expireMs))
	if t.sync {
		t.upd.touch(e, true)
	}
}

// TouchRelease is Touch followed by Release, in one atomic step on the
// entry where the two calls take two, like HAProxy's touch with
// decrefcnt set. The entry must not be used afterwards.
func (e *Entry) TouchRelease() { e.TouchReleaseAt(e.tab().now()) }

// TouchReleaseAt is TouchRelease with the date given, for callers that
// read the table's clock (Table.Now) once for several operations. A call
// without a reference held is ignored, like a Release too many.
func (e *Entry) TouchReleaseAt(now uint32) {
	t := e.tab()
	p := e.state()
	if t.sync && int32(uint32(p.Load())) > 0 {
		// Queued while the reference still pins the entry.
		t.upd.touch(e, true)
	}
	exp := uint64(tickAdd(now, t.expireMs)) << 32
	for {
		s := p.Load()
		r := uint32(s)
		if int32(r) <= 0 || p.CompareAndSwap(s, exp|uint64(r-1)) {
			return
		}
	}
}

// TouchRemote is Touch for a change learned from a peer: it refreshes the
// expiry but queues the entry as a remote update, which is not sent back
// to peers (HAProxy's stktable_touch_remote).
func (e *Entry) TouchRemote() {
	t := e.tab()
	e.setExpiry(tickAdd(t.now(), t.expireMs))
	if t.sync {
		t.upd.touch(e, false)
	}
}

// SetExpire sets the entry to expire ms milliseconds from now (0 means
// now), without queueing an update; peers use it for timed updates.
func (e *Entry) SetExpire(ms uint32) {
	e.setExpiry(tickAdd(e.tab().now(), ms))
}

// ExpiresIn returns the milliseconds left before the entry expires, 0 if
// it is due.
func (e *Entry) ExpiresIn() uint32 {
	if d := int32(e.expiry() - e.tab().now()); d > 0 {
		return uint32(d)
	}
	return 0
}

// UpdateSeq returns the entry's update sequence and whether it has one
// (only on tables with Sync, after a touch). Remote updates are offset by
// 2^31.
func (e *Entry) UpdateSeq() (uint32, bool) {
	t := e.tab()
	if !t.sync {
		return 0, false
	}
	t.upd.mu.Lock()
	defer t.upd.mu.Unlock()
	return e.upd, e.updFlags&updInTree != 0
}

// MarkSeen records that the entry's current update was sent to a peer; a
// later local touch then gives it a new update sequence.
// It only matters on a table with Sync.
func (e *Entry) MarkSeen() {
	t := e.tab()
	if !t.sync {
		return
	}
	t.upd.mu.Lock()
	e.updFlags |= updSeen
	t.upd.mu.Unlock()
}

// KeyBytes returns a copy of the key as stored: 4 bytes in network order
// for ip, 16 bytes for ipv6, 4 bytes big-endian for integer, the key bytes
// for string and binary.
func (e *Entry) KeyBytes() []byte { return e.AppendKey(nil) }

// AppendKey appends the key, in KeyBytes' form, to b: a copy without an
// allocation when b has room.
func (e *Entry) AppendKey(b []byte) []byte {
	kb := e.rawKey()
	if e.tab().typ == KeyInteger {
		return binary.BigEndian.AppendUint32(b, binary.LittleEndian.Uint32(kb))
	}
	return append(b, kb...)
}

func (e *Entry) rawKey() []byte {
	return unsafe.Slice((*byte)(e.at(e.tab().keyOff)), int(e.keyLen))
}

// Key returns the key in text form: a dotted or colon address for ip and
// ipv6 keys, decimal for integers, the bytes for strings and upper-case
// hexadecimal for binary keys.
func (e *Entry) Key() string {
	kb := e.rawKey()
	switch e.tab().typ {
	case KeyIPv4:
		return netip.AddrFrom4([4]byte(kb)).String()
	case KeyIPv6:
		return netip.AddrFrom16([16]byte(kb)).String()
	case KeyInteger:
		return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(kb)), 10)
	case KeyString:
		return string(kb)
	default:
		return string(appendHex(nil, kb))
	}
}

func (e *Entry) u32(off uint16) *atomic.Uint32 {
	return (*atomic.Uint32)(e.at(off))
}

func (e *Entry) u64(off uint16) *atomic.Uint64 {
	return (*atomic.Uint64)(e.at(off))
}

// Ctr returns the rate counter of a stored rate type, or nil, for callers
// that want freq's other readings (remaining quota, delay to next event).
// Pass the table's Period for dt.
func (e *Entry) Ctr(dt DataType) *freq.Ctr {
	if !e.tab().Stores(dt) || !dt.IsRate() {
		return nil
	}
	return e.ctr(e.tab().layout[dt].off)
}

func (e *Entry) ctr(off uint16) *freq.Ctr {
	return (*freq.Ctr)(e.at(off))
}

// Get returns the value of data type dt: counters and tags as stored
// (server_id is signed), rates as the number of events over the last
// period, interpolated like HAProxy's read_freq_ctr_period. It returns 0
// for a type the table does not store. For an array type it reads element
// 0, as HAProxy's runtime socket does; GetElem reads the others.
func (e *Entry) Get(dt DataType) int64 {
	if int(dt) >= dataTypeCount {
		return 0
	}
	t := e.tab()
	l := &t.layout[dt]
	switch {
	case !l.stored:
		return 0
	case l.std == stdFRQP:
		return int64(e.ctr(l.off).Rate(t.now(), l.period))
	case l.std == stdULL:
		return int64(e.u64(l.off).Load())
	case l.std == stdSINT:
		return int64(int32(e.u32(l.off).Load()))
	default:
		return int64(e.u32(l.off).Load())
	}
}

// Inc adds n to data type dt and returns the new value: counters wrap like
// HAProxy's (32 bits, 64 for byte counts); for rates, n events are counted
// now and the return value is the count of the current period (read the
// interpolated rate with Get). A type the table does not store is left
// alone and 0 returned. For an array type it counts on element 0;
// IncElem counts on the others.
func (e *Entry) Inc(dt DataType, n int64) int64 {
	if int(dt) >= dataTypeCount {
		return 0
	}
	t := e.tab()
	l := &t.layout[dt]
	switch {
	case !l.stored:
		return 0
	case l.std == stdFRQP:
		return e.incRate(l, n, t.now())
	case l.std == stdULL:
		return int64(e.u64(l.off).Add(uint64(n)))
	case l.std == stdSINT:
		return int64(int32(e.u32(l.off).Add(uint32(n))))
	default:
		return int64(e.u32(l.off).Add(uint32(n)))
	}
}

// IncAt is Inc with the date given for rates, for callers that read the
// table's clock (Table.Now) once for several operations.
func (e *Entry) IncAt(dt DataType, n int64, now uint32) int64 {
	if int(dt) < dataTypeCount {
		// Only known types are stored.
		if l := &e.tab().layout[dt]; l.stored && l.std == stdFRQP {
			return e.incRate(l, n, now)
		}
	}
	return e.Inc(dt, n)
}

func (e *Entry) incRate(l *dataLayout, n int64, now uint32) int64 {
	if n <= 0 {
		return int64(e.ctr(l.off).Rate(now, l.period))
	}
	return int64(e.ctr(l.off).Update(now, l.period, uint32(n)))
}

// Dec subtracts n from a counter or gauge and returns the new value. It
// never goes below 0 (conn_cur is decremented this way when a connection
// ends); server_id, being signed, may. Rates cannot be decremented: Dec
// leaves them alone and returns 0.
func (e *Entry) Dec(dt DataType, n int64) int64 {
	if int(dt) >= dataTypeCount {
		return 0
	}
	l := &e.tab().layout[dt]
	switch {
	case !l.stored || l.std == stdFRQP:
		return 0
	case l.std == stdSINT:
		return int64(int32(e.u32(l.off).Add(-uint32(n))))
	case l.std == stdULL:
		p := e.u64(l.off)
		for {
			v := p.Load()
			nv := v - min(v, uint64(n))
			if p.CompareAndSwap(v, nv) {
				return int64(nv)
			}
		}
	default:
		p := e.u32(l.off)
		for {
			v := p.Load()
			nv := v - min(v, uint32(n))
			if p.CompareAndSwap(v, nv) {
				return int64(nv)
			}
		}
	}
}

// Set stores v in data type dt (truncated to the type's width, as
// HAProxy's "set table" does). For a rate, v becomes the count of a period
// starting now with an empty previous period, so Get reads v for a whole
// period. It returns ErrNotStored if the table does not store dt. For an
// array type it sets element 0, as HAProxy's "set table" does; SetElem
// sets the others.
func (e *Entry) Set(dt DataType, v int64) error {
	t := e.tab()
	if !t.Stores(dt) {
		return errNotStored(t, dt)
	}
	l := &t.layout[dt]
	switch l.std {
	case stdFRQP:
		e.ctr(l.off).Set(t.now(), uint32(v), 0)
	case stdULL:
		e.u64(l.off).Store(uint64(v))
	default:
		e.u32(l.off).Store(uint32(v))
	}
	return nil
}

// elem returns the layout of dt and the offset of its element i, ok false
// when the table does not store dt or i is out of range.
func (t *Table) elem(dt DataType, i int) (l *dataLayout, off uint16, ok bool) {
	if int(dt) >= dataTypeCount {
		return nil, 0, false
	}
	l = &t.layout[dt]
	if !l.stored || uint(i) >= uint(l.n) {
		return nil, 0, false
	}
	size := 4
	if l.std == stdFRQP {
		size = int(unsafe.Sizeof(freq.Ctr{}))
	}
	return l, l.off + uint16(i*size), true
}

// GetElem returns element i of data type dt, read as Get reads values:
// the tag or counter of gpt and gpc, the interpolated rate of gpc_rate.
// Element 0 of a type that is not an array is its value, so GetElem(dt,
// 0) is Get(dt). It returns 0 when the table does not store dt or i is
// out of range (Table.Elems tells).
func (e *Entry) GetElem(dt DataType, i int) int64 {
	t := e.tab()
	l, off, ok := t.elem(dt, i)
	if !ok {
		return 0
	}
	switch l.std {
	case stdFRQP:
		return int64(e.ctr(off).Rate(t.now(), l.period))
	case stdULL:
		return int64(e.u64(off).Load())
	case stdSINT:
		return int64(int32(e.u32(off).Load()))
	default:
		return int64(e.u32(off).Load())
	}
}

// IncElem is Inc on element i of dt: counters wrap at 32 bits, a rate
// counts n events now and returns the count of the current period. It
// returns 0 and changes nothing when the table does not store dt or i is
// out of range.
func (e *Entry) IncElem(dt DataType, i int, n int64) int64 {
	return e.IncElemAt(dt, i, n, e.tab().now())
}

// IncElemAt is IncElem with the date given for rates, for callers that
// read the table's clock (Table.Now) once for several operations.
func (e *Entry) IncElemAt(dt DataType, i int, n int64, now uint32) int64 {
	l, off, ok := e.tab().elem(dt, i)
	if !ok {
		return 0
	}
	switch l.std {
	case stdFRQP:
		c := e.ctr(off)
		if n <= 0 {
			return int64(c.Rate(now, l.period))
		}
		return int64(c.Update(now, l.period, uint32(n)))
	case stdULL:
		return int64(e.u64(off).Add(uint64(n)))
	case stdSINT:
		return int64(int32(e.u32(off).Add(uint32(n))))
	default:
		return int64(e.u32(off).Add(uint32(n)))
	}
}

// SetElem is Set on element i of dt: a tag or counter takes v (truncated
// to 32 bits), a rate counts v over a period starting now. It returns
// ErrNotStored if the table does not store dt or i is out of range.
func (e *Entry) SetElem(dt DataType, i int, v int64) error {
	t := e.tab()
	l, off, ok := t.elem(dt, i)
	if !ok {
		return fmt.Errorf("%w: %s element %d in table %q", ErrNotStored, dt, i, t.name)
	}
	switch l.std {
	case stdFRQP:
		e.ctr(off).Set(t.now(), uint32(v), 0)
	case stdULL:
		e.u64(off).Store(uint64(v))
	default:
		e.u32(off).Store(uint32(v))
	}
	return nil
}

// CtrElem returns the rate counter of element i of a stored rate type
// (gpc_rate, or element 0 of a scalar rate), or nil.
func (e *Entry) CtrElem(dt DataType, i int) *freq.Ctr {
	l, off, ok := e.tab().elem(dt, i)
	if !ok || l.std != stdFRQP {
		return nil
	}
	return e.ctr(off)
}

// StartConn does what HAProxy's track-sc does when a connection starts
// being tracked: conn_cur, conn_cnt and conn_rate go up by one (those the
// table stores), then the entry is touched.
func (e *Entry) StartConn() {
	e.Inc(DataConnCur, 1)
	e.Inc(DataConnCnt, 1)
	e.Inc(DataConnRate, 1)
	e.Touch()
}

// EndConn undoes StartConn's conn_cur when the connection ends, then
// touches the entry.
func (e *Entry) EndConn() {
	e.Dec(DataConnCur, 1)
	e.Touch()
}
