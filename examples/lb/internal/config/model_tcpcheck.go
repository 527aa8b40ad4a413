package config

import "regexp"

// TCPCheck is a backend's scripted health check: "option tcp-check", which
// runs the proxy's TCPCheckRules, or "option redis-check", HAProxy's
// built-in PING and +PONG exchange.
type TCPCheck struct {
	// Redis is option redis-check: its own rules and its own messages, as
	// HAProxy words them for a protocol check.
	Redis bool
	// SSLHello is option ssl-hello-chk: an SSLv3 ClientHello sent, and a
	// TLS handshake or alert record expected back, with HAProxy's Layer6
	// messages.
	SSLHello bool
	// SMTP is option smtpchk: a 2xx banner, SMTPCommand ("HELO
	// localhost" unless "EHLO|HELO <domain>" was given) answered 2xx,
	// and QUIT answered 2xx, with HAProxy's messages.
	SMTP        bool
	SMTPCommand string
	// PgSQL is option pgsql-check: a startup packet for PgSQLUser, and an
	// authentication request or success expected back.
	PgSQL     bool
	PgSQLUser string
	// MySQL is option mysql-check: the server's handshake checked, and
	// with MySQLUser an authentication (MySQLPre41: the protocol before
	// 4.1) and its answer.
	MySQL      bool
	MySQLUser  string
	MySQLPre41 bool
	// LDAP is option ldap-check: an anonymous LDAPv3 bind, whose response
	// must be a success.
	LDAP bool
	// SPOP is option spop-check: a HAPROXY-HELLO frame of a health
	// check, which a SPOE agent must answer.
	SPOP bool
	// External is option external-check: the server is checked by
	// running the proxy's ExternalCheckCommand, whose exit status 0
	// passes.
	External bool
}

// TCPCheckAction is what one tcp-check rule does.
type TCPCheckAction uint8

// The tcp-check actions.
const (
	// TCPCheckConnect opens (or opens again) the check's connection.
	TCPCheckConnect TCPCheckAction = iota + 1
	// TCPCheckSend writes Data, and forgets what was received so far.
	TCPCheckSend
	// TCPCheckExpect waits for the answer to match, or, inverted, not to.
	TCPCheckExpect
	// TCPCheckComment does nothing but counts as a step; its text names
	// the rule after it in failure messages.
	TCPCheckComment
)

// TCPCheckMatch is how an expect rule looks at the answer.
type TCPCheckMatch uint8

// The expect rule matches.
const (
	// MatchString looks for Data in the answer.
	MatchString TCPCheckMatch = iota + 1
	// MatchRString runs Regexp on the answer.
	MatchRString
	// MatchBinary looks for Data (given in hex) in the answer.
	MatchBinary
	// MatchRBinary runs Regexp on the answer written in upper-case hex.
	MatchRBinary
)

// TCPCheckRule is one "tcp-check" line.
type TCPCheckRule struct {
	Pos
	Action TCPCheckAction
	// Default makes a connect rule dial as the server's traffic does (its
	// PROXY header and TLS settings); without it the connect is a plain
	// TCP one, as in HAProxy.
	Default bool
	// Port and Addr send a connect rule elsewhere than the server's check
	// port and address; 0 and "" keep them.
	Port int
	Addr string
	// SendProxy, ViaSOCKS4, SSL, SNI and Linger are a connect rule's
	// options: a PROXY header (v2 when
	// the server sends v2), the server's SOCKS4 proxy, TLS with the
	// server's TLS settings and SNI for server name, and a graceful close
	// in place of the reset a check's connection ends with.
	SendProxy, ViaSOCKS4, SSL, Linger bool
	SNI                               string
	// Proto and ALPN are an http-check connect rule's "proto" (the mux
	// the check speaks, "h1" or "h2") and "alpn" (the protocols its TLS
	// handshake offers; the one agreed on picks the mux when Proto does
	// not).
	Proto string
	ALPN  []string
	// Data is what a send rule writes, or what a string or binary expect
	// rule looks for.
	Data []byte
	// Match, Regexp and Inverse describe an expect rule: Inverse ("!")
	// makes a match the failure.
	Match   TCPCheckMatch
	Regexp  *regexp.Regexp
	Inverse bool
	// MinRecv is how many bytes an expect rule waits for before it
	// decides; -1 waits for a match, the end of the answer or a full
	// buffer.
	MinRecv int
	// Comment is the rule's own comment, the one a comment rule just
	// before it gave it, or a comment rule's text.
	Comment string
}
