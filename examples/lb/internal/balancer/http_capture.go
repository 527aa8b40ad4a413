package balancer

import (
	"strconv"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The "capture" and "set-timeout" rule actions, run by the rule loops of
// http_rules.go.

// streamTimeouts are the timeouts http-request set-timeout gave this
// exchange in place of its backend's.
type streamTimeouts struct {
	server, tunnel       time.Duration
	serverSet, tunnelSet bool
}

// captureRule runs "capture": the sample of r's expression, as a string
// cut to the slot's length, goes into slot r.cfg.Slot of the frontend's
// request captures (resp: response captures), where the log finds it. A
// slot the frontend lacks (a backend's rule behind another frontend)
// or no sample leaves the captures as they were, as in HAProxy.
func (ex *exchange) captureRule(r *httpRule, resp bool) {
	l, h := &ex.log, &ex.hf.s.fe.cfg.HTTP
	slots, caps := h.CaptureRequest, l.capReq
	if resp {
		slots, caps = h.CaptureResponse, l.capResp
	}
	i := r.cfg.Slot
	if i < 0 || i >= len(slots) || i >= len(caps) {
		return
	}
	smp, ok := r.expr(ex)
	if !ok {
		return
	}
	var v string
	switch smp.Type {
	case acl.TypeStr:
		v = smp.Str
	default:
		v = smp.String()
	}
	caps[i] = appendCapture(caps[i][:0], v[:min(len(v), slots[i].Len)])
}

// appendCapture appends a captured value as HAProxy logs it: '"', '#',
// '{', '|', '}' and bytes outside printable ASCII as #XX. The result is
// never nil, so an empty value is told from an absent one.
func appendCapture[T string | []byte](dst []byte, raw T) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(raw))
	}
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch < 32 || ch >= 127 || ch == '"' || ch == '#' || ch == '{' || ch == '|' || ch == '}' {
			dst = append(dst, '#', hexUpper[ch>>4], hexUpper[ch&15])
			continue
		}
		dst = append(dst, ch)
	}
	return dst
}

// decodeCapture undoes appendCapture's #XX escapes, giving back the
// captured bytes (a '#' is itself escaped, so this is exact).
func decodeCapture(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && i+2 < len(v) {
			if n, err := strconv.ParseUint(string(v[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(n))
				i += 2
				continue
			}
		}
		out = append(out, v[i])
	}
	return out
}

// captureSlot returns slot i of caps, decoded; ok is false for a slot
// that does not exist or holds nothing.
func captureSlot(caps [][]byte, i int) ([]byte, bool) {
	if i < 0 || i >= len(caps) || caps[i] == nil {
		return nil, false
	}
	return decodeCapture(caps[i]), true
}

// Capture returns a capture slot of the request or the response
// (acl.CaptureContext), as captured.
func (ex *exchange) Capture(resp bool, i int) ([]byte, bool) {
	if resp {
		return captureSlot(ex.log.capResp, i)
	}
	return captureSlot(ex.log.capReq, i)
}

// setTimeout runs "set-timeout": the rule's time, or its expression's
// sample read as milliseconds, replaces the backend's timeout server or
// timeout tunnel for this exchange. As in HAProxy, the last rule that
// runs wins, a sample of 0 means no timeout at all, a negative one
// expires at once (here: after 1 ms) and no sample leaves the timeout
// as it was.
func (ex *exchange) setTimeout(r *httpRule) {
	d := r.cfg.Timeout
	if r.expr != nil {
		smp, ok := r.expr(ex)
		if !ok {
			return
		}
		ms, ok := sampleInt(smp)
		if !ok {
			return
		}
		switch {
		case ms < 0:
			d = time.Millisecond
		case ms > 1<<31-1:
			d = (1<<31 - 1) * time.Millisecond
		default:
			d = time.Duration(ms) * time.Millisecond
		}
	}
	if r.cfg.Name == "tunnel" {
		ex.tmo.tunnel, ex.tmo.tunnelSet = d, true
		return
	}
	ex.tmo.server, ex.tmo.serverSet = d, true
}

// sampleInt reads a sample as an integer as HAProxy casts one: a
// string's leading sign and digits (no digit: no integer), an IPv4
// address's 32 bits.
func sampleInt(s acl.Sample) (int64, bool) {
	switch s.Type {
	case acl.TypeInt, acl.TypeBool:
		return s.Int, true
	case acl.TypeIP:
		if !s.IP.Is4() {
			return 0, false
		}
		b := s.IP.As4()
		return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]), true
	}
	i := 0
	if i < len(s.Str) && (s.Str[0] == '-' || s.Str[0] == '+') {
		i++
	}
	digits := i
	for i < len(s.Str) && s.Str[i] >= '0' && s.Str[i] <= '9' {
		i++
	}
	if i == digits {
		return 0, false
	}
	n, err := strconv.ParseInt(s.Str[:i], 10, 64)
	if err != nil && s.Str[0] == '-' {
		return -1 << 63, true
	} else if err != nil {
		return 1<<63 - 1, true
	}
	return n, true
}

// serverTimeout is the timeout server of this exchange: a set-timeout
// rule's, else the backend's; 0 is none.
func (ex *exchange) serverTimeout() time.Duration {
	if ex.tmo.serverSet {
		return ex.tmo.server
	}
	return ex.be.cfg.Timeouts.Server
}

// tunnelConfig is the tunnel's configuration after a 101 or a CONNECT,
// with the timeouts set-timeout rules gave this exchange.
func (ex *exchange) tunnelConfig() channel.TunnelConfig {
	tc := ex.hf.s.b.tunnelConfig(ex.hf.s.fe.cfg, ex.be.cfg)
	if ex.tmo.serverSet {
		tc.ServerTimeout = ex.tmo.server
	}
	if ex.tmo.tunnelSet {
		tc.TunnelTimeout = ex.tmo.tunnel
	}
	return tc
}
