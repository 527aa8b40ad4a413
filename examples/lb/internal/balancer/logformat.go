package balancer

import (
	"bytes"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// logValues is what a log-format line can show, from a TCP session or an
// HTTP request.
type logValues struct {
	client             netip.AddrPort
	date               time.Time
	frontend           string
	tls                bool
	backend, server    string
	tw, tc, tt         time.Duration
	twSet, tcSet       bool
	http               bool
	tr, trTime, ta     time.Duration
	trSet              bool
	status             int
	bytesOut           int64
	term               [2]byte
	ac, fc, bc, sc, rc int
	redisp             bool
	sq, bq             int
	reqLine            []byte
}

func (l *tcpLog) values() logValues {
	return logValues{client: l.client, date: l.accept, frontend: l.frontend, backend: l.backend, server: l.server,
		tw: l.tw, tc: l.tc, tt: l.tt, twSet: l.twSet, tcSet: l.tcSet, bytesOut: l.bytesOut, term: l.term,
		ac: l.actconn, fc: l.feconn, bc: l.beconn, sc: l.srvconn, rc: l.retries, redisp: l.redisp, sq: l.srvQueue, bq: l.beQueue}
}

func (l *httpLog) values() logValues {
	return logValues{client: l.client, date: l.date, frontend: l.frontend, tls: l.tls, backend: l.backend, server: l.server,
		tw: l.tw, tc: l.tc, tt: l.ta, twSet: l.twSet, tcSet: l.tcSet, http: true, tr: l.tr, trTime: l.trTime, ta: l.ta,
		trSet: l.trSet, status: l.status, bytesOut: l.bytesOut, term: l.term,
		ac: l.actconn, fc: l.feconn, bc: l.beconn, sc: l.srvconn, rc: l.retries, redisp: l.redisp, sq: l.srvQueue, bq: l.beQueue,
		reqLine: l.reqLine}
}

var hostName, _ = os.Hostname()

// quotable are the text variables %{+Q} puts between quotes.
var quotable = map[string]bool{"ft": true, "f": true, "b": true, "s": true, "r": true, "HM": true, "HU": true, "HV": true, "H": true}

// renderLogFormat appends the line format describes for v to b. The
// configuration refuses HTTP variables on a TCP proxy; should one reach
// a TCP line it prints "-".
func renderLogFormat(b []byte, format []config.LogItem, v *logValues) []byte {
	for _, it := range format {
		if it.Var == "" {
			b = append(b, it.Text...)
			continue
		}
		// As in HAProxy, +Q quotes text, not numbers, addresses or dates.
		q := it.Quote && quotable[it.Var]
		if q {
			b = append(b, '"')
		}
		b = v.appendVar(b, it.Var)
		if q {
			b = append(b, '"')
		}
	}
	return b
}

func (v *logValues) appendVar(b []byte, name string) []byte {
	num := func(n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
	httpOnly := func(f func() []byte) []byte {
		if !v.http {
			return append(b, '-')
		}
		return f()
	}
	switch name {
	case "ci":
		return append(b, v.client.Addr().Unmap().String()...)
	case "cp":
		return num(int(v.client.Port()))
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
	case "Tw":
		return appendMs(b, v.tw, v.twSet)
	case "Tc":
		return appendMs(b, v.tc, v.tcSet)
	case "Tt":
		return appendMs(b, v.tt, true)
	case "B":
		return strconv.AppendInt(b, v.bytesOut, 10)
	case "ts":
		return append(b, v.term[0], v.term[1])
	case "tsc":
		return append(b, v.term[0], v.term[1], '-', '-')
	case "ac":
		return num(v.ac)
	case "fc":
		return num(v.fc)
	case "bc":
		return num(v.bc)
	case "sc":
		return num(v.sc)
	case "rc":
		if v.redisp {
			b = append(b, '+')
		}
		return num(v.rc)
	case "sq":
		return num(v.sq)
	case "bq":
		return num(v.bq)
	case "pid":
		return num(os.Getpid())
	case "H":
		return append(b, hostName...)
	case "ST":
		// A TCP session has no status: HAProxy prints 0.
		if !v.http {
			return num(0)
		}
		return num(v.status)
	case "TR":
		return httpOnly(func() []byte { return appendMs(b, v.tr, true) })
	case "Tr":
		return httpOnly(func() []byte { return appendMs(b, v.trTime, v.trSet) })
	case "Ta":
		return httpOnly(func() []byte { return appendMs(b, v.ta, true) })
	case "r":
		return httpOnly(func() []byte { return append(b, v.reqLine...) })
	case "HM", "HU", "HV":
		return httpOnly(func() []byte {
			parts := bytes.SplitN(v.reqLine, []byte(" "), 3)
			i := map[string]int{"HM": 0, "HU": 1, "HV": 2}[name]
			if i >= len(parts) {
				return append(b, '-')
			}
			return append(b, parts[i]...)
		})
	}
	return append(b, '-')
}
