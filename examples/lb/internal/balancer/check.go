package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// checker runs connect-only (Layer 4) health checks on one server every
// inter, counting rise and fall as HAProxy does: health runs from 0 to
// rise+fall-1; a server starts up at health rise (so one failure at start
// takes it down), and once up a failure only takes it down after fall
// consecutive ones.
type checker struct {
	s    *Server
	dial func(ctx context.Context, s *Server) (net.Conn, error)
	// ext, for option external-check, runs the check's command instead
	// of dial: its exit status, or errExtTimeout.
	ext func(ctx context.Context) (int, error)
	// spread is spread-checks: the percentage by which each interval
	// moves at random.
	spread int

	// errors counts consecutive failed connects (observe layer4); hurry
	// asks run for a check within fastinter (on-error fastinter).
	errors atomic.Int32
	hurry  chan struct{}

	// running is set while a check is in progress: the statistics mark
	// its status with "* ", as HAProxy's do.
	running atomic.Bool

	mu     sync.Mutex
	status string // HAProxy's check_status of the last check: L4OK, L6RSP...
	code   int    // the status the last passed HTTP check's answer had
	reason string // the last check's outcome as the logs word it
	dur    time.Duration
	// pass is how the last passed protocol check (smtpchk) words its
	// success, with the server's answer.
	pass string
}

func (c *checker) setPassReason(r string) {
	c.mu.Lock()
	c.pass = r
	c.mu.Unlock()
}

func (c *checker) passReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pass
}

func (c *checker) setHTTPCode(code int) {
	c.mu.Lock()
	c.code = code
	c.mu.Unlock()
}

func (c *checker) httpCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// CheckStatus is the outcome of the server's last health check as
// HAProxy's check_status field words it: L4OK, L6OK or L7OK when it
// passed, L4CON or L4TOUT when the TCP connect failed, L6RSP or L6TOUT
// when the TLS handshake did, L7RSP, L7STS or L7TOUT when the HTTP check
// or the tcp-check rules did, SOCKERR when a tcp-check's connection
// failed after it was up, HANA when observe layer4 failed the server,
// PROCOK, PROCERR or PROCTOUT for an external check's command. It
// is "" for a server without checks or before its first check.
func (s *Server) CheckStatus() string {
	c := s.checker
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// setStatus records the check's status, its reason and how long it
// took (negative: no check ran), and reports whether the status changed.
func (c *checker) setStatus(reason string, dur time.Duration) bool {
	code := statusCode(reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.status != code
	c.status, c.reason = code, reason
	if dur >= 0 {
		c.dur = dur
	}
	return changed
}

// checkReport is the last check as the statistics show it.
type checkReport struct {
	status string        // check_status
	code   int           // check_code: the HTTP status, 0 for none
	dur    time.Duration // check_duration
	desc   string        // check_desc: "Layer4 connection problem"
	info   string        // last_chk: the detail, "Connection refused"
}

// report splits the last check's reason into the statistics' columns.
func (c *checker) report() checkReport {
	c.mu.Lock()
	r := checkReport{status: c.status, dur: c.dur}
	reason := c.reason
	c.mu.Unlock()
	if c.running.Load() && r.status != "" {
		// In progress: HAProxy marks the last status and has cleared
		// the detail.
		r.status = "* " + r.status
		reason, _, _ = strings.Cut(reason, ", ")
	}
	r.desc = reason
	if i := strings.Index(reason, ", "); i >= 0 {
		r.desc = reason[:i]
	}
	if i := strings.Index(reason, `info: "`); i >= 0 {
		r.info = strings.TrimSuffix(reason[i+len(`info: "`):], `"`)
	}
	if i := strings.Index(reason, "code: "); i >= 0 {
		rest := reason[i+len("code: "):]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		r.code, _ = strconv.Atoi(rest[:n])
	}
	return r
}

// logCheck writes option log-health-checks' line for a check that moved
// the server's health or changed its status, as HAProxy words it; health
// is the server's after the check, and a negative dur marks a failure no
// check timed.
func (c *checker) logCheck(passed, report bool, reason string, dur time.Duration, health int) {
	s, b := c.s, c.s.be
	if !report || !b.cfg.Options.LogHealthChecks {
		return
	}
	kind, outcome := "server", "failed"
	if s.cfg.Backup {
		kind = "backup server"
	}
	switch {
	case passed && strings.HasPrefix(reason, "Layer7 check conditionally passed"):
		outcome = "conditionally succeeded"
	case passed:
		outcome = "succeeded"
	}
	n, of, state := health, s.cfg.Rise, "DOWN"
	if health >= s.cfg.Rise {
		n, of, state = health-s.cfg.Rise+1, s.cfg.Fall, "UP"
		if s.weight == 0 {
			state = "DRAIN"
		}
	}
	took := fmt.Sprintf(", check duration: %dms", dur.Milliseconds())
	if dur < 0 {
		took = "" // no check ran (observe), as HAProxy leaves it out
	}
	b.logs.event(levelNotice, fmt.Sprintf("Health check for %s %s/%s %s, reason: %s%s, status: %d/%d %s.",
		kind, b.cfg.Name, s.cfg.Name, outcome, reason, took, n, of, state))
}

// statusCode maps a check's reason to its check_status code: the
// statuses an expect rule may report (expectStatusText), and the others.
// No status's text begins another's.
func statusCode(reason string) string {
	for code, text := range expectStatusText {
		if strings.HasPrefix(reason, text) {
			return code
		}
	}
	for _, m := range [...]struct{ prefix, code string }{
		{"Socket error", "SOCKERR"},
		{"Health analyze", "HANA"},
		{"External check passed", "PROCOK"},
		{"External check error", "PROCERR"},
		{"External check timeout", "PROCTOUT"},
	} {
		if strings.HasPrefix(reason, m.prefix) {
			return m.code
		}
	}
	return "UNK"
}

// layer6Error is a check whose TCP connect went through but whose
// transport handshake (TLS) failed: HAProxy's Layer6 failures.
type layer6Error struct{ err error }

func (e *layer6Error) Error() string { return e.err.Error() }
func (e *layer6Error) Unwrap() error { return e.err }

// handshakeWatch tells, after a failed dial, whether the TCP connect had
// gone through and a transport other than raw was being set up.
type handshakeWatch struct{ name string }

// watchHandshake makes d note the transport it builds: the dialer builds
// it once the socket is connected, so a failure after that is the
// transport handshake's.
func watchHandshake(d *conn.Dialer) *handshakeWatch {
	w := &handshakeWatch{}
	tf := d.Transport
	if tf == nil {
		tf = conn.RawTransport
	}
	d.Transport = func(sock net.Conn) (xprt.Transport, error) {
		t, err := tf(sock)
		if err == nil {
			w.name = t.Name()
		}
		return t, err
	}
	return w
}

// classify wraps a dial error that came from the TLS handshake.
func (w *handshakeWatch) classify(err error) error {
	if err != nil && w.name != "" && w.name != "raw" {
		return &layer6Error{err: err}
	}
	return err
}

func (c *checker) run(ctx context.Context, first time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	next := time.Now().Add(first)
	// warm ticks once a second while the server warms up (slowstart).
	warm := time.NewTimer(time.Hour)
	warm.Stop()
	defer warm.Stop()
	warming := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-warm.C:
			if warming = c.s.be.warmup(c.s); warming {
				warm.Reset(time.Second)
			}
			continue
		case <-c.hurry:
			// on-error fastinter: the next check within fastinter.
			if d := c.s.cfg.FastInter; d > 0 && time.Until(next) > d {
				t.Reset(d)
				next = time.Now().Add(d)
			}
			continue
		case <-t.C:
		}
		c.once(ctx)
		if !warming && c.s.warming() {
			warming = true
			warm.Reset(time.Second)
		}
		d := spread(c.interval(), c.spread)
		t.Reset(d)
		next = time.Now().Add(d)
	}
}

// spread moves interval d by up to pct percent either way, at random, as
// HAProxy's spread-checks does to each check's next date.
func spread(d time.Duration, pct int) time.Duration {
	if pct <= 0 {
		return d
	}
	r := d * time.Duration(pct) / 100
	return d + r - time.Duration(rand.Int64N(int64(2*r)+1))
}

// What "observe" watches in live traffic, HAProxy's HANA_STATUS_*: a
// connect that worked or failed, and under layer7 the server's answer.
const (
	obsL4OK = iota
	obsL4Err
	obsHTTPOK      // a status below 500, or 501 or 505
	obsHTTPStatus  // any other 5xx
	obsHTTPHeaders // an answer that does not parse
	obsReadError
	obsReadTimeout
	obsClosed // the server closed before it answered
)

// observations name them as haproxy's logs do, with what each means to
// observe layer4 and to layer7: 0 nothing, 1 an error, 2 a success that
// clears the count.
var observations = [...]struct {
	desc   string
	l4, l7 int8
}{
	obsL4OK:        {"L4 successful connection", 2, 0},
	obsL4Err:       {"L4 unsuccessful connection", 1, 1},
	obsHTTPOK:      {"Correct http response", 0, 2},
	obsHTTPStatus:  {"Wrong http response", 0, 1},
	obsHTTPHeaders: {"Invalid http response (headers)", 0, 1},
	obsReadError:   {"Read error (http)", 0, 1},
	obsReadTimeout: {"Read timeout (http)", 0, 1},
	obsClosed:      {"Close from server (http)", 0, 1},
}

// observe counts a connection to s for "observe", when the server has
// it and checks.
func (s *Server) observe(failed bool) {
	what := obsL4OK
	if failed {
		what = obsL4Err
	}
	s.observeEvent(what)
}

// observeEvent counts one thing "observe" watches.
func (s *Server) observeEvent(what int) {
	if s.cfg.Observe == "" || s.checker == nil {
		return
	}
	o := observations[what]
	effect := o.l4
	if s.cfg.Observe == "layer7" {
		effect = o.l7
	}
	switch effect {
	case 1:
		s.checker.observed(true, o.desc)
	case 2:
		s.checker.observed(false, "")
	}
}

// observeHTTP counts a server's answer (status > 0) or its failure to
// answer for "observe layer7".
func (s *Server) observeHTTP(status int, err error) {
	if s == nil || s.cfg.Observe != "layer7" {
		return
	}
	switch {
	case err == nil && (status < 500 || status == 501 || status == 505):
		s.observeEvent(obsHTTPOK)
	case err == nil:
		s.observeEvent(obsHTTPStatus)
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.observeEvent(obsReadTimeout)
	case errors.Is(err, h1.ErrMalformed):
		s.observeEvent(obsHTTPHeaders)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		s.observeEvent(obsClosed)
	default:
		s.observeEvent(obsReadError)
	}
}

// observed counts what "observe" watches: an error (last names it) adds
// to the consecutive errors, a success clears them. At error-limit the
// server's on-error action runs, as HAProxy's "Health analyze" does.
func (c *checker) observed(failed bool, last string) {
	s := c.s
	if !failed {
		c.errors.Store(0)
		return
	}
	n := c.errors.Add(1)
	if int(n) < s.cfg.ErrorLimit || !c.errors.CompareAndSwap(n, 0) {
		return
	}
	reason := fmt.Sprintf(`Health analyze, info: "Detected %d consecutive errors, last one was: %s"`, n, last)
	switch s.cfg.OnError {
	case "fastinter":
		select {
		case c.hurry <- struct{}{}:
		default:
		}
		return
	case "mark-down":
		s.be.mu.Lock()
		s.health = s.cfg.Rise
		s.be.mu.Unlock()
	case "sudden-death":
		s.be.mu.Lock()
		if s.health > s.cfg.Rise {
			s.health = s.cfg.Rise + 1
		}
		s.be.mu.Unlock()
	}
	c.failureReason(reason, -1)
}

// interval is the time to the next check, as HAProxy's: inter while the
// server is fully up, downinter while fully down, fastinter in between;
// each unset one is inter.
func (c *checker) interval() time.Duration {
	s := c.s
	cfg := s.cfg
	s.be.mu.Lock()
	up, health := s.up, s.health
	s.be.mu.Unlock()
	down := !up && health == 0
	switch {
	case up && health == cfg.Rise+cfg.Fall-1:
		return cfg.Inter
	case down && cfg.DownInter > 0:
		return cfg.DownInter
	case !down && cfg.FastInter > 0:
		return cfg.FastInter
	}
	return cfg.Inter
}

func (c *checker) once(ctx context.Context) {
	s := c.s
	// A server in maintenance is not checked, as in HAProxy; leaving it
	// starts the checks again. Nor is one whose checks "disable health"
	// stopped.
	s.be.mu.Lock()
	skip := s.inMaint() || s.rmaint || s.checkOff
	s.be.mu.Unlock()
	if skip {
		return
	}
	// Without timeout check, inter bounds the whole check; an external
	// check's command has inter to run whatever timeout check says, as
	// in HAProxy 2.6.
	timeout := s.cfg.Inter
	if t := s.be.cfg.Timeouts.Check; t > 0 && c.ext == nil {
		ph := checkPhases{connect: s.cfg.Inter, check: t}
		if ct := s.be.cfg.Timeouts.Connect; ct > 0 && ct < ph.connect {
			ph.connect = ct
		}
		timeout = ph.connect + ph.check
		ctx = context.WithValue(ctx, checkPhasesKey{}, ph)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	c.running.Store(true)
	defer c.running.Store(false)
	if c.ext != nil {
		code, err := c.ext(cctx)
		cancel()
		if ctx.Err() == nil {
			c.extOutcome(code, err, time.Since(start))
		}
		return
	}
	conn, err := c.dial(cctx, s)
	cancel()
	dur := time.Since(start)
	if ctx.Err() != nil {
		if conn != nil {
			closeCheck(conn)
		}
		return
	}
	if err == nil {
		closeCheck(conn)
		c.success(dur)
		return
	}
	if errors.Is(err, errCondPass) {
		var cp *condPassError
		reason := ""
		if errors.As(err, &cp) {
			reason = cp.reason
		}
		c.condPass(reason, dur)
		return
	}
	c.failure(err, dur)
}

// checkPhases are a check's bounds when timeout check is set, as HAProxy
// applies them: the connection (TCP, SOCKS4, PROXY header, TLS) has
// min(inter, timeout connect) to come up, then the exchange has timeout
// check, counted from there.
type checkPhases struct{ connect, check time.Duration }

type checkPhasesKey struct{}

// connectCtx bounds a check's connect by its phase, when it has one.
func connectCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if ph, ok := ctx.Value(checkPhasesKey{}).(checkPhases); ok {
		return context.WithTimeout(ctx, ph.connect)
	}
	return ctx, func() {}
}

// afterConnect is the context of a check's exchange once its connection
// is up: timeout check from now, when set (else the check's own bound
// goes on).
func afterConnect(ctx context.Context) (context.Context, context.CancelFunc) {
	if ph, ok := ctx.Value(checkPhasesKey{}).(checkPhases); ok {
		return context.WithTimeout(ctx, ph.check)
	}
	return ctx, func() {}
}

// closeCheck ends a check's connection once the check has its answer. As
// in HAProxy, it resets the connection (SO_LINGER 0) rather than closing
// it: a check every few seconds per server would otherwise leave a socket
// in TIME_WAIT on the balancer's side for each.
func closeCheck(c net.Conn) {
	if a, ok := c.(interface{ Abort() error }); ok {
		_ = a.Abort()
		return
	}
	_ = c.Close()
}

func (c *checker) success(dur time.Duration) {
	s, b := c.s, c.s.be
	c.errors.Store(0) // as in HAProxy, a passed check clears observe's count
	max := s.cfg.Rise + s.cfg.Fall - 1
	b.mu.Lock()
	wasUp, before := s.up, s.health
	if s.health < max {
		s.health++
		// As in HAProxy, health at rise or above is fully up at once.
		if s.health >= s.cfg.Rise {
			s.health = max
		}
	}
	// As in HAProxy, an agent that said the server is down keeps it down
	// until it says up. A stopping server (NOLB) runs again at once.
	goUp := (!wasUp || s.stopping) && s.health >= s.cfg.Rise && s.agentLetsUp()
	health := s.health
	b.mu.Unlock()
	reason := checkPassed(s)
	changed := c.setStatus(reason, dur)
	c.logCheck(true, changed || health != before, reason, dur, health)
	if goUp {
		b.setState(s, true, reason, dur)
	}
}

// condPass counts a check conditionally passed (a 404 under http-check
// disable-on-404, an expect rule's L7OKC), worded reason or by default,
// as HAProxy does: as a pass, except that it cannot make
// the first step up from 0; a server whose health is then up stops
// taking new clients (NOLB, "is stopping").
func (c *checker) condPass(reason string, dur time.Duration) {
	s, b := c.s, c.s.be
	c.errors.Store(0)
	if reason == "" {
		reason = fmt.Sprintf("Layer7 check conditionally passed, code: %d", c.httpCode())
	}
	changed := c.setStatus(reason, dur)
	max := s.cfg.Rise + s.cfg.Fall - 1
	b.mu.Lock()
	before := s.health
	if s.health < max && s.health > 0 {
		s.health++
		if s.health >= s.cfg.Rise {
			s.health = max
		}
	}
	health := s.health
	stop := health >= s.cfg.Rise && !s.stopping
	b.mu.Unlock()
	c.logCheck(true, changed || health != before, reason, dur, health)
	if stop {
		b.setStopping(s, fmt.Sprintf(", reason: %s, check duration: %dms", reason, dur.Milliseconds()))
	}
}

func (c *checker) failure(err error, dur time.Duration) {
	c.failureReason(checkReason(err), dur)
}

// failureReason counts a failed check worded reason; a negative dur is a
// failure no check timed (observe), whose state change names no duration.
func (c *checker) failureReason(reason string, dur time.Duration) {
	s, b := c.s, c.s.be
	changed := c.setStatus(reason, dur)
	b.mu.Lock()
	goDown, before := false, s.health
	if s.up {
		s.chkFail++
	}
	if s.health > s.cfg.Rise {
		s.health--
	} else {
		goDown = s.up
		s.health = 0
	}
	health := s.health
	b.mu.Unlock()
	c.logCheck(false, changed || health != before, reason, dur, health)
	if goDown {
		b.setState(s, false, reason, dur)
	}
}

// checkReason words a failed check as HAProxy does.
func checkReason(err error) string {
	if r, ok := layer7Reason(err); ok {
		return r
	}
	if r, ok := socks4Reason(err); ok {
		return r
	}
	var l6 *layer6Error
	if errors.As(err, &l6) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return "Layer6 timeout"
		}
		return `Layer6 invalid response, info: "SSL handshake failure"`
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "Layer4 timeout"
	}
	return `Layer4 connection problem, info: "` + strerror(err) + `"`
}

// socks4Reason words a check's failed SOCKS4 handshake (check-via-socks4)
// as HAProxy does: a "Socket error" naming what went wrong, or, for a
// proxy that does not answer in time, a Layer7 timeout, HAProxy taking
// the connection as made once its request is sent.
func socks4Reason(err error) (string, bool) {
	if !errors.Is(err, conn.ErrSOCKS4) {
		return "", false
	}
	var refused *conn.SOCKS4Error
	var errno syscall.Errno
	info := "SOCKS4 Proxy read error during handshake"
	switch {
	case errors.Is(err, syscall.EINVAL):
		// A server a SOCKS4 request cannot name (IPv6): HAProxy's socket
		// of the server's family fails to connect to the proxy.
		return `Layer4 connection problem, info: "General socket error (Invalid argument)"`, true
	case errors.As(err, &refused):
		info = "SOCKS4 Proxy deny the request"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "Layer7 timeout", true
	case errors.As(err, &errno):
		info = "SOCKS4 Proxy handshake aborted by server"
	}
	return `Socket error, info: "` + info + `"`, true
}

// strerror words an I/O error as C's strerror does, as HAProxy's check
// messages show it: the system error's text with a capital, or the error
// itself.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno.Error() == "" {
		return err.Error()
	}
	info := errno.Error()
	return strings.ToUpper(info[:1]) + info[1:]
}
