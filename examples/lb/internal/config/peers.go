package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/stick"
)

// PeersSection is a "peers" section: the processes, this one among them,
// that keep the stick tables naming the section in sync.
type PeersSection struct {
	Pos
	Name string
	// Peers are the "peer" and "server" lines, in order.
	Peers []PeerLine
	// Bind is the "bind" line's address, where the local peer listens
	// when it is declared as "server NAME" without an address; BindPos
	// is the line's, set even for a bind line without an address.
	// BindAddrs are all the line's addresses, Bind first: a port range
	// listens on each of its ports.
	Bind      string
	BindAddrs []string
	BindPos   Pos
	// DefaultBind are the "default-bind" options, checked and put
	// before the bind line's own.
	DefaultBind []string
	// DefaultServer holds the "default-server" options, checked as a
	// backend's; the peer connections use none of them.
	DefaultServer Server
	// hasPeer is set by a "peer" line, which a bind line may not join.
	hasPeer bool
	// Disabled is set by "disabled" (and cleared by "enable"): the
	// section neither listens nor connects.
	Disabled bool
	// Removed is set by SetLocalPeer when no peer bears the local name:
	// HAProxy drops such a section with a warning.
	Removed bool
	// Tables are the section's "table NAME ..." lines, each named
	// "SECTION/NAME" as rules refer to it.
	Tables []*StickTable
}

// PeerLine is one "peer NAME ADDR:PORT" or "server NAME [ADDR:PORT]" line.
type PeerLine struct {
	Pos
	Name string
	// Addr is HOST:PORT; empty for a "server" line without address,
	// which is the local peer listening on the section's "bind".
	Addr string
	// server marks a "server" line, and opts are its words after the
	// name: those of the local peer's line are server options, as
	// HAProxy reads them, the address it may not have included;
	// addrErr is why the first of them is no address, for another
	// peer's line. Both are settled by SetLocalPeer.
	server  bool
	opts    []string
	addrErr error
}

// PeersSection returns the peers section with that name, or nil.
func (c *Config) PeersSection(name string) *PeersSection {
	for _, s := range c.Peers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Local returns the section's line for the local peer, or nil.
func (s *PeersSection) Local(local string) *PeerLine {
	for i := range s.Peers {
		if s.Peers[i].Name == local {
			return &s.Peers[i]
		}
	}
	return nil
}

// ListenAddr returns where the local peer listens: its line's address,
// or the section's "bind".
func (s *PeersSection) ListenAddr(local string) string {
	if l := s.Local(local); l != nil && l.Addr != "" {
		return l.Addr
	}
	return s.Bind
}

// SetLocalPeer settles the local peer's name: cmdLine (lb's -L) if set,
// else the global "localpeer", else the host name, as HAProxy does. It
// then drops, with HAProxy's warning, each peers section that lists no
// peer of that name, and checks the "server" lines the name decides: the
// local peer's takes no address (it listens on the section's "bind") and
// the others need one. Start calls it with "" when the caller did not.
func (c *Config) SetLocalPeer(cmdLine string) error {
	if c.localPeerSet {
		return nil
	}
	c.localPeerSet = true
	switch {
	case cmdLine != "":
		if c.Global.LocalPeer != "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: 'localpeer' ignored since it is already set by using the '-L' command line argument.", c.Global.LocalPeerPos))
		}
		c.Global.LocalPeer = cmdLine
	case c.Global.LocalPeer == "":
		c.Global.LocalPeer, _ = os.Hostname()
	}
	var errs []error
	for _, s := range c.Peers {
		if s.Local(c.Global.LocalPeer) == nil {
			s.Removed = true
			c.Warnings = append(c.Warnings, fmt.Sprintf("config : Removing incomplete section 'peers %s' (no peer named '%s').", s.Name, c.Global.LocalPeer))
			continue
		}
		for i := range s.Peers {
			if err := s.settleServer(&s.Peers[i], c.Global.LocalPeer); err != nil {
				errs = append(errs, &Error{Pos: s.Peers[i].Pos, Keyword: "server", Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

// settleServer checks a "server" line once the local peer's name is
// known.
func (s *PeersSection) settleServer(l *PeerLine, local string) error {
	switch {
	case !l.server:
		return nil
	case l.Name != local:
		return l.addrErr
	}
	hint := func(err error) error {
		return fmt.Errorf("%w: 'server %s/%s' : %v. Hint: no address was expected for this server", ErrBadValue, s.Name, l.Name, err)
	}
	if len(l.opts) > 0 && l.addrErr == nil {
		return hint(fmt.Errorf("unknown keyword '%s'", l.opts[0]))
	}
	srv := s.DefaultServer
	if err := parseServerOptions(&srv, l.opts); err != nil {
		return hint(err)
	}
	l.Addr = ""
	return nil
}

func init() {
	finishers = append(finishers, (*parser).checkPeers)
	globalKeywords["localpeer"] = func(p *parser, a []string) error {
		if len(a) != 1 {
			return errors.New("expects a name")
		}
		if !validPeerName(a[0]) {
			return fmt.Errorf("'%s' is not a valid peer name", a[0])
		}
		p.cfg.Global.LocalPeer, p.cfg.Global.LocalPeerPos = a[0], p.pos
		return nil
	}
}

func validPeerName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func (p *parser) startPeers(args []string) {
	p.section, p.cur, p.peers = "peers", nil, nil
	if len(args) != 1 {
		p.errorf("peers", ErrBadValue, "'peers' expects <name>")
		return
	}
	if err := checkName(args[0]); err != nil {
		p.errorf("peers", ErrBadValue, "'peers %s': %v", args[0], err)
		return
	}
	if prev := p.cfg.PeersSection(args[0]); prev != nil {
		p.errorf("peers", ErrReference, "peers '%s' has the same name as the one declared at %s", args[0], prev.Pos)
		return
	}
	p.peers = &PeersSection{Pos: p.pos, Name: args[0]}
	p.cfg.Peers = append(p.cfg.Peers, p.peers)
}

// peersLine reads one line of the current peers section.
func (p *parser) peersLine(words []string) {
	s := p.peers
	if s == nil {
		return // the section's own line failed
	}
	kw, a := words[0], words[1:]
	if err := p.peersKeyword(s, kw, a); err != nil {
		p.fail(kw, fmt.Sprintf("'%s' in 'peers' section", kw), err)
	}
}

func (p *parser) peersKeyword(s *PeersSection, kw string, a []string) error {
	switch kw {
	case "peer", "server":
		if len(a) == 0 || (kw == "peer" && len(a) < 2) {
			if kw == "peer" {
				return errors.New("expects <name> and <addr:port>")
			}
			return errors.New("expects <name> [<addr:port>]")
		}
		if kw == "peer" && s.BindPos.Line != 0 {
			return errors.New(`mixing "peer" and "bind" line is forbidden`)
		}
		if kw == "peer" {
			s.hasPeer = true
		}
		if !validPeerName(a[0]) {
			return fmt.Errorf("'%s' is not a valid peer name", a[0])
		}
		for _, o := range s.Peers {
			if o.Name == a[0] {
				return fmt.Errorf("%w: peer '%s' already declared at %s", ErrReference, a[0], o.Pos)
			}
		}
		line := PeerLine{Pos: p.pos, Name: a[0], server: kw == "server"}
		if kw == "server" {
			line.opts = a[1:]
		}
		if len(a) > 1 {
			addr, err := peerAddr(a[1])
			if err != nil && kw == "server" {
				// The local peer's options, or an error, once the
				// local name is known (SetLocalPeer).
				line.addrErr = err
				s.Peers = append(s.Peers, line)
				return nil
			}
			if err != nil {
				return err
			}
			line.Addr = addr
			// The options of a backend's server, default-server's
			// first, are checked; lb's peers use none of them.
			srv := s.DefaultServer
			if err := parseServerOptions(&srv, a[2:]); err != nil {
				return fmt.Errorf("'server %s/%s' : %w", s.Name, a[0], err)
			}
			if srv.SSL.Enabled {
				return fmt.Errorf("%w: 'ssl' on a peer (lb's peers speak plain TCP)", ErrUnsupported)
			}
		}
		s.Peers = append(s.Peers, line)
		return nil
	case "bind":
		if s.hasPeer {
			return errors.New(`mixing "peer" and "bind" line is forbidden`)
		}
		if s.BindPos.Line != 0 {
			return fmt.Errorf("%w: One listener per \"peers\" section is authorized but another is already configured at [%s]", ErrReference, s.BindPos)
		}
		s.BindPos = p.pos
		if len(a) == 0 {
			// HAProxy takes a bind line without an address, which
			// listens nowhere.
			return nil
		}
		px := &Proxy{Kind: KindFrontend, Name: s.Name}
		if err := parseBind(p, px, append(append([]string{a[0]}, s.DefaultBind...), a[1:]...)); err != nil {
			return fmt.Errorf("'bind %s' in section 'peers': %w", a[0], err)
		}
		b := px.Binds[0]
		if b.SSL.Enabled {
			return fmt.Errorf("%w: 'bind %s' in section 'peers': 'ssl' (lb's peers speak plain TCP)", ErrUnsupported, a[0])
		}
		s.Bind, s.BindAddrs = b.Addrs[0], b.Addrs
		return nil
	case "default-bind":
		// Checked as a bind line's options now; a later bind line
		// takes them before its own.
		px := &Proxy{Kind: KindFrontend, Name: s.Name}
		if err := parseBind(p, px, append([]string{"127.0.0.1:1"}, a...)); err != nil {
			return fmt.Errorf("'default-bind %s' in section 'peers': %w", strings.Join(a, " "), err)
		}
		s.DefaultBind = append([]string(nil), a...)
		return nil
	case "default-server":
		srv := s.DefaultServer
		if err := parseServerOptions(&srv, a); err != nil {
			return err
		}
		s.DefaultServer = srv
		return nil
	case "disabled":
		s.Disabled = true
		return noArgs(a)
	case "enable", "enabled":
		s.Disabled = false
		return noArgs(a)
	case "table":
		return p.peersTable(s, a)
	case "log":
		// Checked; lb's peers log nothing of their own.
		_, err := parseLog(p.pos, a)
		return err
	case "shards":
		return fmt.Errorf("%w: '%s' in a peers section", ErrUnsupported, kw)
	}
	return fmt.Errorf("%w: unknown keyword '%s' in 'peers' section", ErrUnknownKeyword, kw)
}

// peersTable reads "table NAME type ... [store ...]": a stick table the
// section declares and syncs, named SECTION/NAME.
func (p *parser) peersTable(s *PeersSection, a []string) error {
	if len(a) < 2 {
		return errors.New("expects <name> type <type> size <size> [expire <time>] [store <types>]")
	}
	if err := checkName(a[0]); err != nil {
		return fmt.Errorf("table '%s': %v", a[0], err)
	}
	name := s.Name + "/" + a[0]
	for _, t := range s.Tables {
		if t.Config.Name == name {
			return fmt.Errorf("%w: table '%s' already declared at %s", ErrReference, a[0], t.Pos)
		}
	}
	cfg, err := stick.ParseConfig(tableTimes(a[1:]))
	if err != nil {
		return err
	}
	if cfg.Peers != "" {
		return fmt.Errorf("table '%s': 'peers' is implied in a peers section", a[0])
	}
	cfg.Name, cfg.Peers = name, s.Name
	s.Tables = append(s.Tables, &StickTable{Pos: p.pos, Config: cfg})
	return nil
}

// StickTables returns every stick table: those of the proxies, in order,
// then those of the peers sections.
func (c *Config) StickTables() []*StickTable {
	var out []*StickTable
	for _, px := range c.Proxies {
		if px.Stick.Table != nil {
			out = append(out, px.Stick.Table)
		}
	}
	for _, s := range c.Peers {
		out = append(out, s.Tables...)
	}
	return out
}

// StickTable returns the table rules name: a proxy's, by the proxy's
// name, or a peers section's, by SECTION/NAME. It returns nil if none.
func (c *Config) StickTable(name string) *StickTable {
	for _, t := range c.StickTables() {
		if t.Config.Name == name {
			return t
		}
	}
	return nil
}

// peerAddr checks a peer's HOST:PORT (an IPv4 or IPv6 address, or a host
// name resolved when connecting), or UNIX socket (unix@PATH, /PATH or
// abns@NAME, see NetAddr).
func peerAddr(s string) (string, error) {
	s, err := envAddr(s)
	if err != nil {
		return "", err
	}
	if a, ok, err := unixAddr(s); ok {
		return a, err
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("invalid address '%s': %v", s, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in '%s'", s)
	}
	if host == "" || host == "*" || strings.Contains(host, "@") {
		return "", fmt.Errorf("address '%s' must name a host (no '*')", s)
	}
	return s, nil
}

// checkPeers runs once every section is read: each stick-table's
// "peers" must name a section. (A local peer without an address, in a
// section without a bind line, listens nowhere and only connects, as
// HAProxy's.)
func (p *parser) checkPeers() {
	for _, px := range p.cfg.Proxies {
		if st := px.Stick.Table; st != nil && st.Config.Peers != "" && p.cfg.PeersSection(st.Config.Peers) == nil {
			p.pos = st.Pos
			p.errorf("stick-table", ErrReference, "%s '%s': unable to find sync peers '%s'", px.Kind, px.Name, st.Config.Peers)
		}
	}
}

// HasListener reports whether the configuration listens anywhere: a
// bind line of an enabled frontend, a runtime API socket, or a peers
// section's local peer. HAProxy will not start without one.
func (c *Config) HasListener() bool {
	if len(c.Global.StatsSockets) > 0 {
		return true
	}
	for _, px := range c.Proxies {
		if px.Kind.IsFrontend() && !px.Disabled && len(px.Binds) > 0 {
			return true
		}
	}
	for _, ps := range c.Peers {
		if !ps.Disabled && !ps.Removed {
			return true
		}
	}
	return false
}
