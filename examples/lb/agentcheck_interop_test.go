package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// Scripted agent answers that are not a line to send.
const (
	agentSilent = "<silent>" // accept and say nothing until the check gives up
	agentClose  = "<close>"  // close at once, without a word
)

// scriptedAgent is an agent server whose answer the test sets; it counts
// the connections that got the current answer and keeps what the first
// connection sent.
type scriptedAgent struct {
	addr string
	mu   sync.Mutex
	line string
	got  int
	sent []byte
}

func newScriptedAgent(t *testing.T) *scriptedAgent {
	a := &scriptedAgent{}
	a.addr = checkPeer(t, func(c *net.TCPConn) {
		a.mu.Lock()
		line := a.line
		a.got++
		a.mu.Unlock()
		switch line {
		case agentClose:
			// Take what the check sent first, so that closing sends a
			// FIN, not a reset.
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, _ = c.Read(make([]byte, 64))
			return
		case agentSilent:
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.Copy(io.Discard, c)
			return
		}
		_, _ = io.WriteString(c, line)
		// Read what the check sent (agent-send), then close.
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		b, _ := io.ReadAll(c)
		a.mu.Lock()
		if a.sent == nil {
			a.sent = b
		}
		a.mu.Unlock()
	})
	return a
}

// answer sets the agent's next answer.
func (a *scriptedAgent) answer(line string) {
	a.mu.Lock()
	a.line, a.got = line, 0
	a.mu.Unlock()
}

func (a *scriptedAgent) served() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.got
}

func (a *scriptedAgent) port(t *testing.T) string {
	_, p, err := net.SplitHostPort(a.addr)
	require.NoError(t, err)
	return p
}

// csvStats reads "show stat" as CSV proper, whose quoted fields may hold
// a line end (an agent's message does), into rows keyed "proxy/name".
func csvStats(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	require.NoError(t, err, "show stat: %s", out)
	require.NotEmpty(t, recs, "show stat: %s", out)
	rows := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		require.Len(t, rec, len(recs[0]), "row %q", rec)
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows[rec[0]+"/"+rec[1]] = row
	}
	return rows
}

// agentColumns are the statistics an agent check sets that do not hang
// on timing.
var agentColumns = strings.Fields("status weight uweight slim agent_status agent_code agent_desc last_agt agent_rise agent_fall agent_health check_status check_health")

// TestInteropAgentCheckMatchesHAProxy runs agent checks under haproxy and
// lb against agents answering a script of lines (weights, drain, maint,
// ready, down with and without a description, up, maxconn, garbage, a
// close without a word, a line without its end, silence) and one agent
// nobody listens for: after each answer the servers' statistics, which
// servers new requests reach, and the log lines about the states must be
// haproxy's.
func TestInteropAgentCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	name := func(n string) string {
		return handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, n) })
	}
	s1, s2, s3 := name("s1"), name("s2"), name("s3")
	_, refusedPort, err := net.SplitHostPort(testnet.RefusedAddr(t))
	require.NoError(t, err)
	script := []string{
		"ready\n", "50%\n", "drain\n", "ready\n", "maint\n", "ready\n",
		"down#going away\n", "down #going away\n", "75% ready\n", "up\n",
		"maxconn:10\n", "hello world\n", "50%x\n", "maxconn:\n", "maxconn:12x\n", "fail\n", "UP 100%\n",
		"drain\n", "down\n", "ready\n", "up\n",
		"Stopped,\t# bye now\n", "maint\n", "up\n", "ready\n",
		agentClose, "no end", agentSilent, "100% maxconn:0 up\r\n",
	}
	type result struct {
		steps []string
		logs  []string
		sent  string
	}
	run := func(start func(text, sock string) func() string) result {
		agent := newScriptedAgent(t)
		agent.answer(script[0])
		port := freePorts(t, 1)[0]
		sock := filepath.Join(t.TempDir(), "admin.sock")
		logs := start(fmt.Sprintf(`global
    stats socket %s level admin
    log stdout format raw local0
%s    log global
    timeout check 300ms
listen web
    bind 127.0.0.1:%d
    balance roundrobin
    option log-health-checks
    server s1 %s weight 10 agent-check agent-port %s agent-inter 100ms agent-send "hello\n"
    server s2 %s weight 10
    server s3 %s weight 10 check inter 100ms agent-check agent-addr 127.0.0.1 agent-port %s agent-inter 100ms
`, sock, httpDefaults, port, s1, agent.port(t), s2, s3, refusedPort), sock)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		reached := func() string {
			seen := map[string]bool{}
			for range 6 {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				seen[string(b)] = true
			}
			var names []string
			for n := range seen {
				names = append(names, n)
			}
			sort.Strings(names)
			return strings.Join(names, ",")
		}
		var res result
		for _, line := range script {
			agent.answer(line)
			// Once the agent took a second connection with this answer,
			// the first one's answer has been acted on.
			require.Eventually(t, func() bool { return agent.served() >= 2 }, 10*time.Second, 5*time.Millisecond, "agent answered %q", line)
			var rows map[string]map[string]string
			require.Eventually(t, func() bool {
				rows = csvStats(t, cliCommand(t, sock, "show stat"))
				return !strings.HasPrefix(rows["web/s1"]["agent_status"], "* ") && !strings.HasPrefix(rows["web/s3"]["agent_status"], "* ")
			}, 10*time.Second, 2*time.Millisecond, "no agent check in progress")
			step := fmt.Sprintf("%q:", line)
			for _, sv := range []string{"s1", "s3"} {
				for _, col := range agentColumns {
					// A health check in progress is a matter of timing.
					v := strings.TrimPrefix(rows["web/"+sv][col], "* ")
					step += fmt.Sprintf(" %s.%s=%q", sv, col, v)
				}
			}
			res.steps = append(res.steps, step+" reached="+reached())
		}
		for _, l := range strings.Split(logs(), "\n") {
			l = strings.TrimSpace(l)
			for _, p := range []string{"Agent check for", "Health check for", "Server ", "proxy "} {
				if strings.HasPrefix(l, p) {
					res.logs = append(res.logs, durationRe.ReplaceAllString(l, "check duration: N"))
					break
				}
			}
		}
		agent.mu.Lock()
		res.sent = string(agent.sent)
		agent.mu.Unlock()
		return res
	}
	want := run(func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	for i := range want.steps {
		require.Equal(t, want.steps[i], got.steps[i], "step %d: haproxy's, then lb's", i)
	}
	require.Equal(t, want.logs, got.logs, "haproxy's log lines, then lb's")
	require.Equal(t, "hello\n", got.sent, "agent-send")
	require.Equal(t, want.sent, got.sent)
	// What the script shows, so that a change in both cannot pass unseen.
	all := strings.Join(got.steps, "\n")
	require.Contains(t, all, `s1.status="DRAIN (agent)"`)
	require.Contains(t, all, `s1.status="DOWN (agent)"`)
	require.Contains(t, all, `s1.last_agt="via agent : down (going away)"`)
	require.Contains(t, all, `s3.agent_status="L4CON" s3.agent_code="" s3.agent_desc="Layer4 connection problem" s3.last_agt="Connection refused"`)
	require.Contains(t, strings.Join(got.logs, "\n"), `Agent check for server web/s1 failed, reason: Layer7 wrong status, code: 0, info: "via agent : down (going away)"`)
}
