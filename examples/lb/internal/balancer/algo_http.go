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
// or parameter) is balanced round robin, on the map or along the ring as
// HAProxy does.

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
		draws := cfg.HTTP.RandomDraws
		if draws < 1 {
			draws = 2
		}
		return &randomAlgo{draws: draws, ring: hashAlgo{consistent: true, balanceFactor: cfg.HTTP.HashBalanceFactor}, rnd: rand.Uint32}
	case "uri":
		maxLen, depth := cfg.HTTP.URILen, cfg.HTTP.URIDepth
		part = func(m *htx.Message) ([]byte, bool) {
			return uriKey(m.Path(), arg == "whole", maxLen, depth), true
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
	case "rdp-cookie":
		// The cookie is in a TCP client's first bytes (rdpKey), never in
		// an HTTP request: requests go round robin.
		part = func(*htx.Message) ([]byte, bool) { return nil, false }
		return &hashAlgo{part: part, rdp: arg, consistent: consistent, avalanche: avalanche, balanceFactor: cfg.HTTP.HashBalanceFactor}
	case "source":
		// part stays nil: pick hashes the client's address.
	default:
		return newAlgorithm(cfg.Balance)
	}
	return &hashAlgo{part: part, consistent: consistent, avalanche: avalanche, balanceFactor: cfg.HTTP.HashBalanceFactor}
}

// uriKey is what balance uri hashes of a path and query, as HAProxy's
// get_server_uh reads it: at most maxLen bytes (0: all), up to the
// query unless whole, and up to the slash that starts directory
// depth+1 (0: any depth).
func uriKey(uri []byte, whole bool, maxLen, depth int) []byte {
	if maxLen > 0 && len(uri) > maxLen {
		uri = uri[:maxLen]
	}
	slashes := 0
	for i, c := range uri {
		switch {
		case c == '/':
			slashes++
			if depth > 0 && slashes == depth+1 {
				return uri[:i]
			}
		case c == '?' && !whole:
			return uri[:i]
		}
	}
	return uri
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

// hashAlgo is the hash-based balancing: "balance source" (part nil, the
// client's address hashed) and the request-reading uri, hdr and url_param,
// map-based or on the consistent ring.
type hashAlgo struct {
	part       func(*htx.Message) ([]byte, bool) // nil for balance source
	rdp        string                            // balance rdp-cookie's cookie name
	consistent bool
	avalanche  bool // the hash is mixed by fullHash first
	// balanceFactor is hash-balance-factor: 0, or the bound on a
	// server's load in hundredths of its share (consistent only).
	balanceFactor int
	m             serverMap   // map-based: HAProxy's weighted map
	ring          []ringPoint // consistent: built on first use from every server
	// last is the ring point the consistent fallback took last, plus
	// one (0: none yet), HAProxy's chash.last.
	last int
}

type ringPoint struct {
	h uint32
	s *Server
	n int // the point's number: it is on the ring while n < s.eweight
}

func (a *hashAlgo) requestKey(req *htx.Message) ([]byte, bool) {
	if a.part == nil {
		return nil, false
	}
	return a.part(req)
}

// pick hashes the client's address for balance source. A request without
// the part a request hash reads goes round robin as in HAProxy: on the map
// for a map-based hash, along the ring for a consistent one.
func (a *hashAlgo) pick(cands []*Server, src netip.Addr, avoid *Server) (*Server, bool) {
	if a.part == nil && src.IsValid() {
		return a.pickHash(cands, SourceHash(src), avoid)
	}
	// No key: a request without what the algorithm hashes, or a client
	// without an IP address (a UNIX socket's) under balance source, goes
	// round robin, as in HAProxy.
	if a.consistent {
		return a.ringNext(cands, avoid)
	}
	a.m.refresh(cands)
	return a.m.next(avoid), false
}

// ringNext is HAProxy's chash_get_next_server: the servers in the order
// of their points on the ring, from the point after the last one taken.
// Full servers are passed over and avoid is taken only when no other has
// room. When no point was taken yet, only the ring's first point is
// looked at. With no active server left and one backup in use, that
// backup is the answer, full or not (the connection then waits in its
// queue).
func (a *hashAlgo) ringNext(cands []*Server, avoid *Server) (*Server, bool) {
	if len(cands) == 0 {
		return nil, false
	}
	if s := firstBackup(cands); s != nil {
		return s, s.full()
	}
	if a.ring == nil {
		a.buildRing(cands[0].be.servers)
	}
	n := len(a.ring)
	usable := func(i int) bool { p := a.ring[i]; return p.n < p.s.eweight && in(cands, p.s) }
	after := func(i int) int { // the next usable point after i, -1 past the end
		for i++; i < n; i++ {
			if usable(i) {
				return i
			}
		}
		return -1
	}
	var avoided *Server
	avoidedAt := -1
	stop := a.last - 1
	node := stop
	for {
		if node >= 0 {
			node = after(node)
		}
		if node < 0 {
			node = after(-1)
		}
		a.last = node + 1
		if node < 0 {
			return nil, false
		}
		if stop < 0 {
			stop = node
		}
		if s := a.ring[node].s; !s.full() {
			if s != avoid {
				return s, false
			}
			avoided, avoidedAt = s, node
		}
		if node == stop {
			break
		}
	}
	a.last = avoidedAt + 1
	return avoided, false
}

// follow keeps the consistent fallback's last point on the ring as
// HAProxy's chash_skip_node does when a point leaves its tree: when the
// point taken last is no longer in use (its server down or lighter), the
// last point becomes the next one in use of the same group (active or
// backup), none when there is no other.
func (a *hashAlgo) follow() {
	if a.last == 0 || a.ring == nil {
		return
	}
	in := func(p ringPoint, backup bool) bool {
		return p.s.cfg.Backup == backup && p.s.usable() && p.n < p.s.eweight
	}
	at := a.last - 1
	backup := a.ring[at].s.cfg.Backup
	if in(a.ring[at], backup) {
		return
	}
	n := len(a.ring)
	for j := 1; j < n; j++ {
		if k := (at + j) % n; in(a.ring[k], backup) {
			a.last = k + 1
			return
		}
	}
	a.last = 0
}

func (a *hashAlgo) pickKey(cands []*Server, key []byte, avoid *Server) (*Server, bool) {
	return a.pickHash(cands, acl.SDBMStep(0, key), avoid)
}

// pickHash finds the server for hash h (mixed first under the avalanche
// modifier) on the map or the ring. The choice sticks: when that server is
// full, the connection waits in its queue rather than going elsewhere; a
// redispatch leaves avoid for the next server.
func (a *hashAlgo) pickHash(cands []*Server, h uint32, avoid *Server) (*Server, bool) {
	if a.avalanche {
		h = acl.FullHash(h)
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
	usable := func(p ringPoint) bool { return p.n < p.s.eweight && in(cands, p.s) }
	eligible := a.boundedLoads(cands)
	n := len(a.ring)
	at := sort.Search(n, func(i int) bool { return a.ring[i].h >= h })
	next := -1
	for j := 0; j < n; j++ {
		if k := (at + j) % n; usable(a.ring[k]) {
			next = k
			break
		}
	}
	if next < 0 {
		return nil
	}
	prev := next
	for j := 1; j < n; j++ {
		if k := (next - j + n) % n; usable(a.ring[k]) {
			prev = k
			break
		}
	}
	pick := next
	if h-a.ring[prev].h <= a.ring[next].h-h {
		pick = prev
	}
	for j := 0; j < n; j++ {
		if p := a.ring[(pick+j)%n]; p.s != avoid && usable(p) && eligible(p.s) {
			return p.s
		}
	}
	if a.balanceFactor > 0 {
		// None is under its bound (it cannot happen: the bounds add up
		// to more than is served): the nearest usable one.
		for j := 0; j < n; j++ {
			if p := a.ring[(pick+j)%n]; p.s != avoid && usable(p) {
				return p.s
			}
		}
	}
	return nil
}

// boundedLoads returns the test of HAProxy's consistent hashing with
// bounded loads (hash-balance-factor): the slots for the connections being
// served plus the new one, times the factor, are shared out by effective
// weight (the remainder by the servers' cumulative weights in declaration
// order), and a server at or over its share is passed over for the next
// point on the ring. Without a factor every server passes.
func (a *hashAlgo) boundedLoads(cands []*Server) func(*Server) bool {
	if a.balanceFactor == 0 || len(cands) == 0 {
		return func(*Server) bool { return true }
	}
	total := 0
	for _, s := range cands {
		total += s.eweight
	}
	slots := (uint64(cands[0].be.conns+1)*uint64(a.balanceFactor) + 99) / 100
	perWeight, rem := slots/uint64(total), slots%uint64(total)
	return func(s *Server) bool {
		cum := 0
		for _, c := range cands {
			if c == s {
				break
			}
			cum += c.eweight
		}
		w, c := uint64(s.eweight), uint64(cum)
		mine := w*perWeight + ((c+w)*rem)/uint64(total) - (c*rem)/uint64(total)
		return uint64(s.cur) < max(mine, 1)
	}
}

// buildRing places weight×16 points per server (HAProxy's scale), with
// HAProxy's keys: the server's id times 4096 (SRV_EWGHT_RANGE) plus the
// point's number, mixed by fullHash. While a server warms up, only its
// first eweight points count, as HAProxy's chash holds only those.
func (a *hashAlgo) buildRing(servers []*Server) {
	for _, s := range servers {
		for i := 0; i < s.weight*16; i++ {
			a.ring = append(a.ring, ringPoint{h: acl.FullHash(uint32(s.cfg.ID)*4096 + uint32(i)), s: s, n: i})
		}
	}
	sort.Slice(a.ring, func(i, j int) bool { return a.ring[i].h < a.ring[j].h })
}

// randomAlgo is HAProxy's balance random(draws): each draw looks a random
// number up on the consistent ring (so weights, slowstart and
// hash-balance-factor count as they do for a consistent hash), and of the
// servers drawn the one serving the fewest connections for its weight is
// taken (two draws by default: the power of two choices). When that server
// is full, the connection waits in the backend's queue.
type randomAlgo struct {
	draws int
	ring  hashAlgo
	rnd   func() uint32
}

func (a *randomAlgo) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	var best *Server
	for range a.draws {
		s := a.ring.ringPick(cands, a.rnd(), avoid)
		if s == nil {
			break
		}
		if best != nil && best != s && s.cur*best.eweight > best.cur*s.eweight {
			s = best
		}
		best = s
	}
	if best == nil || best.full() || len(best.queue) > 0 {
		return nil, false
	}
	return best, false
}
