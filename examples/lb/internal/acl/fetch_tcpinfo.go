package acl

import (
	"fmt"
	"syscall"

	"github.com/proxyblocks/proxyblocks/conn"
)

// The kernel's view of the client connection (fc_rtt, fc_rttvar and the
// segment counters), read from TCP_INFO as HAProxy reads it; where the
// system has no TCP_INFO, or the connection is not TCP, they find no
// sample.

// tcpInfo is what the fc_* TCP fetches read.
type tcpInfo struct {
	rtt, rttvar                                       uint32 // microseconds
	unacked, sacked, retrans, fackets, lost, reorders uint32
}

func init() {
	read := func(c Context) (tcpInfo, bool) {
		cc, ok := c.(ConnContext)
		if !ok {
			return tcpInfo{}, false
		}
		fc := cc.FrontConn()
		if fc == nil {
			return tcpInfo{}, false
		}
		return connTCPInfo(fc)
	}
	// fc_rtt and fc_rttvar take a unit, ms (the default) or us.
	for _, name := range []string{"fc_rtt", "fc_rttvar"} {
		rttvar := name == "fc_rttvar"
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Arg: ArgOptional, Compile: func(arg string) (FetchFunc, error) {
			div := uint32(1000)
			switch arg {
			case "", "ms":
			case "us":
				div = 1
			default:
				return nil, fmt.Errorf("%w: fetch '%s': unit '%s' (ms or us)", ErrSyntax, name, arg)
			}
			return func(c Context) (Sample, bool) {
				ti, ok := read(c)
				v := ti.rtt
				if rttvar {
					v = ti.rttvar
				}
				return Int(int64(v / div)), ok
			}, nil
		}})
	}
	for _, f := range []struct {
		name string
		get  func(tcpInfo) uint32
	}{
		{"fc_unacked", func(t tcpInfo) uint32 { return t.unacked }},
		{"fc_sacked", func(t tcpInfo) uint32 { return t.sacked }},
		{"fc_retrans", func(t tcpInfo) uint32 { return t.retrans }},
		{"fc_fackets", func(t tcpInfo) uint32 { return t.fackets }},
		{"fc_lost", func(t tcpInfo) uint32 { return t.lost }},
		{"fc_reordering", func(t tcpInfo) uint32 { return t.reorders }},
	} {
		get := f.get
		RegisterFetch(Fetch{Name: f.name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			ti, ok := read(c)
			return Int(int64(get(ti))), ok
		})})
	}
}

// connTCPInfo reads a connection's TCP_INFO.
func connTCPInfo(c *conn.Conn) (tcpInfo, bool) {
	sc, ok := c.Socket().(syscall.Conn)
	if !ok {
		return tcpInfo{}, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return tcpInfo{}, false
	}
	return readTCPInfo(rc)
}
