package shctx

import (
	"bytes"
	"unsafe"
)

// shard is this process's view of one shard: pointers into the mapping
// plus copies of the geometry, so the hot paths read one struct.
//
// Every method runs under the shard's lock. Links read from the region are
// checked before they are followed; a method that finds one out of range or
// a chain longer than the shard returns ok=false and the caller rebuilds the
// shard, so a damaged region costs entries, never a crash.
type shard struct {
	hdr     *shardHdr
	buckets []uint32
	blocks  unsafe.Pointer
	stride  uintptr
	bs      uint32 // data bytes per block
	bps     uint32 // blocks in this shard
	mask    uint32 // len(buckets)-1
}

const blockHdrSize = unsafe.Sizeof(blockHdr{})

// blk returns the header of block i, a 1-based link already checked.
func (s *shard) blk(i uint32) *blockHdr {
	return (*blockHdr)(unsafe.Add(s.blocks, uintptr(i-1)*s.stride))
}

// data returns the data bytes of the block whose header is b.
func (s *shard) data(b *blockHdr) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(b), blockHdrSize)), s.bs)
}

func (s *shard) valid(i uint32) bool { return i != 0 && i <= s.bps }

// reset makes the shard empty: every block available, in order, and the
// index cleared. It trusts nothing previously in the shard.
func (s *shard) reset() {
	clear(s.buckets)
	for i := uint32(1); i <= s.bps; i++ {
		b := s.blk(i)
		*b = blockHdr{}
		if i < s.bps {
			b.next = i + 1
		}
	}
	h := s.hdr
	h.availHead = 1
	h.nbav = s.bps
	h.lruHead, h.lruTail, h.rows = 0, 0, 0
	h.resets++
}

// find returns the first block of key's row, or 0.
func (s *shard) find(hash uint64, key []byte) (first uint32, ok bool) {
	i := s.buckets[uint32(hash)&s.mask]
	for n := uint32(0); i != 0; n++ {
		if i > s.bps || n >= s.bps {
			return 0, false
		}
		b := s.blk(i)
		if b.hash == hash && int(b.keyLen) == len(key) && bytes.Equal(s.data(b)[:len(key)], key) {
			return i, true
		}
		i = b.hnext
	}
	return 0, true
}

// unindex removes row first from its bucket's chain.
func (s *shard) unindex(first uint32, b *blockHdr) bool {
	p := &s.buckets[uint32(b.hash)&s.mask]
	for n := uint32(0); *p != 0; n++ {
		if *p == first {
			*p = b.hnext
			b.hnext = 0
			return true
		}
		if !s.valid(*p) || n >= s.bps {
			return false
		}
		p = &s.blk(*p).hnext
	}
	return false
}

// lruUnlink takes row first out of the hot list.
func (s *shard) lruUnlink(first uint32, b *blockHdr) bool {
	h := s.hdr
	if (b.prev != 0 && !s.valid(b.prev)) || (b.lnext != 0 && !s.valid(b.lnext)) {
		return false
	}
	if b.prev != 0 {
		s.blk(b.prev).lnext = b.lnext
	} else if h.lruHead == first {
		h.lruHead = b.lnext
	} else {
		return false
	}
	if b.lnext != 0 {
		s.blk(b.lnext).prev = b.prev
	} else if h.lruTail == first {
		h.lruTail = b.prev
	} else {
		return false
	}
	b.prev, b.lnext = 0, 0
	return true
}

// lruPush appends row first at the hot end of the hot list.
func (s *shard) lruPush(first uint32, b *blockHdr) bool {
	h := s.hdr
	b.prev, b.lnext = h.lruTail, 0
	if h.lruTail != 0 {
		if !s.valid(h.lruTail) {
			return false
		}
		s.blk(h.lruTail).lnext = first
	} else {
		h.lruHead = first
	}
	h.lruTail = first
	return true
}

// remove drops row first from the index and the hot list and gives its
// blocks back to the available list, at its head so they are reused first.
func (s *shard) remove(first uint32) bool {
	b := s.blk(first)
	if !s.unindex(first, b) || !s.lruUnlink(first, b) {
		return false
	}
	h := s.hdr
	if b.count == 0 || b.count > s.bps-h.nbav || !s.valid(b.last) || h.rows == 0 {
		return false
	}
	s.blk(b.last).next = h.availHead
	h.availHead = first
	h.nbav += b.count
	h.rows--
	b.count = 0
	return true
}

// alloc takes need blocks from the available list (the caller made sure
// there are enough), chains them into a row and returns its first and last
// block.
func (s *shard) alloc(need uint32) (first, last uint32, ok bool) {
	h := s.hdr
	first = h.availHead
	i := first
	for k := uint32(0); k < need; k++ {
		if !s.valid(i) {
			return 0, 0, false
		}
		last = i
		b := s.blk(i)
		i = b.next
		if k == need-1 {
			b.next = 0
		}
	}
	h.availHead = i
	h.nbav -= need
	return first, last, true
}

// evictOne frees the row at the cold end of the hot list, or gives it a
// second chance if a hit referenced it since it was last considered. now
// is read lazily, since most rows never expire.
func (s *shard) evictOne(now *int64) bool {
	h := s.hdr
	first := h.lruHead
	if !s.valid(first) {
		return false
	}
	b := s.blk(first)
	expired := b.expire != 0 && b.expire <= nowNano(now)
	if b.ref != 0 && !expired && first != h.lruTail {
		b.ref = 0
		return s.lruUnlink(first, b) && s.lruPush(first, b)
	}
	if !s.remove(first) {
		return false
	}
	if expired {
		h.expired++
	} else {
		h.evictions++
	}
	return true
}

// store writes a new row for key and value, evicting as needed, replacing
// any row already holding key.
func (s *shard) store(hash uint64, key, value []byte, need uint32, expire int64) bool {
	old, ok := s.find(hash, key)
	if !ok {
		return false
	}
	if old != 0 {
		if b := s.blk(old); b.count == need && s.sane(b) {
			// Same number of blocks: rewrite the value in place. The row
			// keeps its place in the hot list but counts as referenced, so
			// it gets the second chance a move to the hot end would give,
			// without touching its neighbours' headers.
			b.valLen, b.expire, b.ref = uint32(len(value)), expire, 1
			if !s.write(b, int(b.keyLen), value) {
				return false
			}
			s.hdr.stores++
			return true
		}
		if !s.remove(old) {
			return false
		}
	}
	var now int64
	for s.hdr.nbav < need {
		if !s.evictOne(&now) {
			return false
		}
	}
	first, last, ok := s.alloc(need)
	if !ok {
		return false
	}
	b := s.blk(first)
	b.last, b.count = last, need
	b.keyLen, b.valLen = uint16(len(key)), uint32(len(value))
	b.hash, b.expire, b.ref = hash, expire, 0

	copy(s.data(b), key)
	s.write(b, len(key), value) // alloc checked the chain

	bk := &s.buckets[uint32(hash)&s.mask]
	b.hnext = *bk
	*bk = first
	s.hdr.rows++
	s.hdr.stores++
	return s.lruPush(first, b)
}

// write copies value into the row that starts with block b, from byte off
// of the row, off being within the first block.
func (s *shard) write(b *blockHdr, off int, value []byte) bool {
	d := s.data(b)[off:]
	for {
		value = value[copy(d, value):]
		if len(value) == 0 {
			return true
		}
		if !s.valid(b.next) {
			return false
		}
		b = s.blk(b.next)
		d = s.data(b)
	}
}

// read copies up to len(dst) bytes of row first's value into dst and
// returns the value's full length.
func (s *shard) read(first uint32, dst []byte) (n int, ok bool) {
	b := s.blk(first)
	if !s.sane(b) {
		return 0, false
	}
	n = int(b.valLen)
	want := min(n, len(dst))
	d := s.data(b)[b.keyLen:]
	for cur, done := b, 0; ; {
		done += copy(dst[done:want], d)
		if done == want {
			break
		}
		if !s.valid(cur.next) {
			return 0, false
		}
		cur = s.blk(cur.next)
		d = s.data(cur)
	}
	return n, true
}

// sane reports whether a row's lengths fit its blocks, before they are used
// to slice them.
func (s *shard) sane(b *blockHdr) bool {
	return b.count <= s.bps && uint32(b.keyLen) <= s.bs &&
		uint64(b.keyLen)+uint64(b.valLen) <= uint64(b.count)*uint64(s.bs)
}

// appendRow appends row first's key and value to buf, for snapshots.
func (s *shard) appendRow(buf []byte, first uint32) ([]byte, bool) {
	b := s.blk(first)
	if !s.sane(b) {
		return buf, false
	}
	rest := int(b.keyLen) + int(b.valLen)
	for cur := b; ; {
		d := s.data(cur)
		take := min(rest, len(d))
		buf = append(buf, d[:take]...)
		rest -= take
		if rest == 0 {
			return buf, true
		}
		if !s.valid(cur.next) {
			return buf, false
		}
		cur = s.blk(cur.next)
	}
}
