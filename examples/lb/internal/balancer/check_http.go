package balancer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HTTP health checks (option httpchk): a request on the check's
// connection, and the status line of the answer compared with http-check
// expect status, or any 2xx or 3xx by default, as HAProxy does.

// layer7Error is a failed HTTP check, worded as HAProxy words it.
type layer7Error struct{ reason string }

func (e *layer7Error) Error() string { return e.reason }

func layer7Reason(err error) (string, bool) {
	var l7 *layer7Error
	if errors.As(err, &l7) {
		return l7.reason, true
	}
	return "", false
}

// errCondPass is an HTTP check's 404 under "http-check disable-on-404":
// neither passed nor failed, it stops a running server (NOLB).
var errCondPass = errors.New("Layer7 check conditionally passed")

// checkPassed words a passed check: Layer7 for an HTTP check, Layer6
// for a TLS handshake, Layer4 for a bare connect.
func checkPassed(s *Server) string {
	if tc := s.be.cfg.TCPCheck; tc != nil {
		if tc.SSLHello {
			return "Layer6 check passed"
		}
		if p := s.checker.passReason(); p != "" {
			return p // a protocol check's, with what the server said
		}
		if last := lastTCPCheckAction(s.be.cfg.TCPCheckRules); last != nil {
			// As in HAProxy: an explicit connect as the last step passes
			// at its layer, anything else at Layer 7.
			if last.Action != config.TCPCheckConnect {
				return `Layer7 check passed, code: 0, info: "(tcp-check)"`
			}
			if last.SSL || (last.Default && s.checkTLS()) {
				return `Layer6 check passed, info: "(tcp-check)"`
			}
			return `Layer4 check passed, info: "(tcp-check)"`
		}
	}
	if hc := s.be.cfg.HTTP.Check; hc != nil && hc.Sequenced() {
		if last := hc.Rules[len(hc.Rules)-1]; last.Action == config.TCPCheckConnect && len(hc.Rules) > 1 {
			// As HAProxy: a connect that ends the rules passes at its
			// layer, as a tcp-check's does; the first one carries the
			// check's own request.
			if last.Connect.SSL || (last.Connect.Default && s.checkTLS()) {
				return `Layer6 check passed, info: "(tcp-check)"`
			}
			return `Layer4 check passed, info: "(tcp-check)"`
		}
	}
	switch {
	case s.be.cfg.HTTP.Check != nil:
		if p := s.checker.passReason(); p != "" {
			return p // worded by the expect rule (ok-status, on-success)
		}
		// As HAProxy: the answer's status, no text.
		return fmt.Sprintf("Layer7 check passed, code: %d", s.checker.httpCode())
	case s.checkTLS():
		return "Layer6 check passed"
	}
	return "Layer4 check passed"
}

// httpCheck sends the check request on c, reads the answer's head (and
// its body when a rule looks at it) and applies the expect rules. It
// returns the answer's status, which a passed check reports. soft404
// makes a 404 a conditional pass (disable-on-404, for a server not
// down).
func httpCheck(ctx context.Context, c xprt.Transport, hc *config.HTTPCheck, state string, soft404 bool) (int, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	// The balancer's stop ends a blocked exchange at once.
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })()
	req := checkRequest(hc, state)
	if _, err := io.WriteString(c, req); err != nil {
		return 0, &layer7Error{reason: `Layer4 connection problem, info: "` + err.Error() + `"`}
	}
	var (
		p    h1.Parser
		resp htx.Message
		buf  = make([]byte, 0, 4096)
		tmp  = make([]byte, 4096)
	)
	reqFlags := htx.FlagRequest
	if hc.Method == "HEAD" {
		reqFlags |= htx.FlagHead
	}
	// As HAProxy's, an answer that is not an HTTP response fails with no
	// more said, as soon as its first bytes show it.
	invalid := &layer7Error{reason: "Layer7 invalid response"}
	var head int
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if h, perr := p.ParseResponse(buf, &resp, reqFlags); perr == nil {
			head = h
			break
		} else if !errors.Is(perr, h1.ErrNeedMore) || !versionToken(buf) {
			return 0, invalid
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return 0, checkTimeout(hc)
			}
			return 0, invalid
		}
		if len(buf) > httpCheckMax {
			return 0, invalid
		}
	}
	return judgeHTTPCheck(hc, &resp, soft404, func() ([]byte, error) { return readCheckBody(c, buf[head:], &resp) })
}

// judgeHTTPCheck applies hc's expect rules to an answer whose head is
// resp, reading its body with body when a rule looks at it, and returns
// the answer's status, which a passed check reports. soft404 makes a 404
// a conditional pass (disable-on-404, for a server not down).
func judgeHTTPCheck(hc *config.HTTPCheck, resp *htx.Message, soft404 bool, readBody func() ([]byte, error)) (int, error) {
	if soft404 && resp.Status == 404 {
		// As in HAProxy, before the expect rules.
		return resp.Status, errCondPass
	}
	// fail words a failed rule e as HAProxy does: its error-status (else
	// st), its on-error text (else info) and its comment after "info:";
	// an HTTP/2 answer, which has no reason phrase, has no info without
	// them. error-status L7OKC makes it a conditional pass.
	fail := func(e config.HTTPExpect, st, info string) (int, error) {
		st = cmp.Or(e.ErrorStatus, st)
		if e.OnError != "" {
			info = e.OnError
		}
		if e.Comment != "" {
			info += " comment: " + e.Comment
		}
		reason := expectReason(st, resp.Status, info, info != "" || resp.Version != htx.Version20)
		if st == "L7OKC" {
			return resp.Status, &condPassError{reason: reason}
		}
		return 0, &layer7Error{reason: reason}
	}
	if len(hc.Expects) == 0 {
		if resp.Status < 200 || resp.Status >= 400 {
			return fail(config.HTTPExpect{}, "L7STS", string(resp.Reason()))
		}
		return resp.Status, nil
	}
	var body []byte
	for _, e := range hc.Expects {
		if e.Body() && body == nil {
			var err error
			if body, err = readBody(); err != nil {
				if r, ok := layer7Reason(err); ok && r == "Layer7 timeout" && e.ToutStatus != "" {
					return 0, &layer7Error{reason: expectStatusText[e.ToutStatus]}
				}
				return 0, err
			}
		}
		var match bool
		switch e.Kind {
		case "status":
			for _, r := range e.Statuses {
				match = match || (resp.Status >= r[0] && resp.Status <= r[1])
			}
		case "rstatus":
			match = e.Regexp.MatchString(strconv.Itoa(resp.Status))
		case "string":
			match = bytes.Contains(body, []byte(e.String))
		case "rstring":
			match = e.Regexp.Match(body)
		case "hdr", "fhdr":
			match = hdrMatches(resp, e)
		}
		if match == !e.Inverse {
			continue
		}
		switch {
		case !e.Body():
			return fail(e, "L7STS", string(resp.Reason()))
		case e.Inverse:
			return fail(e, "L7RSP", "HTTP check matched unwanted content")
		default:
			return fail(e, "L7RSP", "HTTP content check did not match")
		}
	}
	// The last rule's ok-status and on-success word the pass.
	last := hc.Expects[len(hc.Expects)-1]
	if last.OKStatus == "" && last.OnSuccess == "" {
		return resp.Status, nil
	}
	st := cmp.Or(last.OKStatus, "L7OK")
	reason := expectReason(st, resp.Status, last.OnSuccess, last.OnSuccess != "")
	if st == "L7OKC" {
		return resp.Status, &condPassError{reason: reason}
	}
	return resp.Status, &passReasonError{reason: reason}
}

// expectStatusText is how the check statuses an expect rule may report
// read in a check's reason.
var expectStatusText = map[string]string{
	"L7OK": "Layer7 check passed", "L7OKC": "Layer7 check conditionally passed", "L6OK": "Layer6 check passed",
	"L4OK": "Layer4 check passed", "L7RSP": "Layer7 invalid response", "L7STS": "Layer7 wrong status",
	"L6RSP": "Layer6 invalid response", "L4CON": "Layer4 connection problem", "L7TOUT": "Layer7 timeout",
	"L6TOUT": "Layer6 timeout", "L4TOUT": "Layer4 timeout",
}

// expectReason words a check's outcome as HAProxy does: the status's
// text, the answer's code for the statuses that carry one (L7OK, L7OKC,
// L7STS), and info when withInfo.
func expectReason(st string, code int, info string, withInfo bool) string {
	r := expectStatusText[st]
	switch st {
	case "L7OK", "L7OKC", "L7STS":
		r += ", code: " + strconv.Itoa(code)
	}
	if withInfo {
		r += `, info: "` + info + `"`
	}
	return r
}

// condPassError is a conditional pass (L7OKC) worded by an expect rule.
type condPassError struct{ reason string }

func (e *condPassError) Error() string        { return e.reason }
func (e *condPassError) Is(target error) bool { return target == errCondPass }

// passReasonError is a passed HTTP check whose expect rule words the
// pass itself (ok-status, on-success): not a failure.
type passReasonError struct{ reason string }

func (e *passReasonError) Error() string { return e.reason }

// checkTimeout is an HTTP check that had no answer in time, worded by
// the first expect rule's tout-status.
func checkTimeout(hc *config.HTTPCheck) error {
	if len(hc.Expects) > 0 && hc.Expects[0].ToutStatus != "" {
		return &layer7Error{reason: expectStatusText[hc.Expects[0].ToutStatus]}
	}
	return &layer7Error{reason: "Layer7 timeout"}
}

// checkRequest writes an HTTP check's request as HAProxy 2.6 puts it on
// the wire: the request line, the fields in order with lower-case names,
// X-Haproxy-Server-State under send-state, the body's
// length when there is one or the method is one that has a body, and
// for HTTP/1.1 "connection: close" unless a field names the connection
// already. HTTP/1.0 closes by default: nothing says so.
func checkRequest(hc *config.HTTPCheck, state string) string {
	var b strings.Builder
	version, v11 := checkVersion(hc.Version)
	b.WriteString(hc.Method + " " + hc.URI + " " + version + "\r\n")
	named := false
	field := func(name, value string) {
		named = named || name == "connection"
		b.WriteString(name + ": " + value + "\r\n")
	}
	eachCheckField(hc, state, field)
	switch hc.Method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		// No body expected: an empty one goes without a length.
		if hc.Body != "" {
			field("content-length", strconv.Itoa(len(hc.Body)))
		}
	default:
		field("content-length", strconv.Itoa(len(hc.Body)))
	}
	if v11 && !named {
		field("connection", "close")
	}
	b.WriteString("\r\n")
	b.WriteString(hc.Body)
	return b.String()
}

// eachCheckField calls field with the fields of hc's request in order,
// names in lower case and values trimmed: the configured ones, the host
// at its place among them, then X-Haproxy-Server-State under send-state.
func eachCheckField(hc *config.HTTPCheck, state string, field func(name, value string)) {
	f := func(name, value string) {
		field(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value))
	}
	for i, h := range hc.Headers {
		if i == hc.HostAt && hc.Host != "" {
			f("host", hc.Host)
		}
		f(h[0], h[1])
	}
	if hc.HostAt >= len(hc.Headers) && hc.Host != "" {
		f("host", hc.Host)
	}
	if state != "" {
		f("x-haproxy-server-state", state)
	}
}

// hdrMatches reports whether resp has a field as an hdr or fhdr expect
// rule e asks: a name that matches (names are compared in lower case)
// and, when the rule has a value pattern, a value that matches it, each
// comma-separated value for hdr, the whole one for fhdr.
func hdrMatches(resp *htx.Message, e config.HTTPExpect) bool {
	for i := 0; i < resp.NumFields(); i++ {
		name, value := resp.Field(i)
		if !e.Name.Match(strings.ToLower(string(name))) {
			continue
		}
		if e.Value == nil {
			return true
		}
		if e.Kind == "fhdr" {
			if e.Value.Match(strings.TrimSpace(string(value))) {
				return true
			}
			continue
		}
		for _, v := range strings.Split(string(value), ",") {
			if e.Value.Match(strings.TrimSpace(v)) {
				return true
			}
		}
	}
	return false
}

// checkVersion is the version an HTTP/1 check's request line carries for
// the configured one, and whether it is HTTP/1.1 (which then closes with
// a "connection: close" field), as HAProxy 2.6 writes them: a version of
// the form HTTP/x.y (any case) from 1.1 up goes out as HTTP/1.1, one
// below as written; "HTTP/2" goes out as HTTP/1.1 without the field; any
// other word as written.
func checkVersion(v string) (wire string, v11 bool) {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(v) == 8 && strings.EqualFold(v[:5], "HTTP/") && digit(v[5]) && v[6] == '.' && digit(v[7]) {
		if major, minor := v[5]-'0', v[7]-'0'; major > 1 || major == 1 && minor >= 1 {
			return "HTTP/1.1", true
		}
		return v, false
	}
	if v == "HTTP/2" {
		return "HTTP/1.1", false
	}
	return v, false
}

// httpCheckMax bounds what an HTTP check reads, as HAProxy's check
// buffer (tune.bufsize) does.
const httpCheckMax = 16384

// readCheckBody reads the answer's body after the head, up to its
// Content-Length, the end of the connection or httpCheckMax bytes, and
// returns what it got (never nil).
func readCheckBody(c xprt.Transport, have []byte, resp *htx.Message) ([]byte, error) {
	body := append(make([]byte, 0, len(have)), have...)
	want := int64(httpCheckMax)
	if resp.Flags&htx.FlagContentLength != 0 && resp.ContentLength < want {
		want = resp.ContentLength
	}
	tmp := make([]byte, 4096)
	for int64(len(body)) < want {
		n, err := c.Read(tmp)
		body = append(body, tmp[:n]...)
		if err != nil {
			if isTimeout(err) && int64(len(body)) < want && resp.Flags&htx.FlagContentLength != 0 {
				return nil, &layer7Error{reason: "Layer7 timeout"}
			}
			break
		}
	}
	if int64(len(body)) > want {
		body = body[:want]
	}
	return body, nil
}

// versionToken reports whether b may begin a status line: its bytes up
// to the first space are visible ASCII characters.
func versionToken(b []byte) bool {
	for _, c := range b {
		if c == ' ' {
			return true
		}
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// stateHeader is the X-Haproxy-Server-State value of http-check
// send-state, as haproxy writes it: the state with the health counts
// while they move ("UP 1/3" is one failure from going down), the
// server's address, port and name, the node, its effective weight over
// its backend's, its connections over those the backend has assigned,
// and its queue.
func (s *Server) stateHeader(node string) string {
	b := s.be
	b.mu.Lock()
	up, health, drain, off := s.up, s.health, s.draining() || s.stopping, s.checkOff
	weight, total := s.eweight, 0
	for _, x := range b.candidates() {
		total += x.eweight
	}
	cur, assigned, queued := s.cur, b.conns, len(s.queue)
	b.mu.Unlock()
	rise, fall := s.cfg.Rise, s.cfg.Fall
	var st string
	switch {
	case off:
		st = "no check"
	case up:
		word := "UP"
		if drain {
			word = "NOLB"
		}
		st = word
		if health != rise+fall-1 {
			st = fmt.Sprintf("%s %d/%d", word, health-rise+1, fall)
		}
	case health > 0:
		st = fmt.Sprintf("DOWN %d/%d", health, rise)
	default:
		st = "DOWN"
	}
	host, port := s.address(), ""
	if ap, err := netip.ParseAddrPort(host); err == nil {
		host, port = ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	} else if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	return fmt.Sprintf("%s; address=%s; port=%s; name=%s/%s; node=%s; weight=%d/%d; scur=%d/%d; qcur=%d",
		st, host, port, b.cfg.Name, s.cfg.Name, node, displayWeight(weight), displayWeight(total), cur, assigned, queued)
}
