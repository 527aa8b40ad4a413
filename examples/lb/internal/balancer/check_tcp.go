package balancer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
)

// Scripted health checks (option tcp-check and option redis-check): the
// rules connect, send and expect on the check's connection in turn, and a
// failure is worded as HAProxy words it, with the step that failed.

// redisRules is option redis-check's ruleset, as HAProxy defines it.
var redisRules = []config.TCPCheckRule{
	{Action: config.TCPCheckSend, Data: []byte("PING\r\n"), MinRecv: -1},
	{Action: config.TCPCheckExpect, Match: config.MatchString, Data: []byte("+PONG\r\n"), MinRecv: -1},
}

// redisMsgs word redis-check's outcomes: a wrong answer is a wrong
// status with its first line, a pass says the server is ok.
var redisMsgs = []protoMsg{
	{info: -1},
	{code: true, info: 0, passText: "Redis server is ok", success: true},
}

// sslHelloRules is option ssl-hello-chk's ruleset, as HAProxy defines
// it: an SSLv3 ClientHello offering the common ciphers, and a handshake
// (0x16) or alert (0x15) record expected back.
var sslHelloRules = []config.TCPCheckRule{
	{Action: config.TCPCheckSend, Data: sslv3ClientHello(), MinRecv: -1},
	{Action: config.TCPCheckExpect, Match: config.MatchRBinary, Regexp: regexp.MustCompile(`^1[56]`), MinRecv: 5},
}

// sslv3ClientHello builds the hello: record and handshake headers, version
// 3.0, a zero date, 28 bytes of random, no session, 39 cipher suites (1 to
// 0x1B, 0x2F to 0x3A) and the null compression.
func sslv3ClientHello() []byte {
	b := []byte{0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00, 0, 0, 0, 0}
	b = append(b, "HAPROXYSSLCHK\nHAPROXYSSLCHK\n"...)
	b = append(b, 0x00, 0x00, 0x4e)
	for c := 0x01; c <= 0x3a; c++ {
		if c <= 0x1b || c >= 0x2f {
			b = append(b, 0, byte(c))
		}
	}
	return append(b, 0x01, 0x00)
}

// tcpCheckBufSize bounds what an expect rule reads, as HAProxy's check
// buffer (tune.bufsize) does: a full buffer is judged as it stands.
const tcpCheckBufSize = 16384

// tcpCheckRun is one run of a server's rules.
type tcpCheckRun struct {
	b     *Balancer
	s     *Server
	rules []config.TCPCheckRule
	// sslHello is option ssl-hello-chk, worded at Layer 6.
	sslHello bool
	// msgs, when set, word each rule's outcome as a protocol check's
	// (redis-check, smtpchk...), one per rule; passed is then the
	// passing message.
	msgs   []protoMsg
	passed string
	c      net.Conn
	buf    []byte
}

// checkTarget is the address a health check dials: the rule's port and
// address first, then the server's "port" and "addr", then its own.
func (s *Server) checkTarget(port int, addr string) string {
	host, sport, err := net.SplitHostPort(s.address())
	if err != nil {
		return s.address()
	}
	if addr == "" {
		addr = s.cfg.CheckAddr
	}
	if addr != "" {
		host = addr
	}
	if port == 0 {
		port = int(s.checkPort.Load())
	}
	if port != 0 {
		sport = strconv.Itoa(port)
	}
	return net.JoinHostPort(host, sport)
}

// tcpCheck runs the backend's tcp-check rules (or redis-check's) on s and
// returns the connection still open, for the caller to close, or the
// failure worded as HAProxy's check status.
func (b *Balancer) tcpCheck(ctx context.Context, s *Server) (net.Conn, error) {
	tc := s.be.cfg.TCPCheck
	r := &tcpCheckRun{b: b, s: s, rules: s.be.cfg.TCPCheckRules, sslHello: tc.SSLHello}
	switch {
	case tc.Redis:
		r.rules, r.msgs = redisRules, redisMsgs
	case tc.SSLHello:
		r.rules = sslHelloRules
	case tc.SMTP:
		r.rules, r.msgs = smtpRules(tc.SMTPCommand)
	case tc.PgSQL:
		r.rules, r.msgs = pgsqlRules(tc.PgSQLUser)
	case tc.MySQL:
		r.rules, r.msgs = mysqlRules(tc.MySQLUser, tc.MySQLPre41)
	case tc.LDAP:
		r.rules, r.msgs = ldapRules()
	case tc.SPOP:
		r.rules, r.msgs = spopRules(b.cfg.Global.BufSize - 4)
	}
	if err := r.run(ctx); err != nil {
		if r.c != nil {
			closeCheck(r.c)
		}
		return nil, err
	}
	if r.msgs != nil {
		s.checker.setPassReason(r.passed)
	}
	return r.c, nil // run connects before any rule, or fails
}

func (r *tcpCheckRun) run(base context.Context) error {
	// Each connection's exchange has its own context, from its connect
	// on (afterConnect).
	ctx, cancel := base, context.CancelFunc(func() {})
	defer func() { cancel() }()
	first := -1
	for i, rule := range r.rules {
		if rule.Action != config.TCPCheckComment {
			first = i
			break
		}
	}
	if first < 0 || r.rules[first].Action != config.TCPCheckConnect {
		// The implicit connect, as the server's traffic dials.
		c, err := r.b.dialCheckConn(ctx, r.s, r.s.checkTarget(0, ""), r.serverFirst(first))
		if err != nil {
			return r.fail(checkReason(err), "")
		}
		r.c = c
		ctx, cancel = afterConnect(base)
	}
	for i := range r.rules {
		rule := &r.rules[i]
		var err error
		switch rule.Action {
		case config.TCPCheckConnect:
			if err = r.connect(base, i, rule); err == nil {
				cancel()
				ctx, cancel = afterConnect(base)
			}
		case config.TCPCheckSend:
			err = r.send(ctx, i, rule)
		case config.TCPCheckExpect:
			err = r.expect(ctx, i, rule)
			if err == nil && r.msgs != nil && r.msgs[i].success {
				m := r.msgs[i]
				m.code = true
				text := m.passText
				if m.passInfo != nil {
					text = m.passInfo(r.buf)
				}
				r.passed = m.word("Layer7 check passed", r.buf, text)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// serverFirst reports whether the first rule from i on that is not a
// comment waits for the server (an expect): the connection then
// acknowledges the handshake at once, as HAProxy's does, since holding
// the ACK back to go with data that is not coming would stall the
// server, whose kernel completes the connection only then.
func (r *tcpCheckRun) serverFirst(i int) bool {
	for ; i >= 0 && i < len(r.rules); i++ {
		if r.rules[i].Action != config.TCPCheckComment {
			return r.rules[i].Action == config.TCPCheckExpect
		}
	}
	return false
}

// connect opens the rule's connection, closing the one before.
func (r *tcpCheckRun) connect(ctx context.Context, i int, rule *config.TCPCheckRule) error {
	if r.c != nil {
		closeCheck(r.c)
		r.c = nil
	}
	r.buf = r.buf[:0]
	// A plain TCP connect unless default or the rule's options (PROXY
	// header, TLS, SOCKS4 proxy) ask for more, as HAProxy's.
	d, err := r.s.ruleDialer(rule, r.serverFirst(i+1))
	var c net.Conn
	if err == nil {
		var cc *conn.Conn
		if cc, err = dialCheckWith(ctx, d, r.s.checkTarget(rule.Port, rule.Addr)); err == nil {
			c = checkConn(cc, rule.Linger)
		}
	}
	if err != nil {
		return r.fail(checkReason(err), r.where(i, rule))
	}
	r.c = c
	return nil
}

// send writes the rule's data; what was received so far is dropped, as
// HAProxy resets its input buffer for each send.
func (r *tcpCheckRun) send(ctx context.Context, i int, rule *config.TCPCheckRule) error {
	r.buf = r.buf[:0]
	if dl, ok := ctx.Deadline(); ok {
		_ = r.c.SetWriteDeadline(dl)
	}
	defer r.interruptible(ctx)()
	if _, err := r.c.Write(rule.Data); err != nil {
		if isTimeout(err) {
			return r.fail("Layer7 timeout", r.where(i, rule))
		}
		return r.fail("Socket error, info: \""+strerror(err)+"\"", r.where(i, rule))
	}
	return nil
}

// expect reads until the rule can decide: a match (or, inverted, the end
// of the answer without one), a mismatch once nothing more can come, the
// timeout, or an error.
func (r *tcpCheckRun) expect(ctx context.Context, i int, rule *config.TCPCheckRule) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = r.c.SetReadDeadline(dl)
	}
	defer r.interruptible(ctx)()
	last := false
	tmp := make([]byte, 4096)
	for {
		if len(r.buf) > 0 || last {
			if done, err := r.judge(i, rule, last); done {
				return err
			}
		}
		if len(r.buf) >= tcpCheckBufSize {
			last = true
			continue
		}
		n, err := r.c.Read(tmp[:min(len(tmp), tcpCheckBufSize-len(r.buf))])
		r.buf = append(r.buf, tmp[:n]...)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			last = true
		case isTimeout(err):
			return r.fail("Layer7 timeout", r.where(i, rule))
		case len(r.buf) > 0:
			// An error after data (often a reset right after the last
			// bytes) lets the data be judged, as in HAProxy.
			last = true
		default:
			return r.fail("Socket error, info: \""+strerror(err)+"\"", r.where(i, rule))
		}
	}
}

// judge applies an expect rule to what was received, last telling that
// nothing more will come: done reports a decision, with err the failure.
func (r *tcpCheckRun) judge(i int, rule *config.TCPCheckRule, last bool) (done bool, err error) {
	if len(r.buf) == 0 {
		msg := fmt.Sprintf("TCPCHK got an empty response at step %d", i+1)
		if rule.Comment != "" {
			msg += " comment: '" + rule.Comment + "'"
		}
		switch {
		case r.msgs != nil:
			m := r.msgs[i]
			if m.code {
				return true, &layer7Error{reason: "Layer7 wrong status, code: 0, info: \"" + msg + "\""}
			}
			return true, &layer7Error{reason: "Layer7 invalid response, info: \"" + msg + "\""}
		case r.sslHello:
			return true, &layer7Error{reason: "Layer6 invalid response"}
		}
		return true, &layer7Error{reason: "Layer7 invalid response, info: \"" + msg + "\""}
	}
	if r.msgs != nil && r.msgs[i].custom != nil {
		done, fail := r.msgs[i].custom(r.buf, last)
		if done && fail != "" {
			return true, &layer7Error{reason: fail}
		}
		return done, nil
	}
	if rule.MinRecv >= 0 && len(r.buf) < rule.MinRecv && !last {
		return false, nil
	}
	match := tcpCheckMatch(rule, r.buf)
	switch {
	case !match && !last && rule.MinRecv < 0:
		return false, nil // more may come
	case match != rule.Inverse:
		return true, nil
	}
	return true, r.mismatch(i, rule, match)
}

// interruptible makes the balancer's stop end a blocked read or write
// at once, rather than at the check's timeout; the returned func stops
// watching.
func (r *tcpCheckRun) interruptible(ctx context.Context) func() bool {
	c := r.c
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// mismatch words a failed expect rule.
func (r *tcpCheckRun) mismatch(i int, rule *config.TCPCheckRule, matched bool) error {
	if r.msgs != nil {
		m := r.msgs[i]
		status := "Layer7 invalid response"
		if m.code {
			status = "Layer7 wrong status"
		}
		return &layer7Error{reason: m.word(status, r.buf, m.failText)}
	}
	if r.sslHello {
		return &layer7Error{reason: "Layer6 invalid response"}
	}
	msg := "TCPCHK did not match content"
	if matched {
		msg = "TCPCHK matched unwanted content"
	}
	switch rule.Match {
	case config.MatchString:
		msg += " '" + string(rule.Data) + "'"
	case config.MatchBinary:
		msg += " (binary)"
	case config.MatchRString:
		msg += " (regex)"
	case config.MatchRBinary:
		msg += " (binary regex)"
	}
	msg += fmt.Sprintf(" at step %d", i+1)
	if rule.Comment != "" {
		msg += " comment: " + rule.Comment
	}
	return &layer7Error{reason: "Layer7 invalid response, info: \"" + msg + "\""}
}

// where describes the step for a connection-level failure: " at step N of
// tcp-check (what)", and the rule's comment.
func (r *tcpCheckRun) where(i int, rule *config.TCPCheckRule) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, " at step %d of tcp-check", i+1)
	switch rule.Action {
	case config.TCPCheckConnect:
		if rule.Port != 0 {
			fmt.Fprintf(&sb, " (connect port %d)", rule.Port)
		} else {
			sb.WriteString(" (connect)")
		}
	case config.TCPCheckSend:
		sb.WriteString(" (send)")
	case config.TCPCheckExpect:
		switch rule.Match {
		case config.MatchString:
			sb.WriteString(" (expect string '" + string(rule.Data) + "')")
		case config.MatchBinary:
			sb.WriteString(" (expect binary '" + dumpBinary(rule.Data) + "')")
		case config.MatchRString:
			sb.WriteString(" (expect regex)")
		case config.MatchRBinary:
			sb.WriteString(" (expect binary regex)")
		}
	}
	if rule.Comment != "" {
		sb.WriteString(" comment: '" + rule.Comment + "'")
	}
	return sb.String()
}

// fail adds where to reason's info, as HAProxy appends the step to the
// error's text; the implicit connect is its "initial connection step".
// A protocol check (redis-check, ssl-hello-chk, smtpchk...) names no
// step.
func (r *tcpCheckRun) fail(reason, where string) error {
	if r.sslHello && reason == "Layer7 timeout" {
		return &layer7Error{reason: "Layer6 timeout"}
	}
	if r.sslHello || r.msgs != nil {
		return &layer7Error{reason: reason}
	}
	if where == "" {
		where = " at initial connection step of tcp-check"
	}
	const info = `, info: "`
	if j := strings.Index(reason, info); j >= 0 && strings.HasSuffix(reason, `"`) {
		reason = reason[:len(reason)-1] + where + `"`
	} else {
		reason += info + where + `"`
	}
	return &layer7Error{reason: reason}
}

// lastTCPCheckAction returns the last rule that is not a comment, or nil.
func lastTCPCheckAction(rules []config.TCPCheckRule) *config.TCPCheckRule {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].Action != config.TCPCheckComment {
			return &rules[i]
		}
	}
	return nil
}

// tcpCheckMatch applies an expect rule's pattern to what was received.
func tcpCheckMatch(rule *config.TCPCheckRule, buf []byte) bool {
	switch rule.Match {
	case config.MatchString, config.MatchBinary:
		return bytes.Contains(buf, rule.Data)
	case config.MatchRString:
		return rule.Regexp.Match(buf)
	case config.MatchRBinary:
		return rule.Regexp.MatchString(strings.ToUpper(hex.EncodeToString(buf)))
	}
	return false
}

// dumpBinary writes bytes as HAProxy's messages show a binary pattern:
// printable characters as they are, '<', '>' and the others as <XX>,
// stopping at a NUL.
func dumpBinary(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		if c >= 0x20 && c < 0x7f && c != '<' && c != '>' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "<%02X>", c)
		}
	}
	return sb.String()
}

// protoMsg is how a protocol check words one rule's outcome, as
// HAProxy's built-in rulesets do with their error-status, status-code
// and on-error/on-success expressions.
type protoMsg struct {
	// code: a failure is "Layer7 wrong status" with a code (the answer's
	// first three bytes with codeFromAnswer, else 0); without it,
	// "Layer7 invalid response".
	code, codeFromAnswer bool
	// info is where the message's info starts in the answer, -1 for
	// none: from there, without leading spaces when trim, to the end of
	// the line, or with cstring to the first NUL.
	info          int
	trim, cstring bool
	// failText and passText, when set, are the info in place of the
	// answer's; passInfo, when set, finds the passing info in the answer.
	failText, passText string
	passInfo           func(buf []byte) string
	// custom, when set, judges the answer in place of the rule's
	// pattern: done once it can decide (last: nothing more will come),
	// with the failure's reason, "" for a pass.
	custom func(buf []byte, last bool) (done bool, fail string)
	// success: passing this rule passes the check, with its message.
	success bool
}

// word builds the message of status for the answer buf; text is the
// fixed info that applies ("" for the answer's).
func (m protoMsg) word(status string, buf []byte, text string) string {
	var sb strings.Builder
	sb.WriteString(status)
	if m.code {
		n := 0
		if m.codeFromAnswer {
			n, _ = strconv.Atoi(string(buf[:min(3, len(buf))]))
		}
		fmt.Fprintf(&sb, ", code: %d", n)
	}
	switch {
	case text != "":
		sb.WriteString(`, info: "` + text + `"`)
	case m.info >= 0:
		info := buf[min(m.info, len(buf)):]
		if m.trim {
			info = bytes.TrimLeft(info, " ")
		}
		end := "\r\n"
		if m.cstring {
			end = "\x00"
		}
		if j := bytes.IndexAny(info, end); j >= 0 {
			info = info[:j]
		}
		sb.WriteString(`, info: "` + string(info) + `"`)
	}
	return sb.String()
}

// smtpRules is option smtpchk's ruleset, as HAProxy 2.6 runs it: the
// banner must be a reply line, then a 2xx one; the greeting must be
// answered 2xx (another answer is waited on, as more may come, until the
// server closes or the check times out); QUIT must be answered 2xx,
// whose text the passed check reports.
func smtpRules(cmd string) ([]config.TCPCheckRule, []protoMsg) {
	re := regexp.MustCompile
	rules := []config.TCPCheckRule{
		{Action: config.TCPCheckConnect, Default: true, MinRecv: -1},
		{Action: config.TCPCheckExpect, Match: config.MatchRString, Regexp: re(`^[0-9]{3}[ \r]`), MinRecv: 4},
		{Action: config.TCPCheckExpect, Match: config.MatchRString, Regexp: re(`^2[0-9]{2}[ \r]`), MinRecv: 4},
		{Action: config.TCPCheckSend, Data: []byte(cmd + "\r\n"), MinRecv: -1},
		{Action: config.TCPCheckExpect, Match: config.MatchRString, Regexp: re(`^2[0-9]{2}[- \r]`), MinRecv: -1},
		{Action: config.TCPCheckSend, Data: []byte("QUIT\r\n"), MinRecv: -1},
		{Action: config.TCPCheckExpect, Match: config.MatchRString, Regexp: re(`^2[0-9]{2}[- \r]`), MinRecv: 4},
	}
	reply := protoMsg{code: true, codeFromAnswer: true, info: 4, trim: true}
	final := reply
	final.success = true
	msgs := []protoMsg{{info: -1}, {info: 0}, reply, {info: -1}, reply, {info: -1}, final}
	return rules, msgs
}

// pgsqlRules is option pgsql-check's ruleset, as HAProxy runs it: a
// startup packet for user, and an authentication request (or success)
// expected back; an error answer fails with the server's message.
func pgsqlRules(user string) ([]config.TCPCheckRule, []protoMsg) {
	pkt := binary.BigEndian.AppendUint32(nil, uint32(15+len(user)))
	pkt = append(pkt, 0, 3, 0, 0)
	pkt = append(pkt, "user\x00"...)
	pkt = append(pkt, user...)
	pkt = append(pkt, 0, 0)
	rules := []config.TCPCheckRule{
		{Action: config.TCPCheckConnect, Default: true, MinRecv: -1},
		{Action: config.TCPCheckSend, Data: pkt, MinRecv: -1},
		{Action: config.TCPCheckExpect, Match: config.MatchRString, Regexp: regexp.MustCompile(`^E`), Inverse: true, MinRecv: 5},
		{Action: config.TCPCheckExpect, Match: config.MatchRBinary, Regexp: regexp.MustCompile(`^52000000(08|0A|0C)000000(00|02|03|04|05|06)`), MinRecv: 9},
	}
	msgs := []protoMsg{
		{info: -1},
		{info: -1},
		{info: 6, cstring: true},
		{code: true, info: -1, failText: "PostgreSQL unknown error", passText: "PostgreSQL server is ok", success: true},
	}
	return rules, msgs
}

// mysqlRules is option mysql-check's ruleset, as HAProxy runs it:
// without a user, the server's handshake packet is read and checked;
// with one, an authentication packet for the user (4.1 protocol, or the
// older one with pre41) and COM_QUIT are sent, and the handshake and
// the answer after it are checked. An error packet fails with the
// server's code and message; a pass reports the server's version.
func mysqlRules(user string, pre41 bool) ([]config.TCPCheckRule, []protoMsg) {
	version := func(buf []byte) string {
		v := buf[min(5, len(buf)):]
		if j := bytes.IndexByte(v, 0); j >= 0 {
			v = v[:j]
		}
		return string(v)
	}
	handshake := func(buf []byte, last bool) (bool, string) { return mysqlPacket(buf, 0, last) }
	rules := []config.TCPCheckRule{{Action: config.TCPCheckConnect, Default: true, MinRecv: -1}}
	msgs := []protoMsg{{info: -1}}
	if user == "" {
		rules = append(rules, config.TCPCheckRule{Action: config.TCPCheckExpect, MinRecv: -1})
		msgs = append(msgs, protoMsg{info: -1, custom: handshake, passInfo: version, success: true})
		return rules, msgs
	}
	var pkt []byte
	if pre41 {
		n := len(user) + 7
		pkt = append(pkt, byte(n), byte(n>>8), byte(n>>16), 1, 0x00, 0x80, 0x00, 0x00, 0x01)
	} else {
		n := len(user) + 34
		pkt = append(pkt, byte(n), byte(n>>8), byte(n>>16), 1, 0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21)
		pkt = append(pkt, make([]byte, 23)...)
	}
	pkt = append(pkt, user...)
	pkt = append(pkt, 0, 0)
	pkt = append(pkt, 0x01, 0x00, 0x00, 0x00, 0x01) // COM_QUIT
	ok := func(buf []byte, last bool) (bool, string) {
		if len(buf) < 3 {
			return mysqlPacket(buf, 0, last)
		}
		return mysqlPacket(buf, 4+int(buf[0])|int(buf[1])<<8|int(buf[2])<<16, last)
	}
	rules = append(rules,
		config.TCPCheckRule{Action: config.TCPCheckSend, Data: pkt, MinRecv: -1},
		config.TCPCheckRule{Action: config.TCPCheckExpect, MinRecv: -1},
		config.TCPCheckRule{Action: config.TCPCheckExpect, MinRecv: -1})
	msgs = append(msgs, protoMsg{info: -1}, protoMsg{info: -1, custom: handshake},
		protoMsg{info: -1, custom: ok, passInfo: version, success: true})
	return rules, msgs
}

// mysqlPacket checks the MySQL packet at offset of buf: complete (else
// it waits, or fails as an invalid response once nothing more can come)
// and not an error packet (which fails with its code and message).
func mysqlPacket(buf []byte, offset int, last bool) (done bool, fail string) {
	if len(buf) < offset+4 {
		if !last {
			return false, ""
		}
		return true, "Layer7 invalid response"
	}
	plen := int(buf[offset]) | int(buf[offset+1])<<8 | int(buf[offset+2])<<16
	if len(buf) < offset+plen+4 {
		if !last {
			return false, ""
		}
		return true, "Layer7 invalid response"
	}
	if plen > 0 && buf[offset+4] == 0xff {
		code := 0
		if len(buf) > offset+6 {
			code = int(buf[offset+5]) | int(buf[offset+6])<<8
		}
		reason := fmt.Sprintf("Layer7 wrong status, code: %d", code)
		if desc := buf[min(offset+7, len(buf)):]; len(desc) > 0 {
			reason += `, info: "` + string(desc) + `"`
		}
		return true, reason
	}
	return true, ""
}

// ldapRules is option ldap-check's ruleset, as HAProxy runs it: an
// anonymous LDAPv3 bind request, and a successful bind response
// expected back.
func ldapRules() ([]config.TCPCheckRule, []protoMsg) {
	const notLDAP = "Not LDAPv3 protocol"
	rules := []config.TCPCheckRule{
		{Action: config.TCPCheckConnect, Default: true, MinRecv: -1},
		{Action: config.TCPCheckSend, Data: []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}, MinRecv: -1},
		{Action: config.TCPCheckExpect, Match: config.MatchRBinary, Regexp: regexp.MustCompile(`^30`), MinRecv: 14},
		{Action: config.TCPCheckExpect, MinRecv: 14},
	}
	bindResponse := func(buf []byte, last bool) (bool, string) {
		if len(buf) < 14 && !last {
			return false, ""
		}
		invalid := "Layer7 invalid response, info: \"" + notLDAP + "\""
		at := func(i int) byte {
			if i < len(buf) {
				return buf[i]
			}
			return 0
		}
		// The LDAPMessage's length, then messageID 1 and a bindResponse.
		n := 0
		if at(1)&0x80 != 0 {
			n = int(at(1) & 0x7f)
		}
		if n > 2 || len(buf) < 6+n || !bytes.Equal(buf[2+n:6+n], []byte{0x02, 0x01, 0x01, 0x61}) {
			return true, invalid
		}
		// The bindResponse's length, then its resultCode.
		if at(n+6)&0x80 != 0 {
			n += int(at(n+6) & 0x7f)
		}
		if n > 4 || len(buf) < 10+n || !bytes.Equal(buf[7+n:9+n], []byte{0x0a, 0x01}) {
			return true, invalid
		}
		if code := buf[9+n]; code != 0 {
			return true, fmt.Sprintf(`Layer7 wrong status, code: %d, info: "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"`, code)
		}
		return true, ""
	}
	msgs := []protoMsg{
		{info: -1},
		{info: -1},
		{info: -1, failText: notLDAP},
		{info: -1, custom: bindResponse, passText: "Success", success: true},
	}
	return rules, msgs
}

// spopRules is option spop-check's ruleset, as HAProxy runs it: a
// HAPROXY-HELLO of a health check (no capabilities), and a valid
// AGENT-HELLO expected back. An AGENT-DISCONNECT fails with its
// message, and an answer that ends before a whole frame fails; HAProxy
// 2.6 leaves both checks pending without a verdict.
func spopRules(maxFrame int) ([]config.TCPCheckRule, []protoMsg) {
	rules := []config.TCPCheckRule{
		{Action: config.TCPCheckConnect, Default: true, MinRecv: -1},
		{Action: config.TCPCheckSend, Data: spoe.AppendHello(nil, maxFrame, "", "", true), MinRecv: -1},
		{Action: config.TCPCheckExpect, MinRecv: -1},
	}
	invalid := func(info string) string { return `Layer7 invalid response, info: "` + info + `"` }
	agentHello := func(buf []byte, last bool) (bool, string) {
		notFrame := invalid(spoe.StatusText(spoe.StatusInvalid))
		if len(buf) < 4 {
			return last, notFrame
		}
		n := int(binary.BigEndian.Uint32(buf))
		if n > maxFrame {
			return true, notFrame
		}
		if len(buf) < 4+n {
			return last, notFrame
		}
		f, err := spoe.ParseFrame(buf[4 : 4+n])
		if err != nil {
			return true, notFrame
		}
		if f.Type == spoe.FrameAgentDisconnect {
			kvs, _ := spoe.ParseKVList(f.Payload)
			if v, ok := spoe.Lookup(kvs, "message"); ok && len(v.Bytes) > 0 {
				return true, invalid(string(v.Bytes))
			}
			return true, invalid("agent disconnected")
		}
		if _, err := spoe.ParseHello(f, maxFrame); err != nil {
			var e *spoe.Error
			if errors.As(err, &e) && e.Code > 256 {
				return true, invalid(spoe.StatusText(uint32(e.Code - 256)))
			}
			return true, notFrame
		}
		return true, ""
	}
	msgs := []protoMsg{
		{info: -1},
		{info: -1},
		{info: -1, custom: agentHello, passText: "SPOA server is ok", success: true},
	}
	return rules, msgs
}
