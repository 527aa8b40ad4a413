package acl

import (
	"net/netip"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/stick"
)

// The connection fetches: the client connection's own addresses (fc_src,
// fc_dst and their ports, which neither a PROXY header nor set-src
// change), what its PROXY header told (fc_rcvd_proxy, fc_pp_authority,
// fc_pp_unique_id), the server connection's addresses (bc_src, bc_dst),
// the HTTP versions of both sides, whether an address is one of the
// host's (src_is_local and the like), dst_conn and src_updt_conn_cnt.

// ConnContext is a Context that knows the connections themselves, for the
// fc_* and bc_* fetches. In another Context they find no sample.
type ConnContext interface {
	Context
	// FrontConn returns the client connection, nil when there is none.
	FrontConn() *conn.Conn
	// FrontHTTP returns the HTTP major version the client connection
	// speaks (1 or 2), 0 when it does not speak HTTP (TCP mode).
	FrontHTTP() int
	// BackConn returns the server connection and the HTTP major version
	// it speaks (0 in TCP mode); a nil connection when none is made yet.
	BackConn() (*conn.Conn, int)
}

func init() {
	front := func(name string, t Type, fn func(c *conn.Conn) (Sample, bool)) {
		RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
			cc, ok := c.(ConnContext)
			if !ok {
				return Sample{}, false
			}
			fc := cc.FrontConn()
			if fc == nil {
				return Sample{}, false
			}
			return fn(fc)
		})})
	}
	back := func(name string, t Type, fn func(c *conn.Conn) (Sample, bool)) {
		RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
			cc, ok := c.(ConnContext)
			if !ok {
				return Sample{}, false
			}
			bc, _ := cc.BackConn()
			if bc == nil {
				return Sample{}, false
			}
			return fn(bc)
		})})
	}
	ip := func(ap netip.AddrPort) (Sample, bool) {
		a := ap.Addr()
		return IP(a.Unmap()), a.IsValid()
	}
	port := func(ap netip.AddrPort) (Sample, bool) {
		return Int(int64(ap.Port())), ap.IsValid() && ap.Port() != 0
	}
	front("fc_src", TypeIP, func(c *conn.Conn) (Sample, bool) { return ip(sockAddr(c, false)) })
	front("fc_dst", TypeIP, func(c *conn.Conn) (Sample, bool) { return ip(sockAddr(c, true)) })
	front("fc_src_port", TypeInt, func(c *conn.Conn) (Sample, bool) { return port(sockAddr(c, false)) })
	front("fc_dst_port", TypeInt, func(c *conn.Conn) (Sample, bool) { return port(sockAddr(c, true)) })
	back("bc_src", TypeIP, func(c *conn.Conn) (Sample, bool) { return ip(sockAddr(c, true)) })
	back("bc_dst", TypeIP, func(c *conn.Conn) (Sample, bool) { return ip(sockAddr(c, false)) })
	back("bc_src_port", TypeInt, func(c *conn.Conn) (Sample, bool) { return port(sockAddr(c, true)) })
	back("bc_dst_port", TypeInt, func(c *conn.Conn) (Sample, bool) { return port(sockAddr(c, false)) })
	front("fc_src_is_local", TypeBool, func(c *conn.Conn) (Sample, bool) { return isLocal(sockAddr(c, false)) })
	front("fc_dst_is_local", TypeBool, func(c *conn.Conn) (Sample, bool) { return isLocal(sockAddr(c, true)) })
	RegisterFetch(Fetch{Name: "src_is_local", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) { return isLocal(c.Src()) })})
	RegisterFetch(Fetch{Name: "dst_is_local", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) { return isLocal(c.Dst()) })})

	// fc_rcvd_proxy has no sample while a PROXY header is still awaited
	// (in "tcp-request connection" rules), as HAProxy's may change then.
	front("fc_rcvd_proxy", TypeBool, func(c *conn.Conn) (Sample, bool) {
		if c.Phase() < conn.PhaseReady && c.Flags()&conn.FlagAcceptProxy != 0 {
			return Sample{}, false
		}
		return Bool(c.ProxyHeader() != nil), true
	})
	// The TLVs: no sample when the header lacks one (an empty one is an
	// empty string).
	tlv := func(t conn.TLVType) func(c *conn.Conn) (Sample, bool) {
		return func(c *conn.Conn) (Sample, bool) {
			h := c.ProxyHeader()
			if h == nil {
				return Sample{}, false
			}
			v, ok := h.TLV(t)
			return Str(string(v)), ok
		}
	}
	front("fc_pp_authority", TypeStr, tlv(conn.TLVAuthority))
	front("fc_pp_unique_id", TypeStr, tlv(conn.TLVUniqueID))

	// fc_http_major and bc_http_major: 1 or 2 on an HTTP connection, no
	// sample in TCP mode (HAProxy's raw mux).
	httpMajor := func(n int) (Sample, bool) { return Int(int64(n)), n > 0 }
	RegisterFetch(Fetch{Name: "fc_http_major", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(ConnContext)
		if !ok || cc.FrontConn() == nil {
			return Sample{}, false
		}
		return httpMajor(cc.FrontHTTP())
	})})
	RegisterFetch(Fetch{Name: "bc_http_major", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(ConnContext)
		if !ok {
			return Sample{}, false
		}
		bc, n := cc.BackConn()
		if bc == nil {
			return Sample{}, false
		}
		return httpMajor(n)
	})})

	// dst_conn: the connections the listener that accepted the client's
	// holds now, this one included.
	front("dst_conn", TypeInt, func(c *conn.Conn) (Sample, bool) {
		ln := c.Listener()
		if ln == nil {
			return Sample{}, false
		}
		return Int(ln.Active()), true
	})

	// src_updt_conn_cnt([TABLE]): adds one to the conn_cnt of the
	// client's address in the table (the entry made if absent) and
	// returns it; the rate is left alone, as in HAProxy. A table that
	// does not store conn_cnt gives no sample.
	RegisterFetch(Fetch{Name: "src_updt_conn_cnt", Type: TypeInt, Arg: ArgOptional, Compile: func(table string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			tr, ok := c.(Tracker)
			if !ok {
				return Sample{}, false
			}
			t := tr.Table(table)
			if t == nil {
				return Sample{}, false
			}
			key, ok := AddrKey(t, c.Src().Addr())
			if !ok {
				return Sample{}, false
			}
			e, err := t.GetOrCreate(key)
			if err != nil {
				return Sample{}, false
			}
			defer e.TouchRelease()
			if !t.Stores(stick.DataConnCnt) {
				return Sample{}, false
			}
			return Int(e.Inc(stick.DataConnCnt, 1)), true
		}, nil
	}})
}

// sockAddr returns a connection's socket address: the local one when
// local, else the peer's. A PROXY header does not change them.
func sockAddr(c *conn.Conn, local bool) netip.AddrPort {
	var a any
	if local {
		a = c.SocketLocal()
	} else {
		a = c.SocketRemote()
	}
	if ta, ok := a.(interface{ AddrPort() netip.AddrPort }); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// isLocal reports whether ap's address is one of the host's, as
// HAProxy's addr_is_local finds out: a UDP socket bound to it can connect
// to it. An address that is not IP (a UNIX socket's) counts as local; an
// undecided test gives no sample.
func isLocal(ap netip.AddrPort) (Sample, bool) {
	a := ap.Addr()
	if !a.IsValid() {
		return Bool(true), true
	}
	return addrIsLocal(a)
}
