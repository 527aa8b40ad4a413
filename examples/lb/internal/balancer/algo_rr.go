package balancer

import "net/netip"

// roundRobin is HAProxy's dynamic weighted round robin (fwrr), so that a
// configuration sends successive connections to the servers in the order
// haproxy does. Each server has a next position, advanced after each pick
// by the group's total weight divided by its own (the remainder carried),
// and the server with the lowest position goes next. Servers wait in three
// lists: "curr", ordered by position; "init", ordered by weight, heavier
// first, from which a server takes the first free turn when curr has a
// hole; and "next", those whose position fell beyond the current window,
// which becomes init when the window is over. Weights are scaled by 16 as
// in HAProxy. A server going down leaves the lists; one coming up is placed
// as far ahead as its weight allows, and one whose weight changes (while
// it warms up) moves, as haproxy places and moves them.
type roundRobin struct {
	started                         bool
	members                         []*Server
	currPos, currWeight, nextWeight int
	seq                             uint64
}

// rrState is a server's place in the round robin. Guarded by be.mu.
type rrState struct {
	weight    int // effective weight (Server.eweight) while a member
	lpos      int // the position of the last turn taken
	npos, rem int
	key       int
	seq       uint64 // insertion order: ties go to the older
	tree      rrTree
}

type rrTree uint8

const (
	rrNone rrTree = iota
	rrInit
	rrCurr
	rrNext
)

// rrMaxWeight is the largest scaled weight, the base of the weight keys.
const rrMaxWeight = 256 * 16

func (a *roundRobin) pick(cands []*Server, _ netip.Addr, avoid *Server) (*Server, bool) {
	a.sync(cands)
	if s := firstBackup(cands); s != nil {
		return s, s.full()
	}
	if len(a.members) == 0 {
		return nil, false
	}
	switched := false
	var avoided *Server
	var skipped []*Server
	var srv *Server
	for {
		if a.currWeight == 0 {
			a.currPos, a.currWeight = a.nextWeight, a.nextWeight
		}
		for {
			if srv = a.fromGroup(); srv != nil {
				break
			}
			if switched {
				if avoided == nil {
					a.requeue(skipped, nil)
					return nil, false
				}
				// Only the avoided server is left: it takes the turn
				// after all, having been advanced already.
				a.queue(avoided)
				a.requeue(skipped, avoided)
				return avoided, false
			}
			switched = true
			a.switchLists()
		}
		a.advance(srv)
		srv.rr.tree = rrNone
		a.currPos++
		if !srv.full() {
			if srv != avoid || avoided != nil {
				break
			}
			avoided = srv
		}
		// Full or avoided: it loses this turn and goes back afterwards.
		skipped = append(skipped, srv)
	}
	a.queue(srv)
	a.requeue(skipped, srv)
	return srv, false
}

// requeue puts the servers skipped during a pick back in their lists.
func (a *roundRobin) requeue(skipped []*Server, taken *Server) {
	for _, s := range skipped {
		if s != taken {
			a.queue(s)
		}
	}
}

// sync brings the members in line with the usable servers: the first time
// all of them wait in init; later, a server gone or with a new weight
// leaves, and a new one comes up.
func (a *roundRobin) sync(cands []*Server) {
	if !a.started {
		a.started = true
		for _, s := range cands {
			a.members = append(a.members, s)
			s.rr = rrState{weight: s.eweight}
			a.nextWeight += s.rr.weight
			a.insert(s, rrInit, rrMaxWeight-s.rr.weight)
		}
		a.currPos, a.currWeight = a.nextWeight, a.nextWeight
		return
	}
	same := len(cands) == len(a.members)
	for i := 0; same && i < len(cands); i++ {
		same = cands[i] == a.members[i] && cands[i].rr.weight == cands[i].eweight
	}
	if same {
		return
	}
	kept := a.members[:0]
	for _, m := range a.members {
		if in(cands, m) {
			kept = append(kept, m)
			continue
		}
		a.nextWeight -= m.rr.weight
		m.rr.tree = rrNone
	}
	a.members = kept
	for _, m := range a.members {
		if m.rr.weight != m.eweight {
			a.reweight(m)
		}
	}
	for _, s := range cands {
		if in(a.members, s) {
			continue
		}
		// Coming up: placed from the current position as far as its
		// weight allows within the next window.
		s.rr = rrState{weight: s.eweight}
		a.nextWeight += s.rr.weight
		a.members = append(a.members, s)
		s.rr.npos = a.currPos + (a.nextWeight+a.currWeight-a.currPos)/s.rr.weight
		a.queue(s)
	}
	// Keep the members in the candidates' (declaration) order.
	a.members = append(a.members[:0:0], cands...)
}

func in(list []*Server, s *Server) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reweight moves a member whose effective weight changed (a warming
// server's) as HAProxy's fwrr_update_server_weight does: in init it only
// takes its new rank; otherwise its next turn comes one new step after its
// last, no later than planned, and at least two turns from now.
func (a *roundRobin) reweight(s *Server) {
	r := &s.rr
	a.nextWeight += s.eweight - r.weight
	r.weight = s.eweight
	switch r.tree {
	case rrInit:
		a.insert(s, rrInit, rrMaxWeight-r.weight)
		return
	case rrNext:
		r.npos += a.currWeight
	}
	planned := r.npos
	step := a.nextWeight / r.weight
	r.npos, r.rem = r.lpos+step, 0
	if r.npos > planned {
		r.npos = planned
	}
	if r.npos < a.currPos+2 {
		r.npos = a.currPos + step
	}
	a.queue(s)
}

// first returns the member of list t with the lowest key, the older on
// a tie.
func (a *roundRobin) first(t rrTree) *Server {
	var best *Server
	for _, s := range a.members {
		if s.rr.tree != t {
			continue
		}
		if best == nil || s.rr.key < best.rr.key || (s.rr.key == best.rr.key && s.rr.seq < best.rr.seq) {
			best = s
		}
	}
	return best
}

// fromGroup returns the next server: the first of curr when its turn has
// come, else the heaviest of init (starting afresh), else whatever curr
// has.
func (a *roundRobin) fromGroup() *Server {
	s := a.first(rrCurr)
	if s != nil && s.rr.npos <= a.currPos {
		return s
	}
	if i := a.first(rrInit); i != nil {
		i.rr.npos, i.rr.rem = 0, 0
		return i
	}
	return s
}

// switchLists starts a new window: next becomes init.
func (a *roundRobin) switchLists() {
	for _, s := range a.members {
		switch s.rr.tree {
		case rrInit:
			s.rr.tree = rrNext
		case rrNext:
			s.rr.tree = rrInit
		}
	}
	a.currWeight = a.nextWeight
	a.currPos = a.currWeight
}

// advance moves s's position past the turn it takes now.
func (a *roundRobin) advance(s *Server) {
	r := &s.rr
	if r.npos == 0 {
		r.npos = a.currPos
	}
	r.lpos = r.npos
	r.npos += a.nextWeight / r.weight
	r.rem += a.nextWeight % r.weight
	if r.rem >= r.weight {
		r.rem -= r.weight
		r.npos++
	}
}

// queue puts s in curr at its position, or in next when that position is
// beyond the window.
func (a *roundRobin) queue(s *Server) {
	r := &s.rr
	if !in(a.members, s) {
		r.tree = rrNone
		return
	}
	if r.npos >= 2*a.currWeight || r.npos >= a.currWeight+a.nextWeight {
		r.npos -= a.currWeight
		a.insert(s, rrNext, rrMaxWeight-r.weight)
		return
	}
	a.insert(s, rrCurr, 256*r.npos+(rrMaxWeight+r.rem-r.weight)/16)
}

func (a *roundRobin) insert(s *Server, t rrTree, key int) {
	a.seq++
	s.rr.tree, s.rr.key, s.rr.seq = t, key, a.seq
}
