package shctx

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// magic opens every region; it also fixes byte order, since a file written
// on a big-endian host reads back as another number.
const magic = 0x315854434853_4250 // "PBSHCTX1" read as little-endian

// version changes whenever the region's layout changes meaning.
const version = 1

// header is the region's first bytes. Only fixed-size integers, so its
// layout is the same in every process of one architecture.
type header struct {
	magic     uint64
	version   uint32
	_         uint32
	blockSize uint32
	bps       uint32
	shards    uint32
	buckets   uint32
	maxKey    uint32
	extra     uint32
	size      uint64
	seed      uint64
	hdrSize   uint32 // sizes of the three structs, to catch another build
	shardSize uint32
	blkSize   uint32
	_         uint32
}

// shardHdr is one shard's lock, lists and counters, 128 bytes so that two
// shards never share a cache line. Fields other than lock and dirty are
// read and written only under the lock.
type shardHdr struct {
	lock      uint32 // owner pid, 0 when free
	dirty     uint32 // 1 while lists are being relinked
	availHead uint32 // first free block, as block number + 1
	nbav      uint32 // blocks in the available list
	lruHead   uint32 // least recently stored row's first block + 1
	lruTail   uint32 // most recently stored row's first block + 1
	rows      uint32 // live entries
	_         uint32
	hits      uint64
	misses    uint64
	stores    uint64
	deletes   uint64
	evictions uint64
	expired   uint64
	steals    uint64
	resets    uint64
	_         [32]byte
}

// blockHdr precedes each block's data. Links are block number + 1 within
// the shard, 0 meaning none, so that zeroed memory is a valid empty link.
// Fields after next are meaningful only in a row's first block.
type blockHdr struct {
	next   uint32 // next block of the row, or of the available list
	last   uint32 // the row's last block
	prev   uint32 // LRU neighbour towards the cold end
	lnext  uint32 // LRU neighbour towards the hot end
	hnext  uint32 // next row in the same index bucket
	count  uint32 // blocks in the row
	keyLen uint16
	ref    uint8 // set by a hit, cleared by the evictor
	_      uint8
	valLen uint32
	hash   uint64
	expire int64 // unix nanoseconds, 0 for never
}

// Compile-time checks that the structs keep the sizes the layout assumes.
var (
	_ [128 - unsafe.Sizeof(shardHdr{})]byte
	_ [unsafe.Sizeof(shardHdr{}) - 128]byte
	_ [48 - unsafe.Sizeof(blockHdr{})]byte
	_ [unsafe.Sizeof(blockHdr{}) - 48]byte
)

func (g *geometry) writeHeader(h *header, seed uint64) {
	h.version = version
	h.blockSize = g.blockSize
	h.bps = g.bps
	h.shards = g.shards
	h.buckets = g.buckets
	h.maxKey = g.maxKey
	h.extra = g.extra
	h.size = g.size
	h.seed = seed
	h.hdrSize = uint32(unsafe.Sizeof(header{}))
	h.shardSize = uint32(unsafe.Sizeof(shardHdr{}))
	h.blkSize = uint32(unsafe.Sizeof(blockHdr{}))
	// The magic goes last, so an opener never trusts a half-written header.
	atomic.StoreUint64(&h.magic, magic)
}

// check compares a region's header with the geometry this process wants
// and names the first difference.
func (g *geometry) check(h *header) error {
	if m := atomic.LoadUint64(&h.magic); m != magic {
		return fmt.Errorf("magic %#x, want %#x: %w", m, uint64(magic), ErrLayout)
	}
	fields := []struct {
		name       string
		have, want uint64
	}{
		{"version", uint64(h.version), version},
		{"header size", uint64(h.hdrSize), uint64(unsafe.Sizeof(header{}))},
		{"shard header size", uint64(h.shardSize), uint64(unsafe.Sizeof(shardHdr{}))},
		{"block header size", uint64(h.blkSize), uint64(unsafe.Sizeof(blockHdr{}))},
		{"block size", uint64(h.blockSize), uint64(g.blockSize)},
		{"shards", uint64(h.shards), uint64(g.shards)},
		{"blocks per shard", uint64(h.bps), uint64(g.bps)},
		{"index size", uint64(h.buckets), uint64(g.buckets)},
		{"max key length", uint64(h.maxKey), uint64(g.maxKey)},
		{"extra size", uint64(h.extra), uint64(g.extra)},
		{"region size", h.size, g.size},
	}
	for _, f := range fields {
		if f.have != f.want {
			return fmt.Errorf("%s %d in the file, %d requested: %w", f.name, f.have, f.want, ErrLayout)
		}
	}
	return nil
}

func newSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on Linux, and any seed works
	return binary.LittleEndian.Uint64(b[:])
}

// mapAnon maps a region private to this process. A Go process never
// forks, so unlike HAProxy's MAP_SHARED|MAP_ANON the mapping is private,
// which lets the kernel back it with transparent huge pages: lookups land
// on random blocks, and with 4 KiB pages most of them also miss the TLB.
func mapAnon(g *geometry) ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, int(g.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("shctx: mmap %d anonymous bytes: %w", g.size, err)
	}
	adviseHugePages(mem)
	return mem, nil
}

// mapFile creates or opens path and maps it. It holds flock(2) while it
// looks at the file, so exactly one opener initialises a new file (calling
// initRegion) and none sees it half initialised. The fd is closed before
// returning: the mapping alone keeps the file's pages.
func mapFile(path string, mode uint32, g *geometry, initRegion func([]byte)) (mem []byte, err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, mode)
	if err != nil {
		return nil, fmt.Errorf("shctx: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("shctx: flock %s: %w", path, err)
	}
	// The mapping keeps the open file description, and so its flock,
	// alive after the close: unlock explicitly.
	defer unix.Flock(fd, unix.LOCK_UN)
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("shctx: stat %s: %w", path, err)
	}
	fresh := st.Size == 0
	switch {
	case fresh:
		if err = unix.Ftruncate(fd, int64(g.size)); err != nil {
			return nil, fmt.Errorf("shctx: size %s to %d bytes: %w", path, g.size, err)
		}
	case uint64(st.Size) < uint64(unsafe.Sizeof(header{})):
		return nil, fmt.Errorf("shctx: %s: %d bytes is too small for a header: %w", path, st.Size, ErrLayout)
	}
	size := int(g.size)
	if !fresh {
		size = int(st.Size)
	}
	mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shctx: mmap %s: %w", path, err)
	}
	h := (*header)(unsafe.Pointer(&mem[0]))
	if !fresh && atomic.LoadUint64(&h.magic) == 0 && uint64(st.Size) == g.size {
		// An opener died between sizing the file and writing the magic.
		fresh = true
	}
	if fresh {
		initRegion(mem)
		return mem, nil
	}
	if err = g.check(h); err != nil {
		_ = unix.Munmap(mem)
		return nil, fmt.Errorf("shctx: %s: %w", path, err)
	}
	if uint64(st.Size) != g.size {
		_ = unix.Munmap(mem)
		return nil, fmt.Errorf("shctx: %s: file is %d bytes, its header says %d: %w", path, st.Size, g.size, ErrLayout)
	}
	return mem, nil
}
