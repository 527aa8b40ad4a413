package h2

import (
	"hash/maphash"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// hpackEncoder encodes header fields (RFC 7541) for one connection. A
// field whose name and value are in the static or the dynamic table
// costs one index; any other is sent as a literal and added to the
// dynamic table, so that a value the connection sends again (a
// server's Content-Type, a cache's Date) is an index from then on.
//
// Lookups go through two small hash tables, one by name and value, one
// by name alone (for names outside the static table), of a few ways per
// bucket, each way holding an entry's number. A bucket that overflows
// lets its oldest entry go, which costs a missed index, never a wrong
// one: the entry's bytes are compared before use. Entries keep their bytes in
// buffers reused as the table turns over, so a connection that keeps
// sending the same fields allocates nothing.
type hpackEncoder struct {
	// ents is a ring: entry number k is at k%len(ents). It grows as the
	// live entries need, up to hpackMaxEntries.
	ents []hpackEntry
	// inserted counts the entries ever added; n are live, the newest
	// numbered inserted-1. size is theirs (RFC 7541 §4.1), maxSize the
	// table's, at most limit, the peer's SETTINGS_HEADER_TABLE_SIZE.
	inserted uint32
	n        uint32
	size     uint32
	maxSize  uint32
	limit    uint32
	// update says the next block starts with a table size update, of
	// minSize first when it is smaller than maxSize (RFC 7541 §4.2).
	update  bool
	minSize uint32
	pairs   [hpackBuckets]hpackBucket // by hash of name and value
	names   [hpackBuckets]hpackBucket // by hash of name
}

// hpackBucket holds entry numbers plus one; 0 is a free way.
type hpackBucket [4]uint32

type hpackEntry struct {
	b       []byte // name, then value
	nameLen int
	num     uint32
	hash    uint32 // of name and value
}

const (
	// hpackMaxEntries is the most entries a table of initialHeaderTable
	// bytes holds: each costs 32 bytes besides its name and value.
	hpackMaxEntries = initialHeaderTable / 32
	hpackBuckets    = 64
	hpackStatic     = 61 // entries of the static table
)

var hpackSeed = maphash.MakeSeed()

// newHPACKEncoder makes an encoder whose table holds maxSize bytes; the
// peer allows limit.
func newHPACKEncoder(maxSize, limit uint32) *hpackEncoder {
	return &hpackEncoder{maxSize: min(maxSize, initialHeaderTable), limit: limit, minSize: ^uint32(0)}
}

// setMaxSize sets the table's size, up to the peer's limit and
// initialHeaderTable, and announces it in the next block.
func (e *hpackEncoder) setMaxSize(v uint32) {
	v = min(v, e.limit, initialHeaderTable)
	e.minSize = min(e.minSize, v)
	e.maxSize = v
	e.update = true
	e.evict(0)
}

// setLimit records the peer's SETTINGS_HEADER_TABLE_SIZE: a table larger
// than it shrinks.
func (e *hpackEncoder) setLimit(v uint32) {
	e.limit = v
	if e.maxSize > v {
		e.setMaxSize(v)
	}
}

// evict drops the oldest entries until room more bytes fit.
func (e *hpackEncoder) evict(room uint32) {
	for e.n > 0 && e.size+room > e.maxSize {
		old := &e.ents[(e.inserted-e.n)%uint32(len(e.ents))]
		e.size -= uint32(len(old.b)) + 32
		e.n--
	}
}

// lookup returns the entry numbered by slot value v, if it is live.
func (e *hpackEncoder) lookup(v uint32) (*hpackEntry, bool) {
	if v == 0 {
		return nil, false
	}
	k := v - 1
	if e.inserted-1-k >= e.n {
		return nil, false
	}
	ent := &e.ents[k%uint32(len(e.ents))]
	return ent, ent.num == k
}

// grow doubles the ring, keeping the live entries at their numbers'
// places.
func (e *hpackEncoder) grow() {
	size := min(max(16, 2*len(e.ents)), hpackMaxEntries)
	ents := make([]hpackEntry, size)
	for k := e.inserted - e.n; k != e.inserted; k++ {
		ents[k%uint32(size)] = e.ents[k%uint32(len(e.ents))]
	}
	e.ents = ents
}

// index is the HPACK index of entry number k.
func (e *hpackEncoder) index(k uint32) uint64 {
	return uint64(hpackStatic + 1 + (e.inserted - 1 - k))
}

func hashBytes(b []byte) uint64 { return maphash.Bytes(hpackSeed, b) }

// field appends the encoding of one field to dst. name must be in
// lower case.
func (e *hpackEncoder) field(dst, name, value []byte) []byte {
	if e.update {
		e.update = false
		if e.minSize < e.maxSize {
			dst = appendHPACKInt(dst, 5, 0x20, uint64(e.minSize))
		}
		e.minSize = ^uint32(0)
		dst = appendHPACKInt(dst, 5, 0x20, uint64(e.maxSize))
	}
	sname, spair := staticIndex(name, value)
	if spair != 0 {
		return append(dst, 0x80|spair)
	}
	hn := hashBytes(name)
	hp := hn ^ hashBytes(value)*0x9e3779b97f4a7c15
	pb := &e.pairs[hp%hpackBuckets]
	for _, v := range pb {
		if ent, ok := e.lookup(v); ok && ent.hash == uint32(hp) && string(ent.b[:ent.nameLen]) == string(name) && string(ent.b[ent.nameLen:]) == string(value) {
			return appendHPACKInt(dst, 7, 0x80, e.index(ent.num))
		}
	}
	nameIdx := uint64(sname)
	var nb *hpackBucket
	nway := -1
	if nameIdx == 0 {
		nb = &e.names[hn%hpackBuckets]
		for i, v := range nb {
			if ent, ok := e.lookup(v); ok && string(ent.b[:ent.nameLen]) == string(name) {
				nameIdx, nway = e.index(ent.num), i
				break
			}
		}
	}
	size := uint32(len(name)+len(value)) + 32
	if size > e.maxSize {
		// Too large for the table: a literal without indexing.
		dst = appendHPACKInt(dst, 4, 0, nameIdx)
	} else {
		dst = appendHPACKInt(dst, 6, 0x40, nameIdx)
	}
	if nameIdx == 0 {
		dst = appendHPACKString(dst, name)
	}
	dst = appendHPACKString(dst, value)
	if size > e.maxSize {
		return dst
	}
	e.evict(size)
	if int(e.n) == len(e.ents) {
		e.grow()
	}
	k := e.inserted
	ent := &e.ents[k%uint32(len(e.ents))]
	need := len(name) + len(value)
	if cap(ent.b) < need || cap(ent.b) > 4*need+64 {
		// Grown, or shrunk so that one long value does not stay
		// with the slot for the connection's life.
		ent.b = make([]byte, 0, need)
	}
	ent.b = append(append(ent.b[:0], name...), value...)
	ent.nameLen, ent.num, ent.hash = len(name), k, uint32(hp)
	e.place(pb, k)
	if nb != nil {
		if nway >= 0 {
			nb[nway] = k + 1 // the newer entry of the name outlives the older
		} else {
			e.place(nb, k)
		}
	}
	e.inserted++
	e.n++
	e.size += size
	return dst
}

// place puts entry number k in a free way of b, or one whose entry left
// the table, or else in the oldest's.
func (e *hpackEncoder) place(b *hpackBucket, k uint32) {
	way, oldest := 0, uint32(0)
	for i, v := range b {
		if _, ok := e.lookup(v); !ok {
			b[i] = k + 1
			return
		}
		if age := k - v; age > oldest {
			way, oldest = i, age
		}
	}
	b[way] = k + 1
}

// appendHPACKInt appends v as an HPACK integer of an n-bit prefix, the
// first byte's higher bits being flags (RFC 7541 §5.1).
func appendHPACKInt(dst []byte, n uint, flags byte, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, flags|byte(v))
	}
	dst = append(dst, flags|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendHPACKString appends a string literal, Huffman-coded when that
// is shorter (RFC 7541 §5.2).
func appendHPACKString(dst, s []byte) []byte {
	// The coder takes strings; it only reads s.
	str := unsafe.String(unsafe.SliceData(s), len(s))
	if hl := hpack.HuffmanEncodeLength(str); hl < uint64(len(s)) {
		dst = appendHPACKInt(dst, 7, 0x80, hl)
		return hpack.AppendHuffmanString(dst, str)
	}
	dst = appendHPACKInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}

// staticIndex returns the index of name in the static table (RFC 7541
// Appendix A), and of name and value together when the table has both,
// 0 when it has not.
func staticIndex(name, value []byte) (nameIdx, pairIdx byte) {
	switch string(name) {
	case ":authority":
		return 1, 0
	case ":method":
		switch string(value) {
		case "GET":
			return 2, 2
		case "POST":
			return 2, 3
		}
		return 2, 0
	case ":path":
		switch string(value) {
		case "/":
			return 4, 4
		case "/index.html":
			return 4, 5
		}
		return 4, 0
	case ":scheme":
		switch string(value) {
		case "http":
			return 6, 6
		case "https":
			return 6, 7
		}
		return 6, 0
	case ":status":
		switch string(value) {
		case "200":
			return 8, 8
		case "204":
			return 8, 9
		case "206":
			return 8, 10
		case "304":
			return 8, 11
		case "400":
			return 8, 12
		case "404":
			return 8, 13
		case "500":
			return 8, 14
		}
		return 8, 0
	case "accept-charset":
		return 15, 0
	case "accept-encoding":
		if string(value) == "gzip, deflate" {
			return 16, 16
		}
		return 16, 0
	case "accept-language":
		return 17, 0
	case "accept-ranges":
		return 18, 0
	case "accept":
		return 19, 0
	case "access-control-allow-origin":
		return 20, 0
	case "age":
		return 21, 0
	case "allow":
		return 22, 0
	case "authorization":
		return 23, 0
	case "cache-control":
		return 24, 0
	case "content-disposition":
		return 25, 0
	case "content-encoding":
		return 26, 0
	case "content-language":
		return 27, 0
	case "content-length":
		return 28, 0
	case "content-location":
		return 29, 0
	case "content-range":
		return 30, 0
	case "content-type":
		return 31, 0
	case "cookie":
		return 32, 0
	case "date":
		return 33, 0
	case "etag":
		return 34, 0
	case "expect":
		return 35, 0
	case "expires":
		return 36, 0
	case "from":
		return 37, 0
	case "host":
		return 38, 0
	case "if-match":
		return 39, 0
	case "if-modified-since":
		return 40, 0
	case "if-none-match":
		return 41, 0
	case "if-range":
		return 42, 0
	case "if-unmodified-since":
		return 43, 0
	case "last-modified":
		return 44, 0
	case "link":
		return 45, 0
	case "location":
		return 46, 0
	case "max-forwards":
		return 47, 0
	case "proxy-authenticate":
		return 48, 0
	case "proxy-authorization":
		return 49, 0
	case "range":
		return 50, 0
	case "referer":
		return 51, 0
	case "refresh":
		return 52, 0
	case "retry-after":
		return 53, 0
	case "server":
		return 54, 0
	case "set-cookie":
		return 55, 0
	case "strict-transport-security":
		return 56, 0
	case "transfer-encoding":
		return 57, 0
	case "user-agent":
		return 58, 0
	case "vary":
		return 59, 0
	case "via":
		return 60, 0
	case "www-authenticate":
		return 61, 0
	}
	return 0, 0
}

// Pseudo-header names and values a request is sent with.
var (
	pseudoMethod    = []byte(":method")
	pseudoScheme    = []byte(":scheme")
	pseudoAuthority = []byte(":authority")
	pseudoPath      = []byte(":path")
	schemeHTTP      = []byte("http")
	schemeHTTPS     = []byte("https")
	rootPath        = []byte("/")
)
