package conn

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func rawControl(c net.Conn, f func(fd int)) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	return rc.Control(func(fd uintptr) { f(int(fd)) }) == nil
}

// setLinger0 makes the coming close send a RST and free the socket at
// once, with no FIN and no TIME_WAIT.
func setLinger0(c net.Conn) {
	rawControl(c, func(fd int) { _ = setLingerFD(uintptr(fd)) })
}

// silentDrop closes c so that the client learns nothing: no FIN, and if
// possible no RST either, so it keeps waiting on a connection that no
// longer exists and spends its own resources instead of ours.
//
// As HAProxy does, with ttl 0 it first tries TCP_REPAIR (which needs
// CAP_NET_ADMIN): a socket in repair mode closes without sending anything.
// Otherwise, or with ttl > 0, it sets the IP TTL (and the IPv6 hop limit)
// to ttl, 1 by default, and closes with SO_LINGER 0: the reset is sent but
// dies after ttl hops, before it reaches a remote client, while still
// clearing state in firewalls that close. On loopback there are no hops,
// so a local client does see the reset.
func silentDrop(c net.Conn, ttl int) (repaired bool) {
	rawControl(c, func(fd int) {
		// Read what the client already sent and acknowledge it at once:
		// unacknowledged data would be retransmitted to a socket that no
		// longer exists, and the kernel would answer with a reset.
		discardFD(fd, 64*512)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		if ttl <= 0 {
			if unix.SetsockoptInt(fd, unix.SOL_TCP, unix.TCP_REPAIR, 1) == nil {
				repaired = true
				return
			}
			ttl = 1
		}
		// A socket is IPv4 or IPv6 (possibly carrying v4-mapped peers, for
		// which IP_TTL applies); setting both covers every case, and the
		// one that does not apply fails harmlessly.
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl)
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		_ = setLingerFD(uintptr(fd))
	})
	c.Close()
	return repaired
}

// netListenConfig is the net.ListenConfig that opens lc's socket. Go sets
// keepalive on every accepted socket, four system calls each; here the
// listening socket gets the options once, before it listens, and Linux
// copies them to every socket it accepts.
func (lc ListenConfig) netListenConfig() net.ListenConfig {
	reuse, ka, nolinger, deferAccept, tfo := lc.ReusePort, !lc.DisableKeepAlive, lc.NoLinger, lc.DeferAccept, lc.FastOpen
	if !reuse && !ka && !nolinger && !deferAccept && tfo <= 0 && !lc.socketOptions() {
		return net.ListenConfig{KeepAlive: -1}
	}
	cfg := lc.KeepAlive
	return net.ListenConfig{KeepAlive: -1, Control: func(network, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if reuse {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
					serr = fmt.Errorf("setting SO_REUSEPORT: %w", serr)
					return
				}
			}
			if ka && network != "unix" {
				if serr = setKeepAlive(int(fd), cfg); serr != nil {
					return
				}
			}
			if nolinger {
				if serr = setLingerFD(fd); serr != nil {
					serr = fmt.Errorf("setting SO_LINGER: %w", serr)
					return
				}
			}
			// As HAProxy, a one-second defer: Linux turns it into SYN-ACK
			// retransmissions, after which a silent client is let in.
			if deferAccept && network != "unix" {
				if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1); serr != nil {
					serr = fmt.Errorf("setting TCP_DEFER_ACCEPT: %w", serr)
					return
				}
			}
			if tfo > 0 && network != "unix" {
				if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, tfo); serr != nil {
					serr = fmt.Errorf("setting TCP_FASTOPEN: %w", serr)
					return
				}
			}
			if network != "unix" {
				serr = lc.setSocketOptions(int(fd), network)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
}

// lingerInherited tells that accepted sockets inherit SO_LINGER from the
// listening socket, where netListenConfig sets it for NoLinger.
const lingerInherited = true

// setKeepAlive turns keepalive on for fd with cfg's timings, read as
// [net.TCPConn.SetKeepAliveConfig] reads them.
func setKeepAlive(fd int, cfg net.KeepAliveConfig) error {
	cfg = keepAliveOn(cfg)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return fmt.Errorf("setting SO_KEEPALIVE: %w", err)
	}
	if cfg.Idle > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, roundSeconds(cfg.Idle)); err != nil {
			return fmt.Errorf("setting TCP_KEEPIDLE: %w", err)
		}
	}
	if cfg.Interval > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, roundSeconds(cfg.Interval)); err != nil {
			return fmt.Errorf("setting TCP_KEEPINTVL: %w", err)
		}
	}
	if cfg.Count > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, cfg.Count); err != nil {
			return fmt.Errorf("setting TCP_KEEPCNT: %w", err)
		}
	}
	return nil
}

// roundSeconds is d in whole seconds, rounded up, as the kernel takes it.
func roundSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// setLingerFD makes the coming close of fd send a reset (SO_LINGER 0).
func setLingerFD(fd uintptr) error {
	return unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// setBacklog listens again on ln's socket with backlog n: Linux takes a
// second listen(2) on a listening socket as a new size for its queue.
func setBacklog(ln net.Listener, n int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("a %T has no socket to size", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), n) }); err != nil {
		return err
	}
	return lerr
}

// retune is ListenConfig.Retune: it sets each option whether on or off,
// as the socket may carry the other setting from its first
// configuration.
func retune(lc ListenConfig, ln net.Listener, network string) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("a %T has no socket", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	tcp := network != "unix" && network != "unixpacket"
	var serr error
	err = rc.Control(func(fd uintptr) {
		set := func(name string, level, opt, v int) {
			if serr == nil {
				if e := unix.SetsockoptInt(int(fd), level, opt, v); e != nil {
					serr = fmt.Errorf("setting %s: %w", name, e)
				}
			}
		}
		backlog := lc.Backlog
		if backlog <= 0 {
			backlog = maxBacklog
		}
		if e := unix.Listen(int(fd), backlog); e != nil {
			serr = fmt.Errorf("backlog %d: %w", lc.Backlog, e)
			return
		}
		linger := unix.Linger{}
		if lc.NoLinger {
			linger.Onoff = 1
		}
		if e := unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &linger); e != nil {
			serr = fmt.Errorf("setting SO_LINGER: %w", e)
			return
		}
		if !tcp {
			return
		}
		if lc.DisableKeepAlive {
			set("SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
		} else if e := setKeepAlive(int(fd), lc.KeepAlive); e != nil {
			serr = e
			return
		}
		set("TCP_DEFER_ACCEPT", unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, b2i(lc.DeferAccept))
		// A queue of 0 turns Fast Open off for new clients.
		set("TCP_FASTOPEN", unix.IPPROTO_TCP, unix.TCP_FASTOPEN, max(lc.FastOpen, 0))
		set("TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(lc.UserTimeout.Milliseconds()))
		// 0 drops the segment size a user set; a negative MaxSeg is
		// applied to each accepted socket instead.
		set("TCP_MAXSEG", unix.IPPROTO_TCP, unix.TCP_MAXSEG, max(lc.MaxSeg, 0))
		if serr == nil {
			// A hint, as in Listen: refusals are ignored.
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, b2i(!lc.DelayAck))
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxBacklog asks listen(2) for the largest backlog, which Linux caps at
// net.core.somaxconn, as Go's own listen does.
const maxBacklog = 1<<31 - 1

// stopListening stops a listening socket's listening without closing it:
// Linux takes shutdown(2) on a listening socket as a return to the closed
// state, where connections to its port are refused and those waiting in
// its queue reset, while it stays bound; listen(2) takes it back.
func stopListening(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("a %T has no socket to stop", ln)
	}
	if _, ok := ln.(*net.TCPListener); !ok {
		return fmt.Errorf("a %T is not a TCP listener", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_RD) }); err != nil {
		return err
	}
	return serr
}

// delayAckListener turns TCP_QUICKACK off on a listening socket, whose
// accepted sockets then hold back the ACK of the client's first bytes
// where the kernel lets them inherit it. A refusal (recent Linux refuses
// the option on a listening socket) is ignored, as HAProxy ignores it.
func delayAckListener(ln net.Listener) {
	if sc, ok := ln.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0) })
		}
	}
}

// delayAckControl wraps a dialer's Control so that TCP_QUICKACK is off
// before the socket connects: the handshake's last ACK then leaves with
// the first bytes written.
func delayAckControl(next func(network, address string, c syscall.RawConn) error) func(string, string, syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if network != "unix" {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("setting TCP_QUICKACK: %w", serr)
			}
		}
		if next != nil {
			return next(network, address, c)
		}
		return nil
	}
}

// dialOptsControl sets TCP_USER_TIMEOUT and TCP_FASTOPEN_CONNECT on a
// socket about to connect, then runs next.
func dialOptsControl(ut time.Duration, tfo bool, next func(network, address string, c syscall.RawConn) error) func(string, string, syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if network != "unix" {
			var serr error
			if err := c.Control(func(fd uintptr) {
				if ut > 0 {
					if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(ut.Milliseconds())); serr != nil {
						serr = fmt.Errorf("setting TCP_USER_TIMEOUT: %w", serr)
						return
					}
				}
				if tfo {
					if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1); serr != nil {
						serr = fmt.Errorf("setting TCP_FASTOPEN_CONNECT: %w", serr)
					}
				}
			}); err != nil {
				return err
			}
			if serr != nil {
				return serr
			}
		}
		if next != nil {
			return next(network, address, c)
		}
		return nil
	}
}

// peerClosedFD reads the TCP state of fd: a FIN came (CLOSE_WAIT, or
// LAST_ACK once we closed too) or the connection is gone (CLOSE), with or
// without bytes still unread.
func peerClosedFD(fd int) (closed, unread bool) {
	eof, unread := peekFD(fd)
	if eof {
		return true, false
	}
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return false, unread
	}
	switch ti.State {
	case unix.BPF_TCP_CLOSE_WAIT, unix.BPF_TCP_LAST_ACK, unix.BPF_TCP_CLOSE:
		return true, unread
	}
	return false, unread
}

// socketOptions reports whether any of the options setSocketOptions sets
// is asked for.
func (lc ListenConfig) socketOptions() bool {
	return lc.UserTimeout > 0 || lc.MaxSeg > 0 || lc.Interface != "" || lc.Transparent || lc.V6Only != V6OnlyDefault
}

// setSocketOptions sets tcp-ut, mss, interface, transparent and the IPv6
// family choice on a new listening socket, before it is bound.
func (lc ListenConfig) setSocketOptions(fd int, network string) error {
	if lc.UserTimeout > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(lc.UserTimeout.Milliseconds())); err != nil {
			return fmt.Errorf("setting TCP_USER_TIMEOUT: %w", err)
		}
	}
	if lc.MaxSeg > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, lc.MaxSeg); err != nil {
			return fmt.Errorf("setting TCP_MAXSEG: %w", err)
		}
	}
	if lc.Interface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, lc.Interface); err != nil {
			return fmt.Errorf("binding to interface %q: %w", lc.Interface, err)
		}
	}
	v6 := network == "tcp6"
	if lc.Transparent {
		level, opt := unix.IPPROTO_IP, unix.IP_TRANSPARENT
		if v6 {
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT
		}
		if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
			return fmt.Errorf("setting IP_TRANSPARENT: %w", err)
		}
	}
	if v6 && lc.V6Only != V6OnlyDefault {
		on := 0
		if lc.V6Only == V6OnlyOn {
			on = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, on); err != nil {
			return fmt.Errorf("setting IPV6_V6ONLY: %w", err)
		}
	}
	return nil
}

// lowerMSS lowers an accepted connection's maximum segment size by n, as
// a negative "mss" asks, and returns the size it set. A socket that
// refuses keeps its own, as in HAProxy. The kernel takes the new size
// as a clamp for its later MSS computations (a path MTU change).
func lowerMSS(sock net.Conn, n int) (int, error) {
	set, err := 0, errors.ErrUnsupported
	rawControl(sock, func(fd int) {
		mss, gerr := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG)
		if gerr != nil || mss <= n {
			err = cmp.Or(gerr, fmt.Errorf("MSS %d is not above %d", mss, n))
			return
		}
		set, err = mss-n, unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, mss-n)
	})
	return set, err
}

func setMark(c net.Conn, mark uint32) error {
	var err error
	if !rawControl(c, func(fd int) { err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)) }) {
		return errors.New("conn: set-mark: not a socket")
	}
	if err != nil {
		return fmt.Errorf("conn: set-mark: %w", err)
	}
	return nil
}
