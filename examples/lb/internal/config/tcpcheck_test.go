package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTCPCheckRules(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte(`
defaults
    mode tcp
    option tcp-check
    tcp-check expect string 250
backend inherits
    server s 127.0.0.1:1 check port 2 addr 127.0.0.3 check-send-proxy
` + beTimeouts + `backend own
    tcp-check comment greet
    tcp-check connect port 6379 addr ::1 comment first
    tcp-check send PING\r\n
    tcp-check send-binary 50494e470d0a comment raw
    tcp-check expect min-recv 5 ! rstring ^-ERR
    tcp-check expect binary 2b504f4e47
    tcp-check expect rbinary ^2B
    tcp-check connect default
    server s 127.0.0.1:1 check
` + beTimeouts + `backend redis
    option redis-check
    server s 127.0.0.1:1 check
` + beTimeouts + `backend http
    option httpchk
    server s 127.0.0.1:1 check
` + beTimeouts + ``)})
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings)

	in := cfg.Proxy("inherits", KindBackend)
	require.Equal(t, &TCPCheck{}, in.TCPCheck)
	require.Len(t, in.TCPCheckRules, 1, "the defaults' rules")
	require.Equal(t, []byte("250"), in.TCPCheckRules[0].Data)
	require.Equal(t, 2, in.Servers[0].CheckPort)
	require.True(t, in.Servers[0].CheckSendProxy)
	require.Equal(t, "127.0.0.3", in.Servers[0].CheckAddr)

	own := cfg.Proxy("own", KindBackend)
	rules := own.TCPCheckRules
	require.Len(t, rules, 8, "the section's rules replace the defaults'")
	require.Equal(t, TCPCheckRule{Pos: Pos{"test.cfg", 11}, Action: TCPCheckComment, MinRecv: -1, Comment: "greet"}, rules[0])
	require.Equal(t, TCPCheckRule{Pos: Pos{"test.cfg", 12}, Action: TCPCheckConnect, Port: 6379, Addr: "::1", MinRecv: -1, Comment: "first"}, rules[1],
		"a rule's own comment wins over the comment rule before it")
	require.Equal(t, []byte("PING\r\n"), rules[2].Data)
	require.Equal(t, "", rules[2].Comment)
	require.Equal(t, []byte("PING\r\n"), rules[3].Data)
	require.Equal(t, "raw", rules[3].Comment)
	require.Equal(t, MatchRString, rules[4].Match)
	require.True(t, rules[4].Inverse)
	require.Equal(t, 5, rules[4].MinRecv)
	require.True(t, rules[4].Regexp.MatchString("-ERR x"))
	require.Equal(t, TCPCheckRule{Pos: Pos{"test.cfg", 16}, Action: TCPCheckExpect, Match: MatchBinary, Data: []byte("+PONG"), MinRecv: -1}, rules[5])
	require.Equal(t, MatchRBinary, rules[6].Match)
	require.True(t, rules[7].Default)

	require.Equal(t, &TCPCheck{Redis: true}, cfg.Proxy("redis", KindBackend).TCPCheck)
	http := cfg.Proxy("http", KindBackend)
	require.Nil(t, http.TCPCheck, "option httpchk, the later, wins over the defaults' tcp-check")
	require.NotNil(t, http.HTTP.Check)
}

func TestTCPCheckCommentNamesNextRule(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  option tcp-check\n  tcp-check comment hello\n  tcp-check expect string x\n  tcp-check expect string y\n")})
	require.NoError(t, err)
	rules := cfg.Proxy("b", KindBackend).TCPCheckRules
	require.Equal(t, "hello", rules[1].Comment, "the rule right after the comment rule")
	require.Equal(t, "", rules[2].Comment, "only that one")
}

func TestTCPCheckLaterWins(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  option tcp-check\n  option httpchk\n  option redis-check\nbackend c\n  option httpchk\n  option tcp-check\n")})
	require.NoError(t, err)
	b := cfg.Proxy("b", KindBackend)
	require.Equal(t, &TCPCheck{Redis: true}, b.TCPCheck)
	require.Nil(t, b.HTTP.Check)
	c := cfg.Proxy("c", KindBackend)
	require.Equal(t, &TCPCheck{}, c.TCPCheck)
	require.Nil(t, c.HTTP.Check)
}

func TestTCPCheckRulesWithoutOptionWarn(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  tcp-check expect string x\n  server s 127.0.0.1:1 check\n" + beTimeouts)})
	require.NoError(t, err)
	require.Equal(t, []string{"backend 'b' uses tcp-check rules without 'option tcp-check', so the rules are ignored."}, cfg.Warnings)
}

func TestTCPCheckErrors(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      error
		msg       string
	}{
		{"no action", "backend b\n  tcp-check\n", ErrBadValue, "test.cfg:2:"},
		{"unknown action", "backend b\n  tcp-check frob\n", ErrBadValue, "unknown action 'frob'"},
		{"in a frontend", "frontend f\n  tcp-check expect string x\n", ErrMisplaced, "test.cfg:2:"},
		{"option with an argument", "backend b\n  option tcp-check x\n", ErrBadValue, "takes no argument"},
		{"send without data", "backend b\n  tcp-check send\n", ErrBadValue, "expects a string"},
		{"odd hex", "backend b\n  tcp-check send-binary abc\n", ErrBadValue, "'abc': an even, non-zero number of hex digits expected"},
		{"bad hex", "backend b\n  tcp-check expect binary zz\n", ErrBadValue, "'zz': not a hex string"},
		{"bad regex", "backend b\n  tcp-check expect rstring (\n", ErrBadValue, "bad regular expression '('"},
		{"no pattern", "backend b\n  tcp-check expect min-recv 3\n", ErrBadValue, "expects a match"},
		{"two patterns", "backend b\n  tcp-check expect string a string b\n", ErrBadValue, "after a pattern"},
		{"missing pattern", "backend b\n  tcp-check expect string\n", ErrBadValue, "expects an argument"},
		{"empty pattern", "backend b\n  tcp-check expect string ''\n", ErrBadValue, "'tcp-check expect string' expects an argument"},
		{"bad min-recv", "backend b\n  tcp-check expect min-recv x string a\n", ErrBadValue, "min-recv"},
		{"unknown expect option", "backend b\n  tcp-check expect sometimes string a\n", ErrBadValue, "unknown option 'sometimes'"},
		{"status options", "backend b\n  tcp-check expect string a error-status L7RSP\n", ErrUnsupported, "'error-status'"},
		{"log-format send", "backend b\n  tcp-check send-lf %[src]\n", ErrUnsupported, "'tcp-check send-lf'"},
		{"connect proto", "backend b\n  tcp-check connect proto h2\n", ErrUnsupported, "option 'proto'"},
		{"connect bad alpn", "backend b\n  tcp-check connect alpn h2,\n", ErrBadValue, "'tcp-check connect' alpn"},
		{"connect bad port", "backend b\n  tcp-check connect port 70000\n", ErrBadValue, "port"},
		{"connect bad addr", "backend b\n  tcp-check connect addr localhost\n", ErrBadValue, "'localhost' is not an IP address"},
		{"connect not first", "backend b\n  tcp-check send x\n  tcp-check connect\n", ErrBadValue, "test.cfg:3: bad value: 'tcp-check' in 'backend' section: 'tcp-check connect': the first step (test.cfg:2) must also be a 'connect'"},
		{"send option", "backend b\n  tcp-check send x linger\n", ErrUnsupported, "option 'linger'"},
		{"server port range", "backend b\n  server s 127.0.0.1:1 check port 0\n", ErrBadValue, "server option 'port'"},
		{"no redis-check", "backend b\n  no option redis-check\n", ErrBadValue, "negation is not supported for option 'redis-check'"},
		{"external check not allowed", "backend b\n  option external-check\n  external-check command /bin/true\n", ErrReference, "unable to find required 'global.external-check'"},
		{"external check without command", "global\n  external-check\nbackend b\n  option external-check\n", ErrReference, "unable to find required 'external-check command'"},
		{"external check path without value", "backend b\n  external-check path\n", ErrBadValue, "missing argument after 'path'"},
		{"check-ssl without ssl", "backend b\n  server s 127.0.0.1:1 check port 80 check-ssl\n", ErrUnsupported, "check-ssl on a server without 'ssl'"},
		{"on-marked-down action", "backend b\n  server s 127.0.0.1:1 check on-marked-down nothing\n", ErrBadValue, "unknown action 'nothing' (expects shutdown-sessions)"},
		{"observe layer9", "backend b\n  server s 127.0.0.1:1 check observe layer9\n", ErrBadValue, "unknown mode 'layer9'"},
		{"observe mode", "backend b\n  server s 127.0.0.1:1 check observe layer3\n", ErrBadValue, "unknown mode 'layer3'"},
		{"on-error action", "backend b\n  server s 127.0.0.1:1 check on-error reboot\n", ErrBadValue, "unknown action 'reboot'"},
		{"error-limit range", "backend b\n  server s 127.0.0.1:1 check error-limit 0\n", ErrBadValue, "error-limit"},
		{"no tcp-check", "backend b\n  no option tcp-check\n", ErrBadValue, "negation is not supported for option 'tcp-check'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(Source{Name: "test.cfg", Data: []byte(tt.cfg)})
			require.Error(t, err)
			require.True(t, errors.Is(err, tt.want), "%v", err)
			require.True(t, strings.Contains(err.Error(), tt.msg), "%q lacks %q", err.Error(), tt.msg)
		})
	}
}

func TestCheckIntervalOptions(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  default-server fastinter 500 downinter 5s\n  server s 127.0.0.1:1 check inter 2s\n  server t 127.0.0.1:2 check fastinter 1s\n")})
	require.NoError(t, err)
	s := cfg.Proxy("b", KindBackend).Servers
	require.Equal(t, [3]time.Duration{2 * time.Second, 500 * time.Millisecond, 5 * time.Second}, [3]time.Duration{s[0].Inter, s[0].FastInter, s[0].DownInter})
	require.Equal(t, time.Second, s[1].FastInter)
	_, err = Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  server s 127.0.0.1:1 check downinter 0\n")})
	require.ErrorIs(t, err, ErrBadValue)
	require.ErrorContains(t, err, "server option 'downinter': must be greater than 0")
}

// slowstart is kept in whole seconds, rounded up, as HAProxy keeps it;
// 0 turns it off, and a default-server's value is inherited.
func TestSlowStartOption(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  default-server slowstart 1500\n  server s 127.0.0.1:1 check\n  server t 127.0.0.1:2 check slowstart 1m\n  server u 127.0.0.1:3 check slowstart 0\n")})
	require.NoError(t, err)
	s := cfg.Proxy("b", KindBackend).Servers
	require.Equal(t, [3]time.Duration{2 * time.Second, time.Minute, 0}, [3]time.Duration{s[0].SlowStart, s[1].SlowStart, s[2].SlowStart})
	for _, bad := range []string{"abc", "-1", "10x"} {
		_, err = Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  server s 127.0.0.1:1 check slowstart " + bad + "\n")})
		require.ErrorIs(t, err, ErrBadValue, bad)
		require.ErrorContains(t, err, "test.cfg:2", bad)
		require.ErrorContains(t, err, "server option 'slowstart'", bad)
	}
}

// timeout client-fin goes with the frontend side and server-fin with the
// backend side, inherited from defaults as the other timeouts; each is
// ignored with HAProxy's warning on the other kind of section.
func TestFinTimeouts(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("defaults\n  timeout client-fin 2s\n  timeout server-fin 3s\nfrontend f\n  bind :8080\n  default_backend b\nbackend b\n  timeout server-fin 500\n  server s 127.0.0.1:1\n")})
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, cfg.Proxy("f", KindFrontend).Timeouts.ClientFin)
	require.Equal(t, 500*time.Millisecond, cfg.Proxy("b", KindBackend).Timeouts.ServerFin)
	cfg, err = Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  timeout client-fin 1s\n  server s 127.0.0.1:1\n")})
	require.NoError(t, err)
	require.Contains(t, cfg.Warnings, "test.cfg:2: 'timeout client-fin' will be ignored because backend 'b' has no frontend capability")
	require.Zero(t, cfg.Proxy("b", KindBackend).Timeouts.ClientFin)
	cfg, err = Parse(Source{Name: "test.cfg", Data: []byte("frontend f\n  bind :8080\n  timeout server-fin 1s\n  default_backend b\nbackend b\n")})
	require.NoError(t, err)
	require.Contains(t, cfg.Warnings, "test.cfg:3: 'timeout server-fin' will be ignored because frontend 'f' has no backend capability")
	_, err = Parse(Source{Name: "test.cfg", Data: []byte("frontend f\n  bind :8080\n  timeout client-fin soon\n")})
	require.ErrorIs(t, err, ErrBadValue)
}

// rate-limit sessions is a frontend's, inherited from defaults; anything
// but 'sessions' and a count is refused, and so is a backend's.
func TestRateLimitSessionsKeyword(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("defaults\n  rate-limit sessions 10\nfrontend f\n  bind :8080\n  default_backend b\nlisten l\n  bind :8081\n  rate-limit sessions 0\n  server s 127.0.0.1:1\nbackend b\n  server s 127.0.0.1:1\n")})
	require.NoError(t, err)
	require.Equal(t, 10, cfg.Proxy("f", KindFrontend).RateLimitSessions)
	require.Equal(t, 0, cfg.Proxy("l", KindListen).RateLimitSessions)
	for _, bad := range []struct{ line, msg string }{
		{"rate-limit foo 1", "only 'sessions'"},
		{"rate-limit sessions", "expects one number"},
		{"rate-limit sessions -1", "rate-limit"},
		{"rate-limit sessions 1k", "rate-limit"},
	} {
		_, err = Parse(Source{Name: "test.cfg", Data: []byte("frontend f\n  bind :8080\n  " + bad.line + "\n")})
		require.ErrorContains(t, err, "test.cfg:3", bad.line)
		require.ErrorContains(t, err, bad.msg, bad.line)
	}
	cfg, err = Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  rate-limit sessions 1\n  server s 127.0.0.1:1\n")})
	require.NoError(t, err)
	require.Contains(t, cfg.Warnings, "test.cfg:2: rate-limit sessions will be ignored because backend 'b' has no frontend capability")
}

// hash-balance-factor is 0 or more than 100, on a backend or defaults.
func TestHashBalanceFactorKeyword(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("defaults\n  hash-balance-factor 150\nbackend b\n  server s 127.0.0.1:1\nbackend c\n  hash-balance-factor 0\n  server s 127.0.0.1:1\n")})
	require.NoError(t, err)
	require.Equal(t, 150, cfg.Proxy("b", KindBackend).HTTP.HashBalanceFactor)
	require.Equal(t, 0, cfg.Proxy("c", KindBackend).HTTP.HashBalanceFactor)
	for _, bad := range []string{"100", "50", "x", "-1"} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  hash-balance-factor " + bad + "\n  server s 127.0.0.1:1\n")})
		require.ErrorIs(t, err, ErrBadValue, bad)
		require.ErrorContains(t, err, "test.cfg:2", bad)
	}
	_, err = Parse(Source{Name: "test.cfg", Data: []byte("frontend f\n  bind :80\n  hash-balance-factor 150\n")})
	require.ErrorIs(t, err, ErrMisplaced)
}

func TestOptionSMTPChk(t *testing.T) {
	for text, cmd := range map[string]string{
		"backend b\n  option smtpchk\n":                       "HELO localhost",
		"backend b\n  option smtpchk EHLO mail.example\n":     "EHLO mail.example",
		"backend b\n  option smtpchk HELO x\n":                "HELO x",
		"backend b\n  option smtpchk FOO x\n":                 "HELO localhost",
		"defaults\n  option smtpchk EHLO d\nbackend b\n":      "EHLO d",
		"backend b\n  option httpchk\n  option smtpchk\n":     "HELO localhost",
		"backend b\n  option tcp-check\n  option smtpchk\n":   "HELO localhost",
		"backend b\n  option smtpchk\n  option smtpchk H\n":   "HELO localhost",
		"backend b\n  option redis-check\n  option smtpchk\n": "HELO localhost",
	} {
		cfg, err := Parse(Source{Name: "test.cfg", Data: []byte(text)})
		require.NoError(t, err, text)
		b := cfg.Proxy("b", KindBackend)
		require.NotNil(t, b.TCPCheck, text)
		require.True(t, b.TCPCheck.SMTP, text)
		require.Equal(t, cmd, b.TCPCheck.SMTPCommand, text)
		require.Nil(t, b.HTTP.Check, text)
	}
	_, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  option smtpchk EHLO a b\n")})
	require.ErrorContains(t, err, "takes at most 'EHLO|HELO <domain>'")
	_, err = Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  no option smtpchk\n")})
	require.ErrorContains(t, err, "negation is not supported for option 'smtpchk'")
}

func TestOptionPgSQLCheck(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  option httpchk\n  option pgsql-check user monitor\n")})
	require.NoError(t, err)
	b := cfg.Proxy("b", KindBackend)
	require.Equal(t, &TCPCheck{PgSQL: true, PgSQLUser: "monitor"}, b.TCPCheck)
	require.Nil(t, b.HTTP.Check)
	for text, msg := range map[string]string{
		"backend b\n  option pgsql-check\n":        "expects 'user <username>' as argument",
		"backend b\n  option pgsql-check user\n":   "expects 'user <username>' as argument",
		"backend b\n  option pgsql-check name x\n": "only supports optional values: 'user'",
		"backend b\n  no option pgsql-check\n":     "negation is not supported",
		"backend b\n  option ldap-check x\n":       "takes no argument",
	} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte(text)})
		require.ErrorContains(t, err, msg, text)
		require.ErrorContains(t, err, "test.cfg:2", text)
	}
}

func TestOptionMySQLCheck(t *testing.T) {
	for text, want := range map[string]TCPCheck{
		"backend b\n  option mysql-check\n":                          {MySQL: true},
		"backend b\n  option mysql-check user u\n":                   {MySQL: true, MySQLUser: "u"},
		"backend b\n  option mysql-check user u post-41\n":           {MySQL: true, MySQLUser: "u"},
		"backend b\n  option mysql-check user u pre-41\n":            {MySQL: true, MySQLUser: "u", MySQLPre41: true},
		"backend b\n  option httpchk\n  option mysql-check user u\n": {MySQL: true, MySQLUser: "u"},
	} {
		cfg, err := Parse(Source{Name: "test.cfg", Data: []byte(text)})
		require.NoError(t, err, text)
		b := cfg.Proxy("b", KindBackend)
		require.Equal(t, &want, b.TCPCheck, text)
		require.Nil(t, b.HTTP.Check, text)
	}
	for text, msg := range map[string]string{
		"backend b\n  option mysql-check name u\n":     "only supports optional values: 'user' (got 'name')",
		"backend b\n  option mysql-check user\n":       "expects <username> as argument",
		"backend b\n  option mysql-check user u v41\n": "only supports 'post-41' and 'pre-41' (got 'v41')",
		"backend b\n  option mysql-check user u a b\n": "takes at most",
		"backend b\n  no option mysql-check\n":         "negation is not supported",
		"backend b\n  option ldap-check x\n":           "takes no argument",
	} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte(text)})
		require.ErrorContains(t, err, msg, text)
		require.ErrorContains(t, err, "test.cfg:2", text)
	}
}
