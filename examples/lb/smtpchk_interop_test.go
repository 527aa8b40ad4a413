package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// smtpPeer is a mail server that writes banner, then answers the first
// line it reads with greeting and the second with quit (nil: none), and
// closes after a moment; an empty banner with silent set says nothing.
func smtpPeer(t *testing.T, banner, greeting string, quit *string, silent bool) string {
	return checkPeer(t, func(c *net.TCPConn) {
		if silent {
			_, _ = io.Copy(io.Discard, c)
			return
		}
		_, _ = io.WriteString(c, banner)
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, greeting)
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		if quit != nil {
			_, _ = io.WriteString(c, *quit)
		}
		// Read what else comes, so that closing sends a FIN, not a reset.
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = io.Copy(io.Discard, r)
	})
}

// TestInteropSMTPCheckMatchesHAProxy runs option smtpchk against mail
// servers that pass, answer the banner, the greeting or QUIT with an
// error, speak no SMTP, close early (or at once) or stay silent, under haproxy and lb
// with log-health-checks: the same servers go down with the same reasons,
// and the good one passes with QUIT's answer in its message.
func TestInteropSMTPCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	bye, what := "221 bye\r\n", "500 what\r\n"
	peers := []string{
		smtpPeer(t, "220 mail.example.com ESMTP ready\r\n", "250-mail.example.com Hello\r\n250-SIZE 1000\r\n250 HELP\r\n", &bye, false),
		smtpPeer(t, "554 go away\r\n", "", nil, false),
		smtpPeer(t, "220 ok\r\n", "502 Command not implemented\r\n", &bye, false),
		smtpPeer(t, "hello there\r\n", "", nil, false),
		smtpPeer(t, "220 ok\r\n", "250 ok\r\n", &what, false),
		smtpPeer(t, "220 ok\r\n", "250 ok\r\n", nil, false),
		smtpPeer(t, "", "", nil, true),
	}
	refused := testnet.RefusedAddr(t)
	names := []string{"good", "banner554", "ehlo502", "garbage", "quit500", "noquit", "silent"}
	var servers [][2]string
	for i, name := range names {
		servers = append(servers, [2]string{name, peers[i]})
	}
	servers = append(servers, [2]string{"refused", refused}, [2]string{"hangup", checkPeer(t, func(*net.TCPConn) {})})
	want, got := protocolCheckReasons(t, "smtpchk EHLO checker.example", servers, fmt.Sprintf(`backend h
    option smtpchk
    option log-health-checks
    server helo %s check inter 1s rise 1 fall 1
`, peers[0]), 1)
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	require.Contains(t, strings.Join(got, "\n"), `b/good succeeded, reason: Layer7 check passed, code: 221, info: "bye"`)
}

// protocolCheckReasons runs a backend checking servers (names and
// addresses) with "option <option>" and log-health-checks, beside the
// extra sections (whose own checked servers number extra), under
// haproxy, then lb, and returns each one's lines about the first checks,
// sorted, durations taken off.
func protocolCheckReasons(t *testing.T, option string, servers [][2]string, extra string, extraServers int) (want, got []string) {
	t.Helper()
	var sb strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&sb, "    server %s %s\n", s[0], s[1])
	}
	run := func(start func(text string) func() string) []string {
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
frontend fe
    bind 127.0.0.1:%d
    default_backend b
backend b
    option %s
    option log-health-checks
    default-server check inter 1s rise 1 fall 1
%s%s`, freePorts(t, 1)[0], option, sb.String(), extra))
		return checkLines(t, out, len(servers)+extraServers, "Health check for")
	}
	return run(haproxyLogs(t)), run(lbLogs(t))
}
