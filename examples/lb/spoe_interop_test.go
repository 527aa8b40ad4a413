package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// interopAgent is a SPOA that records what it is sent and answers by the
// message: check-client scores a user agent ("bad" scores 5, anything
// else 90) and sets variables of every type, a user agent of
// "disconnect" makes it leave with status 42 and one of "silent" makes
// it never answer; tcp-check scores the first bytes of a TCP
// connection; on-resp notes the response's status; res-check judges a
// server's first bytes.
type interopAgent struct {
	addr string
	mu   sync.Mutex
	seen []string // "HELLO k=v ..." and "fid=N msg arg=type:value ..."
}

func newInteropAgent(t *testing.T) *interopAgent {
	a := &interopAgent{}
	a.addr = testnet.Serve(t, a.serve)
	return a
}

func (a *interopAgent) note(s string) {
	a.mu.Lock()
	a.seen = append(a.seen, s)
	a.mu.Unlock()
}

func (a *interopAgent) lines() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func (a *interopAgent) serve(c net.Conn) {
	defer c.Close()
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
			kvs, _ := spoe.ParseKVList(f.Payload)
			var sb strings.Builder
			sb.WriteString("HELLO")
			size := uint64(16380)
			for _, kv := range kvs {
				v := kv.Value.String()
				if kv.Key == "engine-id" {
					v = uuidShape.ReplaceAllString(v, "UUID")
				}
				if kv.Key == "max-frame-size" {
					size = min(size, kv.Value.Uint)
				}
				fmt.Fprintf(&sb, " %s=%s:%s", kv.Key, kv.Value.Type, v)
			}
			a.note(sb.String())
			out = spoe.AppendAgentHello(nil, int(size), "pipelining,async")
		case spoe.FrameNotify:
			msgs, err := spoe.ParseMessages(f.Payload)
			if err != nil {
				a.note("bad NOTIFY: " + err.Error())
				return
			}
			out = spoe.AppendFrameHead(nil, spoe.FrameAck, spoe.FlagFin, f.StreamID, f.FrameID)
			for _, m := range msgs {
				var sb strings.Builder
				fmt.Fprintf(&sb, "fid=%d %s", f.FrameID, m.Name)
				args := map[string]spoe.Value{}
				for _, arg := range m.Args {
					fmt.Fprintf(&sb, " %s=%s:%s", arg.Name, arg.Value.Type, arg.Value)
					args[arg.Name] = arg.Value
				}
				a.note(sb.String())
				set := func(scope uint8, name string, v spoe.Value) {
					out = spoe.AppendAction(out, spoe.Action{Type: spoe.ActionSetVar, Scope: scope, Name: []byte(name), Value: v})
				}
				switch m.Name {
				case "check-client":
					ua := args["ua"].String()
					switch ua {
					case "disconnect":
						b := spoe.AppendFrameHead(nil, spoe.FrameAgentDisconnect, spoe.FlagFin, 0, 0)
						b = spoe.AppendKV(b, "status-code", spoe.Uint32(42))
						b = spoe.AppendKV(b, "message", spoe.Str("leaving"))
						_, _ = c.Write(spoe.FinishFrame(b, 0))
						return
					case "silent":
						out = nil
						continue
					}
					score, verdict := int64(90), "good"
					if ua == "bad" {
						score, verdict = 5, "bad"
					}
					set(spoe.ScopeSess, "score", spoe.Value{Type: spoe.TypeInt32, Int: score})
					set(spoe.ScopeTxn, "verdict", spoe.Str(verdict))
					set(spoe.ScopeTxn, "ipaddr", args["ip"])
					set(spoe.ScopeTxn, "flag", spoe.Bool(true))
					set(spoe.ScopeTxn, "big", spoe.Value{Type: spoe.TypeUint64, Uint: 1 << 40})
					set(spoe.ScopeTxn, "body", args["body"])
					out = spoe.AppendAction(out, spoe.Action{Type: spoe.ActionUnsetVar, Scope: spoe.ScopeTxn, Name: []byte("tmp")})
				case "tcp-check":
					score := int64(90)
					if strings.HasPrefix(args["first"].String(), "BAD") {
						score = 5
					}
					set(spoe.ScopeSess, "score", spoe.Value{Type: spoe.TypeInt64, Int: score})
				case "on-resp":
					set(spoe.ScopeTxn, "resp_status", spoe.Value{Type: spoe.TypeUint32, Uint: uint64(args["status"].Int)})
				case "res-check":
					verdict := "ok"
					if strings.HasPrefix(args["first"].String(), "BAD") {
						verdict = "bad"
					}
					set(spoe.ScopeTxn, "rverdict", spoe.Str(verdict))
				}
			}
			if out == nil {
				continue
			}
		default:
			return
		}
		if _, err := c.Write(spoe.FinishFrame(out, 0)); err != nil {
			return
		}
	}
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const interopSPOEConf = `[iprep]
spoe-agent agent
    messages m-sess m-http m-resp m-tcp-sess m-srv
    groups g-client g-tcp g-resp
    option var-prefix iprep
    option set-on-error err
    timeout hello 2s
    timeout idle 2m
    timeout processing 300ms
    use-backend agents
spoe-message m-sess
    args ip=src
    event on-client-session if { fe_name f }
spoe-message m-tcp-sess
    args fe=fe_name
    event on-client-session if { fe_name t }
spoe-message m-srv
    args srv=srv_name be=be_name
    event on-server-session
spoe-message m-http
    args path method body=req.body
    event on-frontend-http-request
spoe-message m-resp
    args status=status
    event on-http-response
spoe-message check-client
    args ip=src ua=req.hdr(user-agent) body=req.body
spoe-message on-resp
    args status=status
spoe-message tcp-check
    args first=req.payload(0,3) n=req.len
spoe-group g-client
    messages check-client
spoe-group g-tcp
    messages tcp-check
spoe-group g-resp
    messages on-resp
`

// The same SPOE configuration and agent behind haproxy and lb: the agent
// must be sent the same frames, and the variables it sets must steer
// both balancers alike, in mode http and in mode tcp, through errors
// and timeouts.
func TestInteropSPOEMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "from web\n")
	}), "http://")
	echo := echoServer(t)
	conf := filepath.Join(t.TempDir(), "spoe.conf")
	require.NoError(t, os.WriteFile(conf, []byte(interopSPOEConf), 0o600))

	type result struct {
		answers []string
		seen    []string
	}
	run := func(start func(text string)) result {
		agent := newInteropAgent(t)
		p := freePorts(t, 2)
		start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    mode http
    bind 127.0.0.1:%[1]d
    option http-buffer-request
    filter spoe engine iprep config %[3]s
    http-request set-var(txn.iprep.tmp) str(set)
    http-request send-spoe-group iprep g-client
    http-request deny deny_status 403 if { var(sess.iprep.score) -m int lt 20 }
    http-request return status 200 content-type text/plain lf-string "score=%%[var(sess.iprep.score)] verdict=%%[var(txn.iprep.verdict)] ip=%%[var(txn.iprep.ipaddr)] flag=%%[var(txn.iprep.flag)] big=%%[var(txn.iprep.big)] body=%%[var(txn.iprep.body)] tmp=%%[var(txn.iprep.tmp)] err=%%[var(txn.iprep.err)]" if { path /local }
    http-response send-spoe-group iprep g-resp if { status 200 }
    http-response set-header x-score %%[var(sess.iprep.score)]
    http-response set-header x-err %%[var(txn.iprep.err)]
    http-response set-header x-resp %%[var(txn.iprep.resp_status)]
    default_backend web
backend web
    mode http
    server w %[4]s
backend agents
    mode tcp
    server a %[5]s
listen t
    mode tcp
    bind 127.0.0.1:%[2]d
    filter spoe engine iprep config %[3]s
    tcp-request inspect-delay 2s
    tcp-request content send-spoe-group iprep g-tcp if { req.len ge 3 }
    tcp-request content reject if { var(sess.iprep.score) -m int lt 20 }
    server e %[6]s
`, p[0], p[1], conf, web, agent.addr, echo))
		var res result
		for _, c := range []struct{ method, path, ua, body string }{
			{"GET", "/local", "good", ""},
			{"GET", "/local", "bad", ""},
			{"POST", "/local", "good", "hello"},
			{"GET", "/web", "good", ""},
			{"GET", "/local", "disconnect", ""},
			{"GET", "/local", "silent", ""},
		} {
			res.answers = append(res.answers, fmt.Sprintf("%s %s ua=%s: %s", c.method, c.path, c.ua, spoeRequest(t, p[0], c.method, c.path, c.ua, c.body)))
		}
		for _, first := range []string{"GOOD", "BAD!"} {
			res.answers = append(res.answers, "tcp "+first+": "+tcpExchange(t, p[1], first))
		}
		res.seen = agent.lines()
		return res
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	if slices.ContainsFunc(want.answers, func(a string) bool { return strings.Contains(a, "no answer") }) {
		// Under a loaded machine haproxy has, now and then, left the
		// silent agent's request unanswered past the client's 10 s
		// (its processing timeout is 300 ms): the reference is taken
		// again on a fresh haproxy rather than compared.
		t.Logf("haproxy left a request unanswered; taking its answers again: %q", want.answers)
		want = run(func(text string) { startHAProxyReady(t, text) })
	}
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want.answers, got.answers, "what haproxy's clients got, then lb's")
	require.Equal(t, want.seen, got.seen, "what haproxy sent the agent, then lb")

	// And what that is.
	require.Equal(t, []string{
		"GET /local ua=good: 200 score=90 verdict=good ip=127.0.0.1 flag=1 big=1099511627776 body= tmp= err=",
		"GET /local ua=bad: 403",
		"POST /local ua=good: 200 score=90 verdict=good ip=127.0.0.1 flag=1 big=1099511627776 body=hello tmp= err=",
		"GET /web ua=good: 200 x-score=90 x-err= x-resp=200",
		"GET /local ua=disconnect: 200 score= verdict= ip= flag= big= body= tmp=set err=1",
		"GET /local ua=silent: 200 score= verdict= ip= flag= big= body= tmp=set err=1",
		"tcp GOOD: GOOD",
		"tcp BAD!: closed",
	}, got.answers)
	require.Contains(t, got.seen, "HELLO supported-versions=string:2.0 max-frame-size=uint32:16380 capabilities=string:pipelining,async engine-id=string:UUID")
	require.Contains(t, got.seen, "fid=1 m-sess ip=ipv4:127.0.0.1")
	require.Contains(t, got.seen, "fid=2 m-http =string:/local =string:POST body=binary:hello")
	require.Contains(t, got.seen, "fid=2 tcp-check first=binary:BAD n=int64:4")
	require.Contains(t, got.seen, "fid=4 m-srv srv=string:w be=string:web")
	require.Contains(t, got.seen, "fid=3 m-srv srv=string:e be=string:t")
}

// spoeRequest sends one HTTP/1.1 request and sums up the answer: its
// status, then its body or (from the web server) the fields the
// response rules set.
func spoeRequest(t *testing.T, port int, method, path, ua, body string) string {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\nConnection: close\r\n", method, path, ua)
	if body != "" {
		req += fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	_, err = io.WriteString(c, req+"\r\n"+body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "no answer: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprint(resp.StatusCode)
	}
	if strings.HasPrefix(path, "/web") {
		return fmt.Sprintf("%d x-score=%s x-err=%s x-resp=%s", resp.StatusCode, resp.Header.Get("X-Score"), resp.Header.Get("X-Err"), resp.Header.Get("X-Resp"))
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

// tcpExchange sends data on a new connection and reports what comes
// back before the connection ends ("closed" for nothing).
func tcpExchange(t *testing.T, port int, data string) string {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, data)
	require.NoError(t, err)
	// The echo, or the end: the write side stays open meanwhile.
	b := make([]byte, len(data))
	n, _ := io.ReadFull(c, b)
	if n == 0 {
		return "closed"
	}
	return string(b[:n])
}
