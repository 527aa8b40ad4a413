package stick

import (
	"math/bits"
	"sync/atomic"
)

// index maps a shard's keys to their slots. It is an open-addressing hash
// table with linear probing over one flat []uint32, which the garbage
// collector never scans: each word holds, above its sb low bits, the top
// bits of the key's hash (a tag), and in those low bits the slot plus one
// (0 marks an empty word). Four bytes a word keep the index of a
// million-entry table at 8 MB, half what whole keys beside the slots
// took, and that is what decides how often a lookup's first access hits
// the processor's caches. A matching tag is confirmed by the key in the
// entry; false matches are rare (one in 2^(32-sb) words probed).
//
// The words do not hold enough of the hash to place a word again, so
// moving one (growth, removal) reads the high half of its key's hash in
// hashes, indexed by slot, which the shard keeps beside its slabs (4
// bytes a slot, read only under the shard lock): reading the entry
// instead would cost a cache miss per word moved.
//
// Removal shifts the following words back instead of leaving tombstones,
// so probe sequences stay as short as the load allows (at most 3/4).
//
// Words are written atomically (under the shard lock) because ip and
// integer tables also read them without the lock (shard.acquire): such a
// reader may miss a word being shifted back, never see a torn one.
// Growth and a widening of the slot field build a new array; readers of
// the old one see a consistent, if stale, index.
type index struct {
	words []uint32
	mask  uint32
	n     uint32
	sb    uint8 // bits of a word holding the slot plus one
}

const indexMinSize = 8

// init empties the index, with room in a word for slots below
// 2^sb-1 (more later widens the field).
func (x *index) init(sb uint8) {
	x.words = make([]uint32, indexMinSize)
	x.mask = indexMinSize - 1
	x.n = 0
	x.sb = sb
}

// slotBits returns the slot field width for slots below n.
func slotBits(n int) uint8 { return uint8(min(32, max(8, bits.Len(uint(n))))) }

// mix32 hashes a 4-byte key with the table's seed: a full 64-bit
// multiply, whose folded halves spread every input bit, costs about a
// nanosecond where a general byte hash costs several.
func mix32(k uint32, seed uint64) uint64 {
	hi, lo := bits.Mul64(uint64(k)^seed, 0x9E3779B97F4A7C15)
	return hi ^ lo
}

// home returns where the probe for hash h starts. The shard was chosen
// with the hash's low bits, so the index uses the high ones.
func (x *index) home(h uint64) uint32 { return uint32(h>>32) & x.mask }

// tagOf returns the tag of hash h for a slot field of sb bits: the top
// 32-sb bits of the hash (none when sb is 32).
func tagOf(h uint64, sb uint8) uint32 { return uint32(h >> (32 + sb)) }

// slotOf returns the slot plus one held in word w.
func slotOf(w uint32, sb uint8) uint32 { return w & uint32(1<<sb-1) }

// insert adds the word of slot, whose key hashes to h; the caller knows
// the key is absent. It reports whether the words moved to a new array.
func (x *index) insert(h uint64, slot uint32, hashes []uint32) bool {
	moved := false
	for uint64(slot)+1 >= 1<<x.sb {
		x.widen()
		moved = true
	}
	if (x.n+1)*4 > uint32(len(x.words))*3 {
		x.grow(hashes)
		moved = true
	}
	i := x.home(h)
	for x.words[i] != 0 {
		i = (i + 1) & x.mask
	}
	atomic.StoreUint32(&x.words[i], tagOf(h, x.sb)<<x.sb|(slot+1))
	x.n++
	return moved
}

// widen gives the slot field one more bit, in a new array: a tag loses
// its lowest bit, and every word keeps its place.
func (x *index) widen() {
	old, sb := x.words, x.sb
	x.words = make([]uint32, len(old))
	for i, w := range old {
		if w != 0 {
			x.words[i] = (w>>sb)>>1<<(sb+1) | slotOf(w, sb)
		}
	}
	x.sb++
}

func (x *index) grow(hashes []uint32) {
	old := x.words
	x.words = make([]uint32, 2*len(old))
	x.mask = uint32(len(x.words) - 1)
	for _, w := range old {
		if w != 0 {
			// The new array is not yet visible to lock-free readers.
			i := hashes[slotOf(w, x.sb)-1] & x.mask
			for x.words[i] != 0 {
				i = (i + 1) & x.mask
			}
			x.words[i] = w
		}
	}
}

// remove deletes the word of slot, whose key hashes to h, then moves
// back every following word of the run that would otherwise become
// unreachable from its home.
func (x *index) remove(h uint64, slot uint32, hashes []uint32) bool {
	i := x.home(h)
	for {
		w := x.words[i]
		if w == 0 {
			return false
		}
		if slotOf(w, x.sb) == slot+1 {
			break
		}
		i = (i + 1) & x.mask
	}
	for j := (i + 1) & x.mask; ; j = (j + 1) & x.mask {
		w := x.words[j]
		if w == 0 {
			break
		}
		// The word at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if k := hashes[slotOf(w, x.sb)-1] & x.mask; (j-k)&x.mask >= (j-i)&x.mask {
			atomic.StoreUint32(&x.words[i], w)
			i = j
		}
	}
	atomic.StoreUint32(&x.words[i], 0)
	x.n--
	return true
}
