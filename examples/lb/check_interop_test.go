package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkPeer starts a TCP server on loopback that runs serve on each
// connection until the test ends (testnet.Peer), and returns its address.
func checkPeer(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	addr, _ := testnet.Peer(t, serve)
	return addr
}

// checkLines waits until out holds n lines starting with one of prefixes,
// and returns them sorted, with their timing and counts taken off.
func checkLines(t *testing.T, out func() string, n int, prefixes ...string) []string {
	t.Helper()
	var lines []string
	ok := assert.Eventually(t, func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(out(), "\n") {
			l = strings.TrimSpace(l)
			for _, p := range prefixes {
				if strings.HasPrefix(l, p) {
					lines = append(lines, countsRe.ReplaceAllString(durationRe.ReplaceAllString(l, "check duration: N"), "."))
					break
				}
			}
		}
		return len(lines) == n
	}, 10*time.Second, 50*time.Millisecond)
	if !ok {
		t.Fatalf("want %d lines, have:\n%s", n, strings.Join(lines, "\n"))
	}
	sort.Strings(lines)
	return lines
}

// haproxyLogs and lbLogs start a configuration under haproxy, or lb in
// this process, and return what it has logged so far, when called.
func haproxyLogs(t *testing.T) func(text string) func() string {
	return func(text string) func() string { return startHAProxy(t, text, func() bool { return true }) }
}

func lbLogs(t *testing.T) func(text string) func() string {
	return func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
}

// The peers the checks talk to.
var (
	// pongPeer answers PING with +PONG, "info replication" with a replica's
	// role, and QUIT with +OK before it closes.
	pongPeer = func(c *net.TCPConn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.TrimRight(line, "\r\n") {
			case "PING":
				_, _ = io.WriteString(c, "+PONG\r\n")
			case "info replication":
				_, _ = io.WriteString(c, "$20\r\n# Replication\r\nrole:slave\r\n")
			case "QUIT":
				_, _ = io.WriteString(c, "+OK\r\n")
				_ = c.Close()
				return
			}
		}
	}
	// errPeer reads a request, answers an error and closes.
	errPeer = func(c *net.TCPConn) {
		var b [64]byte
		_, _ = c.Read(b[:])
		_, _ = io.WriteString(c, "-ERR nope\r\n")
		time.Sleep(100 * time.Millisecond)
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}
	// silentPeer never answers; the test's cleanup closes it.
	silentPeer = func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) }
	// bannerPeer greets, then ends its side.
	bannerPeer = func(c *net.TCPConn) {
		_, _ = io.WriteString(c, "220 hello\r\n")
		time.Sleep(100 * time.Millisecond)
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
	// binPeer greets with binary bytes, then ends its side.
	binPeer = func(c *net.TCPConn) {
		_, _ = c.Write([]byte{0, 1, 'A', 'B', 0xff})
		time.Sleep(100 * time.Millisecond)
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
	// emptyPeer ends its side at once.
	emptyPeer = func(c *net.TCPConn) {
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
	// resetPeer resets the connection once it has a request.
	resetPeer = func(c *net.TCPConn) {
		var b [64]byte
		_, _ = c.Read(b[:])
		_ = c.SetLinger(0)
		_ = c.Close()
	}
)

// checkCfg is one configuration with a backend per case: those against
// late (which listens only after the first checks failed) go down, then
// up; the others go down with the reason under test.
func checkCfg(peers map[string]string, fePort int, late, refused string) string {
	cfg := `global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
    default-server inter 150 fall 1 rise 1
frontend fe
    bind 127.0.0.1:` + fmt.Sprint(fePort) + `
    default_backend redis_ok
`
	be := func(name, body string) { cfg += "backend " + name + "\n" + body }
	latePort := late[strings.LastIndexByte(late, ':')+1:]
	be("redis_ok", "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    tcp-check send QUIT\\r\\n\n    tcp-check expect string +OK\n    server s "+late+" check\n")
	be("explicit_connect", "    option tcp-check\n    tcp-check connect comment first\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG comment pong-wanted\n    server s "+late+" check\n")
	be("connect_only", "    option tcp-check\n    tcp-check connect\n    server s "+late+" check\n")
	be("no_rules", "    option tcp-check\n    server s "+late+" check\n")
	be("redis_check", "    option redis-check\n    server s "+late+" check\n")
	be("check_port", "    server s "+refused+" check port "+latePort+"\n")
	be("connect_port", "    option tcp-check\n    tcp-check connect port "+latePort+"\n    tcp-check send PING\\r\\n\n    tcp-check expect rstring ^.PO.G\n    server s "+refused+" check\n")
	be("role", "    option tcp-check\n    tcp-check connect\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    tcp-check send info\\ replication\\r\\n\n    tcp-check expect string role:master\n    server s "+peers["pong"]+" check\n")
	be("mismatch", "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    server s "+peers["err"]+" check\n")
	be("redis_wrong", "    option redis-check\n    server s "+peers["err"]+" check\n")
	be("redis_timeout", "    option redis-check\n    server s "+peers["silent"]+" check\n")
	be("timeout_binary", "    option tcp-check\n    tcp-check expect binary 41427a3c3e20275c\n    server s "+peers["silent"]+" check\n")
	be("unwanted", "    option tcp-check\n    tcp-check expect ! string 220\n    server s "+peers["banner"]+" check\n")
	be("unwanted_regex", "    option tcp-check\n    tcp-check expect ! rstring ^2\n    server s "+peers["banner"]+" check\n")
	be("comment_rule", "    option tcp-check\n    tcp-check comment greet\n    tcp-check expect string 250\n    server s "+peers["banner"]+" check\n")
	be("regex_mismatch", "    option tcp-check\n    tcp-check expect rstring ^3..\n    server s "+peers["banner"]+" check\n")
	be("send_resets", "    option tcp-check\n    tcp-check expect string 220\n    tcp-check send QUIT\\r\\n\n    tcp-check expect string 220\n    server s "+peers["banner"]+" check\n")
	be("binary_mismatch", "    option tcp-check\n    tcp-check expect binary 0001FF\n    server s "+peers["bin"]+" check\n")
	be("rbinary_upper", "    option tcp-check\n    tcp-check expect rbinary ff$\n    server s "+peers["bin"]+" check\n")
	be("rbinary_then", "    option tcp-check\n    tcp-check expect rbinary ^0001\n    tcp-check expect string nothing\n    server s "+peers["bin"]+" check\n")
	be("empty", "    option tcp-check\n    tcp-check expect string 220\n    server s "+peers["empty"]+" check\n")
	be("reset", "    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n    server s "+peers["reset"]+" check\n")
	be("refused_connect", "    option tcp-check\n    tcp-check connect comment conn-step\n    tcp-check expect string 220\n    server s "+refused+" check\n")
	be("min_recv", "    option tcp-check\n    tcp-check expect min-recv 3 string 999\n    server s "+peers["banner"]+" check\n")
	be("ssl_hello_banner", "    option ssl-hello-chk\n    server s "+peers["banner"]+" check\n")
	be("ssl_hello_silent", "    option ssl-hello-chk\n    server s "+peers["silent"]+" check\n")
	return cfg
}

// stateLineRe takes a server state change apart: who, what, and the
// reason; the duration and the counts after it depend on timing.
var stateLineRe = regexp.MustCompile(`^Server (\S+) is (UP|DOWN), reason: (.*), check duration: \d+ms\.`)

// stateChanges runs cfgText (built by cfg for a fresh "late" listener that
// opens 600 ms in) under start, and returns every server's state changes
// and their reasons once each server is reported down, and the late
// ones up again.
func stateChanges(t *testing.T, name string, cfg func(late string) string, start func(text string) func() string) []string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	late := ln.Addr().String()
	require.NoError(t, ln.Close())
	text := cfg(late)
	out := start(text)
	time.Sleep(600 * time.Millisecond)
	ln, err = net.Listen("tcp", late)
	require.NoError(t, err)
	lateStop := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(lateStop)
				return
			}
			go pongPeer(c.(*net.TCPConn))
		}
	}()
	defer func() { _ = ln.Close(); <-lateStop }()
	backends := strings.Count(text, "\nbackend ")
	var changes []string
	latePort := late[strings.LastIndexByte(late, ':')+1:]
	ok := assert.Eventually(t, func() bool {
		changes = changes[:0]
		seen := map[string]bool{}
		for _, l := range strings.Split(out(), "\n") {
			// The late port is a new one in each run.
			l = strings.ReplaceAll(strings.TrimSpace(l), "port "+latePort, "port LATE")
			m := stateLineRe.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			key := m[1] + " " + m[2]
			if seen[key] {
				continue // the first reason of each kind is the one compared
			}
			seen[key] = true
			changes = append(changes, key+": "+m[3])
		}
		// Every server goes down once; the seven against late come up.
		return len(changes) == backends+7
	}, 10*time.Second, 50*time.Millisecond)
	if !ok {
		t.Fatalf("%s: %d backends, state changes:\n%s", name, backends, strings.Join(changes, "\n"))
	}
	sort.Strings(changes)
	return changes
}

// TestInteropTCPCheckMatchesHAProxy runs the same scripted checks under
// haproxy and lb against the same peers, and requires the same state
// changes with the same reasons, word for word.
func TestInteropTCPCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	peers := map[string]string{
		"pong": checkPeer(t, pongPeer), "err": checkPeer(t, errPeer), "silent": checkPeer(t, silentPeer),
		"banner": checkPeer(t, bannerPeer), "bin": checkPeer(t, binPeer), "empty": checkPeer(t, emptyPeer),
		"reset": checkPeer(t, resetPeer),
	}
	refused := testnet.RefusedAddr(t)
	cfg := func(late string) string { return checkCfg(peers, freePorts(t, 1)[0], late, refused) }

	ha := stateChanges(t, "haproxy", cfg, haproxyLogs(t))
	lb := stateChanges(t, "lb", cfg, lbLogs(t))
	require.Equal(t, ha, lb)

	// The comparison covers every kind of reason.
	all := strings.Join(lb, "\n")
	for _, want := range []string{
		`Layer7 check passed, code: 0, info: "(tcp-check)"`,
		`Layer4 check passed, info: "(tcp-check)"`,
		`Layer7 check passed, code: 0, info: "Redis server is ok"`,
		`Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check"`,
		`Layer4 connection problem, info: "Connection refused at step 1 of tcp-check (connect) comment: 'conn-step'"`,
		`Layer7 invalid response, info: "TCPCHK did not match content '250' at step 2 comment: greet"`,
		`Layer7 wrong status, code: 0, info: "-ERR nope"`,
		`Layer7 timeout, info: " at step 1 of tcp-check (expect binary 'ABz<3C><3E> '\')"`,
		`Layer7 invalid response, info: "TCPCHK got an empty response at step 3"`,
		`Socket error, info: "Connection reset by peer at step 2 of tcp-check (expect string '+PONG')"`,
		"ssl_hello_banner/s DOWN: Layer6 invalid response",
		"ssl_hello_silent/s DOWN: Layer6 timeout",
	} {
		require.Contains(t, all, want)
	}
}

// durationRe and countsRe take the timing and the counts off a check's
// line: they depend on the order in which the servers' checks ran.
var (
	durationRe = regexp.MustCompile(`check duration: \d+ms`)
	countsRe   = regexp.MustCompile(`\. \d+ active and \d+ backup servers.*$`)
)

// TestInteropLogHealthChecksMatchesHAProxy runs option log-health-checks
// under haproxy and lb and requires the same lines: one per check that
// moves a server's health or changes its status, and state changes
// without the reason the check's line gave.
func TestInteropLogHealthChecksMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	pong := checkPeer(t, pongPeer)
	refused := freePorts(t, 1)[0]
	run := func(start func(text string) func() string) []string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		late := ln.Addr().String()
		require.NoError(t, ln.Close())
		text := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend b
backend b
    option log-health-checks
    default-server inter 150
    server up %s check rise 2 fall 3
    server down 127.0.0.1:%d check rise 2 fall 3
    server bk 127.0.0.1:%d check rise 2 fall 2 backup
    server late %s check rise 2 fall 1
`, freePorts(t, 1)[0], pong, refused, refused, late)
		out := start(text)
		time.Sleep(500 * time.Millisecond)
		ln, err = net.Listen("tcp", late)
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		return checkLines(t, out, 10, "Health check for ", "Server ", "Backup Server ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	require.Equal(t, ha, lb)
	require.Contains(t, lb, "Server b/late is UP.")
	require.Contains(t, lb, `Health check for server b/late succeeded, reason: Layer4 check passed, check duration: N, status: 1/2 DOWN.`)
}

// TestInteropHTTPCheckMatchesHAProxy runs HTTP checks with http-check send
// and expect rules under haproxy and lb against one server, and requires
// the same reasons, passed checks included.
func TestInteropHTTPCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		if (r.URL.Path == "/health" || r.URL.Path == "/legacy") && (r.Host != "example.com" || r.Header.Get("X-Check") != "yes") {
			w.WriteHeader(http.StatusBadRequest) // the send rule's fields did not arrive
		}
		_, _ = io.WriteString(w, "hello world")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()
	be := func(name, rules string) string {
		return "backend " + name + "\n    option log-health-checks\n" + rules + "    server s " + addr + " check\n"
	}
	cfg := func() string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
    default-server inter 200 fall 1 rise 1
frontend f
    bind 127.0.0.1:%d
    default_backend send_ok
`, freePorts(t, 1)[0]) +
			be("send_ok", "    option httpchk\n    http-check send meth GET uri /health ver HTTP/1.1 hdr Host example.com hdr X-Check yes\n    http-check expect string hello\n") +
			be("string_miss", "    option httpchk GET /\n    http-check expect string nothing-like-this\n") +
			be("status_miss", "    option httpchk GET /missing\n    http-check expect status 200\n") +
			be("rstring_miss", "    option httpchk GET /\n    http-check expect rstring ^bye\n") +
			be("unwanted", "    option httpchk GET /\n    http-check expect ! string hello\n") +
			be("rstatus_miss", "    option httpchk GET /\n    http-check expect rstatus ^3\n") +
			be("status_list", "    option httpchk GET /missing\n    http-check expect status 200,404\n") +
			be("status_range", "    option httpchk GET /missing\n    http-check expect status 400-499\n") +
			be("not_4xx", "    option httpchk GET /missing\n    http-check expect ! rstatus ^4\n") +
			be("default_expect", "    option httpchk GET /missing\n") +
			be("default_ok", "    option httpchk GET /\n") +
			// The older form: fields after the version.
			be("legacy", "    option httpchk GET /legacy HTTP/1.1\\r\\nHost:\\ example.com\\r\\nX-Check:\\ yes\n")
	}
	run := func(start func(text string) func() string) []string {
		out := start(cfg())
		return checkLines(t, out, 12, "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	require.Equal(t, ha, lb)
	all := strings.Join(lb, "\n")
	for _, want := range []string{
		`server send_ok/s succeeded, reason: Layer7 check passed, code: 200,`,
		`server string_miss/s failed, reason: Layer7 invalid response, info: "HTTP content check did not match"`,
		`server unwanted/s failed, reason: Layer7 invalid response, info: "HTTP check matched unwanted content"`,
		`server status_miss/s failed, reason: Layer7 wrong status, code: 404, info: "Not Found"`,
		`server status_range/s succeeded, reason: Layer7 check passed, code: 404,`,
		`server legacy/s succeeded, reason: Layer7 check passed, code: 200,`,
	} {
		require.Contains(t, all, want)
	}
}

// TestInteropOnMarkedDownMatchesHAProxy closes a server's connection as a
// check marks it down, under haproxy and lb, and requires the same
// termination state on the traffic line.
func TestInteropOnMarkedDownMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string) (addr string, out func() string)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var held []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				_, _ = io.WriteString(c, "a\n")
			}
		}()
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range held {
				_ = c.Close()
			}
		})
		addr, out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    server a %s check inter 100 fall 1 on-marked-down shutdown-sessions
`, freePorts(t, 1)[0], ln.Addr()))
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "a\n", line)
		_ = ln.Close()
		_, err = c.Read(make([]byte, 1))
		require.Error(t, err, "closed as the server went down")
		var traffic string
		require.Eventually(t, func() bool {
			for _, l := range strings.Split(out(), "\n") {
				// The test's connection, not a readiness probe.
				if strings.HasPrefix(l, c.LocalAddr().String()+" ") && strings.Contains(l, " px px/a ") {
					traffic = l
					return true
				}
			}
			return false
		}, 5*time.Second, 20*time.Millisecond)
		f := strings.Fields(traffic)
		return f[len(f)-3] // the termination state, before the counts and queues
	}
	ha := run(func(text string) (string, func() string) {
		port := text[strings.Index(text, "127.0.0.1:")+len("127.0.0.1:"):]
		port = port[:strings.IndexByte(port, '\n')]
		addr := "127.0.0.1:" + port
		out := startHAProxy(t, text, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
		return addr, out
	})
	lb := run(func(text string) (string, func() string) {
		b, logs, mu := startInProcess(t, text)
		return b.Addrs("px")[0].String(), func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, "D-", ha, "haproxy's termination state")
	require.Equal(t, ha, lb)
}

// TestInteropObserveLayer4MatchesHAProxy counts failed connects against a
// server (observe layer4) whose checks pass elsewhere, under haproxy and
// lb, and requires the same lines at the same count for each on-error
// action. Each case runs alone, so that its one check runs at once, and
// log-health-checks shows when it has.
func TestInteropObserveLayer4MatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	pong := checkPeer(t, pongPeer)
	pongPort := pong[strings.LastIndexByte(pong, ':')+1:]
	refused := freePorts(t, 1)[0]
	run := func(start func(text string) func() string, opts string) []string {
		port := freePorts(t, 1)[0]
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    retries 0
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    option log-health-checks
    server s 127.0.0.1:%d check port %s inter 60s rise 1 fall 1 observe layer4 %s
`, port, refused, pongPort, opts))
		checkLines(t, out, 1, "Health check for ") // the first check passed
		for range 3 {
			var c net.Conn
			require.Eventually(t, func() bool {
				var err error
				c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				return err == nil
			}, 5*time.Second, 10*time.Millisecond)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Read(make([]byte, 1)) // closed: the server refuses
			_ = c.Close()
		}
		return checkLines(t, out, 3, "Health check for ", "Server ")
	}
	for _, opts := range []string{"error-limit 2 on-error mark-down", "error-limit 3 on-error fail-check", "error-limit 2 on-error sudden-death"} {
		ha := run(haproxyLogs(t), opts)
		lb := run(lbLogs(t), opts)
		require.Equal(t, ha, lb, opts)
		require.Contains(t, strings.Join(lb, "\n"), `reason: Health analyze, info: "Detected `, opts)
	}
}
