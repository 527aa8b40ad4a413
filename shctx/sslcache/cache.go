package sslcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/shctx"
)

const (
	// DefaultSize is HAProxy's default tune.ssl.cachesize, in sessions.
	DefaultSize = 20000
	// DefaultLifetime is the session lifetime when tune.ssl.lifetime is
	// not set, OpenSSL's default that HAProxy documents.
	DefaultLifetime = 300 * time.Second
	// DefaultLocalSize bounds the process's own level when Options does
	// not say.
	DefaultLocalSize = 1024
	// MaxSessionLen is the longest serialized session kept. HAProxy stops
	// at 4096 bytes of DER; Go sessions carrying client certificates hold
	// both the certificates and their verified chains, so the bound is
	// higher here.
	MaxSessionLen = 16 << 10
	// IDLen is the length of a session ID, the ticket a client holds.
	IDLen = 32

	blockSize = 256
	// clientKeyLen is one prefix byte and a SHA-256: it differs from
	// IDLen so client entries can never collide with server ones.
	clientKeyLen = 1 + 32
	// firstBuf is the buffer size tried first when copying out of the
	// shared level; almost every session fits.
	firstBuf = 2048
)

// ErrOptions means an [Options] field is out of range.
var ErrOptions = errors.New("invalid options")

// ErrClosed means the cache was closed.
var ErrClosed = errors.New("session cache closed")

// Options configures a [Cache]. Zero fields take the defaults.
type Options struct {
	// Path names the shared memory file, for example
	// "/dev/shm/proxyblocks-ssl" (ssl-session-cache shm PATH). Every
	// process passing the same Path and Size shares sessions. Empty means
	// an anonymous region private to this process.
	Path string
	// Size is the number of sessions the shared level holds
	// (tune.ssl.cachesize); 0 means DefaultSize.
	Size int
	// Lifetime bounds how long after its creation a session resumes
	// (tune.ssl.lifetime); 0 means DefaultLifetime.
	Lifetime time.Duration
	// LocalSize bounds the process's own level; 0 means
	// min(DefaultLocalSize, Size), negative disables that level.
	LocalSize int
	// Now is the clock used to judge lifetimes; nil means time.Now.
	Now func() time.Time
	// Logger receives rare events (a shared-level store failing); nil
	// means slog.Default().
	Logger *slog.Logger
}

// Peers shares sessions with other hosts. Package sslsync provides one.
// The methods are called from handshakes and must not block for long.
type Peers interface {
	// Announce tells peers about a session stored here (a New message).
	Announce(id [IDLen]byte, session []byte)
	// AnnounceDelete tells peers to forget a session (a Delete message).
	AnnounceDelete(id [IDLen]byte)
	// Fetch asks peers for a session missing here (a Get message). It may
	// wait, for a bounded time, for a peer's answer; it reports true when
	// the session was meanwhile stored in the cache with [Cache.Import].
	Fetch(id [IDLen]byte) bool
}

// Cache is a two-level TLS session cache. Its methods are safe for
// concurrent use.
type Cache struct {
	shared   *shctx.Cache
	local    *localLevel // nil when disabled
	lifetime time.Duration
	now      func() time.Time
	logger   *slog.Logger
	maxLen   int
	peers    atomic.Pointer[peersBox]
	bufs     sync.Pool // *[]byte of firstBuf bytes
	closed   atomic.Bool
	st       counters
}

type peersBox struct{ p Peers }

type counters struct {
	stores, localHits, sharedHits, peerHits, misses   atomic.Uint64
	expired, rejected, deletes, tooLarge, storeErrors atomic.Uint64
}

// New opens a cache with the two settings HAProxy exposes: size
// (tune.ssl.cachesize, sessions) and lifetime (tune.ssl.lifetime), shared
// through the file at path, or private to the process when path is empty.
func New(path string, size int, lifetime time.Duration) (*Cache, error) {
	return Open(Options{Path: path, Size: size, Lifetime: lifetime})
}

// Open opens a cache as opts describes.
func Open(opts Options) (*Cache, error) {
	if opts.Size < 0 {
		return nil, fmt.Errorf("sslcache: size %d: want 0 (default) or more sessions: %w", opts.Size, ErrOptions)
	}
	if opts.Lifetime < 0 {
		return nil, fmt.Errorf("sslcache: lifetime %v: want 0 (default) or more: %w", opts.Lifetime, ErrOptions)
	}
	size := opts.Size
	if size == 0 {
		size = DefaultSize
	}
	c := &Cache{
		lifetime: opts.Lifetime,
		now:      opts.Now,
		logger:   opts.Logger,
	}
	if c.lifetime == 0 {
		c.lifetime = DefaultLifetime
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	sh, err := shctx.Open(shctx.Options{
		Path:      opts.Path,
		BlockSize: blockSize,
		Blocks:    size,
		MaxKeyLen: clientKeyLen,
		Logger:    c.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("sslcache: opening the shared level: %w", err)
	}
	c.shared = sh
	c.maxLen = min(MaxSessionLen, sh.MaxValueLen(IDLen))
	local := opts.LocalSize
	if local == 0 {
		local = min(DefaultLocalSize, size)
	}
	if local > 0 {
		c.local = newLocalLevel(local)
	}
	c.bufs.New = func() any { b := make([]byte, firstBuf); return &b }
	return c, nil
}

// Close releases the shared mapping. Sessions stay in a named file for
// the other processes. Close is idempotent.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.peers.Store(nil)
	if err := c.shared.Close(); err != nil {
		return fmt.Errorf("sslcache: %w", err)
	}
	return nil
}

// SetPeers makes the cache announce its sessions to p and ask p for the
// sessions it misses; nil stops that.
func (c *Cache) SetPeers(p Peers) {
	if p == nil {
		c.peers.Store(nil)
		return
	}
	c.peers.Store(&peersBox{p})
}

func (c *Cache) getPeers() Peers {
	if b := c.peers.Load(); b != nil {
		return b.p
	}
	return nil
}

// Lifetime returns how long after creation a session resumes.
func (c *Cache) Lifetime() time.Duration { return c.lifetime }

// Put stores a serialized session under id in both levels and announces
// it to peers. A session longer than the cache can hold is dropped.
func (c *Cache) Put(id [IDLen]byte, session []byte) {
	if c.put(id, session) {
		if p := c.getPeers(); p != nil {
			p.Announce(id, session)
		}
	}
}

// Import stores a session received from a peer; unlike [Cache.Put] it is
// not announced again. It reports whether the session was stored: one
// already expired, or too long, is not.
func (c *Cache) Import(id [IDLen]byte, session []byte) bool {
	return c.put(id, session)
}

func (c *Cache) put(id [IDLen]byte, session []byte) bool {
	if c.closed.Load() {
		return false
	}
	if len(session) == 0 || len(session) > c.maxLen {
		c.st.tooLarge.Add(1)
		return false
	}
	now := c.now()
	exp := c.expiry(session, now)
	if !exp.After(now) {
		c.st.expired.Add(1)
		return false
	}
	if c.local != nil {
		// The local level keeps the slice itself; it is never written
		// after this, so readers may share it.
		c.local.put(id, append([]byte(nil), session...), exp.UnixNano())
	}
	if err := c.shared.StoreUntil(id[:], session, exp); err != nil {
		c.st.storeErrors.Add(1)
		c.logger.Debug("sslcache: shared level refused a session", "err", err)
	}
	c.st.stores.Add(1)
	return true
}

// expiry is the session's creation time plus the lifetime. The creation
// time is read from the serialized state, so a session re-wrapped on a
// TLS 1.2 resumption keeps its first deadline, and a session received
// from a peer keeps the deadline its creator gave it.
func (c *Cache) expiry(session []byte, now time.Time) time.Time {
	if created, ok := createdAt(session); ok {
		return created.Add(c.lifetime)
	}
	return now.Add(c.lifetime)
}

// Get returns the session stored under id, looking in the process's
// level, then the shared one, then asking peers. The returned slice must
// not be modified.
func (c *Cache) Get(id [IDLen]byte) ([]byte, bool) {
	return c.lookup(id, true)
}

func (c *Cache) lookup(id [IDLen]byte, askPeers bool) ([]byte, bool) {
	if c.closed.Load() {
		return nil, false
	}
	now := c.now().UnixNano()
	if c.local != nil {
		if b, ok := c.local.get(id, now); ok {
			c.st.localHits.Add(1)
			return b, true
		}
	}
	if b, ok := c.sharedGet(id, now); ok {
		c.st.sharedHits.Add(1)
		return b, true
	}
	if askPeers {
		if p := c.getPeers(); p != nil && p.Fetch(id) {
			if b, ok := c.local.get(id, now); ok {
				c.st.peerHits.Add(1)
				return b, true
			}
			if b, ok := c.sharedGet(id, now); ok {
				c.st.peerHits.Add(1)
				return b, true
			}
		}
	}
	c.st.misses.Add(1)
	return nil, false
}

// sharedGet copies a session out of the shared level into a new slice of
// its exact length and keeps it in the local level.
func (c *Cache) sharedGet(id [IDLen]byte, now int64) ([]byte, bool) {
	bp := c.bufs.Get().(*[]byte)
	buf := *bp
	n, ok := c.shared.Get(id[:], buf)
	var b []byte
	switch {
	case !ok:
	case n <= len(buf):
		b = append([]byte(nil), buf[:n]...)
	default:
		b = make([]byte, n)
		if m, again := c.shared.Get(id[:], b); !again || m != n {
			// Replaced meanwhile by a session of another length.
			ok = false
		}
	}
	c.bufs.Put(bp)
	if !ok {
		return nil, false
	}
	if c.local != nil {
		c.local.put(id, b, c.expiry(b, time.Unix(0, now)).UnixNano())
	}
	return b, true
}

// GetInto copies the session stored under id into dst from the process's
// level or the shared one (peers are not asked) and returns its length.
// When the session is longer than dst only len(dst) bytes are copied and
// n is still the full length. GetInto does not allocate.
func (c *Cache) GetInto(id [IDLen]byte, dst []byte) (n int, ok bool) {
	if c.closed.Load() {
		return 0, false
	}
	if c.local != nil {
		if b, ok := c.local.get(id, c.now().UnixNano()); ok {
			c.st.localHits.Add(1)
			copy(dst, b)
			return len(b), true
		}
	}
	n, ok = c.shared.Get(id[:], dst)
	if ok {
		c.st.sharedHits.Add(1)
	} else {
		c.st.misses.Add(1)
	}
	return n, ok
}

// Delete removes a session from both levels and announces the deletion
// to peers. It reports whether either level held it.
func (c *Cache) Delete(id [IDLen]byte) bool {
	found := c.Forget(id)
	if p := c.getPeers(); p != nil {
		p.AnnounceDelete(id)
	}
	return found
}

// Forget removes a session from both levels without telling peers, for
// a deletion that came from a peer.
func (c *Cache) Forget(id [IDLen]byte) bool {
	if c.closed.Load() {
		return false
	}
	found := false
	if c.local != nil {
		found = c.local.remove(id)
	}
	if c.shared.Delete(id[:]) {
		found = true
	}
	if found {
		c.st.deletes.Add(1)
	}
	return found
}

// Stats counts a cache's work. The shared level's figures cover every
// process that maps it; the others are this Cache's own.
type Stats struct {
	Stores      uint64 // sessions stored (made here or imported)
	LocalHits   uint64 // lookups served by the process's level
	SharedHits  uint64 // lookups served by the shared level
	PeerHits    uint64 // lookups served after asking peers
	Misses      uint64 // lookups that found nothing
	Expired     uint64 // sessions refused or deleted past their lifetime
	Rejected    uint64 // sessions deleted because they did not parse or did not fit the handshake
	Deletes     uint64 // sessions deleted from at least one level
	TooLarge    uint64 // sessions not kept because of their size
	StoreErrors uint64 // stores the shared level refused
	Local       int    // sessions in the process's level
	Shared      shctx.Stats
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	st := Stats{
		Stores:      c.st.stores.Load(),
		LocalHits:   c.st.localHits.Load(),
		SharedHits:  c.st.sharedHits.Load(),
		PeerHits:    c.st.peerHits.Load(),
		Misses:      c.st.misses.Load(),
		Expired:     c.st.expired.Load(),
		Rejected:    c.st.rejected.Load(),
		Deletes:     c.st.deletes.Load(),
		TooLarge:    c.st.tooLarge.Load(),
		StoreErrors: c.st.storeErrors.Load(),
	}
	if c.local != nil {
		st.Local = c.local.len()
	}
	if !c.closed.Load() {
		st.Shared = c.shared.Stats()
	}
	return st
}

// The serialized SessionState starts with uint16 version, uint8 type,
// uint16 cipher suite and uint64 creation time (crypto/tls ticket.go).
// The format is documented as opaque, so only these leading fields are
// read, and a session whose header makes no sense is treated as
// unreadable rather than trusted.
const (
	stateHeaderLen = 13
	stateServer    = 1
	stateClient    = 2
)

func createdAt(b []byte) (time.Time, bool) {
	if len(b) < stateHeaderLen || (b[2] != stateServer && b[2] != stateClient) {
		return time.Time{}, false
	}
	s := binary.BigEndian.Uint64(b[5:13])
	if s > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(s), 0), true
}

func stateVersion(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}
