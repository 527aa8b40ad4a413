package balancer

import (
	"math/rand/v2"
	"net/netip"
	"sort"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The HTTP balancing algorithms: hashing a part of the request (balance
// uri, hdr(NAME), url_param NAME) and random. A hashed request sticks to
// its server, waiting in that server's queue when it is full, as HAProxy's
// hash algorithms do; a request without the part hashed (no such header
// or parameter) is balanced round robin.

// keyedAlgorithm is an algorithm that reads the request.
type keyedAlgorithm interface {
	algorithm
	// requestKey returns the bytes to hash, false when the request has
	// none (the pick then falls back to round robin).
	requestKey(req *htx.Message) ([]byte, bool)
	// pickKey picks the server for a key.
	pickKey(cands []*Server, key []byte, avoid *Server) (*Server, bool)
}

func newProxyAlgorithm(cfg *config.Proxy) algorithm {
	arg := cfg.HTTP.BalanceArg
	consistent := cfg.HTTP.HashType == "consistent"
	avalanche := cfg.HTTP.HashAvalanche
	var part func(*htx.Message) ([]byte, bool)
	switch cfg.Balance {
	case "random":
		return randomAlgo{}
	case "uri":
		part = func(m *htx.Message) ([]byte, bool) {
			if arg == "whole" {
				return m.Path(), true
			}
			return m.PathOnly(), true
		}
	case "hdr":
		// haproxy hashes the first value it finds: of the first field
		// of that name, up to a comma.
		part = func(m *htx.Message) ([]byte, bool) {
			v, ok := m.Get(arg)
			if !ok {
				return nil, false
			}
			first, _ := acl.CutValue(v)
			return first, len(first) > 0
		}
	case "url_param":
		part = func(m *htx.Message) ([]byte, bool) {
			v, ok := m.QueryParam(arg)
			return v, ok && len(v) > 0
		}
	case "source":
		if consistent {
			return &consistentSource{avalanche: avalanche}
		}
		return &sourceHash{avalanche: avalanche}
	default:
		return newAlgorithm(cfg.Balance)
	}
	return &hashAlgo{part: part, consistent: consistent, avalanche: avalanche}
}

// pick dispatches to the request-reading algorithms when the request is
// known. Called with b.mu held.
func (b *Backend) pick(cands []*Server, src netip.Addr, key []byte, avoid *Server) (*Server, bool) {
	if ka, ok := b.algo.(keyedAlgorithm); ok && key != nil {
		return ka.pickKey(cands, key, avoid)
	}
	return b.algo.pick(cands, src, avoid)
}

// requestKey returns what the backend's algorithm hashes in req, nil when
// it hashes nothing of the request.
func (b *Backend) requestKey(req *htx.Message) []byte {
	ka, ok := b.algo.(keyedAlgorithm)
	if !ok {
		return nil
	}
	k, ok := ka.requestKey(req)
	if !ok {
		return nil
	}
	if k == nil {
		k = []byte{}
	}
	return k
}

// sdbm is HAProxy's default hash function.
func sdbm(key []byte) uint32 {
	var h uint32
	for _, c := range key {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

// fullHash is Bob Jenkins' 32-bit integer hash, which HAProxy applies to
// keys of the consistent tree so near keys spread over the ring.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	// Then spread over the whole ring by a large prime near 3/4 of it.
	return a * 3221225473
}

type hashAlgo struct {
	part       func(*htx.Message) ([]byte, bool)
	consistent bool
	avalanche  bool      // the hash is mixed by fullHash first
	m          serverMap // map-based: HAProxy's weighted map
	rr         roundRobin
	ring       []ringPoint // consistent: built on first use from every server
}

type ringPoint struct {
	h uint32
	s *Server
}

func (a *hashAlgo) requestKey(req *htx.Message) ([]byte, bool) { return a.part(req) }

func (a *hashAlgo) pick(cands []*Server, src netip.Addr, avoid *Server) (*Server, bool) {
	return a.rr.pick(cands, src, avoid)
}

func (a *hashAlgo) pickKey(cands []*Server, key []byte, avoid *Server) (*Server, bool) {
	h := sdbm(key)
	if a.avalanche {
		h = fullHash(h)
	}
	var s *Server
	if a.consistent {
		s = a.ringPick(cands, h, avoid)
	} else {
		a.m.refresh(cands)
		s = a.m.lookup(h, avoid)
	}
	if s == nil {
		return nil, false
	}
	return s, s.full()
}

// ringPick finds h on the consistent ring as HAProxy's chash does: of
// the usable servers' points, the first at or after h and the one before
// it, the nearer of the two (the one before on a tie); when that is avoid,
// the next point of another server. A server going down only moves its
// own keys.
func (a *hashAlgo) ringPick(cands []*Server, h uint32, avoid *Server) *Server {
	if a.ring == nil && len(cands) > 0 {
		a.buildRing(cands[0].be.servers)
	}
	usable := func(s *Server) bool {
		for _, c := range cands {
			if c == s {
				return true
			}
		}
		return false
	}
	n := len(a.ring)
	at := sort.Search(n, func(i int) bool { return a.ring[i].h >= h })
	next := -1
	for j := 0; j < n; j++ {
		if k := (at + j) % n; usable(a.ring[k].s) {
			next = k
			break
		}
	}
	if next < 0 {
		return nil
	}
	prev := next
	for j := 1; j < n; j++ {
		if k := (next - j + n) % n; usable(a.ring[k].s) {
			prev = k
			break
		}
	}
	pick := next
	if h-a.ring[prev].h <= a.ring[next].h-h {
		pick = prev
	}
	for j := 0; j < n; j++ {
		if s := a.ring[(pick+j)%n].s; s != avoid && usable(s) {
			return s
		}
	}
	return nil
}

func (a *hashAlgo) buildRing(servers []*Server) {
	for _, s := range servers {
		for i := 0; i < s.weight*16; i++ {
			// HAProxy's point keys: the server's id times 4096
			// (SRV_EWGHT_RANGE) plus the point's number, mixed.
			a.ring = append(a.ring, ringPoint{h: fullHash(uint32(s.cfg.ID)*4096 + uint32(i)), s: s})
		}
	}
	sort.Slice(a.ring, func(i, j int) bool { return a.ring[i].h < a.ring[j].h })
}

// randomAlgo picks a usable server at random, weighted, skipping full
// ones (balance random with one draw).
type randomAlgo struct{}

func (randomAlgo) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	total := 0
	for _, s := range cands {
		if s != avoid && !s.full() {
			total += s.weight
		}
	}
	if total == 0 {
		return nil, false
	}
	n := rand.IntN(total)
	for _, s := range cands {
		if s == avoid || s.full() {
			continue
		}
		if n < s.weight {
			return s, false
		}
		n -= s.weight
	}
	return nil, false
}

// consistentSource is "balance source" under "hash-type consistent": the
// client address's hash (mixed by fullHash under the avalanche modifier)
// on the consistent ring, so that a server going down only moves its own
// clients.
type consistentSource struct {
	ring      hashAlgo
	avalanche bool
}

func (a *consistentSource) pick(cands []*Server, src netip.Addr, avoid *Server) (*Server, bool) {
	h := SourceHash(src)
	if a.avalanche {
		h = fullHash(h)
	}
	s := a.ring.ringPick(cands, h, avoid)
	if s == nil {
		return nil, false
	}
	return s, s.full()
}
