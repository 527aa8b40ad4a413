package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The capture slots capture rules fill ("declare capture", "http-request
// capture", "http-response capture") and "http-request set-timeout", with
// HAProxy 2.6's words and checks.

func init() {
	proxyKeywords["declare"] = proxyKeyword{KindFrontend, parseDeclare}
	finishers = append(finishers, (*parser).validateCaptureIDs)
}

// parseDeclare reads "declare capture request|response len <length>",
// which reserves a capture slot in the frontend for capture rules.
func parseDeclare(p *parser, px *Proxy, a []string) error {
	switch {
	case len(a) == 0 || a[0] == "":
		return errors.New("'declare' needs a second keyword that specify the type of declaration ('capture')")
	case a[0] != "capture":
		return fmt.Errorf("unknown declaration type '%s' (supports 'capture')", a[0])
	case len(a) < 2 || a[1] != "request" && a[1] != "response":
		return errors.New("'declare capture' requires a direction ('request' or 'response')")
	case len(a) < 3 || a[2] != "len":
		return errors.New("'declare capture' requires a capture length ('len')")
	case len(a) < 4 || a[3] == "":
		return errors.New("'declare capture': 'len' requires a numeric value that represents the capture length")
	}
	n, err := strconv.ParseInt(strings.TrimLeft(a[3], " \t"), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("'declare capture': cannot parse the length '%s'", a[3])
	}
	if n <= 0 {
		return errors.New("length must be > 0")
	}
	if n > math.MaxInt32 {
		return fmt.Errorf("'declare capture': length '%s' is too large (at most %d)", a[3], math.MaxInt32)
	}
	if len(a) > 4 {
		// HAProxy reads no further, and says nothing.
		a = a[:4]
	}
	c := HeaderCapture{Len: int(n)}
	if a[1] == "request" {
		px.HTTP.CaptureRequest = appendOwn(px.HTTP.CaptureRequest, c)
	} else {
		px.HTTP.CaptureResponse = appendOwn(px.HTTP.CaptureResponse, c)
	}
	return nil
}

// parseCaptureRule reads the words after "capture" of an http-request
// rule (req: "<sample> len <length>" or "<sample> id <id>") or of an
// http-response or http-after-response rule ("<sample> id <id>"). The
// "len" form reserves the proxy's next request slot, which needs a
// frontend; an "id" is checked against the slots once the whole
// configuration is read (validateCaptureIDs), as slots may be declared
// after the rule.
func parseCaptureRule(r HTTPRule, px *Proxy, a []string, req bool) (HTTPRule, error) {
	if len(a) < 3 || a[0] == "" || a[1] == "" || a[2] == "" {
		if req {
			return r, errors.New("'capture' expects <expression> [ 'len' <length> | id <idx> ]")
		}
		return r, errors.New("'capture' expects <expression> id <idx>")
	}
	if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(a[0]); err != nil {
		return r, fmt.Errorf("'capture': %w", err)
	}
	if src := unavailableSource(a[0], req); src != "" {
		return r, fmt.Errorf("'capture': fetch method '%s' extracts information from '%s', none of which is available here", a[0], src)
	}
	r.Value = a[0]
	reserve := 0
	switch {
	case req && a[1] == "len":
		if !px.Kind.IsFrontend() {
			return r, fmt.Errorf("'capture': proxy '%s' has no frontend capability", px.Name)
		}
		if reserve = atoi(a[2]); reserve <= 0 {
			return r, errors.New("'capture': length must be > 0")
		}
	case a[1] == "id":
		id, err := strconv.ParseInt(strings.TrimLeft(a[2], " \t"), 10, 32)
		if err != nil {
			return r, fmt.Errorf("'capture': cannot parse id '%s'", a[2])
		}
		r.Slot = int(id)
	case req:
		return r, fmt.Errorf("'capture': expects 'len' or 'id', found '%s'", a[1])
	default:
		return r, fmt.Errorf("'capture': expects 'id', found '%s'", a[1])
	}
	if len(a) > 3 {
		return r, fmt.Errorf("'capture': unexpected '%s' (expects 'if' or 'unless' followed by a condition)", a[3])
	}
	if reserve > 0 {
		r.Slot = len(px.HTTP.CaptureRequest)
		px.HTTP.CaptureRequest = appendOwn(px.HTTP.CaptureRequest, HeaderCapture{Len: reserve})
	}
	return r, nil
}

// atoi reads a length as C's atoi does: blanks, a sign, then the digits
// up to the first other character (none: 0).
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n = n*10 + int(s[i]-'0'); n > math.MaxInt32 {
			return 0 // as good as no length
		}
	}
	if neg {
		return -n
	}
	return n
}

// requestOnly and responseOnly name the fetches HAProxy keeps to one
// direction, with the source it names when refusing them on the other
// side (a capture rule's sample is checked so).
var (
	requestOnly = map[string]string{
		"req.hdr": "HTTP request headers", "req.fhdr": "HTTP request headers",
		"hdr_cnt": "HTTP request headers", "req.hdr_cnt": "HTTP request headers", "req.fhdr_cnt": "HTTP request headers",
		"path": "HTTP request headers", "url": "HTTP request headers", "url_param": "HTTP request headers",
		"base": "HTTP request headers", "query": "HTTP request headers",
		"req.ver": "HTTP request headers", "req_ver": "HTTP request headers",
		"cook": "HTTP request headers", "req.cook": "HTTP request headers",
		"cook_cnt": "HTTP request headers", "req.cook_cnt": "HTTP request headers",
		"http_auth": "HTTP request headers", "http_auth_group": "HTTP request headers",
		"http_auth_user": "HTTP request headers", "http_auth_pass": "HTTP request headers",
		"req.len": "request buffer", "req_len": "request buffer",
		"req.ssl_hello_type": "request buffer", "req_ssl_hello_type": "request buffer",
		"req.ssl_sni": "request buffer", "req_ssl_sni": "request buffer",
		"req.rdp_cookie": "request buffer", "rdp_cookie": "request buffer",
		"req.rdp_cookie_cnt": "request buffer", "rdp_cookie_cnt": "request buffer",
	}
	responseOnly = map[string]string{
		"status":  "HTTP response",
		"res.hdr": "HTTP response headers", "shdr": "HTTP response headers",
		"res.fhdr": "HTTP response headers", "res.hdr_cnt": "HTTP response headers", "shdr_cnt": "HTTP response headers",
		"res.ver": "HTTP response headers", "resp_ver": "HTTP response headers",
	}
)

// unavailableSource returns the source of expr's fetch when that fetch
// reads the other direction than a rule of side req sees, "" when it
// may be used there.
func unavailableSource(expr string, req bool) string {
	name, _, _ := strings.Cut(expr, ",")
	name, _, _ = strings.Cut(name, "(")
	if req {
		return responseOnly[name]
	}
	return requestOnly[name]
}

// parseSetTimeout reads the words after "set-timeout" of an http-request
// rule: "server|tunnel <time>" or "server|tunnel <expr>", the expression
// giving milliseconds. The timeouts it overrides are a backend's, so the
// proxy must be able to be one.
func parseSetTimeout(r HTTPRule, px *Proxy, a []string) (HTTPRule, error) {
	if len(a) < 2 || a[0] == "" || a[1] == "" {
		return r, errors.New("'set-timeout' expects exactly 2 arguments")
	}
	if len(a) > 2 {
		return r, fmt.Errorf("'set-timeout': unexpected '%s' (expects 'if' or 'unless' followed by a condition)", a[2])
	}
	if !px.Kind.IsBackend() {
		return r, fmt.Errorf("'set-timeout': proxy '%s' has no backend capability", px.Name)
	}
	if a[0] != "server" && a[0] != "tunnel" {
		return r, fmt.Errorf("'set-timeout' rule supports 'server'/'tunnel' (got '%s')", a[0])
	}
	r.Name = a[0]
	d, err := ParseTime(a[1])
	switch {
	case err == nil && d == 0:
		return r, fmt.Errorf("null value is not valid for a 'set-timeout %s' rule", r.Name)
	case err == nil && d < time.Millisecond:
		return r, fmt.Errorf("timer underflow in argument '%s' to rule 'set-timeout %s' (minimum value is 1 ms)", a[1], r.Name)
	case err == nil:
		r.Timeout = d.Truncate(time.Millisecond)
		return r, nil
	case strings.Contains(err.Error(), "too large"):
		return r, fmt.Errorf("timer overflow in argument '%s' to rule 'set-timeout %s' (maximum value is 2147483647 ms or ~24.8 days)", a[1], r.Name)
	}
	// Not a time: a sample expression.
	if _, _, ferr := px.ACLs.Refs.CheckView().CompileFetch(a[1]); ferr != nil {
		return r, fmt.Errorf("unexpected character '%c' in rule 'set-timeout %s' (neither a time nor a sample expression: %v)", badTimeChar(a[1]), r.Name, ferr)
	}
	r.Value = a[1]
	return r, nil
}

// badTimeChar is the first character of s a time cannot hold: after the
// digits and a unit (us, ms, s, m, h, d).
func badTimeChar(s string) byte {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		for _, u := range []string{"us", "ms", "s", "m", "h", "d"} {
			if strings.HasPrefix(s[i:], u) {
				i += len(u)
				break
			}
		}
	}
	if i >= len(s) {
		return s[len(s)-1]
	}
	return s[i]
}

// validateCaptureIDs checks the slot every "capture ... id" rule of a
// frontend names exists, once every slot is declared; a backend's rules
// name the slots of whichever frontend hands it a request, unknown here.
func (p *parser) validateCaptureIDs() {
	for _, px := range p.cfg.Proxies {
		if !px.Kind.IsFrontend() {
			continue
		}
		check := func(rules []HTTPRule, slots int, kw string) {
			for i := range rules {
				r := &rules[i]
				// A negative id passes, as in HAProxy, and names no slot.
				if r.Action != "capture" || r.Slot < slots {
					continue
				}
				p.pos = r.Pos
				p.errorf(kw, ErrReference, "%s '%s': unable to find capture id '%d' referenced by %s capture rule", px.Kind, px.Name, r.Slot, kw)
			}
		}
		check(px.HTTP.RequestRules, len(px.HTTP.CaptureRequest), "http-request")
		check(px.HTTP.ResponseRules, len(px.HTTP.CaptureResponse), "http-response")
		check(px.HTTP.AfterResponseRules, len(px.HTTP.CaptureResponse), "http-after-response")
	}
}
