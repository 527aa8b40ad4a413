package balancer

import "net/netip"

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

// leastConn is HAProxy's leastconn (fwlc): the servers stand in order
// of a key, 0 when a server has nothing in flight, else (in flight + 1)
// × 4096 / effective weight (integer division), where in flight counts
// its connections and those waiting in its queue; among equal keys, the
// one placed longest ago goes first. A server is placed again whenever it
// takes or gives back a connection, comes up, or changes weight, as
// HAProxy repositions it; a connection entering a server's queue does not
// move it. The first server in that order with room goes next; with
// maxqueue set, room counts the queue's too, so a full server whose queue
// has room can be chosen and the connection waits there.
type leastConn struct{ seq uint64 }

// lcNode is a server's place in leastconn's order. Guarded by be.mu.
type lcNode struct {
	in     bool   // placed: the server is usable
	key    uint32 // the key it was placed with
	seq    uint64 // when it was placed: ties go to the older
	weight int    // the effective weight it was placed with
}

// place puts s at the end of its key's servers, its key taken from what
// it has in flight now.
func (a *leastConn) place(s *Server) {
	var key uint32
	if n := s.cur + len(s.queue); n > 0 && s.eweight > 0 {
		key = uint32((n + 1) * rrMaxWeight / s.eweight)
	}
	a.seq++
	s.lc = lcNode{in: true, key: key, seq: a.seq, weight: s.eweight}
}

// follow places the servers that came up or changed weight and takes out
// those no longer usable, in declaration order (the order HAProxy places
// them at start).
func (a *leastConn) follow(servers []*Server) {
	for _, s := range servers {
		switch {
		case !s.usable():
			s.lc.in = false
		case !s.lc.in || s.lc.weight != s.eweight:
			a.place(s)
		}
	}
}

func (a *leastConn) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	if s := firstBackup(cands); s != nil {
		return s, s.full()
	}
	var best, avoided *Server
	for _, s := range cands {
		if !s.lc.in || !s.lcRoom() {
			continue
		}
		if s == avoid {
			avoided = s
			continue
		}
		if best == nil || s.lc.key < best.lc.key || (s.lc.key == best.lc.key && s.lc.seq < best.lc.seq) {
			best = s
		}
	}
	if best == nil {
		best = avoided
	}
	if best == nil {
		return nil, false
	}
	return best, best.full()
}

// lcRoom is leastconn's test of a server with a maxconn: what it has in
// flight is under its (dynamic) maxconn plus its maxqueue.
func (s *Server) lcRoom() bool {
	if s.maxconn == 0 {
		return true
	}
	return s.cur+len(s.queue) < s.limit()+s.cfg.MaxQueue
}

// first takes the usable server with the lowest id that still has a free
// slot, so that extra servers stay idle until the first ones are full, as
// HAProxy's first: the server to avoid only when no other has room, and
// the first backup in use taken full or not (the connection then waits in
// its queue).
type first struct{}

func (first) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	if s := firstBackup(cands); s != nil {
		return s, s.full()
	}
	var best, avoided *Server
	for _, s := range cands {
		switch {
		case s.full():
		case s == avoid:
			avoided = s
		case best == nil || s.cfg.ID < best.cfg.ID:
			best = s
		}
	}
	if best == nil {
		best = avoided
	}
	return best, false
}

// firstBackup returns the backup server in use when no active server is
// and option allbackups is off: HAProxy's "fbck", which its dynamic
// algorithms (roundrobin, leastconn, first, the consistent hashes' round
// robin) hand out without looking at its load, so that a connection
// waits in that server's queue when it is full. nil otherwise.
func firstBackup(cands []*Server) *Server {
	if len(cands) != 1 {
		return nil
	}
	if s := cands[0]; s.cfg.Backup && !s.be.cfg.Options.AllBackups {
		return s
	}
	return nil
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
