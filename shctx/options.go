package shctx

import (
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"time"
	"unsafe"
)

// Defaults applied by [Open] to zero fields of [Options].
const (
	// DefaultBlockSize holds a 32-byte TLS session id and a ~200-byte
	// session in one block.
	DefaultBlockSize = 256
	// DefaultBlocks is HAProxy's default tune.ssl.cachesize.
	DefaultBlocks = 20000
	// DefaultMaxKeyLen is the longest key accepted unless set otherwise.
	DefaultMaxKeyLen = 64
	// DefaultStealAfter is how long a waiter waits on one owner before it
	// checks whether that owner process is still alive.
	DefaultStealAfter = time.Millisecond
)

// Limits on the geometry; they keep every size within 32-bit fields and
// every offset computation within int64.
const (
	minBlockSize = 16
	maxBlockSize = 1 << 20
	maxShards    = 1 << 10
	maxBlocks    = 1 << 30
	maxKeyLen    = 1<<16 - 1
	maxExtra     = 1 << 30
	maxSize      = 1 << 44
)

// Sentinel errors a caller may test with [errors.Is].
var (
	// ErrOptions means an [Options] field is out of range.
	ErrOptions = errors.New("invalid options")
	// ErrLayout means an existing file was made with another layout (or is
	// not a cache file at all).
	ErrLayout = errors.New("layout mismatch")
	// ErrKeySize means a key is empty or longer than the cache's maximum.
	ErrKeySize = errors.New("bad key size")
	// ErrTooLarge means an entry needs more blocks than a shard has.
	ErrTooLarge = errors.New("entry too large")
	// ErrClosed means the cache was closed.
	ErrClosed = errors.New("cache closed")
)

// Options sets the geometry of a cache and how it is shared. Zero fields
// take the defaults above. Every process opening the same file must pass
// options that resolve to the same geometry.
type Options struct {
	// Path names a file to share with other processes, created if absent
	// (for example "/dev/shm/myapp.cache"). Empty means an anonymous
	// mapping private to this process.
	Path string
	// Mode is the permission of a newly created file; 0 means 0600.
	Mode os.FileMode
	// BlockSize is the number of data bytes per block, a multiple of 8.
	BlockSize int
	// Blocks is the total number of blocks; it is rounded up to a multiple
	// of the number of shards.
	Blocks int
	// MaxKeyLen is the longest key accepted. It may not exceed BlockSize,
	// so that a key always sits in its row's first block.
	MaxKeyLen int
	// ExtraSize is the size of the user area returned by [Cache.Extra].
	ExtraSize int
	// Shards is the number of independently locked parts, a power of two.
	// 0 picks one shard per 128 blocks, at most 32.
	Shards int
	// IndexSize is the number of index buckets per shard, a power of two.
	// 0 picks the number of blocks per shard rounded up to a power of two.
	IndexSize int
	// StealAfter is how long a waiter waits on one lock owner before it
	// checks whether the owner died. 0 means DefaultStealAfter.
	StealAfter time.Duration
	// Logger receives the rare events worth an operator's attention (a
	// lock taken from a dead process, a shard rebuilt). nil means
	// slog.Default().
	Logger *slog.Logger
}

// geometry is the resolved layout, the part of Options recorded in the
// header and compared by every opener.
type geometry struct {
	blockSize uint32
	bps       uint32 // blocks per shard
	shards    uint32
	buckets   uint32 // index buckets per shard
	maxKey    uint32
	extra     uint32

	// Derived offsets, in bytes from the region's start.
	shardsOff uint64
	extraOff  uint64
	indexOff  uint64
	blocksOff uint64
	stride    uint64 // bytes per block, header included
	size      uint64
}

func optErr(format string, args ...any) error {
	return fmt.Errorf("shctx: "+format+": %w", append(args, ErrOptions)...)
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }

// resolve applies defaults and checks ranges.
func (o Options) resolve() (geometry, error) {
	var g geometry
	bs := o.BlockSize
	if bs == 0 {
		bs = DefaultBlockSize
	}
	if bs < minBlockSize || bs > maxBlockSize || bs%8 != 0 {
		return g, optErr("block size %d: want a multiple of 8 from %d to %d", bs, minBlockSize, maxBlockSize)
	}
	nb := o.Blocks
	if nb == 0 {
		nb = DefaultBlocks
	}
	if nb < 1 || nb > maxBlocks {
		return g, optErr("blocks %d: want 1 to %d", nb, maxBlocks)
	}
	mk := o.MaxKeyLen
	if mk == 0 {
		mk = min(DefaultMaxKeyLen, bs)
	}
	if mk < 1 || mk > bs || mk > maxKeyLen {
		return g, optErr("max key length %d: want 1 to the block size %d", mk, bs)
	}
	if o.ExtraSize < 0 || o.ExtraSize > maxExtra {
		return g, optErr("extra size %d: want 0 to %d", o.ExtraSize, maxExtra)
	}
	sh := o.Shards
	if sh == 0 {
		sh = 1
		for sh < 32 && nb/(sh*2) >= 128 {
			sh *= 2
		}
	}
	if !isPow2(sh) || sh > maxShards {
		return g, optErr("shards %d: want a power of two up to %d", sh, maxShards)
	}
	bps := (nb + sh - 1) / sh
	nbk := o.IndexSize
	if nbk == 0 {
		nbk = 1 << bits.Len(uint(bps-1))
	}
	if !isPow2(nbk) || nbk > maxBlocks {
		return g, optErr("index size %d: want a power of two up to %d", nbk, maxBlocks)
	}
	if o.StealAfter < 0 {
		return g, optErr("steal after %v: want 0 or more", o.StealAfter)
	}

	g = geometry{
		blockSize: uint32(bs),
		bps:       uint32(bps),
		shards:    uint32(sh),
		buckets:   uint32(nbk),
		maxKey:    uint32(mk),
		extra:     uint32(o.ExtraSize),
	}
	g.layout()
	if g.size > maxSize {
		return g, optErr("region of %d bytes: more than %d", g.size, uint64(maxSize))
	}
	return g, nil
}

// layout derives the offsets from the recorded fields. Sections start on
// cache lines so that shard headers do not share lines.
func (g *geometry) layout() {
	g.shardsOff = roundUp(uint64(unsafe.Sizeof(header{})), 64)
	g.extraOff = g.shardsOff + uint64(g.shards)*uint64(unsafe.Sizeof(shardHdr{}))
	g.indexOff = roundUp(g.extraOff+uint64(g.extra), 64)
	g.blocksOff = roundUp(g.indexOff+uint64(g.shards)*uint64(g.buckets)*4, 64)
	g.stride = uint64(unsafe.Sizeof(blockHdr{})) + uint64(g.blockSize)
	g.size = g.blocksOff + uint64(g.shards)*uint64(g.bps)*g.stride
}
