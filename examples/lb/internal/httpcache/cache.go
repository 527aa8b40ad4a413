package httpcache

import (
	"cmp"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/shctx"
)

// BlockSize is the size of the blocks the store is cut in, HAProxy's
// CACHE_BLOCKSIZE.
const BlockSize = 1024

// Config describes one cache, a "cache" section.
type Config struct {
	// Name is the section's name, which res.cache_name returns.
	Name string
	// Size is the store's size in bytes (total-max-size).
	Size int64
	// MaxObjectSize bounds a kept response, head and body, in bytes.
	MaxObjectSize int64
	// MaxAge bounds how long a response is kept.
	MaxAge time.Duration
	// ProcessVary keeps the variants of responses that vary on
	// Accept-Encoding or Referer.
	ProcessVary bool
	// MaxSecondaryEntries bounds the variants of one URL.
	MaxSecondaryEntries int
}

// Cache is one HTTP cache. Its methods are safe for concurrent use.
type Cache struct {
	cfg Config
	sc  *shctx.Cache
	// mu orders the updates of a URL's list of variants.
	mu   sync.Mutex
	bufs sync.Pool
	// ids number the variants.
	ids atomic.Uint64
	// hits are Hits to reuse, with their buffers.
	hits sync.Pool
}

// keyLen is the length of a primary key, a SHA-1.
const keyLen = sha1.Size

// ErrConfig reports a Config New cannot build a cache from.
var ErrConfig = errors.New("httpcache: bad configuration")

// New allocates a cache of cfg.Size bytes in an anonymous shared
// mapping.
func New(cfg Config) (*Cache, error) {
	blocks := int(cfg.Size / BlockSize)
	if blocks < 1 || cfg.MaxObjectSize < 0 || cfg.MaxAge < 0 {
		return nil, fmt.Errorf("%w: cache %q: size %d, max-object-size %d, max-age %v", ErrConfig, cfg.Name, cfg.Size, cfg.MaxObjectSize, cfg.MaxAge)
	}
	if cfg.MaxSecondaryEntries <= 0 {
		cfg.MaxSecondaryEntries = 10
	}
	// Shards spread the lock, but an entry lives in one shard: each
	// keeps room for two of the largest objects.
	shards := 1
	for shards < 32 && blocks/(shards*2) >= 128 && int64(blocks/(shards*2))*BlockSize >= 2*cfg.MaxObjectSize {
		shards *= 2
	}
	sc, err := shctx.Open(shctx.Options{BlockSize: BlockSize, Blocks: blocks, MaxKeyLen: keyLen + 8, Shards: shards})
	if err != nil {
		return nil, fmt.Errorf("httpcache: cache %q: %w", cfg.Name, err)
	}
	return &Cache{cfg: cfg, sc: sc}, nil
}

// Name returns the cache's name.
func (c *Cache) Name() string { return c.cfg.Name }

// Close releases the cache's memory.
func (c *Cache) Close() error { return c.sc.Close() }

// Txn is what the cache knows of one request: its key and whether it
// may be served and stored. The zero value is a request no cache-use
// rule looked at, which no cache-store rule stores.
type Txn struct {
	flags uint8
	key   [keyLen]byte
	sec   [secLen]byte
}

// Reset forgets the last request.
func (t *Txn) Reset() { *t = Txn{} }

// setKey hashes "https://", the authority and the path with its query.
func (t *Txn) setKey(req *htx.Message) bool {
	auth := req.Authority()
	if len(auth) == 0 {
		return false
	}
	h := sha1.New()
	_, _ = h.Write([]byte("https://"))
	_, _ = h.Write(auth)
	_, _ = h.Write(req.Path())
	h.Sum(t.key[:0])
	t.flags |= txKey
	return true
}

func (c *Cache) getBuf() *[]byte {
	if b, ok := c.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 4096)
	return &b
}

func (c *Cache) putBuf(b *[]byte) { c.bufs.Put(b) }

// get reads key's value into *buf, growing it as needed.
func (c *Cache) get(key []byte, buf *[]byte) ([]byte, bool) {
	n, ok := c.sc.Get(key, *buf)
	if ok && n > len(*buf) {
		*buf = make([]byte, n)
		n, ok = c.sc.Get(key, *buf)
		if n > len(*buf) {
			return nil, false // replaced meanwhile by a larger one
		}
	}
	if !ok {
		return nil, false
	}
	return (*buf)[:n], true
}

// Use is "http-request cache-use": it reads the request's key and
// cacheability into t, and returns the stored response that answers it,
// nil for none. looked reports whether the cache was searched, which
// HAProxy counts as a lookup.
func (c *Cache) Use(t *Txn, req *htx.Message, now time.Time) (hit *Hit, looked bool) {
	t.flags = 0
	get, head := req.MethodIs("GET"), req.MethodIs("HEAD")
	if get || head || req.MethodIs("OPTIONS") || req.MethodIs("TRACE") {
		t.flags |= txCacheable | txCacheCook
	}
	if req.Version != htx.Version11 && req.Version != htx.Version20 || !get && !head {
		t.flags |= txIgnore
	}
	t.checkRequest(req)
	if !t.setKey(req) || t.flags&txIgnore != 0 {
		return nil, false
	}
	hit = c.getHit()
	if !c.lookup(t, req, hit, now) {
		hit.Release()
		hit = nil
		if c.cfg.ProcessVary {
			if k, ok := secondaryKey(req, varyAll); ok {
				t.sec = k
				t.flags |= txSecKey
			}
		}
	}
	return hit, true
}

// Record kinds.
const (
	kindEntry byte = 1 + iota
	kindVariants
)

// getHit returns a Hit to fill, with a buffer.
func (c *Cache) getHit() *Hit {
	if h, ok := c.hits.Get().(*Hit); ok {
		return h
	}
	b := make([]byte, 4096)
	return &Hit{c: c, buf: &b}
}

// lookup fills h with the stored response that answers the request.
func (c *Cache) lookup(t *Txn, req *htx.Message, h *Hit, now time.Time) bool {
	v, ok := c.get(t.key[:], h.buf)
	if !ok || len(v) == 0 {
		return false
	}
	if v[0] == kindVariants {
		vs, ok := decodeVariants(v)
		if !ok {
			return false
		}
		sec, ok := secondaryKey(req, vs.sig)
		if !ok {
			return false
		}
		// The first live variant the request matches, in the order they
		// were stored.
		for _, e := range vs.list {
			if e.expire <= now.Unix() || !secondaryMatch(e.sec, sec) {
				continue
			}
			k := variantKey(t.key, e.id)
			if v, ok = c.get(k[:], h.buf); ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !decodeEntry(h, v) || h.expire <= now.Unix() {
		return false
	}
	h.notModified = notModified(req, h.etag, h.hasETag, h.lastModified)
	return true
}

// Hit is a stored response found for a request.
type Hit struct {
	c   *Cache
	buf *[]byte

	status       int
	length       bool // the response had a Content-Length
	reason       []byte
	fields       [][2][]byte
	trailers     [][2][]byte
	body         []byte
	validated    int64 // when it was stored, Unix seconds
	expire       int64
	age          int64 // the Age the server sent
	lastModified int64
	etag         []byte
	hasETag      bool
	notModified  bool
}

// maxAgeValue caps the Age served, HAProxy's CACHE_ENTRY_MAX_AGE.
const maxAgeValue = 1 << 31

// Head writes the stored response head into resp, with an Age field
// counting the time since it was stored; a conditional request that
// matches gets 304 Not Modified with the same fields.
func (h *Hit) Head(resp *htx.Message, now time.Time) {
	resp.Reset()
	status, reason := h.status, h.reason
	if h.notModified {
		status, reason = 304, []byte("Not Modified")
	}
	resp.SetResponseBytes(status, reason)
	resp.Version = htx.Version11
	for _, f := range h.fields {
		resp.AddBytes(f[0], f[1])
	}
	age := max(0, now.Unix()-h.validated) + h.age
	var num [20]byte
	resp.AddBytes([]byte("age"), strconv.AppendInt(num[:0], min(age, maxAgeValue), 10))
	if h.length {
		resp.Flags |= htx.FlagContentLength
		resp.ContentLength = int64(len(h.body))
	} else {
		resp.Flags |= htx.FlagChunked
	}
	for _, f := range h.trailers {
		resp.AddTrailerBytes(f[0], f[1])
	}
}

// NotModified reports whether the request gets 304 Not Modified.
func (h *Hit) NotModified() bool { return h.notModified }

// Body returns the stored body; it is valid until Release.
func (h *Hit) Body() []byte { return h.body }

// Release gives the hit's memory back; the Hit is not to be used after.
func (h *Hit) Release() {
	clear(h.fields)
	clear(h.trailers)
	h.reason, h.body, h.etag = nil, nil, nil
	h.c.hits.Put(h)
}

// invalidate drops the entry of the request in t, as a successful answer
// to an unsafe method does.
func (c *Cache) invalidate(t *Txn) { c.sc.Delete(t.key[:]) }

// Pending is a response being stored: its head is kept when the
// cache-store rule runs, its body as it goes to the client.
type Pending struct {
	c      *Cache
	key    [keyLen]byte
	sec    [secLen]byte // the stored response's secondary key
	reqSec [secLen]byte // the request's
	sig    uint8
	expire int64
	buf    []byte
	bodyAt int
	max    int
	dead   bool
}

// Store is "http-response cache-store": it returns the response being
// stored, or nil when it is not to be. It takes the server's Age field
// out of resp when it keeps the response, as HAProxy does. A successful
// answer to an unsafe method drops the request's entry instead.
func (c *Cache) Store(t *Txn, req, resp *htx.Message, now time.Time) *Pending {
	if t.flags&txKey == 0 {
		return nil
	}
	if req.Version != htx.Version11 && req.Version != htx.Version20 {
		return nil
	}
	if !req.MethodIs("GET") {
		if resp.Status >= 200 && resp.Status < 400 && !req.MethodIs("HEAD") && !req.MethodIs("OPTIONS") && !req.MethodIs("TRACE") {
			c.invalidate(t)
		}
		return nil
	}
	if resp.Status != 200 {
		return nil
	}
	if resp.Flags&htx.FlagContentLength != 0 && c.cfg.MaxObjectSize > 0 && headSize(resp)+resp.ContentLength > c.cfg.MaxObjectSize {
		return nil
	}
	var sig uint8
	if c.cfg.ProcessVary {
		var ok bool
		if sig, ok = varySignature(resp); !ok {
			return nil
		}
		if sig != 0 && t.flags&txSecKey == 0 {
			return nil
		}
	} else if _, vary := first(resp, "vary"); vary {
		return nil
	}
	t.checkResponse(resp)
	// A request that bypassed the cache (no-cache, max-age...) still
	// stores its response, as in HAProxy 2.6.
	if t.flags&(txCacheable|txCacheCook) != txCacheable|txCacheCook {
		return nil
	}
	effective, own := maxAge(resp, now, int64(c.cfg.MaxAge/time.Second))
	var age int64
	for i := 0; i < resp.NumFields(); i++ {
		if n, v := resp.Field(i); eqFold(n, "age") {
			a, ok := parseAge(v)
			if !ok || a <= 0 {
				return nil
			}
			age = min(a, maxAgeValue)
			if age > own {
				return nil // stale already
			}
			resp.DelField(i)
			break
		}
	}
	p := &Pending{c: c, key: t.key, sig: sig, expire: now.Unix() + effective, max: int(c.cfg.MaxObjectSize) + entryOverhead}
	if sig != 0 {
		p.reqSec = reduce(t.sec, sig)
		p.sec = p.reqSec
		if !responseEncoding(resp, &p.sec) {
			return nil
		}
	}
	if resp.Flags&htx.FlagContentLength != 0 {
		// One allocation for the record when the body's size is known.
		p.buf = make([]byte, 0, int(headSize(resp))+entryOverhead+int(resp.ContentLength))
	}
	p.buf = encodeHead(p.buf, resp, sig, p.sec, now.Unix(), p.expire, age, lastModified(resp, now))
	p.bodyAt = len(p.buf)
	if p.max > 0 && len(p.buf) > p.max {
		return nil
	}
	return p
}

// headSize is the size HAProxy gives a head: names and values.
func headSize(m *htx.Message) int64 {
	n := int64(len(m.Reason())) + 16
	for i := 0; i < m.NumFields(); i++ {
		k, v := m.Field(i)
		n += int64(len(k) + len(v))
	}
	return n
}

// Write adds body bytes; past max-object-size the response is dropped.
func (p *Pending) Write(b []byte) {
	if p.dead {
		return
	}
	if p.max > 0 && len(p.buf)+len(b) > p.max {
		p.dead, p.buf = true, nil
		return
	}
	p.buf = append(p.buf, b...)
}

// Commit stores the response whose body is complete; resp supplies its
// trailers. It reports whether the response was kept.
func (p *Pending) Commit(resp *htx.Message) bool {
	if p.dead {
		return false
	}
	p.dead = true
	binary.LittleEndian.PutUint32(p.buf[p.bodyAt-4:], uint32(len(p.buf)-p.bodyAt))
	p.buf = appendFields(p.buf, resp.NumTrailers(), resp.Trailer)
	expire := time.Unix(p.expire, 0)
	if p.sig == 0 {
		return p.c.sc.StoreUntil(p.key[:], p.buf, expire) == nil
	}
	return p.c.storeVariant(p, expire)
}

// storeVariant keeps one variant of a URL and lists it in the URL's
// record, as HAProxy's insert_entry does: the first live variant the
// request matches is replaced, and the new one is not kept when
// max-secondary-entries live variants remain.
func (c *Cache) storeVariant(p *Pending, expire time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().Unix()
	buf := c.getBuf()
	defer c.putBuf(buf)
	var vs variants
	if v, ok := c.get(p.key[:], buf); ok && len(v) > 0 && v[0] == kindVariants {
		vs, _ = decodeVariants(v)
	}
	live := vs.list[:0]
	replaced := false
	for _, e := range vs.list {
		switch {
		case e.expire <= now:
		case !replaced && secondaryMatch(e.sec, p.reqSec):
			replaced = true
			k := variantKey(p.key, e.id)
			c.sc.Delete(k[:])
		default:
			live = append(live, e)
		}
	}
	if len(live) >= c.cfg.MaxSecondaryEntries {
		return false
	}
	id := c.ids.Add(1)
	live = append(live, variant{sec: p.sec, id: id, expire: p.expire})
	vs.sig, vs.list = p.sig, live
	k := variantKey(p.key, id)
	if c.sc.StoreUntil(k[:], p.buf, expire) != nil {
		return false
	}
	last := int64(0)
	for _, e := range live {
		last = max(last, e.expire)
	}
	return c.sc.StoreUntil(p.key[:], vs.encode(), time.Unix(last, 0)) == nil
}

// entryOverhead is room for an entry's fixed fields beyond
// max-object-size, which counts the response alone.
const entryOverhead = 64

// EntryInfo describes one stored response, as "show cache" lists it.
type EntryInfo struct {
	// Hash is the first 32 bits of the URL's key, as HAProxy's entry
	// tree orders its entries.
	Hash uint32
	// Vary is the secondary key's first 8 bytes: 0 for a response that
	// varies on nothing.
	Vary uint64
	// Size is the stored response's size, head and body.
	Size int
	// Expire is when it expires.
	Expire time.Time
}

// Entries lists the stored responses, by hash, then by expiry.
func (c *Cache) Entries() ([]EntryInfo, error) {
	secs := map[[keyLen + 8]byte]uint64{}
	var out []EntryInfo
	var ids [][keyLen + 8]byte
	err := c.sc.Iterate(func(key, value []byte, expire time.Time) bool {
		switch {
		case len(key) == keyLen+8:
			// A variant (process-vary), under the URL's key and its id.
			var k [keyLen + 8]byte
			copy(k[:], key)
			ids = append(ids, k)
			out = append(out, EntryInfo{Hash: le.Uint32(key[:4]), Size: len(value), Expire: expire})
		case len(key) == keyLen && len(value) > 0 && value[0] != kindVariants:
			// A response that varies on nothing, under the URL's key.
			ids = append(ids, [keyLen + 8]byte{})
			out = append(out, EntryInfo{Hash: le.Uint32(key[:4]), Size: len(value), Expire: expire})
		case len(key) == keyLen && len(value) > 0:
			vs, ok := decodeVariants(value)
			if !ok {
				return true
			}
			var k [keyLen]byte
			copy(k[:], key)
			for _, e := range vs.list {
				secs[variantKey(k, e.id)] = be64(e.sec[:])
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Vary = secs[ids[i]]
	}
	slices.SortStableFunc(out, func(a, b EntryInfo) int {
		if a.Hash != b.Hash {
			return cmp.Compare(a.Hash, b.Hash)
		}
		return a.Expire.Compare(b.Expire)
	})
	return out, nil
}

// Blocks returns the cache's size in blocks.
func (c *Cache) Blocks() int { return int(c.cfg.Size / BlockSize) }

// be64 reads up to 8 bytes as a big-endian number.
func be64(b []byte) uint64 {
	var v uint64
	for i := 0; i < 8 && i < len(b); i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}
