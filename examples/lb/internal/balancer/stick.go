package balancer

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// Stick tables, "tcp-request connection" rules and "stick" persistence.
//
// Connection rules run in the listener's accept loop on the bare socket.
// The entries a connection tracks (track-sc0/1/2) are handed from there to
// its session through the frontend's pending map, keyed by the *conn.Conn
// Accept returns; the session ends them (conn_cur back down, bytes and
// session counters added) and releases them exactly once. Entries of
// connections accepted but never turned into a session are ended by
// Close.

// openTables creates one table per proxy declaring a "stick-table" and
// per "table" line of a peers section. A table used by "stick" rules
// stores server_id even when the line does not say so, as in HAProxy.
func (b *Balancer) openTables() error {
	b.tables = map[string]*stick.Table{}
	sticky := map[string]bool{}
	for _, px := range b.cfg.Proxies {
		for _, r := range px.Stick.Rules {
			name := r.Table
			if name == "" {
				name = px.Name
			}
			sticky[name] = true
		}
	}
	for _, st := range b.cfg.StickTables() {
		cfg := st.Config
		cfg.Store = slices.Clone(cfg.Store)
		cfg.Sync = b.syncedBy(cfg) != ""
		if sticky[cfg.Name] && !slices.ContainsFunc(cfg.Store, func(d stick.DataSpec) bool { return d.Type == stick.DataServerID }) {
			cfg.Store = append(cfg.Store, stick.DataSpec{Type: stick.DataServerID})
		}
		t, err := stick.New(cfg)
		if err != nil {
			b.closeTables()
			return fmt.Errorf("balancer: stick-table '%s' (%s): %w", cfg.Name, st.Pos, err)
		}
		b.tables[cfg.Name] = t
	}
	return nil
}

func (b *Balancer) closeTables() {
	for _, t := range b.tables {
		_ = t.Close()
	}
}

// Table returns the stick table declared in the named proxy, or nil.
func (b *Balancer) Table(name string) *stick.Table { return b.tables[name] }

// tracked is a connection as connection rules, stick rules and ACLs see
// it: its addresses, what its TLS handshake negotiated and the entries it
// tracks. It is an acl.Context, an acl.Tracker and an acl.TLSContext.
type tracked struct {
	b        *Balancer
	own      string // the proxy whose table "" names
	src, dst netip.AddrPort
	// info is the client transport's handshake result: zero for the
	// connection rules, which run before the handshake (ssl_fc is false
	// there, as HAProxy's never match), set for session and stick rules.
	info xprt.Info
	sc   [acl.Slots]*stick.Entry
	// sessCounted is set once the session counters went up, so they are
	// counted once per connection.
	sessCounted bool
	// s is the session, whose variables the rules read and set; nil for
	// the connection rules, which run before it exists.
	s *session
	// expectProxy is set by a connection rule's "expect-proxy layer4".
	expectProxy bool
	// early is set while connection and session rules run, before the
	// stream exists; vars holds the sess variables a connection rule
	// set, until the session takes them.
	early bool
	vars  *varStore
	// c is the client connection, for the fc_* fetches.
	c *conn.Conn
	// dropTTL is the rst-ttl of the silent-drop rule that ended a run.
	dropTTL int
	// atLog says the session's traffic line is being written after it
	// left its server and backend, which haproxy still counts it in.
	atLog bool
}

// Var returns a variable (acl.VarContext): proc from the balancer, the
// other scopes from the TCP session, where they all live as long as it.
func (t *tracked) Var(name string) (acl.Sample, bool) { return t.store(name, false).get(name) }

// SetVar stores a variable.
func (t *tracked) SetVar(name string, smp acl.Sample) { t.store(name, true).set(name, smp) }

// UnsetVar removes a variable.
func (t *tracked) UnsetVar(name string) { t.store(name, false).unset(name) }

var _ acl.VarContext = (*tracked)(nil)

// Capture returns a TCP session's request capture slot
// (acl.CaptureContext); a TCP session has no response captures.
func (t *tracked) Capture(resp bool, i int) ([]byte, bool) {
	if t.s == nil || t.s.x == nil || resp {
		return nil, false
	}
	return captureSlot(t.s.x.caps, i)
}

// UniqueID returns the TCP session's unique ID (acl.UniqueIDContext).
func (t *tracked) UniqueID() (string, bool) {
	if t.s == nil {
		return "", false
	}
	return t.s.uniqueID()
}

// store returns the store of a variable named in full ("sess.x"); the
// session's is made when a variable is first set. Before the session's
// stream exists (connection and session rules) only sess and proc
// variables live, as in HAProxy: the others are dropped, and sess ones
// set by a connection rule wait in t.vars for the session.
func (t *tracked) store(name string, create bool) *varStore {
	scope, _, _ := strings.Cut(name, ".")
	if scope == "proc" {
		return &t.b.procVars
	}
	switch {
	case t.early && scope != "sess":
		if create {
			return &varStore{} // no stream yet: dropped
		}
		return noVars
	case t.early && t.s == nil:
		if t.vars == nil && create {
			t.vars = &varStore{}
		}
		if t.vars == nil {
			return noVars
		}
		return t.vars
	case t.s != nil && t.s.x != nil && t.s.x.vars != nil:
		return t.s.x.vars
	case !create:
		return noVars
	case t.s == nil:
		return &varStore{} // nowhere to keep it
	}
	x := t.s.extra()
	x.vars = &varStore{}
	return x.vars
}

// Src returns the client's address.
func (t *tracked) Src() netip.AddrPort { return t.src }

// Dst returns the address the client reached.
func (t *tracked) Dst() netip.AddrPort { return t.dst }

// TLSInfo is what the client connection's TLS handshake negotiated, for
// the ssl_* fetches.
func (t *tracked) TLSInfo() xprt.Info { return t.info }

// Tracked returns the entry tracked in slot, or nil.
func (t *tracked) Tracked(slot int) *stick.Entry {
	if t == nil || slot < 0 || slot >= acl.Slots {
		return nil
	}
	return t.sc[slot]
}

// Table returns the table of the named proxy, "" for the rule's own.
func (t *tracked) Table(name string) *stick.Table {
	if name == "" {
		name = t.own
	}
	return t.b.tables[name]
}

func (t *tracked) any() bool {
	for _, e := range t.sc {
		if e != nil {
			return true
		}
	}
	return false
}

// track starts tracking src in slot, as track-sc does: the first rule
// for a slot wins, and a full table leaves the slot empty.
func (t *tracked) track(slot int, table string) {
	if t.sc[slot] != nil {
		return
	}
	tb := t.Table(table)
	if tb == nil {
		return
	}
	key, ok := acl.AddrKey(tb, t.src.Addr())
	if !ok {
		return
	}
	e, err := tb.GetOrCreate(key)
	if err != nil {
		t.b.log.Debug("cannot track connection", "table", tb.Name(), "src", t.src, "err", err)
		return
	}
	e.StartConn()
	t.sc[slot] = e
}

// apply runs "tcp-request" rules in order: a track-sc rule whose
// condition holds starts tracking, an expect-proxy rule notes that the
// connection must open with a PROXY header, and the first accept, reject
// or silent-drop rule whose condition holds ends the run. It returns that
// rule's action, or "accept" when none ended it.
func (t *tracked) apply(rules []config.ConnRule) string {
	for _, r := range rules {
		if !r.Cond.Eval(t) {
			continue
		}
		switch r.Action {
		case "track-sc":
			t.track(r.Slot, r.Table)
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			if e := t.Tracked(r.Slot); e != nil {
				applySCAt(e, r.Action, r.Index, t.b.scExprs[r.Key], t, nil)
			}
		case "expect-proxy":
			t.expectProxy = true
		case "set-var":
			if smp, ok := t.b.scExprs[r.Key](t); ok {
				t.SetVar(r.Var, smp)
			}
		case "set-var-fmt":
			t.SetVar(r.Var, acl.Str(string(t.b.connFmts[r.Key].appendTo(nil, t))))
		case "unset-var":
			t.UnsetVar(r.Var)
		case "set-mark", "set-tos":
			t.setSockopt(r.Action, r.Num)
		case "set-src", "set-src-port", "set-dst", "set-dst-port":
			if smp, ok := t.b.scExprs[r.Key](t); ok {
				t.setAddr(r.Action, smp)
			}
		case "silent-drop":
			t.dropTTL = r.RSTTTL
			return r.Action
		case "accept", "reject":
			return r.Action
		}
	}
	return "accept"
}

// QueuePriority is the session's place in the queues, as its content
// rules set it (acl.PriorityContext).
func (t *tracked) QueuePriority() (class, offset int) {
	if t.s == nil {
		return 0, 0
	}
	p := t.s.prio()
	return p.Class, p.Offset
}

// setSockopt runs set-mark and set-tos on the client connection; as in
// haproxy, a system that refuses the option leaves the rule without
// effect.
func (t *tracked) setSockopt(action string, n int64) {
	if t.c != nil {
		setSockopt(t.b, t.c, action, n)
	}
}

// setSockopt runs set-mark or set-tos with value n on c.
func setSockopt(b *Balancer, c *conn.Conn, action string, n int64) {
	var err error
	if action == "set-mark" {
		err = c.SetMark(uint32(n))
	} else {
		err = c.SetTOS(int(n))
	}
	if err != nil {
		b.log.Debug("rule without effect", "action", action, "err", err)
	}
}

// setAddr runs set-src, set-dst and their port forms on the client
// connection: its addresses change for everything after, the rules that
// follow, the log and the server connection included.
func (t *tracked) setAddr(action string, smp acl.Sample) {
	dst := strings.HasPrefix(action, "set-dst")
	cur := t.src
	if dst {
		cur = t.dst
	}
	ap, ok := addrFromSample(cur, strings.HasSuffix(action, "-port"), smp)
	if !ok {
		return
	}
	if dst {
		t.dst = ap
		if t.c != nil {
			t.c.SetDst(ap)
		}
		return
	}
	t.src = ap
	if t.c != nil {
		t.c.SetSrc(ap)
	}
}

// startSession counts the session on every tracked entry, once.
func (t *tracked) startSession() {
	if t == nil || t.sessCounted {
		return
	}
	t.sessCounted = true
	for _, e := range t.distinct() {
		now := e.Table().Now()
		e.IncAt(stick.DataSessCnt, 1, now)
		e.IncAt(stick.DataSessRate, 1, now)
		e.TouchAt(now)
	}
}

// addEntryBytes adds bytes moved each way to a tracked entry's counts
// and rates.
func addEntryBytes(e *stick.Entry, in, out int64) {
	now := e.Table().Now()
	if in > 0 {
		e.IncAt(stick.DataBytesInCnt, in, now)
		e.IncAt(stick.DataBytesInRate, in, now)
	}
	if out > 0 {
		e.IncAt(stick.DataBytesOutCnt, out, now)
		e.IncAt(stick.DataBytesOutRate, out, now)
	}
}

// end adds the bytes moved, undoes conn_cur and releases every entry.
// A slot holding the same entry as another was counted twice by
// StartConn and is ended twice, as in HAProxy.
func (t *tracked) end(in, out int64) {
	if t == nil {
		return
	}
	for _, e := range t.distinct() {
		addEntryBytes(e, in, out)
	}
	for i, e := range t.sc {
		if e != nil {
			e.Dec(stick.DataConnCur, 1) // EndConn, with its touch joined to the release
			e.TouchRelease()
			t.sc[i] = nil
		}
	}
}

// distinct returns the tracked entries without repeats, so that bytes and
// sessions are counted once per entry.
func (t *tracked) distinct() []*stick.Entry {
	out := make([]*stick.Entry, 0, acl.Slots)
	for _, e := range t.sc {
		if e != nil && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// frontStick is a frontend's connection rules and the tracked entries
// waiting for their session.
type frontStick struct {
	b     *Balancer
	px    *config.Proxy
	mu    sync.Mutex
	ready map[*conn.Conn]*tracked
}

// connRules installs the frontend's "tcp-request connection" rules on a
// listener. Rules run in order until one decides; without a decision the
// connection is accepted.
func (b *Balancer) connRules(fe *frontend, lc *conn.ListenConfig) {
	rules := fe.cfg.Stick.ConnRules
	if len(rules) == 0 {
		return
	}
	if fe.stick == nil {
		fe.stick = &frontStick{b: b, px: fe.cfg, ready: map[*conn.Conn]*tracked{}}
	}
	for _, r := range rules {
		if r.Action == "silent-drop" && r.RSTTTL > 0 {
			// The conn package sets one TTL per listener; the first rule
			// that sets it wins.
			lc.SilentDropTTL = r.RSTTTL
			break
		}
	}
	lc.Rules = append(lc.Rules, fe.stick.run)
}

// run is the conn.Rule of a frontend.
func (fs *frontStick) run(c *conn.Conn) conn.Verdict {
	t := &tracked{b: fs.b, own: fs.px.Name, src: c.Src(), dst: c.Dst(), c: c, early: true}
	v := conn.Accept
	switch t.apply(fs.px.Stick.ConnRules) {
	case "reject":
		v = conn.Reject
	case "silent-drop":
		v = conn.SilentDrop
	}
	if v != conn.Accept {
		t.end(0, 0)
		return v
	}
	if t.expectProxy {
		c.ExpectProxy()
	}
	t.early = false
	if t.any() || t.vars != nil {
		fs.mu.Lock()
		fs.ready[c] = t
		fs.mu.Unlock()
	}
	return v
}

// take hands the entries tracked for c to its session.
func (fs *frontStick) take(c *conn.Conn) *tracked {
	if fs == nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.ready[c]
	delete(fs.ready, c)
	return t
}

// drain ends the entries of connections that never became sessions.
func (fs *frontStick) drain() {
	if fs == nil {
		return
	}
	fs.mu.Lock()
	left := fs.ready
	fs.ready = map[*conn.Conn]*tracked{}
	fs.mu.Unlock()
	for _, t := range left {
		t.end(0, 0)
	}
}

// startTracking takes the session's tracked entries and counts the
// session on them.
func (s *session) startTracking() {
	s.trk = s.fe.stick.take(s.client)
	if t := s.trk; t != nil && t.vars != nil {
		// The sess variables of the connection rules become the
		// session's.
		s.extra().vars, t.vars = t.vars, nil
		if !t.any() {
			s.trk = nil
			return
		}
	}
	s.trk.startSession()
}

// sessionRules runs the frontend's "tcp-request session" rules once the
// handshake is done, so their ssl_* fetches see the TLS session. It
// reports false when a rule rejects the connection. Entries a rule starts
// tracking here count the session at once and join the connection's.
func (s *session) sessionRules() bool {
	rules := s.fe.cfg.Stick.SessRules
	if len(rules) == 0 {
		return true
	}
	t := s.trk
	if t == nil {
		t = &tracked{b: s.b, own: s.fe.cfg.Name, sessCounted: true}
	}
	t.src, t.dst, t.c = s.client.Src(), s.client.Dst(), s.client
	t.info = s.client.Transport().Info()
	before := t.sc
	// The configuration refuses silent-drop in these rules. Their
	// variables are the session's.
	t.s, t.early = s, true
	verdict := t.apply(rules)
	ok := verdict == "accept"
	t.early = false
	if verdict == "silent-drop" {
		s.client.SilentDrop(t.dropTTL)
	}
	var counted []*stick.Entry
	for i, e := range t.sc {
		if e == nil || before[i] != nil || slices.Contains(counted, e) || slices.Contains(before[:], e) {
			continue
		}
		counted = append(counted, e)
		now := e.Table().Now()
		e.IncAt(stick.DataSessCnt, 1, now)
		e.IncAt(stick.DataSessRate, 1, now)
	}
	if t.any() {
		s.trk = t
	}
	if !ok {
		s.b.log.Debug("session rejected", "frontend", s.fe.cfg.Name, "client", t.src)
	}
	return ok
}

// endTracking ends the session's tracked entries with the bytes moved.
func (s *session) endTracking() {
	s.trk.end(s.bytesIn, s.bytesOut)
	s.trk = nil
}

// ruleCtx is the context of a proxy's rules after the handshake (a
// backend's stick rules, a frontend's content rules): the session's
// addresses and tracked entries, with "" naming own's table.
func (s *session) ruleCtx(own string) *tracked {
	t := &tracked{b: s.b, own: own, src: s.client.Src(), dst: s.client.Dst(), info: s.client.Transport().Info(), s: s, c: s.client}
	if s.trk != nil {
		t.sc = s.trk.sc
	}
	return t
}

// stickRule is a backend's stick rule, its key expression compiled.
type stickRule struct {
	cfg config.StickRule
	key acl.FetchFunc
}

// compileStick compiles a backend's stick rules.
func (b *Backend) compileStick() error {
	for _, r := range b.cfg.Stick.Rules {
		_, fn, err := b.cfg.ACLs.Refs.CompileFetch(r.Key)
		if err != nil {
			return fmt.Errorf("stick (%s): %w", r.Pos, err)
		}
		b.stick = append(b.stick, stickRule{cfg: r, key: fn})
	}
	return nil
}

// stickKey reads rule r's key from ctx, as a key of its table, which
// tables resolve ("" is the backend's own); ok is false when the rule
// does not apply (its condition fails, no table, no sample, or one the
// table's type cannot take).
func (b *Backend) stickKey(r *stickRule, ctx acl.Context, tables map[string]*stick.Table) (t *stick.Table, key []byte, ok bool) {
	if !r.cfg.Cond.Eval(ctx) {
		return nil, nil, false
	}
	name := r.cfg.Table
	if name == "" {
		name = b.cfg.Name
	}
	if t = tables[name]; t == nil {
		return nil, nil, false
	}
	smp, ok := r.key(ctx)
	if !ok {
		return nil, nil, false
	}
	key, ok = acl.SampleKey(nil, t, smp)
	return t, key, ok
}

// stickMatch applies "stick match" and "stick on": the first rule whose
// table holds the key names the server to use, if that server can take
// the connection now (or option persist lets a down one). nil lets the
// algorithm choose.
func (b *Backend) stickMatch(ctx acl.Context, tables map[string]*stick.Table, force bool) *Server {
	for i := range b.stick {
		r := &b.stick[i]
		if !r.cfg.Match {
			continue
		}
		t, key, ok := b.stickKey(r, ctx, tables)
		if !ok {
			continue
		}
		e, err := t.Lookup(key)
		if err != nil {
			continue
		}
		id := e.Get(stick.DataServerID)
		e.TouchRelease()
		if srv := b.serverByID(int(id)); srv != nil && (srv.takesPersistent() || b.cfg.Options.Persist || force) {
			return srv
		}
	}
	return nil
}

// stickStore applies "stick store-request" and "stick on" or, with
// response set, "stick store-response": the server's id is stored under
// each rule's key.
func (b *Backend) stickStore(ctx acl.Context, tables map[string]*stick.Table, srv *Server, response bool, log func(msg string, args ...any)) {
	if srv == nil || srv.cfg.NonStick {
		return // a non-stick server is never stored, as in HAProxy
	}
	for i := range b.stick {
		r := &b.stick[i]
		if response && !r.cfg.StoreResponse || !response && !r.cfg.Store {
			continue
		}
		t, key, ok := b.stickKey(r, ctx, tables)
		if !ok {
			continue
		}
		e, err := t.GetOrCreate(key)
		if err != nil {
			log("cannot store server", "table", t.Name(), "err", err)
			continue
		}
		_ = e.Set(stick.DataServerID, int64(srv.cfg.ID))
		e.TouchRelease()
	}
}

// serverByID returns the server with that id, or nil.
func (b *Backend) serverByID(id int) *Server {
	for _, s := range b.servers {
		if s.cfg.ID == id {
			return s
		}
	}
	return nil
}

// adoptTracked makes the entries content rules started tracking in t the
// session's, which ends them with its others. Content tracking counts no
// session, as in HAProxy.
func (s *session) adoptTracked(t *tracked) {
	for i, e := range t.sc {
		if e == nil {
			continue
		}
		if s.trk == nil {
			s.trk = &tracked{b: s.b, own: s.fe.cfg.Name, sessCounted: true}
		}
		if s.trk.sc[i] == nil {
			s.trk.sc[i] = e
		}
	}
}

// HelloCaptureSize is tune.ssl.capture-buffer-size, for the fetches of
// what the client's ClientHello offered.
func (t *tracked) HelloCaptureSize() int { return t.b.cfg.Global.SSLCaptureSize }

// SSLKeyLog is tune.ssl.keylog, for the TLS 1.3 secret fetches.
func (t *tracked) SSLKeyLog() bool { return t.b.cfg.Global.SSLKeyLog }
