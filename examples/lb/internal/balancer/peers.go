package balancer

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/proxyblocks/proxyblocks/stick/peers"
)

// Peers sections: each active section runs a peers.Section that listens on
// the local peer's address, connects to the other peers and keeps the
// stick tables naming the section ("stick-table ... peers NAME") in sync,
// with haproxy processes as well as with other lbs.

// syncedBy returns the active peers section a table declared with
// "peers NAME" syncs through, or "" (no such line, or a section that is
// disabled or lists no local peer).
func (b *Balancer) syncedBy(cfg stick.Config) string {
	if cfg.Peers == "" {
		return ""
	}
	s := b.cfg.PeersSection(cfg.Peers)
	if s == nil || s.Removed || s.Disabled {
		return ""
	}
	return s.Name
}

// startPeers starts every active peers section, after openTables.
func (b *Balancer) startPeers() error {
	local := b.cfg.Global.LocalPeer
	for _, ps := range b.cfg.Peers {
		if ps.Removed || ps.Disabled {
			continue
		}
		addr := ps.ListenAddr(local)
		var tables []*stick.Table
		for _, st := range b.cfg.StickTables() {
			if b.syncedBy(st.Config) == ps.Name {
				tables = append(tables, b.tables[st.Config.Name])
			}
		}
		taught := b.learnFromFormer(local, addr, tables)
		var remotes []peers.Peer
		for _, l := range ps.Peers {
			if l.Name == local {
				continue
			}
			if l.Addr == "" {
				return fmt.Errorf("balancer: peers '%s': peer '%s' (%s) has no address to connect to", ps.Name, l.Name, l.Pos)
			}
			remotes = append(remotes, peers.Peer{Name: l.Name, Addr: l.Addr})
		}
		log := b.log
		sec, err := peers.New(peers.Config{Name: ps.Name, Local: local, Peers: remotes, Tables: tables, Taught: taught,
			Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
			Dial: dialPeer})
		if err != nil {
			return fmt.Errorf("balancer: peers '%s' (%s): %w", ps.Name, ps.Pos, err)
		}
		// The local peer listens on its line's address, or on each of
		// the bind line's (a port range gives several).
		addrs := []string{addr}
		if l := ps.Local(local); l != nil && l.Addr == "" && len(ps.BindAddrs) > 0 {
			addrs = ps.BindAddrs
		}
		if addr == "" {
			addrs = nil // a local peer without a bind line only connects
		}
		var lns []net.Listener
		for _, a := range addrs {
			ln, err := b.listenPeer(a)
			if err != nil {
				for _, l := range lns {
					_ = l.Close()
				}
				return fmt.Errorf("balancer: peers '%s': cannot bind %s for local peer '%s': %w", ps.Name, a, local, err)
			}
			lns = append(lns, ln)
		}
		sec.Start(joinListeners(lns))
		b.peersMu.Lock()
		b.peers = append(b.peers, sec)
		b.peersTaught = append(b.peersTaught, teacher{local: local, addr: addr, sec: sec, tables: tables})
		b.peersMu.Unlock()
	}
	return nil
}

// listenPeer opens (or, on a reload, takes over, as the traffic ports
// are) a socket of the local peer: TCP, or a UNIX one, a stale socket
// file replaced.
func (b *Balancer) listenPeer(addr string) (net.Listener, error) {
	network, laddr := config.NetAddr(addr)
	key := handoverKey("peers", network, addr, "")
	ln := b.opts.Inherit.take(key)
	if ln == nil {
		if network == "unix" && !strings.HasPrefix(laddr, "@") {
			if err := removeStaleSocket(laddr); err != nil {
				return nil, err
			}
		}
		var err error
		if ln, err = net.Listen(network, laddr); err != nil {
			return nil, err
		}
	}
	b.addSocket(key, func() (net.Listener, error) { return conn.DupListener(ln) })
	return ln, nil
}

// dialPeer connects to a remote peer over TCP, or a UNIX socket.
func dialPeer(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second}
	network, a := config.NetAddr(addr)
	return d.DialContext(ctx, network, a)
}

// joinListeners returns one listener accepting on all of lns (one of
// them as it is, nil for none).
func joinListeners(lns []net.Listener) net.Listener {
	switch len(lns) {
	case 0:
		return nil
	case 1:
		return lns[0]
	}
	j := &joinedListener{lns: lns, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case j.conns <- c:
				case <-j.done:
					_ = c.Close()
					return
				}
			}
		}()
	}
	return j
}

// joinedListener accepts on several listeners at once: each has a
// goroutine accepting for it.
type joinedListener struct {
	lns   []net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (j *joinedListener) Accept() (net.Conn, error) {
	select {
	case c := <-j.conns:
		return c, nil
	case <-j.done:
		return nil, net.ErrClosed
	}
}

func (j *joinedListener) Close() error {
	j.once.Do(func() {
		close(j.done)
		for _, ln := range j.lns {
			_ = ln.Close()
		}
	})
	return nil
}

func (j *joinedListener) Addr() net.Addr { return j.lns[0].Addr() }

// stopPeers closes the sessions with the peers, before the tables close.
// A soft stop calls it first, as HAProxy's stopping process leaves its
// remote peers at once; the tables it leaves are still handed over.
func (b *Balancer) stopPeers() {
	b.peersMu.Lock()
	defer b.peersMu.Unlock()
	for _, s := range b.peers {
		_ = s.Close()
	}
	b.peers = nil
}

// A teacher is a running peers section as a reload sees it: where its
// local peer listens, under which name, and the tables it shares.
type teacher struct {
	local, addr string
	sec         *peers.Section
	tables      []*stick.Table
}

// teachers returns the peers sections that can teach a successor: those
// done with their own initial resync. HAProxy's old process teaches
// nothing before that, nor once stopped.
func (b *Balancer) teachers() []teacher {
	b.peersMu.Lock()
	defer b.peersMu.Unlock()
	var out []teacher
	for _, t := range b.peersTaught {
		if t.sec.Synced() && b.peers != nil {
			out = append(out, t)
		}
	}
	return out
}

// learnFromFormer fills tables, the tables a peers section of the new
// configuration shares, from the Balancer this one replaces, as HAProxy's
// old process teaches the new one through the local peer on a reload:
// the old process connects to the address of its local peer, which must
// be the address the new one listens on (addr) under the same name. A
// table learns from the former table of the same name that a section
// shared, when the two match as peers' tables do (key type and length);
// the others start empty. It reports whether a former section taught
// this one, which then asks its remote peers for no resync.
func (b *Balancer) learnFromFormer(local, addr string, tables []*stick.Table) bool {
	h := b.opts.Inherit
	if h == nil {
		return false
	}
	for _, t := range h.teachers {
		if t.local != local || t.addr != addr {
			continue
		}
		for _, dst := range tables {
			for _, src := range t.tables {
				if src.Name() != dst.Name() {
					continue
				}
				if _, err := peers.Teach(dst, src); err != nil {
					b.log.Warn("peers: reload: table not carried over", "table", dst.Name(), "err", err)
				}
			}
		}
		return true
	}
	return false
}
