package balancer

import (
	"net/netip"
	"sort"
)

// algorithm picks a server among the backend's usable ones. Every method is
// called with the backend's lock held, so algorithms keep plain state.
type algorithm interface {
	// pick returns a server with a free slot, or nil when every usable
	// server is full. src is the client's address (for source hashing).
	// When it returns a full server with queueOn set, the connection waits
	// in that server's own queue (hash-based algorithms stick to their
	// choice).
	pick(cands []*Server, src netip.Addr, avoid *Server) (s *Server, queueOn bool)
}

func newAlgorithm(name string) algorithm {
	switch name {
	case "static-rr":
		return &staticRR{}
	case "leastconn":
		return &leastConn{}
	case "first":
		return first{}
	default:
		return &roundRobin{}
	}
}

// staticRR walks a precomputed map where each server appears weight times,
// spread smoothly. The map is rebuilt only when the usable set changes, so
// weight changes at run time have no effect, as in HAProxy.
type staticRR struct {
	m serverMap
}

func (a *staticRR) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	a.m.refresh(cands)
	return a.m.next(avoid), false
}

// serverMap is a weight-expanded array of servers, smoothly interleaved,
// built as HAProxy's lb_map builds it, so that static-rr visits servers
// in HAProxy's order and the map-based hashes send a key to the server
// HAProxy would: the weights are first divided by the greatest common
// divisor of all the backend's server weights, and each slot goes to the
// first declared server whose accumulated score reaches the highest
// multiple of the total.
type serverMap struct {
	key   []*Server
	keyW  []int
	slots []*Server
	score []int
	rrIdx int // the next slot for round robin on the map
}

func (m *serverMap) refresh(cands []*Server) {
	if m.same(cands) {
		return
	}
	m.key, m.keyW = m.key[:0], m.keyW[:0]
	for _, s := range cands {
		m.key = append(m.key, s)
		m.keyW = append(m.keyW, s.weight)
	}
	m.slots = m.slots[:0]
	if len(cands) == 0 {
		return
	}
	div := weightGCD(cands[0].be.servers)
	eweight := func(s *Server) int { return (s.weight + div - 1) / div }
	total := 0
	for _, s := range cands {
		total += eweight(s)
	}
	m.score = append(m.score[:0], make([]int, len(cands))...)
	for n := 0; n < total; n++ {
		best, max := -1, 0
		for i, s := range cands {
			if total == 1 {
				best = i
				break
			}
			m.score[i] += eweight(s)
			if v := (m.score[i] + total) / total; best < 0 || v > max {
				best, max = i, v
			}
		}
		if total > 1 {
			m.score[best] -= total
		}
		m.slots = append(m.slots, cands[best])
	}
}

// weightGCD is the greatest common divisor of the configured non-zero
// weights of servers, 1 when there are none: HAProxy's map divides every
// weight by it.
func weightGCD(servers []*Server) int {
	g := 0
	for _, s := range servers {
		w := s.cfg.Weight
		for w != 0 {
			g, w = w, g%w
		}
	}
	if g == 0 {
		return 1
	}
	return g
}

// lookup returns the slot for hash h, or when that is avoid the next slot
// holding another server; nil when there is none.
func (m *serverMap) lookup(h uint32, avoid *Server) *Server {
	n := len(m.slots)
	if n == 0 {
		return nil
	}
	at := int(h % uint32(n))
	for i := 0; i < n; i++ {
		if s := m.slots[(at+i)%n]; s != avoid {
			return s
		}
	}
	return nil
}

// next walks the map round robin from the slot after the last one taken,
// as HAProxy's map_get_server_rr does for static-rr and for the map-based
// hashes when the request lacks what they hash: full servers are passed
// over, avoid only taken when no other has room, nil when none has. The
// position survives a rebuild of the map, back to the first slot when the
// map became shorter than it.
func (m *serverMap) next(avoid *Server) *Server {
	n := len(m.slots)
	if n == 0 {
		return nil
	}
	if m.rrIdx < 0 || m.rrIdx >= n {
		m.rrIdx = 0
	}
	idx := m.rrIdx
	var avoided *Server
	avoidedIdx := 0
	for {
		s := m.slots[idx]
		idx++
		if !s.full() {
			if s != avoid {
				m.rrIdx = idx
				return s
			}
			avoided, avoidedIdx = s, idx
		}
		if idx == n {
			idx = 0
		}
		if idx == m.rrIdx {
			break
		}
	}
	if avoided != nil {
		m.rrIdx = avoidedIdx
	}
	return avoided
}

func (m *serverMap) same(cands []*Server) bool {
	if len(m.key) != len(cands) {
		return false
	}
	for i, s := range cands {
		if m.key[i] != s || m.keyW[i] != s.weight {
			return false
		}
	}
	return true
}

// leastConn takes the server with the fewest connections relative to its
// weight, counting queued ones, and goes round among equals by starting each
// search just after the previous choice.
type leastConn struct{ next int }

func (a *leastConn) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	n := len(cands)
	var best *Server
	bestIdx := 0
	for i := 0; i < n; i++ {
		idx := (a.next + i) % n
		s := cands[idx]
		if s.full() || s == avoid {
			continue
		}
		if best == nil || lcLess(s, best) {
			best, bestIdx = s, idx
		}
	}
	if best != nil {
		a.next = bestIdx + 1
	}
	return best, false
}

// lcLess orders servers by HAProxy's leastconn key: 0 when idle, else
// (cur+queued+1)/eweight, compared by cross-multiplying to stay exact.
func lcLess(a, b *Server) bool {
	la, lb := a.cur+len(a.queue), b.cur+len(b.queue)
	if la == 0 || lb == 0 {
		return la == 0 && lb != 0
	}
	return (la+1)*b.eweight < (lb+1)*a.eweight
}

// first takes the usable server with the lowest id that still has a free
// slot, so that extra servers stay idle until the first ones are full.
type first struct{}

func (first) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	byID := append([]*Server(nil), cands...)
	sort.Slice(byID, func(i, j int) bool { return byID[i].cfg.ID < byID[j].cfg.ID })
	for _, s := range byID {
		if !s.full() && s != avoid {
			return s, false
		}
	}
	return nil, false
}

// SourceHash is the hash "balance source" uses: the XOR of the address's
// 32-bit words in host order (one word for IPv4, four for IPv6).
func SourceHash(a netip.Addr) uint32 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	b := a.As16()
	var h uint32
	for i := 0; i < 16; i += 4 {
		h ^= uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
	}
	return h
}
