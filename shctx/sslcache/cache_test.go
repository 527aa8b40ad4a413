package sslcache_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/shctx"
	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

var versions = []struct {
	name string
	v    uint16
}{
	{"TLS1.2", tls.VersionTLS12},
	{"TLS1.3", tls.VersionTLS13},
}

// shmPath names a file under /dev/shm (or the temporary directory when
// there is no /dev/shm) removed at the end of the test.
func shmPath(t *testing.T) string {
	t.Helper()
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, fmt.Sprintf("sslcache-test-%d-%s", os.Getpid(), randHex(6)))
	t.Cleanup(func() { _ = os.Remove(p) })
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func open(t *testing.T, opts sslcache.Options) *sslcache.Cache {
	t.Helper()
	c, err := sslcache.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func TestResume(t *testing.T) {
	tc := newTestCert(t)
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			c := open(t, sslcache.Options{Size: 100})
			cfg := serverConfig(tc, v.v)
			c.Configure(cfg)
			srv := startServer(t, cfg)
			ccfg := clientConfig(tc, v.v, tls.NewLRUClientSessionCache(4))

			require.False(t, dial(t, srv.addr, ccfg), "first connection is a full handshake")
			require.True(t, dial(t, srv.addr, ccfg), "second connection resumes")
			st := c.Stats()
			require.GreaterOrEqual(t, st.Stores, uint64(1))
			require.Equal(t, uint64(1), st.LocalHits)
			require.Zero(t, st.Rejected)
			srv.Close()
		})
	}
}

// TestResumeThroughSharedLevel opens the same file twice, as two
// processes would: a session made through one Cache resumes through the
// other, found in the shared level since the second's own level is empty.
func TestResumeThroughSharedLevel(t *testing.T) {
	tc := newTestCert(t)
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			path := shmPath(t)
			a := open(t, sslcache.Options{Path: path, Size: 200})
			b := open(t, sslcache.Options{Path: path, Size: 200})
			cfgA, cfgB := serverConfig(tc, v.v), serverConfig(tc, v.v)
			a.Configure(cfgA)
			b.Configure(cfgB)
			srvA, srvB := startServer(t, cfgA), startServer(t, cfgB)
			ccfg := clientConfig(tc, v.v, tls.NewLRUClientSessionCache(4))

			require.False(t, dial(t, srvA.addr, ccfg))
			require.True(t, dial(t, srvB.addr, ccfg), "a session made on A resumes on B")
			require.Equal(t, uint64(1), b.Stats().SharedHits)
			require.Zero(t, b.Stats().LocalHits)
			require.True(t, dial(t, srvB.addr, ccfg), "and again, now from B's own level")
			require.Equal(t, uint64(1), b.Stats().LocalHits)
			srvA.Close()
			srvB.Close()
		})
	}
}

// fakeClock is a settable clock for both crypto/tls and the cache.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestExpiredSessionIsDeletedFromBothLevels(t *testing.T) {
	tc := newTestCert(t)
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			clock := newFakeClock()
			c := open(t, sslcache.Options{Path: shmPath(t), Size: 100, Lifetime: time.Minute, Now: clock.Now})
			cfg := serverConfig(tc, v.v)
			cfg.Time = clock.Now
			c.Configure(cfg)
			var mu sync.Mutex
			var labels [][]byte
			wrap := cfg.WrapSession
			cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
				l, err := wrap(cs, ss)
				mu.Lock()
				labels = append(labels, l)
				mu.Unlock()
				return l, err
			}
			srv := startServer(t, cfg)
			ccfg := clientConfig(tc, v.v, tls.NewLRUClientSessionCache(4))

			require.False(t, dial(t, srv.addr, ccfg))
			mu.Lock()
			require.Len(t, labels, 1)
			first := [sslcache.IDLen]byte(labels[0])
			mu.Unlock()
			n, ok := c.GetInto(first, make([]byte, 4096))
			require.True(t, ok)
			require.Positive(t, n)
			require.Equal(t, 1, c.Stats().Local)
			require.Equal(t, 1, c.Stats().Shared.Entries)

			clock.Advance(time.Minute + time.Second)
			require.False(t, dial(t, srv.addr, ccfg), "a session past its lifetime does not resume")
			_, ok = c.GetInto(first, make([]byte, 4096))
			require.False(t, ok, "the expired session is gone")
			st := c.Stats()
			require.Equal(t, uint64(1), st.Expired)
			// Only the session of the second, full handshake remains, in
			// each level.
			require.Equal(t, 1, st.Local)
			require.Equal(t, 1, st.Shared.Entries)
			srv.Close()
		})
	}
}

// session makes a real serialized server session of the given version.
func session(t *testing.T, v uint16) []byte {
	t.Helper()
	tc := newTestCert(t)
	var mu sync.Mutex
	var out []byte
	cfg := serverConfig(tc, v)
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		b, err := ss.Bytes()
		mu.Lock()
		out = b
		mu.Unlock()
		return make([]byte, 32), err
	}
	srv := startServer(t, cfg)
	dial(t, srv.addr, clientConfig(tc, v, tls.NewLRUClientSessionCache(1)))
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, out)
	return out
}

func TestUnwrapRejectsAndDeletes(t *testing.T) {
	s12 := session(t, tls.VersionTLS12)
	s13 := session(t, tls.VersionTLS13)
	corrupt := append([]byte(nil), s13...)
	corrupt = corrupt[:len(corrupt)-3] // truncated body, header intact
	badType := append([]byte(nil), s13...)
	badType[2] = 9
	tests := []struct {
		name     string
		stored   []byte
		version  uint16
		resumes  bool
		rejected uint64
	}{
		{"valid TLS1.3", s13, tls.VersionTLS13, true, 0},
		{"valid TLS1.2", s12, tls.VersionTLS12, true, 0},
		{"TLS1.2 session offered in TLS1.3", s12, tls.VersionTLS13, false, 1},
		{"truncated state", corrupt, tls.VersionTLS13, false, 1},
		{"unknown state type", badType, tls.VersionTLS13, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := open(t, sslcache.Options{Size: 100})
			var id [sslcache.IDLen]byte
			_, _ = rand.Read(id[:])
			c.Put(id, tt.stored)
			ss, err := c.Unwrap(id[:], tls.ConnectionState{Version: tt.version})
			require.NoError(t, err, "a bad session costs a full handshake, never the connection")
			require.Equal(t, tt.resumes, ss != nil)
			st := c.Stats()
			require.Equal(t, tt.rejected, st.Rejected)
			_, ok := c.GetInto(id, nil)
			require.Equal(t, tt.resumes, ok, "a rejected session is deleted")
			if !tt.resumes {
				require.Zero(t, st.Local)
				require.Zero(t, st.Shared.Entries)
			}
		})
	}
}

func TestUnwrapForeignLabel(t *testing.T) {
	c := open(t, sslcache.Options{Size: 10})
	for _, l := range [][]byte{nil, make([]byte, 31), make([]byte, 33), make([]byte, 200)} {
		ss, err := c.Unwrap(l, tls.ConnectionState{Version: tls.VersionTLS13})
		require.NoError(t, err)
		require.Nil(t, ss)
	}
	ss, err := c.Unwrap(make([]byte, 32), tls.ConnectionState{Version: tls.VersionTLS13})
	require.NoError(t, err)
	require.Nil(t, ss)
	require.Equal(t, uint64(1), c.Stats().Misses)
}

func TestPutRefusesExpiredAndOversized(t *testing.T) {
	clock := newFakeClock()
	c := open(t, sslcache.Options{Size: 10, Lifetime: time.Minute, Now: clock.Now})
	s := session(t, tls.VersionTLS13)
	clock.Advance(2 * time.Minute)
	require.False(t, c.Import([32]byte{1}, s), "already past its lifetime")
	require.False(t, c.Import([32]byte{2}, make([]byte, sslcache.MaxSessionLen+1)))
	require.False(t, c.Import([32]byte{3}, nil))
	st := c.Stats()
	require.Equal(t, uint64(1), st.Expired)
	require.Equal(t, uint64(2), st.TooLarge)
	require.Zero(t, st.Shared.Entries)
}

// recPeers records what a Cache tells its peers and serves Fetch from a
// map, importing into the cache as sslsync does.
type recPeers struct {
	c       *sslcache.Cache
	mu      sync.Mutex
	news    [][32]byte
	deletes [][32]byte
	fetches [][32]byte
	remote  map[[32]byte][]byte
}

func (p *recPeers) Announce(id [32]byte, _ []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.news = append(p.news, id)
}

func (p *recPeers) AnnounceDelete(id [32]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deletes = append(p.deletes, id)
}

func (p *recPeers) Fetch(id [32]byte) bool {
	p.mu.Lock()
	p.fetches = append(p.fetches, id)
	s, ok := p.remote[id]
	p.mu.Unlock()
	return ok && p.c.Import(id, s)
}

func TestPeersHooks(t *testing.T) {
	c := open(t, sslcache.Options{Size: 100})
	s := session(t, tls.VersionTLS13)
	p := &recPeers{c: c, remote: map[[32]byte][]byte{{9}: s}}
	c.SetPeers(p)

	c.Put([32]byte{1}, s)
	require.True(t, c.Import([32]byte{2}, s))
	got, ok := c.Get([32]byte{2})
	require.True(t, ok)
	require.Equal(t, s, got)
	require.Equal(t, [][32]byte{{1}}, p.news, "only local stores are announced")

	_, ok = c.Get([32]byte{5})
	require.False(t, ok)
	got, ok = c.Get([32]byte{9})
	require.True(t, ok, "a miss asks peers and sees what they sent")
	require.Equal(t, s, got)
	require.Equal(t, [][32]byte{{5}, {9}}, p.fetches)
	require.Equal(t, uint64(1), c.Stats().PeerHits)

	require.True(t, c.Forget([32]byte{2}))
	require.True(t, c.Delete([32]byte{1}))
	require.False(t, c.Delete([32]byte{7}))
	require.Equal(t, [][32]byte{{1}, {7}}, p.deletes, "Delete is announced, Forget is not")

	c.SetPeers(nil)
	c.Put([32]byte{3}, s)
	require.Len(t, p.news, 1)
}

func TestLocalLevelIsBounded(t *testing.T) {
	c := open(t, sslcache.Options{Size: 1000, LocalSize: 32})
	s := session(t, tls.VersionTLS13)
	ids := make([][32]byte, 200)
	for i := range ids {
		_, _ = rand.Read(ids[i][:])
		c.Put(ids[i], s)
	}
	st := c.Stats()
	require.LessOrEqual(t, st.Local, 32)
	require.Equal(t, 200, st.Shared.Entries)
	for _, id := range ids {
		got, ok := c.Get(id)
		require.True(t, ok, "sessions evicted from the process's level are still shared")
		require.Equal(t, s, got)
	}
	require.LessOrEqual(t, c.Stats().Local, 32)
}

func TestGetIntoDoesNotAllocate(t *testing.T) {
	s := session(t, tls.VersionTLS13)
	for _, local := range []int{-1, 0} {
		c := open(t, sslcache.Options{Size: 100, LocalSize: local})
		id := [32]byte{4, 2}
		c.Put(id, s)
		dst := make([]byte, 4096)
		allocs := testing.AllocsPerRun(100, func() {
			n, ok := c.GetInto(id, dst)
			if !ok || n != len(s) {
				panic("lost")
			}
		})
		require.Zero(t, allocs, "local level %d", local)
		n, ok := c.GetInto(id, dst[:10])
		require.True(t, ok)
		require.Equal(t, len(s), n, "a short buffer still learns the length")
	}
}

func TestClientSessionCacheShared(t *testing.T) {
	tc := newTestCert(t)
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			path := shmPath(t)
			a := open(t, sslcache.Options{Path: path, Size: 200})
			b := open(t, sslcache.Options{Path: path, Size: 200})
			// A plain ticket server: the client side does not depend on
			// how the server keeps its sessions.
			srv := startServer(t, serverConfig(tc, v.v))
			require.False(t, dial(t, srv.addr, clientConfig(tc, v.v, a.ClientSessionCache())))
			require.True(t, dial(t, srv.addr, clientConfig(tc, v.v, b.ClientSessionCache())),
				"a session dialed through A resumes through B")
			require.Equal(t, uint64(1), b.Stats().SharedHits)
			b.ClientSessionCache().Put(serverName, nil)
			_, ok := a.ClientSessionCache().Get(serverName)
			require.False(t, ok, "a nil Put deletes the session for everyone")
			srv.Close()
		})
	}
}

func TestClientSessionCacheCorruptEntry(t *testing.T) {
	c := open(t, sslcache.Options{Size: 10})
	cc := c.ClientSessionCache()
	_, ok := cc.Get("nothing")
	require.False(t, ok)
	require.Equal(t, uint64(1), c.Stats().Misses)
}

func TestOpenErrors(t *testing.T) {
	path := shmPath(t)
	a := open(t, sslcache.Options{Path: path, Size: 100})
	_ = a
	tests := []struct {
		name string
		opts sslcache.Options
		want error
	}{
		{"negative size", sslcache.Options{Size: -1}, sslcache.ErrOptions},
		{"negative lifetime", sslcache.Options{Lifetime: -time.Second}, sslcache.ErrOptions},
		{"file of another size", sslcache.Options{Path: path, Size: 5000}, shctx.ErrLayout},
		{"unreachable path", sslcache.Options{Path: "/nonexistent-dir/x"}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sslcache.Open(tt.opts)
			require.Nil(t, c)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestDefaultsAndClose(t *testing.T) {
	testnet.LeakCheck(t)
	c, err := sslcache.New(shmPath(t), 0, 0)
	require.NoError(t, err)
	require.Equal(t, sslcache.DefaultLifetime, c.Lifetime())
	require.Equal(t, sslcache.DefaultSize, c.Stats().Shared.Blocks)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	// A closed cache refuses work instead of touching unmapped memory.
	c.Put([32]byte{1}, []byte("x"))
	_, ok := c.Get([32]byte{1})
	require.False(t, ok)
	_, ok = c.GetInto([32]byte{1}, nil)
	require.False(t, ok)
	require.False(t, c.Delete([32]byte{1}))
	c.ClientSessionCache().Put("x", nil)
	_, ok = c.ClientSessionCache().Get("x")
	require.False(t, ok)
	ss, err := c.Unwrap(make([]byte, 32), tls.ConnectionState{})
	require.NoError(t, err)
	require.Nil(t, ss)
}

func TestConcurrentUse(t *testing.T) {
	c := open(t, sslcache.Options{Path: shmPath(t), Size: 500, LocalSize: 64})
	s := session(t, tls.VersionTLS13)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, 512)
			for i := range 500 {
				var id [32]byte
				binary.BigEndian.PutUint32(id[:], uint32(g*1000+i%50))
				switch i % 4 {
				case 0:
					c.Put(id, s)
				case 1:
					if b, ok := c.Get(id); ok && len(b) != len(s) {
						panic("short session")
					}
				case 2:
					if n, ok := c.GetInto(id, dst); ok && n != len(s) {
						panic("short session")
					}
				default:
					c.Delete(id)
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, c.Stats().Local, 64)
}
