package balancer

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// logValues is what a log-format line can show: the fields every traffic
// line has, and those of the mode.
type logValues struct {
	*trafficLine
	date           time.Time // %t: the session's accept date, or the request's
	tt             time.Duration
	tls            bool
	http           bool
	tr, trTime, ta time.Duration
	trSet          bool
	status         int
	ck             [2]byte // %tsc's cookie characters
	capReq         [][]byte
	capResp        [][]byte
	cc, cs         []byte
	reqLine        []byte
	// ctx is what the format's sample expressions read; fetch holds them
	// compiled, by item (nil: the format has none).
	ctx   acl.Context
	fetch []acl.FetchFunc
	// fe is the address the client reached (%fi, %fp); srv the server
	// reached, nil for none (%si, %sp); bsrc the server connection's own
	// address (%bi, %bp), invalid for none; rt the stream's number in the
	// process (%rt); uid the unique ID (%ID), "" for none.
	fe   netip.AddrPort
	srv  *Server
	bsrc netip.AddrPort
	rt   uint64
	uid  string
	// bytesIn is what the client sent (%U); th the handshake time (%Th),
	// ti the idle time before an HTTP request (%Ti, -1 for a TCP line);
	// accept the stream's start (%T, %Tl); lc the frontend's line number
	// (%lc); tlsInfo the client connection's TLS state (%sslv, %sslc).
	bytesIn int64
	th, ti  time.Duration
	tiSet   bool
	accept  time.Time
	lc      uint64
	tlsInfo xprt.Info
}

// compileLogFetches compiles the sample expressions of a log-format, by
// item index; nil when it has none.
func compileLogFetches(format []config.LogItem, rs *acl.Refs) ([]acl.FetchFunc, error) {
	var out []acl.FetchFunc
	for i, it := range format {
		if it.Expr == "" {
			continue
		}
		if out == nil {
			out = make([]acl.FetchFunc, len(format))
		}
		_, fn, err := rs.CompileFetch(it.Expr)
		if err != nil {
			return nil, fmt.Errorf("log-format: sample expression '%s': %w", it.Expr, err)
		}
		out[i] = fn
	}
	return out, nil
}

func (l *tcpLog) values() logValues {
	return logValues{trafficLine: &l.trafficLine, date: l.accept, tt: l.tt, ck: [2]byte{'-', '-'},
		bytesIn: l.bytesIn, th: l.th, accept: l.accept}
}

// values gives an HTTP line's values. Its total time runs from the
// stream's start, as HAProxy's: the handshake and the idle wait, then the
// request's active time.
func (l *httpLog) values() logValues {
	return logValues{trafficLine: &l.trafficLine, date: l.date, tt: l.th + l.ti + l.ta, tls: l.tls, http: true,
		tr: l.tr, trTime: l.trTime, ta: l.ta, trSet: l.trSet, status: l.status, ck: l.ck, capReq: l.capReq, capResp: l.capResp, cc: l.cc, cs: l.cs, reqLine: l.reqLine,
		bytesIn: l.bytesIn + l.bodyIn, th: l.th, ti: l.ti, tiSet: true, accept: l.date.Add(-l.th - l.ti)}
}

var hostName, _ = os.Hostname()

// quotable are the text variables %{+Q} puts between quotes.
var quotable = map[string]bool{"ft": true, "f": true, "b": true, "s": true, "r": true, "HM": true, "HU": true, "HV": true, "H": true,
	"CC": true, "CS": true, "HP": true, "HPO": true, "HQ": true, "sslv": true, "sslc": true, "ID": true}

// renderLogFormat appends the line format describes for v to b. As
// HAProxy's, a run of spaces in the format is one separator, written
// only when something was written since the last one: a variable that
// prints nothing (no captures) does not leave two spaces.
func renderLogFormat(b []byte, format []config.LogItem, v *logValues) []byte {
	lastSpace := true
	for i, it := range format {
		if it.Expr != "" {
			before := len(b)
			b = v.appendExpr(b, it, i)
			if it.Escape && it.Quote {
				b = append(escapeLogValue(b[:len(b)-1], before+1, false), '"')
			} else if it.Escape {
				b = escapeLogValue(b, before, false)
			}
			lastSpace = false
			continue
		}
		if it.Var == "" {
			for i := 0; i < len(it.Text); i++ {
				c := it.Text[i]
				if c != ' ' {
					b = append(b, c)
					lastSpace = false
					continue
				}
				if !lastSpace {
					b = append(b, ' ')
					lastSpace = true
				}
			}
			continue
		}
		before := len(b)
		// As in HAProxy, +Q quotes text, not numbers, addresses or dates.
		q := it.Quote && quotable[it.Var]
		if q {
			b = append(b, '"')
		}
		start := len(b)
		b = v.appendVar(b, it)
		if it.Escape {
			// The quotes of a quoted %hrl or %hsl are its own: the
			// captures' quotes are already encoded (#22).
			b = escapeLogValue(b, start, it.Quote && (it.Var == "hrl" || it.Var == "hsl"))
		}
		if q {
			b = append(b, '"')
		}
		if len(b) > before {
			lastSpace = false
		}
	}
	return b
}

// escapeLogValue escapes, as %{+E} does, the value written in b from
// start: a backslash before each '"', '\\' and ']'. With keepQuotes,
// the value's '"' are its own quotes and stay as they are.
func escapeLogValue(b []byte, start int, keepQuotes bool) []byte {
	n := 0
	for _, c := range b[start:] {
		if c == '\\' || c == ']' || c == '"' && !keepQuotes {
			n++
		}
	}
	if n == 0 {
		return b
	}
	val := append([]byte(nil), b[start:]...)
	b = b[:start]
	for _, c := range val {
		if c == '\\' || c == ']' || c == '"' && !keepQuotes {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

// appendExpr appends the sample of the format's item i, a sample
// expression. As in HAProxy, no sample or an empty one prints "-", or
// nothing between the quotes of %{+Q}, which quotes samples of any type.
func (v *logValues) appendExpr(b []byte, it config.LogItem, i int) []byte {
	var text string
	if i < len(v.fetch) && v.fetch[i] != nil && v.ctx != nil {
		if smp, ok := v.fetch[i](v.ctx); ok {
			text = smp.String()
		}
	}
	switch {
	case it.Quote:
		b = append(b, '"')
		b = append(b, text...)
		return append(b, '"')
	case text == "":
		return append(b, '-')
	}
	return append(b, text...)
}

// appendHexAddr appends an address as %{+X} writes it: the IP's bytes in
// upper-case hexadecimal (8 digits for IPv4, 32 for IPv6).
func appendHexAddr(b []byte, a netip.Addr) []byte {
	for _, c := range a.Unmap().AsSlice() {
		b = append(b, hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

// appendHexN appends n in upper-case hexadecimal, zero-padded to width.
func appendHexN(b []byte, n uint64, width int) []byte {
	var d [16]byte
	i := len(d)
	for n > 0 || i == len(d) {
		i--
		d[i] = hexUpper[n&15]
		n >>= 4
	}
	for pad := width - (len(d) - i); pad > 0; pad-- {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}

const hexUpper = "0123456789ABCDEF"

// appendAddrVar appends the IP (port false) or the port of a, in decimal
// or, with +X, hexadecimal; "-" for none.
func appendAddrVar(b []byte, a netip.AddrPort, port, hex bool) []byte {
	switch {
	case !a.IsValid():
		return append(b, '-')
	case port && hex:
		return appendHexN(b, uint64(a.Port()), 4)
	case port:
		return strconv.AppendUint(b, uint64(a.Port()), 10)
	case hex:
		return appendHexAddr(b, a.Addr())
	}
	return append(b, a.Addr().Unmap().String()...)
}

// appendUnixVar appends an address variable of a UNIX socket as HAProxy
// logs it: "unix", and port 0.
func appendUnixVar(b []byte, port, hex bool) []byte {
	switch {
	case port && hex:
		return appendHexN(b, 0, 4)
	case port:
		return append(b, '0')
	}
	return append(b, "unix"...)
}

// appendVar appends the value of variable it. The configuration refuses
// HTTP variables on a TCP proxy; should one reach a TCP line it prints "-".
func (v *logValues) appendVar(b []byte, it config.LogItem) []byte {
	if it.HTTPOnly() && !v.http {
		return append(b, '-')
	}
	switch it.Var {
	case "hr", "hrl":
		if v.capReq == nil {
			return b
		}
		if it.Var == "hrl" && it.Quote {
			return appendQuotedCaptures(b, v.capReq)
		}
		return appendCaptures(b, v.capReq, it.Var == "hrl")
	case "hs", "hsl":
		if v.capResp == nil {
			return b
		}
		if it.Var == "hsl" && it.Quote {
			return appendQuotedCaptures(b, v.capResp)
		}
		return appendCaptures(b, v.capResp, it.Var == "hsl")
	case "CC", "CS":
		c := v.cc
		if it.Var == "CS" {
			c = v.cs
		}
		// No cookie captured: "-", or nothing between the quotes.
		if c == nil && !it.Quote {
			return append(b, '-')
		}
		return append(b, c...)
	case "trg":
		return v.date.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 +0000")
	case "ms":
		ms := v.date.Nanosecond() / int(time.Millisecond)
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	case "ci", "cp", "fi", "fp":
		a := v.client
		if it.Var[0] == 'f' {
			a = v.fe
		}
		if !a.IsValid() && v.luid != 0 {
			// A UNIX client: "unix", and the listener's id as its port.
			// (in decimal under +X too, as HAProxy prints it).
			if it.Var[1] == 'i' {
				return append(b, "unix"...)
			}
			return strconv.AppendUint(b, uint64(v.luid), 10)
		}
		return appendAddrVar(b, a, it.Var[1] == 'p', it.Hex)
	case "bi", "bp":
		if v.srv != nil && v.srv.unix() {
			return appendUnixVar(b, it.Var == "bp", it.Hex)
		}
		return appendAddrVar(b, v.bsrc, it.Var == "bp", it.Hex)
	case "si", "sp":
		var a netip.AddrPort
		if v.srv != nil {
			if v.srv.unix() {
				return appendUnixVar(b, it.Var == "sp", it.Hex)
			}
			a, _ = netip.ParseAddrPort(v.srv.cfg.DialAddr(v.srv.address(), v.fe))
		}
		return appendAddrVar(b, a, it.Var == "sp", it.Hex)
	case "Ts":
		if it.Hex {
			return appendHexN(b, uint64(v.date.Unix()), 8)
		}
		return strconv.AppendInt(b, v.date.Unix(), 10)
	case "rt":
		if it.Hex {
			return appendHexN(b, v.rt, 4)
		}
		return strconv.AppendUint(b, v.rt, 10)
	case "ID":
		// No unique id: "-", or nothing between the quotes.
		if v.uid == "" && !it.Quote {
			return append(b, '-')
		}
		return append(b, v.uid...)
	case "t", "tr":
		return v.date.AppendFormat(b, "02/Jan/2006:15:04:05.000")
	case "ft":
		b = append(b, v.frontend...)
		if v.tls {
			b = append(b, '~')
		}
		return b
	case "f":
		return append(b, v.frontend...)
	case "b":
		return append(b, v.backend...)
	case "s":
		return append(b, v.server...)
	case "H":
		return append(b, hostName...)
	case "Tw":
		return appendMs(b, v.tw, v.twSet)
	case "Tc":
		return appendMs(b, v.tc, v.tcSet)
	case "Tt":
		if v.asap {
			b = append(b, '+')
		}
		return appendMs(b, v.tt, true)
	case "TR":
		return appendMs(b, v.tr, v.tr >= 0)
	case "Tr":
		return appendMs(b, v.trTime, v.trSet)
	case "Ta":
		if v.asap {
			b = append(b, '+')
		}
		return appendMs(b, v.ta, true)
	case "B":
		if v.asap {
			b = append(b, '+')
		}
		return strconv.AppendInt(b, v.bytesOut, 10)
	case "ts":
		return append(b, v.term[0], v.term[1])
	case "tsc":
		return append(b, v.term[0], v.term[1], v.ck[0], v.ck[1])
	case "rc":
		if v.redisp {
			b = append(b, '+')
		}
		return strconv.AppendInt(b, int64(v.retries), 10)
	case "r":
		return append(b, v.reqLine...)
	case "HP", "HPO", "HQ":
		return appendURIPart(b, v.reqLine, it.Var)
	case "T":
		return v.accept.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	case "Tl":
		return v.accept.Local().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	case "trl":
		return v.date.Local().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	case "U":
		return strconv.AppendInt(b, v.bytesIn, 10)
	case "Th":
		return appendMs(b, v.th, true)
	case "Ti":
		return appendMs(b, v.ti, v.tiSet)
	case "Tq":
		// Th + Ti + TR in whole milliseconds each, as haproxy adds them,
		// -1 without a request time.
		const ms = time.Millisecond
		return appendMs(b, v.th.Truncate(ms)+v.ti.Truncate(ms)+v.tr.Truncate(ms), v.tr >= 0)
	case "Td":
		// The time after the server's answer began: what is left of the
		// total once the rest is taken; a TCP line counts from the
		// server connection's start.
		if v.http {
			return appendMs(b, v.ta-max(v.tr, 0)-v.tw-v.tc-v.trTime, v.trSet)
		}
		return appendMs(b, v.tt-v.th-v.tw-v.tc, v.tcSet)
	case "Tu":
		return appendMs(b, v.tt-v.ti, true)
	case "lc":
		return strconv.AppendUint(b, v.lc, 10)
	case "sslv", "sslc":
		if !v.tlsInfo.TLS {
			return append(b, '-')
		}
		if it.Var == "sslv" {
			return append(b, tls.VersionName(v.tlsInfo.Version)...)
		}
		return append(b, tls.CipherName(v.tlsInfo.CipherSuite)...)
	case "HM", "HU", "HV":
		// The request line's method, URI and version.
		parts := bytes.SplitN(v.reqLine, []byte(" "), 3)
		i := 0
		switch it.Var {
		case "HU":
			i = 1
		case "HV":
			i = 2
		}
		if i >= len(parts) {
			return append(b, '-')
		}
		return append(b, parts[i]...)
	}
	var n int
	switch it.Var {
	case "ac":
		n = v.actconn
	case "fc":
		n = v.feconn
	case "bc":
		n = v.beconn
	case "sc":
		n = v.srvconn
	case "sq":
		n = v.srvQueue
	case "bq":
		n = v.beQueue
	case "pid":
		if it.Hex {
			return appendHexN(b, uint64(os.Getpid()), 4)
		}
		n = os.Getpid()
	case "ST":
		// A TCP session has no status: HAProxy prints 0.
		if v.http {
			n = v.status
		}
	default:
		return append(b, '-')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// uniqueIDs holds a frontend's unique-id-format, its sample expressions
// compiled; nil without the format.
type uniqueIDs struct {
	format []config.LogItem
	fetch  []acl.FetchFunc
}

// usesVar reports whether a format has one of the variables named.
func usesVar(format []config.LogItem, names ...string) bool {
	for _, it := range format {
		for _, n := range names {
			if it.Var == n {
				return true
			}
		}
	}
	return false
}

// localAddrPort is the address of a connection's own end, invalid when
// it has none of IP and port.
func localAddrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// compileUniqueID compiles px's unique-id-format.
func compileUniqueID(px *config.Proxy) (*uniqueIDs, error) {
	if px.UniqueIDFormat == nil {
		return nil, nil
	}
	fetch, err := compileLogFetches(px.UniqueIDFormat, px.ACLs.Refs)
	if err != nil {
		return nil, fmt.Errorf("unique-id-format: %w", err)
	}
	return &uniqueIDs{format: px.UniqueIDFormat, fetch: fetch}, nil
}

// make renders a unique ID from what v holds, its samples read from ctx.
func (u *uniqueIDs) make(v *logValues, ctx acl.Context) string {
	v.ctx, v.fetch = ctx, u.fetch
	return string(renderLogFormat(nil, u.format, v))
}

// appendURIPart appends a part of the request line's URI, as HAProxy's
// %HP (the URI without its query), %HPO (its path alone, without the
// scheme and authority of an absolute URI) and %HQ (the query, from its
// '?'; nothing without one) read it; "<BADREQ>" without a request.
func appendURIPart(b, line []byte, part string) []byte {
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return append(b, "<BADREQ>"...)
	}
	uri, _, _ := bytes.Cut(rest, []byte(" "))
	path, query, hasQuery := bytes.Cut(uri, []byte("?"))
	switch part {
	case "HQ":
		if !hasQuery {
			return b
		}
		b = append(b, '?')
		return append(b, query...)
	case "HPO":
		if i := bytes.Index(path, []byte("://")); i >= 0 {
			path = path[i+3:]
			if j := bytes.IndexByte(path, '/'); j >= 0 {
				path = path[j:]
			} else {
				path = path[len(path):]
			}
		}
	}
	return append(b, path...)
}
