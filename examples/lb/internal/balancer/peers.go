package balancer

import (
	"fmt"
	"net"

	"github.com/proxyblocks/proxyblocks/conn"
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
			Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }})
		if err != nil {
			return fmt.Errorf("balancer: peers '%s' (%s): %w", ps.Name, ps.Pos, err)
		}
		// On a reload the local peer's socket is taken over, as the
		// traffic ports are.
		key := handoverKey("peers", "tcp", addr, "")
		ln := b.opts.Inherit.take(key)
		if ln == nil {
			if ln, err = net.Listen("tcp", addr); err != nil {
				return fmt.Errorf("balancer: peers '%s': cannot bind %s for local peer '%s': %w", ps.Name, addr, local, err)
			}
		}
		b.addSocket(key, func() (net.Listener, error) { return conn.DupListener(ln) })
		sec.Start(ln)
		b.peersMu.Lock()
		b.peers = append(b.peers, sec)
		b.peersTaught = append(b.peersTaught, teacher{local: local, addr: addr, sec: sec, tables: tables})
		b.peersMu.Unlock()
	}
	return nil
}

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
