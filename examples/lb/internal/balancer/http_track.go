package balancer

import (
	"strconv"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/stick"
)

// HTTP-mode stick counters, as HAProxy keeps them per request.
//
// A request sees the entries its connection tracks (tcp-request
// connection and session rules, the session's slots) and those its own
// http-request track-sc rules start (the request's slots, ended with
// it). A slot is one or the other: a track-sc rule leaves a slot the
// connection or an earlier rule tracks alone. Every request counts
// http_req_cnt/rate on the entries tracked when it starts, and a
// track-sc rule counts it on the entry it starts tracking; denied,
// tarpitted and unauthorized requests and server 4xx answers count
// http_err_cnt/rate, server 5xx answers but 501 and 505 (and the 502
// and 504 of a server that failed) http_fail_cnt/rate; the bytes of the
// request and its answer go to bytes_in/out when it ends. Each counts
// once per slot, so an entry tracked in two slots counts twice, as in
// HAProxy.

// reqTrack is the stick counter state of one exchange.
type reqTrack struct {
	// sc are the entries the request's track-sc rules track, one
	// reference each, given back when the request ends.
	sc [acl.Slots]*stick.Entry
	// own names the proxy whose rules run, whose table "" stands for.
	own string
	// key is the scratch space of track-sc keys.
	key []byte
	// fromContent marks the slots content rules tracked, whose entries
	// count the request once those rules let it on.
	fromContent uint8
}

// Tracked returns the entry tracked in slot: the request's own, else
// the connection's; nil when neither tracks it. It makes the exchange an
// acl.Tracker.
func (ex *exchange) Tracked(slot int) *stick.Entry {
	if slot < 0 || slot >= acl.Slots {
		return nil
	}
	if e := ex.strk.sc[slot]; e != nil {
		return e
	}
	return ex.hf.s.trk.Tracked(slot)
}

// Table returns the stick table of the named proxy; "" is the table of
// the proxy whose rules run.
func (ex *exchange) Table(name string) *stick.Table {
	if name == "" {
		name = ex.strk.own
		if name == "" {
			name = ex.hf.s.fe.cfg.Name
		}
	}
	return ex.hf.s.b.tables[name]
}

// tracks reports whether any stick counter may be tracked, so that a
// configuration without tracking pays one test per hook.
func (ex *exchange) tracks() bool {
	if ex.hf.s.trk != nil {
		return true
	}
	for _, e := range ex.strk.sc {
		if e != nil {
			return true
		}
	}
	return false
}

// beginTracking counts the request on the entries its connection
// tracks.
func (ex *exchange) beginTracking() {
	ex.strk.own = ""
	trk := ex.hf.s.trk
	if trk == nil {
		return
	}
	for _, e := range trk.sc {
		if e != nil {
			now := e.Table().Now()
			e.IncAt(stick.DataHTTPReqCnt, 1, now)
			e.IncAt(stick.DataHTTPReqRate, 1, now)
		}
	}
}

// countEach adds one to a counter and its rate on the entry of every
// slot.
func (ex *exchange) countEach(cnt, rate stick.DataType) {
	if !ex.tracks() {
		return
	}
	for slot := range acl.Slots {
		if e := ex.Tracked(slot); e != nil {
			now := e.Table().Now()
			e.IncAt(cnt, 1, now)
			e.IncAt(rate, 1, now)
		}
	}
}

// countErr counts an HTTP error (a denied request, a 4xx answer).
func (ex *exchange) countErr() { ex.countEach(stick.DataHTTPErrCnt, stick.DataHTTPErrRate) }

// countFail counts a server failure (a 5xx answer but 501 and 505).
func (ex *exchange) countFail() { ex.countEach(stick.DataHTTPFailCnt, stick.DataHTTPFailRate) }

// countStatus counts the status of a server's answer: 4xx are errors,
// 5xx but 501 and 505 (which the client's request causes) failures.
func (ex *exchange) countStatus(status int) {
	if cnt, rate, ok := statusCounters(status); ok {
		ex.countEach(cnt, rate)
	}
}

// statusCounters are the counter and rate an answer's status counts on:
// 4xx are errors, 5xx but 501 and 505 (which the client's request
// causes) failures; ok is false for the others.
func statusCounters(status int) (cnt, rate stick.DataType, ok bool) {
	switch {
	case status >= 400 && status < 500:
		return stick.DataHTTPErrCnt, stick.DataHTTPErrRate, true
	case status >= 500 && status < 600 && status != 501 && status != 505:
		return stick.DataHTTPFailCnt, stick.DataHTTPFailRate, true
	}
	return 0, 0, false
}

// trackBytes adds the request's bytes to the entries of every slot; once
// the line is logged, releaseTracking ends the request's own tracking.
func (ex *exchange) trackBytes() {
	if !ex.tracks() {
		return
	}
	in, out := ex.log.bytesIn+ex.bodyIn.Load(), ex.log.bytesOut
	for slot := range acl.Slots {
		if e := ex.Tracked(slot); e != nil {
			addEntryBytes(e, in, out)
		}
	}
}

// releaseTracking lets go of the entries the request's own rules
// tracked, after its log line: as in HAProxy, the line still sees them.
func (ex *exchange) releaseTracking() {
	if !ex.tracks() {
		return
	}
	for i, e := range ex.strk.sc {
		if e != nil {
			e.Dec(stick.DataConnCur, 1)
			e.TouchRelease()
			ex.strk.sc[i] = nil
		}
	}
}

// track runs http-request track-scN: unless the slot is tracked already,
// the key expression's sample, converted to the table's key type, names
// the entry (created when absent) that the request tracks from now on,
// which counts it as a connection and the request as an HTTP request.
// No sample, or one that cannot be a key of the table, tracks nothing.
func (ex *exchange) track(r *httpRule) {
	if e := ex.trackSlot(r); e != nil {
		now := e.Table().Now()
		e.IncAt(stick.DataHTTPReqCnt, 1, now)
		e.IncAt(stick.DataHTTPReqRate, 1, now)
	}
}

// trackSlot starts the tracking of a track-sc rule, http-request's,
// http-response's or a content rule's: it returns the entry now tracked
// in the rule's slot, counted as a connection, or nil when the slot was
// tracked already or the rule found no key.
func (ex *exchange) trackSlot(r *httpRule) *stick.Entry {
	slot := r.cfg.Slot
	if ex.Tracked(slot) != nil {
		return nil
	}
	t := ex.Table(r.cfg.Table)
	if t == nil {
		return nil
	}
	smp, ok := r.expr(ex)
	if !ok {
		return nil
	}
	key, ok := acl.SampleKey(ex.strk.key[:0], t, smp)
	if !ok {
		return nil
	}
	ex.strk.key = key
	e, err := t.GetOrCreate(key)
	if err != nil {
		ex.hf.s.b.log.Debug("cannot track request", "table", t.Name(), "key", smp.String(), "err", err)
		return nil
	}
	e.StartConn()
	ex.strk.sc[slot] = e
	return e
}

// trackResponse is http-response track-sc: the entry is tracked as a
// request rule tracks it, and, as haproxy counts it then, the answer's
// status too, which the exchange counted before the response rules ran.
func (ex *exchange) trackResponse(r *httpRule) {
	e := ex.trackSlot(r)
	if e == nil {
		return
	}
	now := e.Table().Now()
	e.IncAt(stick.DataHTTPReqCnt, 1, now)
	e.IncAt(stick.DataHTTPReqRate, 1, now)
	if cnt, rate, ok := statusCounters(ex.resp.Status); ok {
		e.IncAt(cnt, 1, now)
		e.IncAt(rate, 1, now)
	}
}

// scAction runs sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, sc-inc-gpc and
// sc-set-gpt on the entry tracked in the rule's slot; nothing tracked
// there, nothing done.
func (ex *exchange) scAction(r *httpRule) {
	if e := ex.Tracked(r.cfg.Slot); e != nil {
		ex.strk.key = applySCAt(e, r.cfg.Action, r.cfg.Index, r.expr, ex, ex.strk.key)
	}
}

// applySCAt runs sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, sc-inc-gpc or
// sc-set-gpt on e: sc-inc-gpc counts on element idx of gpc and gpc_rate,
// sc-set-gpt sets element idx of gpt (an element the table lacks is left
// alone), the scalar actions (idx unused) land on the arrays' first
// elements on a table storing those instead, as in haproxy
// (stick.Table.Resolve). The value set is the last from expr's sample in
// ctx (an integer, the digits a string starts with, an IPv4 address as
// its 32 bits); key is scratch space for that address, returned for
// reuse.
func applySCAt(e *stick.Entry, action string, idx int64, expr acl.FetchFunc, ctx acl.Context, key []byte) []byte {
	t := e.Table()
	switch action {
	case "sc-inc-gpc0", "sc-inc-gpc1", "sc-inc-gpc":
		cnt, rate, i := stick.DataGPC, stick.DataGPCRate, idx
		if action != "sc-inc-gpc" {
			cnt, rate = stick.DataGPC0, stick.DataGPC0Rate
			if action == "sc-inc-gpc1" {
				cnt, rate = stick.DataGPC1, stick.DataGPC1Rate
			}
			var ci, ri int
			cnt, ci, _ = t.Resolve(cnt)
			rate, ri, _ = t.Resolve(rate)
			now := t.Now()
			e.IncElemAt(rate, ri, 1, now)
			e.IncElemAt(cnt, ci, 1, now)
			break
		}
		if i < 0 || i >= stick.MaxArrayLen {
			return key
		}
		now := t.Now()
		e.IncElemAt(rate, int(i), 1, now)
		e.IncElemAt(cnt, int(i), 1, now)
	case "sc-set-gpt0", "sc-set-gpt":
		dt, i := stick.DataGPT, int(idx)
		if action == "sc-set-gpt0" {
			dt, i, _ = t.Resolve(stick.DataGPT0)
		} else if idx < 0 || idx >= stick.MaxArrayLen {
			return key
		}
		smp, ok := expr(ctx)
		if !ok {
			return key
		}
		v := smp.Int
		switch smp.Type {
		case acl.TypeStr:
			if smp.Str == "" {
				return key
			}
			v, _ = strconv.ParseInt(leadingDigits(smp.Str), 10, 64)
		case acl.TypeIP:
			var ok bool
			key, ok = acl.SampleKey(key[:0], t, smp)
			if !ok || len(key) != 4 {
				return key
			}
			v = int64(key[0])<<24 | int64(key[1])<<16 | int64(key[2])<<8 | int64(key[3])
		}
		_ = e.SetElem(dt, i, v)
	}
	e.Touch()
	return key
}

// scValue compiles sc-set-gpt0's and sc-set-gpt's value: an integer, or a sample
// expression.
func scValue(v string, rs *acl.Refs) (acl.FetchFunc, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return func(acl.Context) (acl.Sample, bool) { return acl.Int(n), true }, nil
	}
	_, fn, err := rs.CompileFetch(v)
	return fn, err
}

// leadingDigits is the sign and digits s starts with, the integer a
// string sample reads as.
func leadingDigits(s string) string {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
