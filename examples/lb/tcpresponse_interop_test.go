package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// scriptServer answers each connection as the first line the client sent
// through the proxy says: ";"-separated steps, "s:TEXT" to send TEXT,
// "w:MS" to pause, "fin" to end its side; then it reads until the proxy
// ends or resets the connection, and closes.
func scriptServer(t *testing.T) string {
	t.Helper()
	return checkPeer(t, func(c *net.TCPConn) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return // a readiness probe
		}
		for _, step := range strings.Split(strings.TrimSpace(line), ";") {
			switch {
			case strings.HasPrefix(step, "s:"):
				_, _ = io.WriteString(c, step[2:])
			case strings.HasPrefix(step, "w:"):
				var ms int
				_, _ = fmt.Sscan(step[2:], &ms)
				time.Sleep(time.Duration(ms) * time.Millisecond)
			case step == "fin":
				_ = c.CloseWrite()
			}
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

// scriptResult is what a client saw: the bytes, and how the connection
// ended (eof, reset, timeout).
type scriptResult struct{ got, end string }

// runScript connects from src to addr, sends the server's script and
// reads until the connection ends.
func runScript(t *testing.T, src, addr, script string) scriptResult {
	t.Helper()
	return runScriptN(t, src, addr, script, -1)
}

// runScriptN is runScript reading at most n bytes (all for n < 0).
func runScriptN(t *testing.T, src, addr, script string, n int) scriptResult {
	t.Helper()
	c := dialFrom(t, src, addr)
	_, err := io.WriteString(c, script+"\n")
	require.NoError(t, err)
	var r io.Reader = c
	if n >= 0 {
		r = io.LimitReader(c, int64(n))
	}
	b, err := io.ReadAll(r)
	end := "eof"
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		end = "reset"
	case errors.As(err, &ne) && ne.Timeout():
		end = "timeout"
	case err != nil:
		end = err.Error()
	}
	require.NoError(t, c.Close())
	return scriptResult{string(b), end}
}

// TestInteropTCPResponseRulesMatchHAProxy runs the same tcp-response rules
// under haproxy and lb: the server's first bytes are accepted, rejected
// (nothing reaches the client, both sides close, PD with the bytes read
// from the server), or closed on (the client gets what came, then its
// end); a condition that cannot decide waits for more bytes, and at the
// inspect delay decides on what came; the rules run again on each
// arrival, from the first, as the stick counters show; a variable set
// there is read back by the log-format; the denied responses are counted;
// splicing, asked for, waits for the rules.
func TestInteropTCPResponseRulesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := scriptServer(t)
	cfg := func(sock string, p []int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    # Splicing must not pass the server's bytes by the rules.
    option splice-response
    option splice-request
frontend f
    bind 127.0.0.1:%d
    stick-table type ip size 1k expire 1m store gpc0,gpc1,gpt0
    tcp-request connection track-sc0 src
    log-format "%%ci %%b/%%s %%ts U=%%U B=%%B v=%%[var(txn.v)] g0=%%[sc0_get_gpc0] g1=%%[sc_get_gpc1(0)] gpt=%%[sc0_get_gpt0]"
    default_backend b
backend b
    tcp-response inspect-delay 300ms
    tcp-response content sc-inc-gpc0(0)
    tcp-response content set-var(txn.v) res.payload(0,3)
    tcp-response content accept if { res.payload(0,4) -m str GOOD }
    tcp-response content close if { res.payload(0,4) -m str CLS! }
    tcp-response content sc-inc-gpc1(0)
    tcp-response content sc-set-gpt0(0) res.len
    tcp-response content reject if { res.payload(0,4) -m str BAD! }
    server s %s
listen l
    bind 127.0.0.1:%d
    log-format "%%ci %%b/%%s %%ts U=%%U B=%%B"
    tcp-response inspect-delay 30s
    tcp-response content accept if { res.payload(0,4) -m str GOOD }
    tcp-response content reject if { res.len gt 0 }
    server s %s
`, sock, p[0], srv, p[1], srv)
	}
	cases := []struct {
		port   int
		script string
	}{
		{0, "s:GOODbye;fin"},
		{0, "s:BAD!;fin"},
		{0, "s:CLS!xyz"},
		{0, "s:GO;w:600;fin"}, // the inspect delay decides (or, as late, the FIN: alike)
		{0, "s:hello;fin"},
		// The rule waits for the fourth byte, far less than the 30 s of
		// the delay: the client's 10 s read deadline would strike first.
		{1, "s:GO;w:100;s:OD;fin"},
		{1, "s:NOPE;fin"},
	}
	run := func(start func(text string) func() string) ([]scriptResult, []string, map[string]string) {
		p := freePorts(t, 2)
		sock := filepath.Join(t.TempDir(), "stats.sock")
		out := start(cfg(sock, p))
		var res []scriptResult
		var lines []string
		for i, c := range cases {
			res = append(res, runScript(t, "127.0.0.2", fmt.Sprintf("127.0.0.1:%d", p[c.port]), c.script))
			// Each session's line, with the counters as it left them,
			// before the next session begins.
			require.Eventually(t, func() bool {
				lines = lines[:0]
				for _, l := range strings.Split(out(), "\n") {
					if strings.HasPrefix(l, "127.0.0.2 ") {
						lines = append(lines, l)
					}
				}
				return len(lines) == i+1
			}, 10*time.Second, 10*time.Millisecond, "a line per client")
		}
		_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
		counts := map[string]string{}
		for _, k := range []string{"f/FRONTEND", "b/BACKEND", "b/s", "l/FRONTEND", "l/BACKEND", "l/s"} {
			counts[k] = "dresp=" + rows[k]["dresp"]
		}
		return res, lines, counts
	}
	wantRes, want, wantCounts := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotRes, got, gotCounts := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	// What haproxy does, so that the comparison below means something.
	require.Equal(t, []scriptResult{{"GOODbye", "eof"}, {"", "eof"}, {"CLS!xyz", "eof"}, {"GO", "eof"}, {"hello", "eof"},
		{"GOOD", "eof"}, {"", "eof"}}, wantRes)
	require.Contains(t, want[1], " PD U=")
	require.Equal(t, wantRes, gotRes, "what the clients saw, haproxy's then lb's")
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, wantCounts, gotCounts, "the denied responses, haproxy's then lb's")
}

// TestInteropTCPResponseConfigMatchesHAProxy: haproxy and lb take and
// refuse the same tcp-response lines, naming the line and what is wrong.
func TestInteropTCPResponseConfigMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, tc := range []struct{ kind, line, want string }{
		{"backend", "tcp-response content reject if { res.payload(0,2) -m bin 4142 }", ""},
		{"backend", "tcp-response content set-var(txn.a) res.payload_lv(0,1)", ""},
		{"backend", "tcp-response content close unless { res.ssl_hello_type 2 } || { rep_ssl_hello_type 2 }", ""},
		{"backend", "tcp-response content set-var(txn.a) wait_end", ""},
		{"backend", "tcp-response content set-var(txn.a) res.hdr(x)", ""},
		{"backend", "tcp-response content set-nice 5", ""},
		{"backend", "tcp-response inspect-delay 1s 2s", ""},
		{"listen", "tcp-response content accept if { res.len gt 3 }", ""},
		{"frontend", "tcp-response content accept", "tcp-response content is only allowed in 'backend' sections"},
		{"frontend", "tcp-response inspect-delay 1s", "tcp-response inspect-delay is only allowed in 'backend' sections"},
		{"backend", "tcp-response foo", "'tcp-response' expects 'inspect-delay' or 'content'"},
		{"backend", "tcp-response inspect-delay", "'tcp-response inspect-delay' expects a positive delay in milliseconds"},
		{"backend", "tcp-response content track-sc0 src", "(got 'track-sc0')"},
		{"backend", "tcp-response content capture res.len len 4", "(got 'capture')"},
		{"backend", "tcp-response content", "(got '')"},
		{"backend", "tcp-response content accept now", "only accepts 'if' or 'unless'"},
		{"backend", "tcp-response content silent-drop rst-ttl 2", "only accepts 'if' or 'unless'"},
		{"backend", "tcp-response content set-nice", "expects exactly 1 argument"},
		{"backend", "tcp-response content send-spoe-group e", "expects 2 arguments: <engine-id> <group-id>"},
		{"backend", "tcp-response content set-var(txn.a) req.len", "fetch method 'set-var(txn.a)' extracts information from 'request buffer', none of which is available here"},
		{"backend", "tcp-response content set-var(txn.a) req.ssl_sni", "extracts information from 'request buffer'"},
		{"backend", "tcp-response content set-var(txn.a) req.hdr(x)", "extracts information from 'HTTP request headers'"},
		{"backend", "tcp-response content sc-set-gpt0(0) req.len", "fetch method 'req.len' extracts information from 'request buffer'"},
		{"frontend", "tcp-request content set-var(txn.a) res.len", "fetch method 'set-var(txn.a)' extracts information from 'response buffer', none of which is available here"},
		{"frontend", "tcp-request content set-var(txn.a) rep_ssl_hello_type", "extracts information from 'response buffer'"},
		{"backend", "tcp-response content set-var(txn.a) res.payload(0)", "res.payload"},
	} {
		t.Run(tc.kind+" "+tc.line, func(t *testing.T) {
			body := "    " + tc.line + "\n    server s 127.0.0.1:1\nfrontend fx\n    bind 127.0.0.1:1\n    default_backend p\n"
			switch tc.kind {
			case "frontend":
				body = "    bind 127.0.0.1:1\n    " + tc.line + "\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
			case "listen":
				body = "    bind 127.0.0.1:1\n" + body
			}
			text := fmt.Sprintf("defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n%s p\n%s", tc.kind, body)
			line := 8 // after the bind line
			if tc.kind == "backend" {
				line = 7
			}
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "h.cfg", text)).CombinedOutput()
			_, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if tc.want == "" {
				require.NoError(t, herr, "haproxy takes it: %s", hout)
				require.NoError(t, err)
				return
			}
			require.Error(t, herr, "haproxy refuses it")
			require.Contains(t, string(hout), tc.want)
			require.Contains(t, string(hout), fmt.Sprintf("h.cfg:%d]", line))
			require.Error(t, err, "lb refuses it")
			require.Contains(t, err.Error(), tc.want)
			require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`lb\.cfg:%d\b`, line)), err.Error(), "the line is named")
		})
	}
}

const tcpResponseSPOEConf = `[resp]
spoe-agent agent
    messages m-tcp-res m-srv
    groups g-res
    option var-prefix rp
    timeout hello 2s
    timeout idle 2m
    timeout processing 2s
    use-backend agents
spoe-message m-srv
    args srv=srv_name
    event on-server-session
spoe-message m-tcp-res
    args be=be_name
    event on-tcp-response
spoe-message res-check
    args first=res.payload(0,4) n=res.len
spoe-group g-res
    messages res-check
`

// TestInteropSPOETCPResponseMatchesHAProxy: the on-tcp-response event
// goes to the agent once, as the response inspection starts, after
// on-server-session, rules or not (what of the response has come by then
// is left out: haproxy forwards the client's bytes to the server while
// its agent answers, lb once it has); a
// tcp-response rule's send-spoe-group sends the server's first bytes, and
// the variable the agent sets decides the next rule, in both balancers.
func TestInteropSPOETCPResponseMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := scriptServer(t)
	conf := filepath.Join(t.TempDir(), "spoe.conf")
	require.NoError(t, os.WriteFile(conf, []byte(tcpResponseSPOEConf), 0o600))
	run := func(start func(text string) func() string) ([]scriptResult, []string, []string) {
		agent := newInteropAgent(t)
		p := freePorts(t, 2)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen t
    bind 127.0.0.1:%[1]d
    filter spoe engine resp config %[3]s
    log-format "%%ci %%b/%%s %%ts B=%%B v=%%[var(txn.rp.rverdict)]"
    tcp-response inspect-delay 5s
    tcp-response content send-spoe-group resp g-res if { res.len ge 4 }
    tcp-response content reject if { var(txn.rp.rverdict) -m str bad }
    server s %[4]s
listen n
    bind 127.0.0.1:%[2]d
    filter spoe engine resp config %[3]s
    log-format "%%ci %%b/%%s %%ts B=%%B"
    server s %[4]s
backend agents
    server a %[5]s
`, p[0], p[1], conf, srv, agent.addr))
		var res []scriptResult
		var lines []string
		// The first client opens the agent connection, through the
		// section without rules. The servers keep their side open:
		// haproxy 2.6 fails a tcp-response send-spoe-group run once the
		// server has closed (it may not wait for the agent then), which
		// lb does not.
		for i, c := range []struct {
			port   int
			script string
			n      int
		}{{1, "s:hey", 3}, {0, "s:GOOD", 4}, {0, "s:BAD!", 4}} {
			res = append(res, runScriptN(t, "127.0.0.2", fmt.Sprintf("127.0.0.1:%d", p[c.port]), c.script, c.n))
			require.Eventually(t, func() bool {
				lines = lines[:0]
				for _, l := range strings.Split(out(), "\n") {
					if strings.HasPrefix(l, "127.0.0.2 ") {
						lines = append(lines, l)
					}
				}
				return len(lines) == i+1
			}, 10*time.Second, 10*time.Millisecond, "a line per client")
		}
		var seen []string
		for _, l := range agent.lines() {
			if !strings.HasPrefix(l, "HELLO") {
				seen = append(seen, l)
			}
		}
		return res, lines, seen
	}
	// No probe: a connection would be a session, and its events would
	// reach the agent too. Listening sockets say haproxy is ready.
	wantRes, want, wantSeen := run(func(text string) func() string { return startHAProxy(t, text, func() bool { return true }) })
	gotRes, got, gotSeen := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, []scriptResult{{"hey", "eof"}, {"GOOD", "eof"}, {"", "eof"}}, wantRes, "what haproxy's clients got: %q", want)
	require.Equal(t, wantRes, gotRes, "what the clients saw, haproxy's then lb's")
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, wantSeen, gotSeen, "what the agent was sent by haproxy, then by lb")
	require.Equal(t, []string{"fid=1 m-srv srv=string:s", "fid=2 m-tcp-res be=string:n",
		"fid=1 m-srv srv=string:s", "fid=2 m-tcp-res be=string:t", "fid=3 res-check first=binary:GOOD n=int64:4",
		"fid=1 m-srv srv=string:s", "fid=2 m-tcp-res be=string:t", "fid=3 res-check first=binary:BAD! n=int64:4"}, gotSeen)
}
