package balancer

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/conn"
)

// Handover holds the listening sockets of a running Balancer for the one
// that replaces it on a reload: Start, given it in [Options.Inherit],
// takes over every socket whose address and socket options a bind line,
// a peers section's local peer or a stats socket of the new configuration
// still asks for, instead of opening a new one. Both Balancers accept on
// a socket taken over until the old one stops, so no client is refused in
// between, as HAProxy's workers pass their sockets to the next ones.
//
// It also carries the stick tables over, as HAProxy's old process
// teaches the new one through the local peer: a table the new
// configuration shares through a peers section learns every entry of the
// old table of the same name, with the data both store and the time each
// entry has left, when the old table was shared too, by a section whose
// local peer had the same name and address and was done with its own
// initial resync, and when the two tables have the same key type and
// length. Other tables start empty.
//
// Get one with [Balancer.Handover] before starting the new Balancer, and
// Close it once that Start returned (whatever it returned): Close closes
// the copies nobody took, and removes the files of the UNIX sockets among
// them. Then stop the old Balancer (Shutdown); its own copies close, the
// sockets taken over stay open.
type Handover struct {
	mu    sync.Mutex
	socks map[string]net.Listener
	// addrs are the addresses of the socks, for a message when only the
	// options differ.
	addrs map[string]bool
	// teachers are the old Balancer's peers sections that pass their
	// tables on, as HAProxy's old process teaches the new one through
	// the local peer.
	teachers []teacher
}

// socket is one listening socket of a Balancer, by its handover key.
type socket struct {
	key string
	dup func() (net.Listener, error)
}

// Handover returns copies of the Balancer's listening sockets for the
// Balancer that replaces it. The Balancer keeps accepting on its own.
func (b *Balancer) Handover() (*Handover, error) {
	h := &Handover{socks: map[string]net.Listener{}, addrs: map[string]bool{}, teachers: b.teachers()}
	b.mu.Lock()
	closed := b.closed
	socks := b.sockets
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	for _, s := range socks {
		if s.key == "" {
			continue
		}
		if _, dup := h.socks[s.key]; dup {
			continue
		}
		ln, err := s.dup()
		if errors.Is(err, net.ErrClosed) {
			// Closed at run time ("shutdown frontend"): the new
			// configuration opens it again.
			continue
		}
		if err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("balancer: handover: %w", err)
		}
		h.socks[s.key] = ln
		h.addrs[keyAddr(s.key)] = true
	}
	return h, nil
}

// take returns the socket with that key and forgets it, or nil; a nil
// Handover has none.
func (h *Handover) take(key string) net.Listener {
	if h == nil || key == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ln := h.socks[key]
	delete(h.socks, key)
	return ln
}

// takeRetunable returns a bind socket whose address and placing options
// are those of key, whatever the options a Retune changes, and forgets
// it; or nil.
func (h *Handover) takeRetunable(key string) net.Listener {
	i := strings.LastIndexByte(key, '|')
	if h == nil || !strings.HasPrefix(key, "bind ") || i < 0 || i == strings.IndexByte(key, '|') {
		return nil
	}
	prefix := key[:i+1]
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, ln := range h.socks {
		if strings.HasPrefix(k, prefix) {
			delete(h.socks, k)
			return ln
		}
	}
	return nil
}

// holds reports whether the Handover has, or had, a socket on the
// address of key, whatever its options.
func (h *Handover) holds(key string) bool {
	if h == nil || key == "" {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addrs[keyAddr(key)]
}

// Close closes the sockets no Balancer took, removing the files of the
// UNIX ones: the new configuration no longer listens there.
func (h *Handover) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for key, ln := range h.socks {
		if u, ok := ln.(*net.UnixListener); ok {
			u.SetUnlinkOnClose(true)
		}
		errs = append(errs, ln.Close())
		delete(h.socks, key)
	}
	return errors.Join(errs...)
}

// A handover key is "KIND NETWORK ADDRESS|OPTIONS": what a socket is for,
// where it listens and the options set on it when it was opened, which a
// socket taken over keeps.
func handoverKey(kind, network, addr, opts string) string {
	return kind + " " + network + " " + addr + "|" + opts
}

func keyAddr(key string) string {
	addr, _, _ := strings.Cut(key, "|")
	return addr
}

// bindKey is the handover key of a bind address opened with lc: empty
// for a port the system picks, which a new configuration cannot name.
func bindKey(network, laddr string, lc *conn.ListenConfig) string {
	if network != "unix" {
		if _, port, err := net.SplitHostPort(laddr); err != nil || port == "" || port == "0" {
			return ""
		}
	}
	// The options that place the socket first, then, after a second
	// "|", those Retune can change on a socket taken over.
	opts := fmt.Sprintf("reuseport=%t mptcp=%t if=%s transparent=%t v6only=%d|backlog=%d keepalive=%+v nokeepalive=%t delayack=%t deferaccept=%t tfo=%d nolinger=%t ut=%v mss=%d",
		lc.ReusePort, lc.MultipathTCP, lc.Interface, lc.Transparent, lc.V6Only,
		lc.Backlog, lc.KeepAlive, lc.DisableKeepAlive, lc.DelayAck, lc.DeferAccept, lc.FastOpen, lc.NoLinger, lc.UserTimeout, lc.MaxSeg)
	return handoverKey("bind", network, laddr, opts)
}

// addSocket records a listening socket for Handover.
func (b *Balancer) addSocket(key string, dup func() (net.Listener, error)) {
	if key == "" {
		return
	}
	b.mu.Lock()
	b.sockets = append(b.sockets, socket{key: key, dup: dup})
	b.mu.Unlock()
}
