package balancer

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

func TestParseAgentReply(t *testing.T) {
	tests := []struct {
		line string
		want agentReply
	}{
		{"", agentReply{}},
		{"up", agentReply{health: "up"}},
		{"UP", agentReply{health: "UP"}},
		{"down #going away", agentReply{health: "down", desc: "going away"}},
		{"down#going away", agentReply{err: "down#going", admin: ""}},
		{"Stopped,\t# \t bye now ", agentReply{health: "Stopped", desc: "bye now "}},
		{"fail", agentReply{health: "fail"}},
		{"up down", agentReply{health: "down"}},
		{"75% ready", agentReply{weight: "75%", admin: "ready"}},
		{"drain,maint ,READY", agentReply{admin: "READY"}},
		{"50%x", agentReply{weight: "50%x"}},
		{"%50", agentReply{err: "%50"}},
		{"-5%", agentReply{err: "-5%"}},
		{"maxconn:10", agentReply{maxconn: "10", hasMax: true}},
		{"MAXCONN:", agentReply{maxconn: "", hasMax: true}},
		{"hello world", agentReply{err: "hello"}},
		{"#", agentReply{}},
		{"# only words", agentReply{desc: "only words"}},
		{",,, \t", agentReply{}},
		{"100% maxconn:0 up", agentReply{weight: "100%", maxconn: "0", hasMax: true, health: "up"}},
		{"\x00\xff up", agentReply{err: "\x00\xff", health: "up"}},
		{strings.Repeat("x", 20000), agentReply{err: strings.Repeat("x", 20000)}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, parseAgentReply(tt.line), "%q", tt.line)
	}
}

func TestAgentLine(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"up\n", "up", true},
		{"up\r\n", "up", true},
		{"up", "", false},
		{"", "", false},
		{"\n", "", true},
		{"up\x00\n", "", false},
		{"a\rb\n", "a", true},
	} {
		line, ok := agentLine([]byte(tt.in))
		require.Equal(t, tt.ok, ok, "%q", tt.in)
		require.Equal(t, tt.want, string(line), "%q", tt.in)
	}
}

// TestAgentWeightAndMaxConn applies weight and maxconn words as HAProxy
// reads them, with its words for those it refuses.
func TestAgentWeightAndMaxConn(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr"} {
		cfg := &config.Proxy{Name: "b", Kind: config.KindBackend, Mode: "tcp", Balance: algo,
			Servers: []*config.Server{{Name: "s", Addr: "127.0.0.1:1", Weight: 10, Rise: 2, Fall: 3}}}
		b := newBackend(cfg, &logSet{})
		s := b.servers[0]
		weight := func(w string) (string, int) {
			msg := s.agentWeight(w)
			cur, _ := s.Weight()
			return msg, cur
		}
		for _, tt := range []struct {
			word, msg string
			weight    int
		}{
			{"50%", "", 5},
			{"0%", "", 0},
			{"100%", "", 10},
			{"50%x", "Trailing garbage in weight string", 10},
			{"5x%", "Trailing garbage in weight string", 10},
			{"300%x", "Absolute weight can only be between 0 and 256 inclusive.\n", 10},
			{"99999999999999999999999%", "", 256},
		} {
			if algo == "static-rr" && tt.msg == "" && tt.weight != 0 && tt.weight != 10 {
				tt.msg, tt.weight = "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n", 10
			}
			msg, w := weight(tt.word)
			require.Equal(t, tt.msg, msg, "%s %q", algo, tt.word)
			require.Equal(t, tt.weight, w, "%s %q", algo, tt.word)
			if w != 10 {
				weight("100%")
			}
		}
		for _, tt := range []struct {
			v, msg string
			max    int
		}{
			{"10", "", 10},
			{"+7", "", 7},
			{"0", "", 0},
			{"", "Require <maxconn>.\n", 0},
			{"abc", "maxconn string empty or preceded by garbage", 0},
			{"-", "maxconn string empty or preceded by garbage", 0},
			{"12x", "Trailing garbage in maxconn string", 0},
			{"99999999999999999999", "", 1<<31 - 1},
		} {
			require.Equal(t, tt.msg, s.agentMaxConn(tt.v), "%q", tt.v)
			b.mu.Lock()
			got := s.maxconn
			s.maxconn = 0
			b.mu.Unlock()
			require.Equal(t, tt.max, got, "%q", tt.v)
		}
	}
}

func FuzzParseAgentReply(f *testing.F) {
	for _, s := range []string{"up", "down #x", "50%x maxconn:3 drain", "#", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := parseAgentReply(line)
		if r.desc != "" && !strings.Contains(line, "#") {
			t.Fatalf("a description without '#' in %q", line)
		}
	})
}

// An agent check in progress, its agent silent, ends with the balancer:
// Close returns at once and leaves no goroutine behind.
func TestAgentCheckStopsOnClose(t *testing.T) {
	testnet.LeakCheck(t)
	accepted := make(chan struct{}, 1)
	agentAddr, _ := testnet.Peer(t, func(c *net.TCPConn) {
		accepted <- struct{}{}
		_, _ = io.Copy(io.Discard, c)
	})
	_, port, err := net.SplitHostPort(agentAddr)
	require.NoError(t, err)
	text := globalLog + `frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    server s 127.0.0.1:1 agent-check agent-port %s agent-inter 60s
`
	b, _ := startLB(t, parseCfg(t, text, port))
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent check never connected")
	}
	require.Eventually(t, func() bool { return b.Backend("b").Server("s").agent.running.Load() }, 10*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, b.Close())
	require.Less(t, time.Since(start), 5*time.Second, "Close waited for the agent")
}
