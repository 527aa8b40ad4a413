package balancer

import (
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// The state fetches' view of the balancer (acl.IdentityContext and
// acl.StateContext): the proxies, listener and server a request or a TCP
// session goes through, and the live figures of any server, backend,
// frontend or stick table, read where the statistics read them.

// identCache holds the proxies' numeric ids, as the statistics number
// them, worked out on first use.
type identCache struct {
	once sync.Once
	ids  map[*config.Proxy]int
}

// proxyID is px's id, haproxy's uuid.
func (b *Balancer) proxyID(px *config.Proxy) int {
	b.idents.once.Do(func() { b.idents.ids = proxyIDs(b.cfg) })
	return b.idents.ids[px]
}

func (b *Balancer) frontendNamed(name string) *frontend {
	for _, fe := range b.fronts {
		if fe.cfg.Name == name {
			return fe
		}
	}
	return nil
}

// state is the figure st of proxy px (own when px is ""), and of its
// server srv for the server figures.
func (b *Balancer) state(st acl.Stat, own, px, srv string) (int64, bool) {
	if px == "" {
		px = own
	}
	switch st {
	case acl.StatFeConn, acl.StatFeReqRate, acl.StatFeSessRate:
		fe := b.frontendNamed(px)
		if fe == nil {
			return 0, false
		}
		switch st {
		case acl.StatFeConn:
			return fe.conns.Load(), true
		case acl.StatFeReqRate:
			return int64(fe.st.reqRate.Rate()), true
		}
		return int64(fe.st.rate.Rate()), true
	case acl.StatTableCnt, acl.StatTableAvl:
		t := b.tables[px]
		if t == nil {
			return 0, false
		}
		if st == acl.StatTableCnt {
			return int64(t.Len()), true
		}
		return int64(t.Size() - t.Len()), true
	}
	be := b.backends[px]
	if be == nil {
		return 0, false
	}
	if st == acl.StatBeSessRate {
		return int64(be.st.rate.Rate()), true
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	switch st {
	case acl.StatBeConn:
		return int64(be.conns + be.waiting), true
	case acl.StatBeQueue:
		return int64(be.pending()), true
	case acl.StatBeAvgQueue:
		q, n := be.pending(), len(be.candidates())
		if n == 0 {
			return int64(2 * q), true
		}
		return int64((q + n - 1) / n), true
	case acl.StatBeConnFree:
		free := 0
		for _, s := range be.candidates() {
			if s.maxconn == 0 {
				return -1, true
			}
			if m := s.limit(); m > s.cur {
				free += m - s.cur
			}
		}
		return int64(free), true
	case acl.StatConnSlots:
		slots := 0
		for _, s := range be.servers {
			if !s.up || s.inMaint() || s.rmaint {
				continue // stopped, as haproxy's maintenance stops it
			}
			if s.maxconn == 0 || s.cfg.MaxQueue == 0 {
				return -1, true
			}
			slots += s.maxconn - s.cur + s.cfg.MaxQueue - len(s.queue)
		}
		return int64(slots), true
	}
	var s *Server
	for _, x := range be.servers {
		if x.cfg.Name == srv {
			s = x
			break
		}
	}
	if s == nil {
		return 0, false
	}
	switch st {
	case acl.StatSrvUp:
		if !s.inMaint() && !s.rmaint && s.up {
			return 1, true
		}
		return 0, true
	case acl.StatSrvConn:
		return int64(s.cur), true
	case acl.StatSrvConnFree:
		if s.maxconn == 0 {
			return -1, true
		}
		return int64(max(0, s.limit()-s.cur)), true
	case acl.StatSrvQueue:
		return int64(len(s.queue)), true
	case acl.StatSrvSessRate:
		return int64(s.st.rate.Rate()), true
	case acl.StatSrvWeight:
		return int64(displayWeight(s.eweight)), true
	case acl.StatSrvIWeight:
		return int64(s.cfg.Weight), true
	case acl.StatSrvUWeight:
		return int64(s.weight), true
	}
	return 0, false
}

// pending counts the connections waiting in the backend's queue and its
// servers', haproxy's totpend. Called with b.mu held.
func (b *Backend) pending() int {
	n := len(b.queue)
	for _, s := range b.servers {
		n += len(s.queue)
	}
	return n
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func ident(name string, id int) acl.Ident { return acl.Ident{Name: name, ID: id} }

// FrontendIdent is the frontend the request came through.
func (ex *exchange) FrontendIdent() (acl.Ident, string, bool) {
	fe := ex.hf.s.fe
	defbe := ""
	if fe.backend != nil {
		defbe = fe.backend.cfg.Name
	}
	return ident(fe.cfg.Name, ex.hf.s.b.proxyID(fe.cfg)), defbe, true
}

// BackendIdent is the request's backend, the frontend until one is
// chosen.
func (ex *exchange) BackendIdent() (acl.Ident, bool) {
	if be := ex.be; be != nil {
		return ident(be.cfg.Name, ex.hf.s.b.proxyID(be.cfg)), true
	}
	fe := ex.hf.s.fe.cfg
	return ident(fe.Name, ex.hf.s.b.proxyID(fe)), true
}

// ServerIdent is the server the request went to, once chosen.
func (ex *exchange) ServerIdent() (acl.Ident, bool) {
	s := ex.srv
	if s == nil {
		s = ex.log.srv
	}
	if s == nil {
		return acl.Ident{}, false
	}
	return ident(s.cfg.Name, s.cfg.ID), true
}

// ListenerIdent is the bind line the client came through.
func (ex *exchange) ListenerIdent() (acl.Ident, bool) { return ex.hf.s.listenerIdent() }

// State reads a state fetch's figure; "" names the proxy whose rules
// run.
func (ex *exchange) State(st acl.Stat, px, srv string) (int64, bool) {
	own := ex.strk.own
	if own == "" {
		if ex.be != nil {
			own = ex.be.cfg.Name
		} else {
			own = ex.hf.s.fe.cfg.Name
		}
	}
	n, ok := ex.hf.s.b.state(st, own, px, srv)
	if ok && st == acl.StatBeConn && ex.be != nil && ex.srv == nil && (px == "" && own == ex.be.cfg.Name || px == ex.be.cfg.Name) {
		// haproxy counts a stream in its backend from the moment it
		// is chosen; lb from the moment it holds a server.
		n++
	}
	return n, ok
}

// Stopping reports a soft stop.
func (ex *exchange) Stopping() bool { return ex.hf.s.b.stopping.Load() }

// Timeout is one of the request's timeouts, in milliseconds: the
// backend's (the frontend's until one is chosen), or the current ones,
// which set-timeout sets and a server connection starts from.
func (ex *exchange) Timeout(k acl.TimeoutKind) (int64, bool) {
	be := ex.hf.s.fe.cfg
	if ex.be != nil {
		be = ex.be.cfg
	}
	switch k {
	case acl.TimeoutBeServer:
		return ms(be.Timeouts.Server), true
	case acl.TimeoutBeTunnel:
		return ms(be.Timeouts.Tunnel), true
	case acl.TimeoutCurServer:
		if ex.tmo.serverSet {
			return ms(ex.tmo.server), true
		}
		if ex.srv != nil || ex.log.srv != nil {
			return ms(be.Timeouts.Server), true
		}
		return 0, true
	case acl.TimeoutCurTunnel:
		if ex.tmo.tunnelSet {
			return ms(ex.tmo.tunnel), true
		}
		if ex.srv != nil || ex.log.srv != nil {
			return ms(be.Timeouts.Tunnel), true
		}
		return 0, true
	case acl.TimeoutFeClient:
		return ms(ex.hf.s.fe.cfg.Timeouts.Client), true
	}
	return 0, false
}

var (
	_ acl.IdentityContext = (*exchange)(nil)
	_ acl.StateContext    = (*exchange)(nil)
	_ acl.IdentityContext = (*tracked)(nil)
	_ acl.StateContext    = (*tracked)(nil)
)

func (s *session) listenerIdent() (acl.Ident, bool) {
	if s.bind == nil {
		return acl.Ident{}, false
	}
	return ident(s.bind.Name, int(s.luid)), true
}

// FrontendIdent is the frontend the TCP connection came through.
func (t *tracked) FrontendIdent() (acl.Ident, string, bool) {
	var fe *frontend
	if t.s != nil {
		fe = t.s.fe
	} else {
		fe = t.b.frontendNamed(t.own)
	}
	if fe == nil {
		return acl.Ident{}, "", false
	}
	defbe := ""
	if fe.backend != nil {
		defbe = fe.backend.cfg.Name
	}
	return ident(fe.cfg.Name, t.b.proxyID(fe.cfg)), defbe, true
}

// BackendIdent is the session's backend once chosen, the frontend before.
func (t *tracked) BackendIdent() (acl.Ident, bool) {
	if t.s == nil || t.s.fe == nil {
		return acl.Ident{}, false
	}
	// The session starts with the default backend, which the frontend's
	// rules, where haproxy refuses be_name, may change.
	px := t.s.fe.cfg
	if t.s.be != nil {
		px = t.s.be.cfg
	}
	return ident(px.Name, t.b.proxyID(px)), true
}

// ServerIdent is the server the session is connected to.
func (t *tracked) ServerIdent() (acl.Ident, bool) {
	if t.s == nil {
		return acl.Ident{}, false
	}
	// The session's goroutine, which runs the rules and writes the
	// line, sets the server.
	srv := t.s.srv
	if srv == nil {
		srv = t.s.named
	}
	if srv == nil {
		return acl.Ident{}, false
	}
	return ident(srv.cfg.Name, srv.cfg.ID), true
}

// ListenerIdent is the bind line the connection came through.
func (t *tracked) ListenerIdent() (acl.Ident, bool) {
	if t.s == nil {
		return acl.Ident{}, false
	}
	return t.s.listenerIdent()
}

// State reads a state fetch's figure; "" names the proxy whose rules
// run.
func (t *tracked) State(st acl.Stat, px, srv string) (int64, bool) {
	n, ok := t.b.state(st, t.own, px, srv)
	s := t.s
	if !ok || s == nil || s.be == nil || st != acl.StatBeConn && st != acl.StatSrvConn {
		return n, ok
	}
	if px == "" {
		px = t.own
	}
	// haproxy counts a session in its backend from the moment it is
	// chosen until the session's line is written, and in its server
	// until then too; lb from the server's slot to its release.
	switch {
	case px != s.be.cfg.Name:
	case t.atLog && st == acl.StatBeConn:
		n++
	case t.atLog && s.srv != nil && srv == s.srv.cfg.Name:
		n++
	case !t.atLog && st == acl.StatBeConn && s.srv == nil && t.own == px && s.be.cfg != s.fe.cfg:
		n++ // a backend's content rules, before the server
	}
	return n, ok
}

// Stopping reports a soft stop.
func (t *tracked) Stopping() bool { return t.b.stopping.Load() }

// Timeout is one of the session's timeouts, in milliseconds.
func (t *tracked) Timeout(k acl.TimeoutKind) (int64, bool) {
	if t.s == nil || t.s.fe == nil {
		return 0, false
	}
	fe, be := t.s.fe.cfg, t.s.fe.cfg
	if t.s.be != nil {
		be = t.s.be.cfg
	}
	switch k {
	case acl.TimeoutBeServer:
		return ms(be.Timeouts.Server), true
	case acl.TimeoutBeTunnel:
		return ms(be.Timeouts.Tunnel), true
	case acl.TimeoutCurServer, acl.TimeoutCurTunnel:
		// A TCP stream's own timeouts are unset before the connection
		// to the server, and once it is over, where the log reads them.
		return 0, true
	case acl.TimeoutFeClient:
		return ms(fe.Timeouts.Client), true
	}
	return 0, false
}

// FirstRequest reports whether the request is its connection's first
// (http_first_req); haproxy says no for every HTTP/2 stream.
func (ex *exchange) FirstRequest() bool { return ex.first && !ex.hf.h2 }

// ResponseCompression is the algorithm the response goes through, once
// there is one to compress (res.comp, res.comp_algo).
func (ex *exchange) ResponseCompression() (string, bool) {
	if r := ex.HTTPResponse(); r != nil && ex.compressible(r) {
		return ex.comp, true
	}
	return "", false
}

// LastRule is where the last allow, deny or tarpit rule that matched is
// written (last_rule_file, last_rule_line).
func (ex *exchange) LastRule() (string, int, bool) {
	if ex.lastRule == nil {
		return "", 0, false
	}
	return ex.lastRule.File, ex.lastRule.Line, true
}
