package stick

import (
	"math/bits"
	"sync/atomic"
)

// index maps a shard's keys to their slots. It is an open-addressing hash
// table with linear probing over one flat []uint64, which the garbage
// collector never scans and a lookup reads with one cache miss: each word
// holds a 32-bit tag and the slot plus one (0 marks an empty word). For ip
// and integer tables the tag is the key itself, so a probe never leaves
// the index; for other key types it is the high half of the key's hash
// and the key is confirmed in the entry.
//
// Removal shifts the following words back instead of leaving tombstones,
// so probe sequences stay as short as the load allows (at most 3/4).
//
// Words are written atomically (under the shard lock) because ip and
// integer tables also read them without the lock (shard.acquire): such a
// reader may miss a word being shifted back, never see a torn one.
type index struct {
	words []uint64
	mask  uint32
	n     uint32
}

const indexMinSize = 8

func (x *index) init() {
	x.words = make([]uint64, indexMinSize)
	x.mask = indexMinSize - 1
	x.n = 0
}

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

// findTag returns the slot stored under tag, probing from the tag's home;
// it suits tables whose tag is the whole key.
func (x *index) findTag(h uint64, tag uint32) (uint32, bool) {
	for i := x.home(h); ; i = (i + 1) & x.mask {
		w := x.words[i]
		if w == 0 {
			return 0, false
		}
		if uint32(w>>32) == tag {
			return uint32(w) - 1, true
		}
	}
}

// insert adds tag → slot; the caller knows the key is absent. rehome
// gives the hash of a stored word when the index grows.
func (x *index) insert(h uint64, tag, slot uint32, rehome func(w uint64) uint64) {
	if (x.n+1)*4 > uint32(len(x.words))*3 {
		x.grow(rehome)
	}
	x.put(h, uint64(tag)<<32|uint64(slot+1))
	x.n++
}

func (x *index) put(h uint64, w uint64) {
	i := x.home(h)
	for x.words[i] != 0 {
		i = (i + 1) & x.mask
	}
	atomic.StoreUint64(&x.words[i], w)
}

func (x *index) grow(rehome func(w uint64) uint64) {
	old := x.words
	x.words = make([]uint64, 2*len(old))
	x.mask = uint32(len(x.words) - 1)
	for _, w := range old {
		if w != 0 {
			// The new array is not yet visible to lock-free readers.
			i := x.home(rehome(w))
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
func (x *index) remove(h uint64, slot uint32, rehome func(w uint64) uint64) bool {
	i := x.home(h)
	for {
		w := x.words[i]
		if w == 0 {
			return false
		}
		if uint32(w) == slot+1 {
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
		if k := x.home(rehome(w)); (j-k)&x.mask >= (j-i)&x.mask {
			atomic.StoreUint64(&x.words[i], w)
			i = j
		}
	}
	atomic.StoreUint64(&x.words[i], 0)
	x.n--
	return true
}
