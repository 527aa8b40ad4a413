package balancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The agent check (server option "agent-check"), as HAProxy 2.6 runs it:
// every agent-inter a TCP connection to the agent sends agent-send, if
// any, and reads one line whose words set the server's weight, maxconn,
// administrative state (ready, drain, maint) and operational state (up,
// down, stopped, fail). Failing to reach the agent, or an answer it
// cannot read, changes nothing but the agent's own status.

// agentMaxLine is how much of an agent's answer is read looking for the
// end of its line: HAProxy's check buffer, tune.bufsize.
const agentMaxLine = 16384

// The agent's check statuses, as HAProxy's agent_status words them.
const (
	agentINI     = "INI"     // no agent check has ended yet
	agentChecked = "CHECKED" // an answer without a health word
	agentL4TOUT  = "L4TOUT"
	agentL4CON   = "L4CON"
	agentSOCKERR = "SOCKERR"
	agentL7TOUT  = "L7TOUT"
	agentL7RSP   = "L7RSP"
	agentL7OK    = "L7OK"  // "up"
	agentL7STS   = "L7STS" // "down", "stopped", "fail"
)

// agentStatusDesc is each status's agent_desc, HAProxy's description.
var agentStatusDesc = map[string]string{
	agentINI:     "Initializing",
	agentChecked: "No status change",
	agentL4TOUT:  "Layer4 timeout",
	agentL4CON:   "Layer4 connection problem",
	agentSOCKERR: "Socket error",
	agentL7TOUT:  "Layer7 timeout",
	agentL7RSP:   "Layer7 invalid response",
	agentL7OK:    "Layer7 check passed",
	agentL7STS:   "Layer7 wrong status",
}

// agentResult is what a status does to the agent's health.
type agentResult int

const (
	agentNeutral agentResult = iota // CHECKED, INI: nothing
	agentFailed
	agentPassed
)

func agentResultOf(status string) agentResult {
	switch status {
	case agentL7OK:
		return agentPassed
	case agentChecked, agentINI:
		return agentNeutral
	}
	return agentFailed
}

// agentHasCode reports whether HAProxy shows a code with the status (its
// statuses past L57DATA): the agent's is always 0.
func agentHasCode(status string) bool { return status == agentL7OK || status == agentL7STS }

// agent runs a server's agent check. Its health runs from 0 to 1 (HAProxy's
// agent rise and fall are both 1): 0 once the agent said down, stopped
// or fail, 1 again once it says up.
type agent struct {
	s *Server
	// port and addr are where the agent listens: addr "" for the check's
	// address, else the server's, which "set server addr" may change.
	port  int
	addr  string
	send  []byte
	inter time.Duration
	// spread is spread-checks: the percentage by which each interval
	// moves at random.
	spread int

	// running is set while a check is in progress: the statistics mark
	// its status with "* " and show no detail, as HAProxy's do.
	running atomic.Bool

	// health is guarded by s.be.mu.
	health int

	mu     sync.Mutex
	status string        // agent_status
	desc   string        // last_agt
	dur    time.Duration // agent_duration, negative before any
}

func newAgent(s *Server) *agent {
	cfg := s.cfg
	port := cfg.AgentPort
	if port == 0 {
		port = cfg.CheckPort
	}
	addr := cfg.AgentAddr
	inter := cmp0(cfg.AgentInter, cfg.Inter)
	return &agent{s: s, port: port, addr: addr, send: []byte(cfg.AgentSend), inter: inter,
		health: 1, status: agentINI, dur: -1}
}

// agentLetsUp reports whether the server's agent lets it be up: none,
// one disabled ("disable agent"), or one whose last word was not down,
// as HAProxy's agent keeps a server down until it says up. Called with
// be.mu held.
func (s *Server) agentLetsUp() bool {
	return s.agent == nil || s.agentOff || s.agent.health > 0
}

// cmp0 returns a, or b when a is zero.
func cmp0(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// agentReport is the agent's columns in the statistics.
type agentReport struct {
	status, desc, info string
	health             int
	hasCode, hasDur    bool
	dur                time.Duration
}

func (a *agent) report() agentReport {
	a.mu.Lock()
	r := agentReport{status: a.status, info: a.desc, dur: a.dur}
	a.mu.Unlock()
	r.desc = agentStatusDesc[r.status]
	r.hasCode = agentHasCode(r.status)
	r.hasDur = r.status != agentINI
	if a.running.Load() {
		// In progress: HAProxy marks the last status and has cleared
		// the detail.
		r.status, r.info = "* "+r.status, ""
	}
	a.s.be.mu.Lock()
	r.health = a.health
	a.s.be.mu.Unlock()
	return r
}

// fill sets the agent's columns of a server's statistics row.
func (r agentReport) fill(row statRow) {
	row.set("agent_status", r.status)
	if r.hasCode {
		row.setI("agent_code", 0)
	}
	if r.hasDur {
		row.setI("agent_duration", r.dur.Milliseconds())
	}
	row.set("agent_desc", r.desc)
	row.set("last_agt", r.info)
	row.setI("agent_rise", 1)
	row.setI("agent_fall", 1)
	row.setI("agent_health", int64(r.health))
}

// statusWord words the status column of a server with an agent, from
// the word it would have without one: draining, it is "DRAIN (agent)";
// down with the agent's health at 0, "DOWN (agent)".
func (a *agent) statusWord(word string, up, maint, drain bool, health int) string {
	switch {
	case maint:
		return word
	case up && drain:
		return "DRAIN (agent)"
	case !up && health == 0:
		return "DOWN (agent)"
	}
	return word
}

func (a *agent) run(ctx context.Context, first time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.once(ctx)
		t.Reset(spread(a.inter, a.spread))
	}
}

// once runs one agent check and acts on its outcome; none while "disable
// agent" holds, as in HAProxy.
func (a *agent) once(ctx context.Context) {
	s := a.s
	s.be.mu.Lock()
	off := s.agentOff
	s.be.mu.Unlock()
	if off {
		return
	}
	timeout := s.be.cfg.Timeouts.Check
	connectTimeout := a.inter
	if timeout != 0 && s.be.cfg.Timeouts.Connect != 0 {
		// As HAProxy: with timeout check set, the connect has the
		// shorter of inter and timeout connect.
		connectTimeout = min(connectTimeout, s.be.cfg.Timeouts.Connect)
	}
	if timeout == 0 {
		timeout = a.inter
	}
	a.running.Store(true)
	defer a.running.Store(false)
	start := time.Now()
	status, desc, line := a.exchange(ctx, connectTimeout, timeout)
	dur := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	if line == nil {
		if status == "" { // an incomplete line: the last status again
			a.mu.Lock()
			status = a.status
			a.mu.Unlock()
		}
		a.record(status, desc, dur)
		return
	}
	a.act(parseAgentReply(string(line)), dur)
}

// exchange talks to the agent: it returns the line it answered, or the
// status and detail of a failure (no status: a line without its end).
func (a *agent) exchange(ctx context.Context, connectTimeout, timeout time.Duration) (status, desc string, line []byte) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	var d net.Dialer
	c, err := d.DialContext(cctx, "tcp", a.s.checkTarget(a.port, a.addr)) // an agent listens on TCP
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return agentL4TOUT, "", nil
		}
		return agentL4CON, strerror(err), nil
	}
	defer func() {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // as HAProxy's checks, reset: no TIME_WAIT
		}
		_ = c.Close()
	}()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if len(a.send) > 0 {
		if _, err := c.Write(a.send); err != nil {
			return agentSOCKERR, strerror(err), nil
		}
	}
	var buf []byte
	chunk := make([]byte, 512)
	for {
		if line, ok := agentLine(buf); ok {
			return "", "", line
		}
		if len(buf) >= agentMaxLine {
			return "", "Ignoring incomplete line from agent", nil
		}
		n, err := c.Read(chunk[:min(len(chunk), agentMaxLine-len(buf))])
		buf = append(buf, chunk[:n]...)
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			return agentL7TOUT, "", nil
		case len(buf) > 0:
			// The end of the answer, or an error after some of it:
			// HAProxy judges what came.
			if line, ok := agentLine(buf); ok {
				return "", "", line
			}
			return "", "Ignoring incomplete line from agent", nil
		case errors.Is(err, io.EOF):
			return agentL7RSP, "TCPCHK got an empty response at step 2", nil
		}
		return agentSOCKERR, strerror(err), nil
	}
}

// agentLine returns the line buf starts with, when its end (CR or LF)
// came. As in HAProxy, a NUL before it leaves the line unfinished for
// good.
func agentLine(buf []byte) ([]byte, bool) {
	if i := bytes.IndexAny(buf, "\x00\r\n"); i >= 0 && buf[i] != 0 {
		return buf[:i], true
	}
	return nil, false
}

// agentReply is an agent's answer read into its words, as HAProxy reads
// it: the last word of each kind wins, the first unknown word is the
// error.
type agentReply struct {
	health  string // "up", "down", "stopped" or "fail" as written
	admin   string // "ready", "drain" or "maint" as written
	weight  string // "N%" (a word starting with a digit holding a '%')
	maxconn string // what follows "maxconn:"
	hasMax  bool
	err     string // the first word not understood
	desc    string // the text after '#'
}

// parseAgentReply reads an agent's line (without its end). Words are
// separated by spaces, tabs and commas, compared without case; a '#'
// starting a word begins the description, the rest of the line.
func parseAgentReply(line string) agentReply {
	var r agentReply
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' || c == ',' {
			i++
			continue
		}
		if c == '#' {
			i++
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			r.desc = line[i:]
			break
		}
		j := i + 1
		for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != ',' && line[j] != '\n' {
			j++
		}
		w := line[i:j]
		i = j
		switch lw := strings.ToLower(w); {
		case lw == "up" || lw == "down" || lw == "stopped" || lw == "fail":
			r.health = w
		case lw == "ready" || lw == "drain" || lw == "maint":
			r.admin = w
		case w[0] >= '0' && w[0] <= '9' && strings.Contains(w, "%"):
			r.weight = w
		case strings.HasPrefix(lw, "maxconn:"):
			r.maxconn, r.hasMax = w[len("maxconn:"):], true
		default:
			if r.err == "" {
				r.err = w
			}
		}
	}
	return r
}

// act applies an agent's answer as HAProxy does: the administrative
// state first, then the weight and maxconn, then the health, and words
// the outcome for last_agt.
func (a *agent) act(r agentReply, dur time.Duration) {
	s := a.s
	if r.admin != "" {
		s.agentAdmin(strings.ToLower(r.admin))
	}
	var wrn string
	if r.weight != "" {
		wrn = s.agentWeight(r.weight)
	}
	if r.hasMax {
		if msg := s.agentMaxConn(r.maxconn); wrn == "" {
			wrn = msg
		}
	}
	status, desc := agentChecked, ""
	switch {
	case r.health != "":
		b := s.be
		b.mu.Lock()
		if strings.EqualFold(r.health, "up") {
			status = agentL7OK
			if s.checker != nil {
				s.health = s.cfg.Rise + s.cfg.Fall - 1
			}
		} else {
			status = agentL7STS
			if s.checker != nil {
				s.health = 0
			}
		}
		b.mu.Unlock()
		msg := r.desc
		if msg == "" || status == agentL7OK {
			if r.err != "" {
				msg = r.err
			} else if wrn != "" {
				msg = wrn
			}
		}
		desc = "via agent : " + r.health
		if msg != "" {
			desc += " (" + msg + ")"
		}
	case r.err != "":
		desc = "agent reports an error : " + r.err
	case wrn != "":
		desc = "agent warns : " + wrn
	}
	a.record(status, desc, dur)
}

// record ends a check with status and its detail, as HAProxy's
// set_server_check_status does for an agent: a failure to reach or read
// the agent leaves its health alone, its "down" takes it to 0 and the
// server down, its "up" back to 1 and the server up, unless something
// else keeps it down.
func (a *agent) record(status, desc string, dur time.Duration) {
	s, b := a.s, a.s.be
	a.mu.Lock()
	prev := a.status
	a.status, a.desc, a.dur = status, desc, dur
	a.mu.Unlock()
	result := agentResultOf(status)
	if result == agentNeutral {
		return
	}
	report := false
	b.mu.Lock()
	switch result {
	case agentFailed:
		if agentHasCode(status) && a.health > 0 {
			s.chkFail++
			a.health, report = 0, true
		}
	case agentPassed:
		if a.health < 1 {
			a.health, report = 1, true
		}
	}
	health, weight := a.health, s.weight
	goDown := result == agentFailed && status == agentL7STS && health == 0
	goUp := result == agentPassed && !s.inMaint() && !s.up && health >= 1 &&
		(s.checker == nil || s.health >= s.cfg.Rise)
	b.mu.Unlock()
	reason := agentReason(status, desc)
	if b.cfg.Options.LogHealthChecks && (status != prev || report) {
		kind, outcome := "server", "failed"
		if s.cfg.Backup {
			kind = "backup server"
		}
		if result == agentPassed {
			outcome = "succeeded"
		}
		n, of, state := health, 1, "DOWN"
		if health >= 1 {
			state = "UP"
			if weight == 0 {
				state = "DRAIN"
			}
		}
		b.logs.event(levelNotice, fmt.Sprintf("Agent check for %s %s/%s %s, reason: %s, check duration: %dms, status: %d/%d %s.",
			kind, b.cfg.Name, s.cfg.Name, outcome, reason, dur.Milliseconds(), n, of, state))
	}
	switch {
	case goDown:
		b.setState(s, false, reason, dur)
	case goUp:
		b.setState(s, true, reason, dur)
	}
}

// agentReason words an agent check's outcome as HAProxy's logs do.
func agentReason(status, desc string) string {
	r := agentStatusDesc[status]
	if agentHasCode(status) {
		r += ", code: 0"
	}
	if desc != "" {
		r += `, info: "` + asciiEncode(desc, '"') + `"`
	}
	return r
}

// asciiEncode writes the bytes a log line should not hold raw (controls,
// the quote q, the backslash, non-ASCII) as HAProxy's chunk_asciiencode:
// \xHH, and \t, \n, \r for those.
func asciiEncode(s string, q byte) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f || c == q || c == '\\':
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// agentAdmin applies an agent's administrative word: "maint" and
// "drain" set the forced states the runtime API sets (each clearing the
// other), "ready" clears both.
func (s *Server) agentAdmin(word string) {
	switch word {
	case StateMaint:
		_ = s.SetState(StateMaint)
		s.be.mu.Lock()
		s.drain = false
		s.be.mu.Unlock()
	case StateDrain:
		_ = s.SetState(StateDrain)
		s.leaveMaint()
	default:
		_ = s.SetState(StateReady)
	}
}

// agentWeight sets the weight an agent's "N%" word asks for, relative to
// the configured one, as HAProxy reads it, and returns what HAProxy
// would say of a word it refuses ("" once it took it).
func (s *Server) agentWeight(word string) string {
	n, rest := leadingInt(word)
	var w int64
	switch {
	case rest == "%":
		w = min(n, 25600)
		w = min(int64(s.cfg.Weight)*w/100, 256)
	case n > 256:
		return "Absolute weight can only be between 0 and 256 inclusive.\n"
	case rest != "":
		return "Trailing garbage in weight string"
	default:
		w = n
	}
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	if w != 0 && int(w) != s.cfg.Weight && !b.dynamicWeights() {
		return string(errStaticWeight) + "\n"
	}
	s.applyWeight(int(w))
	return ""
}

// agentMaxConn sets the maxconn an agent's "maxconn:N" word asks for, as
// HAProxy reads it, and returns what HAProxy would say of a value it
// refuses ("" once it took it).
func (s *Server) agentMaxConn(v string) string {
	if v == "" {
		return "Require <maxconn>.\n"
	}
	neg := false
	digits := v
	if digits[0] == '-' || digits[0] == '+' {
		neg, digits = digits[0] == '-', digits[1:]
	}
	n, rest := leadingInt(digits)
	switch {
	case len(rest) == len(digits):
		return "maxconn string empty or preceded by garbage"
	case rest != "":
		return "Trailing garbage in maxconn string"
	}
	if neg {
		n = -n
	}
	n = max(min(n, math.MaxInt32), math.MinInt32)
	b := s.be
	b.mu.Lock()
	s.maxconn = int(n)
	b.serveQueues()
	b.mu.Unlock()
	return ""
}

// leadingInt reads the decimal digits s starts with, saturating as C's
// strtol does, and returns the rest.
func leadingInt(s string) (int64, string) {
	i := 0
	var n int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n <= (math.MaxInt64-9)/10 {
			n = n*10 + int64(s[i]-'0')
		} else {
			n = math.MaxInt64
		}
		i++
	}
	return n, s[i:]
}

// newAgents gives the servers that have one their agent check, to be
// started with runAgents once the health checks are set up too.
func (b *Balancer) newAgents() [][]*agent {
	var all [][]*agent
	for _, be := range b.backends {
		var agents []*agent
		for _, s := range be.servers {
			if s.cfg.AgentCheck {
				s.agent = newAgent(s)
				s.agent.spread = b.cfg.Global.SpreadChecks
				agents = append(agents, s.agent)
			}
		}
		all = append(all, agents)
	}
	return all
}

// runAgents starts the agent checks, each backend's spread over their
// first interval as the health checks are; they stop with the checks.
func (b *Balancer) runAgents(all [][]*agent) {
	for _, agents := range all {
		for i, a := range agents {
			first := a.inter * time.Duration(i) / time.Duration(len(agents))
			b.checksWG.Add(1)
			go func() {
				defer b.checksWG.Done()
				a.run(b.checkCtx, first)
			}()
		}
	}
}
