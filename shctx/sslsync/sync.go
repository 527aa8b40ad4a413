package sslsync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

// maxSeen bounds the signatures remembered for replay detection. Only
// authenticated messages are remembered, so filling it takes the key.
const maxSeen = 1 << 16

// Sync shares a [sslcache.Cache]'s sessions with other hosts over UDP.
// It implements [sslcache.Peers]; [Start] attaches it to the cache.
type Sync struct {
	cache  *sslcache.Cache
	conn   *net.UDPConn
	key    []byte
	dests  []netip.AddrPort
	wait   time.Duration
	window int64 // seconds
	logger *slog.Logger
	macs   sync.Pool // hash.Hash
	bufs   sync.Pool // *[]byte

	mu      sync.Mutex
	seen    map[[sha256.Size]byte]seenSig
	order   []seenRef // FIFO of seen, oldest first
	pending map[[sslcache.IDLen]byte][]chan struct{}

	wg     sync.WaitGroup
	closed atomic.Bool
	st     counters
}

type seenSig struct {
	until int64 // unix seconds
	own   bool
}

type seenRef struct {
	sig   [sha256.Size]byte
	until int64
}

type counters struct {
	received, accepted, forged, replayed, malformed, sent atomic.Uint64
	sendErrors, looped, answered, fetched, fetchTimeouts  atomic.Uint64
	imported, deleted                                     atomic.Uint64
}

// Stats counts messages. Every received packet is counted once in
// Received and once in exactly one of Accepted, Forged, Replayed,
// Malformed or Looped.
type Stats struct {
	Received      uint64 // packets read
	Accepted      uint64 // authentic, fresh messages acted upon
	Forged        uint64 // bad signature: forged, altered, or another key
	Replayed      uint64 // timestamp outside the window, or a copy seen within it
	Malformed     uint64 // not a message of this protocol
	Looped        uint64 // this host's own messages coming back (multicast loop)
	Sent          uint64 // packets sent
	SendErrors    uint64 // packets the system refused to send
	Imported      uint64 // sessions from New messages stored
	Deleted       uint64 // sessions removed on Delete messages
	Answered      uint64 // Get messages answered with New
	Fetched       uint64 // lookups that got a peer's answer in time
	FetchTimeouts uint64 // lookups that waited in vain
}

// Start listens as cfg says and attaches the Sync to cache: sessions the
// cache stores or deletes are announced, and its misses ask peers.
func Start(cache *sslcache.Cache, cfg Config) (*Sync, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	key := cfg.Key
	if len(key) == 0 {
		var err error
		if key, err = LoadKey(cfg.KeyFile); err != nil {
			return nil, err
		}
	}
	if len(key) < MinKeyLen {
		return nil, cfgErr("key of %d bytes, want at least %d", len(key), MinKeyLen)
	}
	s := &Sync{
		cache:   cache,
		key:     append([]byte(nil), key...),
		wait:    cfg.Wait,
		window:  int64(cfg.Window / time.Second),
		logger:  cfg.Logger,
		seen:    map[[sha256.Size]byte]seenSig{},
		pending: map[[sslcache.IDLen]byte][]chan struct{}{},
	}
	if s.wait == 0 {
		s.wait = DefaultWait
	}
	if s.window == 0 {
		s.window = int64(DefaultWindow / time.Second)
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.macs.New = func() any { return hmac.New(sha256.New, s.key) }
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }

	laddr, err := net.ResolveUDPAddr("udp", cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("%s: bind %q: %w", Keyword, cfg.Bind, err)
	}
	for _, p := range cfg.Peers {
		a, err := net.ResolveUDPAddr("udp", p)
		if err != nil {
			return nil, fmt.Errorf("%s: peer %q: %w", Keyword, p, err)
		}
		s.dests = append(s.dests, a.AddrPort())
	}
	var group *net.UDPAddr
	if cfg.Multicast != "" {
		if group, err = groupAddr(cfg.Multicast, laddr.Port); err != nil {
			return nil, err
		}
		s.dests = append(s.dests, group.AddrPort())
	}
	var ifi *net.Interface
	if cfg.Interface != "" {
		if ifi, err = net.InterfaceByName(cfg.Interface); err != nil {
			return nil, fmt.Errorf("%s: interface %q: %w", Keyword, cfg.Interface, err)
		}
	}
	s.conn, err = listen(laddr, group != nil)
	if err != nil {
		return nil, fmt.Errorf("%s: bind %s: %w", Keyword, cfg.Bind, err)
	}
	if group != nil {
		if err := join(s.conn, group, ifi); err != nil {
			s.conn.Close()
			return nil, fmt.Errorf("%s: joining %s: %w", Keyword, cfg.Multicast, err)
		}
	}
	s.wg.Add(1)
	go s.receive()
	cache.SetPeers(s)
	return s, nil
}

// FromArgs is [ParseArgs] then [Start], for a configuration line.
func FromArgs(cache *sslcache.Cache, words []string) (*Sync, error) {
	cfg, err := ParseArgs(words)
	if err != nil {
		return nil, err
	}
	return Start(cache, cfg)
}

// listen binds the socket. Members of a multicast group on one host
// (several processes) share the group's port, hence SO_REUSEADDR.
func listen(laddr *net.UDPAddr, multicast bool) (*net.UDPConn, error) {
	if !multicast {
		return net.ListenUDP("udp", laddr)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func join(c *net.UDPConn, group *net.UDPAddr, ifi *net.Interface) error {
	if group.IP.To4() != nil {
		p := ipv4.NewPacketConn(c)
		if err := p.JoinGroup(ifi, group); err != nil {
			return err
		}
		if ifi != nil {
			if err := p.SetMulticastInterface(ifi); err != nil {
				return err
			}
		}
		// Other hosts of this one (several processes) must hear it too.
		return p.SetMulticastLoopback(true)
	}
	p := ipv6.NewPacketConn(c)
	if err := p.JoinGroup(ifi, group); err != nil {
		return err
	}
	if ifi != nil {
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
	}
	return p.SetMulticastLoopback(true)
}

// LocalAddr returns the address the Sync receives on.
func (s *Sync) LocalAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close detaches the Sync from its cache, stops its receiver and closes
// its socket. Lookups waiting for answers return at once. Close is
// idempotent.
func (s *Sync) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cache.SetPeers(nil)
	err := s.conn.Close()
	s.wg.Wait()
	s.mu.Lock()
	for id, ws := range s.pending {
		for _, w := range ws {
			close(w)
		}
		delete(s.pending, id)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: closing %s: %w", Keyword, s.conn.LocalAddr(), err)
	}
	return nil
}

// Stats returns the current counters.
func (s *Sync) Stats() Stats {
	return Stats{
		Received:      s.st.received.Load(),
		Accepted:      s.st.accepted.Load(),
		Forged:        s.st.forged.Load(),
		Replayed:      s.st.replayed.Load(),
		Malformed:     s.st.malformed.Load(),
		Looped:        s.st.looped.Load(),
		Sent:          s.st.sent.Load(),
		SendErrors:    s.st.sendErrors.Load(),
		Imported:      s.st.imported.Load(),
		Deleted:       s.st.deleted.Load(),
		Answered:      s.st.answered.Load(),
		Fetched:       s.st.fetched.Load(),
		FetchTimeouts: s.st.fetchTimeouts.Load(),
	}
}

// Announce sends a New message for a session to every peer.
func (s *Sync) Announce(id [sslcache.IDLen]byte, session []byte) {
	if len(session) > sslcache.MaxSessionLen {
		return
	}
	s.send(New, id, session, s.dests...)
}

// AnnounceDelete sends a Delete message to every peer.
func (s *Sync) AnnounceDelete(id [sslcache.IDLen]byte) {
	s.send(Delete, id, nil, s.dests...)
}

// Fetch sends a Get message to every peer and waits, at most the
// configured Wait, for one to answer with the session. It reports
// whether an answer came; the session is then in the cache.
func (s *Sync) Fetch(id [sslcache.IDLen]byte) bool {
	if s.closed.Load() {
		return false
	}
	if s.wait < 0 {
		s.send(Get, id, nil, s.dests...)
		return false
	}
	w := make(chan struct{})
	s.mu.Lock()
	s.pending[id] = append(s.pending[id], w)
	s.mu.Unlock()
	s.send(Get, id, nil, s.dests...)
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case <-w:
		if s.closed.Load() {
			return false
		}
		s.st.fetched.Add(1)
		return true
	case <-t.C:
	}
	s.mu.Lock()
	ws := s.pending[id]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.pending, id)
	} else {
		s.pending[id] = ws
	}
	s.mu.Unlock()
	s.st.fetchTimeouts.Add(1)
	return false
}

func (s *Sync) send(t Type, id [sslcache.IDLen]byte, session []byte, to ...netip.AddrPort) {
	if len(to) == 0 || s.closed.Load() {
		return
	}
	mac := s.macs.Get().(hash.Hash)
	bp := s.bufs.Get().(*[]byte)
	pkt := appendSigned((*bp)[:0], mac, t, id, session, uint32(time.Now().Unix()))
	s.macs.Put(mac)
	s.remember([sha256.Size]byte(pkt[len(pkt)-sha256.Size:]), time.Now().Unix(), true)
	for _, a := range to {
		if _, err := s.conn.WriteToUDPAddrPort(pkt, a); err != nil {
			s.st.sendErrors.Add(1)
			if !s.closed.Load() {
				s.logger.Debug("sslsync: send failed", "to", a, "type", t, "err", err)
			}
			continue
		}
		s.st.sent.Add(1)
	}
	*bp = pkt
	s.bufs.Put(bp)
}

// remember records a signature until the window has passed, and reports
// whether it was already there (and whether it was one of ours).
func (s *Sync) remember(sig [sha256.Size]byte, now int64, own bool) (seen, wasOwn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 && (s.order[0].until < now || len(s.order) >= maxSeen) {
		old := s.order[0]
		if e, ok := s.seen[old.sig]; ok && e.until == old.until {
			delete(s.seen, old.sig)
		}
		s.order = s.order[1:]
	}
	if e, ok := s.seen[sig]; ok && e.until >= now {
		return true, e.own
	}
	until := now + 2*s.window
	s.seen[sig] = seenSig{until: until, own: own}
	s.order = append(s.order, seenRef{sig, until})
	return false, false
}

func (s *Sync) receive() {
	defer s.wg.Done()
	buf := make([]byte, 1<<16)
	mac := hmac.New(sha256.New, s.key)
	var scratch [sha256.Size]byte
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Debug("sslsync: receive", "err", err)
			continue
		}
		s.st.received.Add(1)
		s.handle(buf[:n], from, mac, scratch[:])
	}
}

// handle checks one packet and acts on it: layout, then signature, then
// time, then freshness, so that only authentic messages ever touch the
// replay memory or the cache.
func (s *Sync) handle(pkt []byte, from netip.AddrPort, mac hash.Hash, scratch []byte) {
	m, err := Decode(pkt)
	if err != nil {
		s.st.malformed.Add(1)
		return
	}
	if !verify(pkt, mac, scratch) {
		s.st.forged.Add(1)
		return
	}
	now := time.Now().Unix()
	if d := int64(int32(uint32(now) - m.Time)); d > s.window || d < -s.window {
		s.st.replayed.Add(1)
		return
	}
	if seen, own := s.remember(m.MAC, now, false); seen {
		if own {
			s.st.looped.Add(1)
		} else {
			s.st.replayed.Add(1)
		}
		return
	}
	s.st.accepted.Add(1)
	switch m.Type {
	case New:
		if s.cache.Import(m.ID, m.Session) {
			s.st.imported.Add(1)
		}
		s.wake(m.ID)
	case Delete:
		if s.cache.Forget(m.ID) {
			s.st.deleted.Add(1)
		}
	case Get:
		bp := s.bufs.Get().(*[]byte)
		b := (*bp)[:cap(*bp)]
		n, ok := s.cache.GetInto(m.ID, b)
		if ok && n > len(b) {
			b = make([]byte, n)
			n, ok = s.cache.GetInto(m.ID, b)
			ok = ok && n <= len(b)
		}
		if ok {
			s.st.answered.Add(1)
			s.send(New, m.ID, b[:n], from)
		}
		s.bufs.Put(bp)
	}
}

func (s *Sync) wake(id [sslcache.IDLen]byte) {
	s.mu.Lock()
	ws := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}
