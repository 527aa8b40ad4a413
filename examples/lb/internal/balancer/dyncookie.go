package balancer

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Dynamic cookies ("cookie NAME ... dynamic", "dynamic-cookie-key KEY"),
// as HAProxy makes them: a server without a cookie value of its own gets
// the 64-bit xxHash (seed 0) of the key, its address's bytes (4 for
// IPv4, 16 for IPv6) and its port as 4 big-endian bytes, in 16 lower-case
// hex digits. The value follows the server's address when "set server
// addr" or its resolvers change it, and the runtime API changes the key
// and turns the cookies on and off ("set dynamic-cookie-key backend",
// "enable dynamic-cookie backend", "disable dynamic-cookie backend").

// dynCookie is the state of a backend's dynamic cookies: on, and the
// key ("" for none, when no server gets one).
type dynCookie struct {
	on  bool
	key string
}

// dynValue is a server's dynamic cookie, made for key and addr.
type dynValue struct {
	state *dynCookie
	addr  string
	val   string
}

// initDynCookie reads the backend's configured dynamic cookie state.
func (b *Backend) initDynCookie() {
	st := &dynCookie{key: b.cfg.DynamicCookieKey}
	st.on = b.cfg.Cookie != nil && b.cfg.Cookie.Dynamic
	b.dyn.Store(st)
}

// cookie is the server's persistence cookie value: its configured one,
// else its dynamic one when the backend makes them, else "".
func (s *Server) cookie() string {
	if s.cfg.Cookie != "" || s.be == nil {
		return s.cfg.Cookie
	}
	st := s.be.dyn.Load()
	if st == nil || !st.on || st.key == "" {
		return ""
	}
	addr := s.address()
	if v := s.dyn.Load(); v != nil && v.state == st && v.addr == addr {
		return v.val
	}
	val := dynCookieValue(st.key, addr)
	if val == "" {
		// No IP address (a UNIX socket, a name not resolved): as HAProxy
		// keeps what it had, the last value made stays.
		if v := s.dyn.Load(); v != nil {
			return v.val
		}
		return ""
	}
	s.dyn.Store(&dynValue{state: st, addr: addr, val: val})
	return val
}

// dynCookieValue is HAProxy's dynamic cookie for key and the address
// host:port, "" when the host is no IP address.
func dynCookieValue(key, addr string) string {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	port, _ := strconv.Atoi(portStr)
	// An IPv4 address counts 4 bytes; one written as IPv6 (even
	// ::ffff:a.b.c.d) counts 16, as it does for HAProxy.
	buf := append([]byte(key), ip.AsSlice()...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(port))
	return fmt.Sprintf("%016x", acl.XXH64(buf, 0))
}

// dynCookieCommand runs "set dynamic-cookie-key backend B KEY" and
// "enable|disable dynamic-cookie backend B", answering bad arguments as
// HAProxy does. Disabling takes the dynamic cookies away from the
// servers; enabling or a new key makes them again.
func (b *Balancer) dynCookieCommand(w io.Writer, words []string) {
	arg := func(i int) string {
		if i < len(words) {
			return words[i]
		}
		return ""
	}
	name := arg(3)
	if name == "" {
		_, _ = io.WriteString(w, "A backend name is expected.\n")
		return
	}
	be := b.backends[name]
	if be == nil {
		_, _ = io.WriteString(w, "No such backend.\n")
		return
	}
	for {
		old := be.dyn.Load()
		st := *old
		switch words[0] {
		case "set":
			if arg(4) == "" {
				_, _ = io.WriteString(w, "String value expected.\n")
				return
			}
			st.key = arg(4)
		case "enable":
			st.on = true
		default:
			st.on = false
		}
		if be.dyn.CompareAndSwap(old, &st) {
			break
		}
	}
	if words[0] == "disable" {
		for _, s := range be.servers {
			s.dyn.Store(nil)
		}
	}
}
