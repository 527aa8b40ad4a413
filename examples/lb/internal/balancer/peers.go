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
		var tables []*stick.Table
		for _, st := range b.cfg.StickTables() {
			if b.syncedBy(st.Config) == ps.Name {
				tables = append(tables, b.tables[st.Config.Name])
			}
		}
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
		sec, err := peers.New(peers.Config{Name: ps.Name, Local: local, Peers: remotes, Tables: tables,
			Logf: func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }})
		if err != nil {
			return fmt.Errorf("balancer: peers '%s' (%s): %w", ps.Name, ps.Pos, err)
		}
		addr := ps.ListenAddr(local)
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
		b.peers = append(b.peers, sec)
	}
	return nil
}

// stopPeers closes the sessions with the peers, before the tables close.
func (b *Balancer) stopPeers() {
	for _, s := range b.peers {
		_ = s.Close()
	}
	b.peers = nil
}
