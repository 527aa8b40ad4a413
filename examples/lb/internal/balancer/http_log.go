package balancer

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// httpLog is what one request's httplog line reports.
type httpLog struct {
	trafficLine
	date   time.Time // when the request was accepted
	tls    bool
	tr     time.Duration // TR: time to receive the request head
	treq   time.Time     // when the request was sent to the server
	trTime time.Duration
	trSet  bool
	ta     time.Duration
	status int
	// ck is the persistence cookie's outcome, the last two characters
	// of %tsc ('-' when the backend keeps none).
	ck      [2]byte
	reqLine []byte
	line    []byte
	// capReq and capResp are the captured header values, encoded for the
	// log, one per capture line (nil: the field was absent); nil slices
	// when the frontend captures nothing.
	capReq, capResp [][]byte
	// cc and cs are the cookies "capture cookie" found in the request and
	// in the response's Set-Cookie fields (%CC, %CS), nil for none.
	cc, cs []byte
	// be and srv are the backend and the server the request went to (srv
	// the last one tried), nil for none; bytesIn is the request head's
	// size once sent. For the statistics.
	be      *Backend
	srv     *Server
	bytesIn int64
	// bodyIn is the request body's count (HTX's: see htxsize.go), kept
	// for the line (%U).
	bodyIn int64
	// th is the connection's handshake time, on its first request only
	// (%Th); ti the time the connection was idle before the request
	// (%Ti), under HTTP/1.
	th, ti time.Duration
	// rt is the request's stream number in the process (%rt); bsrc the
	// server connection's own address (%bi, %bp), kept when a format
	// reads it.
	rt   uint64
	bsrc netip.AddrPort
	// fe is the address the client reached (%fi, %fp): the connection's,
	// or the one set-dst and set-dst-port gave the request.
	fe netip.AddrPort
}

func (hf *httpFront) newLog(date time.Time) httpLog {
	return hf.newLogInto(httpLog{}, date)
}

// newLogInto resets l for a new request, keeping its buffers.
func (hf *httpFront) newLogInto(l httpLog, date time.Time) httpLog {
	reqLine, line := l.reqLine[:0], l.line[:0]
	capReq, capResp := l.capReq, l.capResp
	l = httpLog{trafficLine: trafficLine{client: hf.src(), luid: hf.s.luid, frontend: hf.s.fe.cfg.Name, backend: hf.s.fe.cfg.Name,
		server: "<NOSRV>", term: [2]byte{'-', '-'}}, fe: hf.dst(), date: date, tls: hf.info != nil, status: -1, ck: [2]byte{'-', '-'}, reqLine: reqLine, line: line,
		rt: hf.s.b.streams.Add(1) - 1}
	if h := &hf.s.fe.cfg.HTTP; len(h.CaptureRequest) > 0 || len(h.CaptureResponse) > 0 {
		// Captured, or "{}" when the request or the answer never came.
		l.capReq, l.capResp = emptyCaptures(capReq, len(h.CaptureRequest)), emptyCaptures(capResp, len(h.CaptureResponse))
	}
	return l
}

// setRequestLine records "METHOD URI VERSION" as the log shows it.
func (l *httpLog) setRequestLine(m *htx.Message) {
	b := append(l.reqLine[:0], m.Method()...)
	b = append(b, ' ')
	// The URI as it came: an absolute one whole, as an HTTP/2 request's.
	if m.Form == htx.FormAbsolute || m.Version == htx.Version20 && len(m.Scheme()) > 0 && m.Flags&htx.FlagConnect == 0 {
		b = append(b, m.Scheme()...)
		b = append(b, "://"...)
		b = append(b, m.Authority()...)
	}
	if m.Flags&htx.FlagConnect != 0 {
		b = append(b, m.Authority()...)
	} else {
		b = appendLogURI(b, m.Path())
	}
	b = append(b, ' ')
	switch m.Version {
	case htx.Version10:
		b = append(b, "HTTP/1.0"...)
	case htx.Version20:
		b = append(b, "HTTP/2.0"...)
	default:
		b = append(b, "HTTP/1.1"...)
	}
	l.reqLine = b
}

// emitLog writes the request's line: httplog when the frontend asks for
// it, tcplog's fields otherwise (option tcplog), nothing without logs. A
// log-format's sample expressions read ctx, the request's context, or
// the connection's when there is no request (nil).
func (hf *httpFront) emitLog(l *httpLog, ctx acl.Context) {
	fe := hf.s.fe
	if !fe.logs.enabled() || !fe.cfg.HTTP.Log && !fe.cfg.Options.TCPLog && fe.cfg.LogFormat == nil {
		return
	}
	// dontlognull leaves out connections that sent nothing, which never
	// get this far: every line here carried a request, as HAProxy logs
	// it, even one that had no answer (a rule's reject, a client that
	// left while it waited).
	level := trafficLevel(&fe.cfg.Options, &l.trafficLine, l.status)
	if level < 0 {
		return
	}
	// Under option logasap every line marks its times and bytes '+',
	// as haproxy's do.
	l.asap = l.asap || fe.cfg.Options.LogASAP
	l.actconn = int(hf.s.b.actconn.Load())
	l.feconn = int(fe.conns.Load())
	if be := hf.s.b.backends[l.backend]; be != nil {
		l.beconn, l.srvconn = be.counts(be.Server(l.server))
	}
	format := fe.cfg.LogFormat
	if format == nil && fe.cfg.Mode != "http" {
		// A TCP frontend's connection upgraded to HTTP: its requests
		// are logged in tcplog's fields, as HAProxy logs them.
		format = tcpLogItems()
	}
	if format != nil {
		if ctx == nil {
			ctx = hf.s.ruleCtx(fe.cfg.Name)
		}
		v := l.values()
		v.fe, v.srv, v.rt, v.bsrc = l.fe, l.srv, l.rt, l.bsrc
		if hf.info != nil {
			v.tlsInfo = *hf.info
		}
		v.lc = fe.logCount.Add(1) - 1
		// A line without a request (a bad or timed-out one) has no
		// unique ID, as in HAProxy.
		if u, ok := ctx.(acl.UniqueIDContext); ok {
			v.uid, _ = u.UniqueID()
		}
		if fe.logFetch != nil {
			v.ctx, v.fetch = ctx, fe.logFetch
		}
		l.line = renderLogFormat(l.line[:0], format, &v)
	} else {
		l.line = l.format(l.line[:0])
	}
	fe.logs.emit(level, string(l.line))
}

// format renders HAProxy's httplog format:
// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
// %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
// (no captured headers: %hr and %hs print nothing and their spaces go).
func (l *httpLog) format(b []byte) []byte {
	b = appendClient(b, l.client, l.luid)
	b = append(b, " ["...)
	b = l.date.AppendFormat(b, "02/Jan/2006:15:04:05.000")
	b = append(b, "] "...)
	b = append(b, l.frontend...)
	if l.tls {
		b = append(b, '~')
	}
	b = append(b, ' ')
	b = append(b, l.backend...)
	b = append(b, '/')
	b = append(b, l.server...)
	b = append(b, ' ')
	b = appendMs(b, l.tr, l.tr >= 0)
	b = append(b, '/')
	b = appendMs(b, l.tw, l.twSet)
	b = append(b, '/')
	b = appendMs(b, l.tc, l.tcSet)
	b = append(b, '/')
	b = appendMs(b, l.trTime, l.trSet)
	b = append(b, '/')
	if l.asap {
		b = append(b, '+')
	}
	b = appendMs(b, l.ta, true)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, ' ')
	if l.asap {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, l.bytesOut, 10)
	b = append(b, ' ')
	b = appendCaptured(b, l.cc)
	b = append(b, ' ')
	b = appendCaptured(b, l.cs)
	b = append(b, ' ')
	b = append(b, l.term[0], l.term[1], l.ck[0], l.ck[1], ' ')
	b = fmt.Appendf(b, "%d/%d/%d/%d/", l.actconn, l.feconn, l.beconn, l.srvconn)
	if l.redisp {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(l.retries), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.srvQueue), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.beQueue), 10)
	if l.capReq != nil {
		b = appendCaptures(append(b, ' '), l.capReq, false)
	}
	if l.capResp != nil {
		b = appendCaptures(append(b, ' '), l.capResp, false)
	}
	b = append(b, " \""...)
	b = append(b, l.reqLine...)
	b = append(b, '"')
	return b
}

// appendCaptures appends captured values as HAProxy logs them: in braces
// separated by '|' (%hr, %hs), or with list set separated by spaces, an
// absent one as '-' (%hrl, %hsl).
func appendCaptures(b []byte, caps [][]byte, list bool) []byte {
	if !list {
		b = append(b, '{')
	}
	for i, c := range caps {
		switch {
		case i > 0 && list:
			b = append(b, ' ')
		case i > 0:
			b = append(b, '|')
		}
		if c == nil && list {
			b = append(b, '-')
			continue
		}
		b = append(b, c...)
	}
	if !list {
		b = append(b, '}')
	}
	return b
}

// appendCaptured appends a captured cookie, or "-" for none.
func appendCaptured(b, c []byte) []byte {
	if c == nil {
		return append(b, '-')
	}
	return append(b, c...)
}

// captureCookie returns the first cookie of m's fields called field
// (Cookie, or Set-Cookie in a response) whose "name=value" starts with
// c.Name, cut to c.Len bytes, as HAProxy's capture cookie keeps it; nil
// for none. A Set-Cookie field's attributes are left out.
func captureCookie(m *htx.Message, field string, c *config.CookieCapture) []byte {
	var out []byte
	m.Values(field, func(v []byte) bool {
		if field == "Set-Cookie" {
			v, _, _ = bytes.Cut(v, []byte(";"))
			v = bytes.TrimSpace(v)
			if bytes.HasPrefix(v, []byte(c.Name)) {
				out = append([]byte{}, v[:min(len(v), c.Len)]...)
			}
			return out == nil
		}
		acl.CookiePairs(v, func(part, _, _ []byte) bool {
			if bytes.HasPrefix(part, []byte(c.Name)) {
				out = append([]byte{}, part[:min(len(part), c.Len)]...)
			}
			return out == nil
		})
		return out == nil
	})
	return out
}

// appendQuotedCaptures appends captured values as %{+Q}hrl and
// %{+Q}hsl log them: each between quotes, separated by spaces.
func appendQuotedCaptures(b []byte, caps [][]byte) []byte {
	for i, c := range caps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, '"')
		b = append(b, c...)
		b = append(b, '"')
	}
	return b
}

// captureFields records the value of the last field of each name caps
// names in m, as HAProxy's capture keeps the last it saw, cut to its
// length and encoded as HAProxy encodes captures (appendCapture). The
// slots without a name, which only capture rules and converters fill,
// and those whose field is absent keep what they held (a capture-res
// converter of a request rule, say), as in HAProxy.
func captureFields(dst [][]byte, caps []config.HeaderCapture, m *htx.Message) [][]byte {
	old := dst
	dst = dst[:0]
	for i, c := range caps {
		var v []byte
		if i < len(old) {
			v = old[i]
		}
		if c.Name != "" {
			var raw []byte
			found := false
			m.Values(c.Name, func(val []byte) bool { raw, found = val, true; return true })
			if found {
				v = appendCapture(nil, raw[:min(len(raw), c.Len)])
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// emptyCaptures is n absent captures (nil when n is 0), reusing dst.
func emptyCaptures(dst [][]byte, n int) [][]byte {
	if n == 0 {
		return nil
	}
	dst = dst[:0]
	for range n {
		dst = append(dst, nil)
	}
	return dst
}

// UniqueID returns the request's unique ID (acl.UniqueIDContext), made
// from the frontend's unique-id-format on first use and kept.
func (ex *exchange) UniqueID() (string, bool) {
	u := ex.hf.s.fe.uid
	if u == nil {
		return "", false
	}
	if ex.uid == "" {
		v := ex.log.values()
		v.fe, v.rt = ex.dst, ex.log.rt
		ex.uid = u.make(&v, ex)
	}
	return ex.uid, true
}

// addUniqueIDHeader adds unique-id-header with the request's unique ID,
// as HAProxy does once the backend's rules have run.
func (ex *exchange) addUniqueIDHeader() {
	name := ex.hf.s.fe.cfg.UniqueIDHeader
	if name == "" {
		return
	}
	if id, ok := ex.UniqueID(); ok {
		ex.req.AddBytes([]byte(name), []byte(id))
	}
}

// tcpLogItems is config.TCPLogFormat, parsed once.
var tcpLogItems = sync.OnceValue(func() []config.LogItem {
	items, _ := config.ParseLogFormat(config.TCPLogFormat) // a constant TestTCPLogFormat reads
	return items
})

// appendLogURI appends a request's URI as HAProxy keeps it for the log:
// '"', '#' and bytes outside printable ASCII as #XX (a request taken
// with option accept-invalid-http-request may hold them).
func appendLogURI[T string | []byte](dst []byte, raw T) []byte {
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch < 32 || ch >= 127 || ch == '"' || ch == '#' {
			dst = append(dst, '#', hexUpper[ch>>4], hexUpper[ch&15])
			continue
		}
		dst = append(dst, ch)
	}
	return dst
}
