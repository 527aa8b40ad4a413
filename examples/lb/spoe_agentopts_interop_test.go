package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// optsAgent is a SPOA for the spoe-agent options: it answers every
// NOTIFY with set-var(txn.<prefix>.ok) "yes", except one whose first
// argument is "/silent", which it never answers. With closeAfterAck, it
// ends each connection after its first ACK, and reports on gone once
// the balancer closed its side too.
//
// With holdFor set, it holds its ACKs until it has that many NOTIFYs,
// then sends them all.
type optsAgent struct {
	addr          string
	closeAfterAck bool
	holdFor       int
	gone          chan struct{}
	mu            sync.Mutex
	conns         int
	frames        []uint64 // stream ID, then frame ID, of each NOTIFY
	held          []heldAck
	wmu           sync.Mutex // one write at a time, on any connection
}

// heldAck is an ACK the agent holds, and the connection it goes on.
type heldAck struct {
	c   net.Conn
	ack []byte
}

func newOptsAgent(t *testing.T, closeAfterAck bool) *optsAgent {
	a := &optsAgent{closeAfterAck: closeAfterAck, gone: make(chan struct{}, 16)}
	a.addr = testnet.Serve(t, a.serve)
	return a
}

func (a *optsAgent) serve(c net.Conn) {
	a.mu.Lock()
	a.conns++
	a.mu.Unlock()
	var buf []byte
	for {
		f, nb, err := spoe.ReadFrame(c, buf, 1<<20)
		buf = nb
		if err != nil {
			return
		}
		var out []byte
		switch f.Type {
		case spoe.FrameHAProxyHello:
			out = spoe.AppendAgentHello(nil, 16380, "pipelining,async")
		case spoe.FrameNotify:
			msgs, err := spoe.ParseMessages(f.Payload)
			if err != nil {
				return
			}
			a.mu.Lock()
			a.frames = append(a.frames, f.StreamID, f.FrameID)
			a.mu.Unlock()
			if len(msgs) > 0 && len(msgs[0].Args) > 0 && msgs[0].Args[0].Value.String() == "/silent" {
				continue
			}
			out = spoe.AppendFrameHead(nil, spoe.FrameAck, spoe.FlagFin, f.StreamID, f.FrameID)
			out = spoe.AppendAction(out, spoe.Action{Type: spoe.ActionSetVar, Scope: spoe.ScopeTxn, Name: []byte("ok"), Value: spoe.Str("yes")})
			if a.holdFor > 0 {
				a.mu.Lock()
				a.held = append(a.held, heldAck{c, spoe.FinishFrame(out, 0)})
				var all []heldAck
				if len(a.held) == a.holdFor {
					all = a.held
				}
				a.mu.Unlock()
				for _, h := range all {
					a.wmu.Lock()
					_, _ = h.c.Write(h.ack)
					a.wmu.Unlock()
				}
				continue
			}
		default:
			return
		}
		a.wmu.Lock()
		_, err = c.Write(spoe.FinishFrame(out, 0))
		a.wmu.Unlock()
		if err != nil {
			return
		}
		if a.closeAfterAck && f.Type == spoe.FrameNotify {
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
			a.gone <- struct{}{}
			return
		}
	}
}

// streamFrames returns the NOTIFYs' stream IDs, counted from the first
// one, and frame IDs: "0/1 0/2 3/1...".
func (a *optsAgent) streamFrames() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for i := 0; i+1 < len(a.frames); i += 2 {
		parts = append(parts, fmt.Sprintf("%d/%d", a.frames[i]-a.frames[0], a.frames[i+1]))
	}
	return strings.Join(parts, " ")
}

// spoeLogLine is HAProxy's SPOE log line, as "format short" prints it.
var spoeLogLine = regexp.MustCompile(`^<(\d)>SPOE: \[(\S+)\] <(\S+)> sid=(\d+) st=(\d+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) (\d+/\d+ \d+/\d+ \d+/\d+)$`)

// spoeLines waits for n SPOE log lines in out and returns them with
// what varies from run to run made steady: a time is "T", or -1 for a
// step not reached, and stream numbers count from the first line's.
func spoeLines(t *testing.T, out func() string, n int) []string {
	t.Helper()
	var lines []string
	ok := waitFor(func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(out(), "\n") {
			if strings.Contains(l, "SPOE: ") {
				lines = append(lines, l)
			}
		}
		return len(lines) >= n
	})
	require.True(t, ok, "want %d SPOE lines, have:\n%s", n, out())
	var base uint64
	norm := make([]string, len(lines))
	for i, l := range lines {
		m := spoeLogLine.FindStringSubmatch(l)
		require.NotNil(t, m, "not a SPOE line: %q", l)
		sid, _ := strconv.ParseUint(m[4], 10, 64)
		if i == 0 {
			base = sid
		}
		times := make([]string, 5)
		for k := range times {
			times[k] = "T"
			if m[6+k] == "-1" {
				times[k] = "-1"
			}
		}
		norm[i] = fmt.Sprintf("<%s>SPOE: [%s] <%s> sid=+%d st=%s %s %s", m[1], m[2], m[3], sid-base, m[5], strings.Join(times, "/"), m[11])
	}
	return norm
}

// waitFor polls cond until it holds, for up to 10 seconds.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// optsGet sends one request and returns its status and body.
func optsGet(t *testing.T, port int, path string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
}

// runSPOEOpts runs the configuration under start with a fresh agent and
// sends the requests, calling between(i) after the i-th; it returns the
// answers, the SPOE log lines (n of them, made steady) and the NOTIFYs'
// streams and frames.
//
// With holdFor set, the agent holds its ACKs until it has that many
// NOTIFYs, and the requests go at once, their answers in paths' order.
func runSPOEOpts(t *testing.T, start func(text string) func() string, closeAfterAck bool, spoeConf, cfg string, paths []string, between func(a *optsAgent, i int), n int, holdFor ...int) (answers, lines []string, frames string, conns int) {
	t.Helper()
	a := newOptsAgent(t, closeAfterAck)
	if len(holdFor) > 0 {
		a.holdFor = holdFor[0]
	}
	conf := filepath.Join(t.TempDir(), "spoe.conf")
	require.NoError(t, os.WriteFile(conf, []byte(spoeConf), 0o600))
	p := freePorts(t, 1)
	out := start(fmt.Sprintf(cfg, p[0], conf, a.addr))
	if a.holdFor > 0 {
		answers = make([]string, len(paths))
		var wg sync.WaitGroup
		for i, path := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = optsGet(t, p[0], path)
			}()
		}
		wg.Wait()
	}
	for i, path := range paths {
		if a.holdFor > 0 {
			break
		}
		answers = append(answers, optsGet(t, p[0], path))
		if between != nil {
			between(a, i)
		}
	}
	lines = spoeLines(t, out, n)
	a.mu.Lock()
	conns = a.conns
	a.mu.Unlock()
	return answers, lines, a.streamFrames(), conns
}

var (
	startHA = func(t *testing.T) func(string) func() string {
		return func(text string) func() string { return startHAProxyReady(t, text) }
	}
	startLB = func(t *testing.T) func(string) func() string {
		return func(text string) func() string {
			_, logs, mu := startInProcess(t, text)
			return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
		}
	}
)

const spoeOptsFrontend = `global
    log stdout format short local0
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    mode http
    bind 127.0.0.1:%[1]d
    filter spoe engine e1 config %[2]s
%[4]s
backend agents
    mode tcp
    server a %[3]s
`

// The SPOE log line of each processing, for an agent that logs to the
// global targets and one with a target of its own and option
// dontlog-normal: haproxy and lb must log the same lines, at the same
// levels, with the same counters, and send the same frame IDs.
func TestInteropSPOELogMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const conf = `[e1]
spoe-agent a1
    messages m-http
    groups g1
    option set-on-error err
    log global
    timeout hello 2s
    timeout idle 2m
    timeout processing 300ms
    use-backend agents
spoe-message m-http
    args path
    event on-frontend-http-request unless { path /skip }
spoe-message m-g
    args path
spoe-group g1
    messages m-g
[e2]
spoe-agent a2
    messages m-http2
    option var-prefix two
    option set-on-error err
    option dontlog-normal
    no log
    log stdout format short local0
    timeout hello 2s
    timeout idle 2m
    timeout processing 300ms
    use-backend agents
spoe-message m-http2
    args path
    event on-frontend-http-request
`
	cfg := strings.Replace(spoeOptsFrontend, "%[4]s", `    filter spoe engine e2 config %[2]s
    http-request send-spoe-group e1 g1
    http-request return status 200 content-type text/plain lf-string "ok=%%[var(txn.a1.ok)],%%[var(txn.two.ok)] err=%%[var(txn.a1.err)],%%[var(txn.two.err)]"`, 1)
	paths := []string{"/a", "/skip", "/silent", "/b"}
	wantAnswers, wantLines, wantFrames, _ := runSPOEOpts(t, startHA(t), false, conf, cfg, paths, nil, 7)
	gotAnswers, gotLines, gotFrames, _ := runSPOEOpts(t, startLB(t), false, conf, cfg, paths, nil, 7)
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's SPOE lines, then lb's")
	require.Equal(t, wantFrames, gotFrames, "the NOTIFYs' streams and frames, haproxy's then lb's")

	// And what they are: notice (5) for a success, warning (4) for an
	// error; a2 logs only its error; an event that sends nothing logs
	// nothing but counts as processed; a frame ID moves on only with an
	// ACK; each agent connection takes a stream number.
	require.Equal(t, []string{
		"<5>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+0 st=0 T/T/T/T/T 1/1 0/0 0/1",
		"<5>SPOE: [a1] <GROUP:g1> sid=+0 st=0 T/T/T/T/T 1/1 0/0 0/2",
		"<5>SPOE: [a1] <GROUP:g1> sid=+3 st=0 T/T/T/T/T 1/1 0/0 0/4",
		"<4>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+4 st=1 T/T/-1/-1/T 1/1 0/0 1/5",
		"<4>SPOE: [a2] <EVENT:on-frontend-http-request> sid=+4 st=1 T/T/-1/-1/T 1/1 0/0 1/3",
		"<5>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+5 st=0 T/T/T/T/T 1/1 0/0 1/6",
		"<5>SPOE: [a1] <GROUP:g1> sid=+5 st=0 T/T/T/T/T 1/1 0/0 1/7",
	}, gotLines)
	require.Equal(t, "0/1 0/1 0/2 3/1 3/1 4/1 4/1 5/1 5/1 5/2", gotFrames)
	require.Equal(t, "/silent 200 ok=, err=1,1", gotAnswers[2])
}

// maxerrrate: once the engine's errors reach the rate, processing stops
// (no frame, no variable), and a stream that processed before logs its
// last line again for each processing skipped.
func TestInteropSPOEMaxErrRateMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const conf = `[e1]
spoe-agent a1
    messages m-http
    groups g1
    maxerrrate 1
    option continue-on-error
    option set-on-error err
    option set-process-time pt
    log global
    timeout hello 2s
    timeout idle 2m
    timeout processing 300ms
    use-backend agents
spoe-message m-http
    args path
    event on-frontend-http-request
spoe-message m-g
    args path
spoe-group g1
    messages m-g
`
	cfg := strings.Replace(spoeOptsFrontend, "%[4]s", `    http-request send-spoe-group e1 g1
    http-request return status 200 content-type text/plain lf-string "ok=%%[var(txn.a1.ok)] err=%%[var(txn.a1.err)] pt=%%[var(txn.a1.pt),div(100000)]"`, 1)
	paths := []string{"/a", "/silent", "/b"}
	wantAnswers, wantLines, wantFrames, _ := runSPOEOpts(t, startHA(t), false, conf, cfg, paths, nil, 4)
	gotAnswers, gotLines, gotFrames, _ := runSPOEOpts(t, startLB(t), false, conf, cfg, paths, nil, 4)
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's SPOE lines, then lb's")
	require.Equal(t, wantFrames, gotFrames, "the NOTIFYs' streams and frames, haproxy's then lb's")

	require.Equal(t, []string{"/a 200 ok=yes err= pt=0", "/silent 200 ok= err=1 pt=0", "/b 200 ok= err= pt="}, gotAnswers)
	require.Equal(t, []string{
		"<5>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+0 st=0 T/T/T/T/T 1/1 0/0 0/1",
		"<5>SPOE: [a1] <GROUP:g1> sid=+0 st=0 T/T/T/T/T 1/1 0/0 0/2",
		"<4>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+2 st=1 T/T/-1/-1/T 1/1 0/0 1/3",
		"<4>SPOE: [a1] <GROUP:g1> sid=+2 st=1 T/T/-1/-1/T 1/1 0/0 1/3",
	}, gotLines)
	require.Equal(t, "0/1 0/2 2/1", gotFrames, "nothing sent once the errors reached the rate")
}

// maxconnrate: with the agent ending each connection after its ACK, the
// first request's connection is the only one of the second: the next
// requests find none open and fail at once with the resource error (2),
// where without the limit they would open their own.
func TestInteropSPOEMaxConnRateMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const conf = `[e1]
spoe-agent a1
    messages m-http
    maxconnrate 1
    option set-on-error err
    log global
    timeout hello 2s
    timeout idle 2m
    timeout processing 2s
    use-backend agents
spoe-message m-http
    args path
    event on-frontend-http-request
`
	cfg := strings.Replace(spoeOptsFrontend, "%[4]s", `    http-request return status 200 content-type text/plain lf-string "ok=%%[var(txn.a1.ok)] err=%%[var(txn.a1.err)]"`, 1)
	paths := []string{"/a", "/b", "/c"}
	// The next request once the balancer closed the first connection.
	between := func(a *optsAgent, i int) {
		if i == 0 {
			select {
			case <-a.gone:
			case <-time.After(10 * time.Second):
				t.Fatal("the first connection did not end")
			}
		}
	}
	wantAnswers, wantLines, wantFrames, wantConns := runSPOEOpts(t, startHA(t), true, conf, cfg, paths, between, 3)
	gotAnswers, gotLines, gotFrames, gotConns := runSPOEOpts(t, startLB(t), true, conf, cfg, paths, between, 3)
	// Whether the first line still counts the connection the agent
	// is ending depends on which comes first.
	for _, lines := range [][]string{wantLines, gotLines} {
		lines[0] = regexp.MustCompile(` \d/\d (\d+/\d+ \d+/\d+)$`).ReplaceAllString(lines[0], " n/n $1")
	}
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's SPOE lines, then lb's")
	require.Equal(t, wantFrames, gotFrames, "the NOTIFYs' streams and frames, haproxy's then lb's")
	require.Equal(t, wantConns, gotConns, "the agent's connections")

	require.Equal(t, []string{"/a 200 ok=yes err=", "/b 200 ok= err=2", "/c 200 ok= err=2"}, gotAnswers)
	require.Equal(t, 1, gotConns)
	require.Equal(t, "<4>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+2 st=2 -1/-1/-1/-1/T 0/0 0/0 1/2", gotLines[1])
}

// With no server of the agents up, an engine opens no connection: its
// processings fail at once with the resource error (2), as over
// maxconnrate, rather than wait for the processing timeout.
func TestInteropSPOENoAgentServerMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const conf = `[e1]
spoe-agent a1
    messages m-http
    option set-on-error err
    log global
    timeout hello 2s
    timeout idle 2m
    timeout processing 2s
    use-backend agents
spoe-message m-http
    args path
    event on-frontend-http-request
`
	cfg := strings.Replace(strings.Replace(spoeOptsFrontend, "%[4]s", `    http-request return status 200 content-type text/plain lf-string "ok=%%[var(txn.a1.ok)] err=%%[var(txn.a1.err)]"`, 1),
		"server a %[3]s", "server a %[3]s disabled", 1)
	paths := []string{"/a", "/b"}
	wantAnswers, wantLines, _, wantConns := runSPOEOpts(t, startHA(t), false, conf, cfg, paths, nil, 2)
	gotAnswers, gotLines, _, gotConns := runSPOEOpts(t, startLB(t), false, conf, cfg, paths, nil, 2)
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's SPOE lines, then lb's")
	require.Equal(t, wantConns, gotConns, "the agent's connections")

	require.Equal(t, []string{"/a 200 ok= err=2", "/b 200 ok= err=2"}, gotAnswers)
	require.Equal(t, "<4>SPOE: [a1] <EVENT:on-frontend-http-request> sid=+1 st=2 -1/-1/-1/-1/T 0/0 0/0 2/2", gotLines[1])
	require.Zero(t, gotConns)
}

// maxconnrate with requests at once: the first opens the engine's only
// connection of the second, and the others wait for it rather than fail
// (it is opening) or open their own; pipelined on it, they all reach the
// agent, which answers once it has them all.
func TestInteropSPOEMaxConnRateQueuesMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	const conf = `[e1]
spoe-agent a1
    messages m-http
    maxconnrate 1
    option set-on-error err
    timeout hello 2s
    timeout idle 2m
    timeout processing 5s
    use-backend agents
spoe-message m-http
    args path
    event on-frontend-http-request
`
	cfg := strings.Replace(spoeOptsFrontend, "%[4]s", `    http-request return status 200 content-type text/plain lf-string "ok=%%[var(txn.a1.ok)] err=%%[var(txn.a1.err)]"`, 1)
	paths := []string{"/a", "/b", "/c"}
	wantAnswers, _, _, wantConns := runSPOEOpts(t, startHA(t), false, conf, cfg, paths, nil, 0, 3)
	gotAnswers, _, _, gotConns := runSPOEOpts(t, startLB(t), false, conf, cfg, paths, nil, 0, 3)
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantConns, gotConns, "the agent's connections")

	require.Equal(t, []string{"/a 200 ok=yes err=", "/b 200 ok=yes err=", "/c 200 ok=yes err="}, gotAnswers)
	require.Equal(t, 1, gotConns)
}

// The SPOE log lines of TCP sessions: a content rule's group, named by
// the session's stream number.
func TestInteropSPOELogTCPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	const conf = `[e1]
spoe-agent a1
    groups g1
    option continue-on-error
    log global
    timeout hello 2s
    timeout idle 2m
    timeout processing 300ms
    use-backend agents
spoe-message m-g
    args first=req.payload(0,7) n=req.len
spoe-group g1
    messages m-g
`
	run := func(start func(string) func() string) (answers, lines []string, frames string) {
		a := newOptsAgent(t, false)
		path := filepath.Join(t.TempDir(), "spoe.conf")
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
		p := freePorts(t, 1)
		out := start(fmt.Sprintf(`global
    log stdout format short local0
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen t
    mode tcp
    bind 127.0.0.1:%d
    filter spoe engine e1 config %s
    tcp-request inspect-delay 2s
    tcp-request content send-spoe-group e1 g1 if { req.len ge 7 }
    server e %s
backend agents
    mode tcp
    server a %s
`, p[0], path, echo, a.addr))
		for _, data := range []string{"/first!", "/silent", "/third!"} {
			answers = append(answers, tcpExchange(t, p[0], data))
		}
		return answers, spoeLines(t, out, 3), a.streamFrames()
	}
	wantAnswers, wantLines, wantFrames := run(startHA(t))
	gotAnswers, gotLines, gotFrames := run(startLB(t))
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's SPOE lines, then lb's")
	require.Equal(t, wantFrames, gotFrames, "the NOTIFYs' streams and frames, haproxy's then lb's")

	require.Equal(t, []string{
		"<5>SPOE: [a1] <GROUP:g1> sid=+0 st=0 T/T/T/T/T 1/1 0/0 0/1",
		"<4>SPOE: [a1] <GROUP:g1> sid=+2 st=1 T/T/-1/-1/T 1/1 0/0 1/2",
		"<5>SPOE: [a1] <GROUP:g1> sid=+3 st=0 T/T/T/T/T 1/1 0/0 1/3",
	}, gotLines)
	require.Equal(t, []string{"/first!", "/silent", "/third!"}, gotAnswers)
}
