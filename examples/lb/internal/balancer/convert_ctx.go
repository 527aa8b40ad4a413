package balancer

import "github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"

// What the converters that act on the stream need of it: capture slots
// for capture-req and capture-res (acl.CaptureSetter), the variable
// scopes that exist yet for set-var and unset-var (acl.VarScopeContext).

// SetCapture stores v, cut to the slot's length, in the frontend's
// request (resp: response) capture slot i; false when it has none.
func (ex *exchange) SetCapture(resp bool, i int, v string) bool {
	h, l := &ex.hf.s.fe.cfg.HTTP, &ex.log
	slots, caps := h.CaptureRequest, l.capReq
	if resp {
		slots, caps = h.CaptureResponse, l.capResp
	}
	if i < 0 || i >= len(slots) || i >= len(caps) {
		return false
	}
	caps[i] = appendCapture(caps[i][:0], v[:min(len(v), slots[i].Len)])
	return true
}

// SetCapture stores v, cut to the slot's length, in the TCP session's
// request capture slot i; a TCP session has no response captures.
func (t *tracked) SetCapture(resp bool, i int, v string) bool {
	if resp || t.s == nil || t.s.x == nil || i < 0 || i >= len(t.s.x.caps) {
		return false
	}
	n := t.s.fe.cfg.HTTP.CaptureRequest[i].Len
	t.s.x.caps[i] = appendCapture(t.s.x.caps[i][:0], v[:min(len(v), n)])
	return true
}

// HasVarScope reports whether variables of scope live yet: before the
// session's stream exists (connection and session rules), only proc
// and sess ones do, as in HAProxy.
func (t *tracked) HasVarScope(scope string) bool {
	return !t.early || scope == "sess" || scope == "proc"
}

var (
	_ acl.CaptureSetter   = (*exchange)(nil)
	_ acl.CaptureSetter   = (*tracked)(nil)
	_ acl.VarScopeContext = (*tracked)(nil)
)
