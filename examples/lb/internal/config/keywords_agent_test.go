package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAgentCheckOptions(t *testing.T) {
	c := mustParse(t, `defaults
    mode tcp
    default-server agent-check agent-port 9999 agent-inter 3s agent-send "ping\n"
backend b
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2 agent-port 7000 agent-addr ::1 agent-inter 100ms agent-send 'raw\n'
    server s3 127.0.0.1:3 no-agent-check
    server s4 127.0.0.1:4 no-agent-check agent-check agent-port 1
defaults
    mode tcp
backend p
    server s 127.0.0.1:1 check port 8080 addr 127.0.0.9 agent-check
`)
	s := c.Proxy("b", KindBackend).Servers
	got := func(x *Server) [5]any {
		return [5]any{x.AgentCheck, x.AgentPort, x.AgentAddr, x.AgentInter, x.AgentSend}
	}
	require.Equal(t, [5]any{true, 9999, "", 3 * time.Second, "ping\n"}, got(s[0]), "from default-server, with the escape decoded")
	require.Equal(t, [5]any{true, 7000, "::1", 100 * time.Millisecond, `raw\n`}, got(s[1]), "the line's own, single quotes keep the backslash")
	require.Equal(t, [5]any{false, 9999, "", 3 * time.Second, ""}, got(s[2]), "no-agent-check drops the send string too")
	require.Equal(t, [5]any{true, 1, "", 3 * time.Second, ""}, got(s[3]))
	p := c.Proxy("p", KindBackend).Servers[0]
	require.Equal(t, [5]any{true, 0, "", time.Duration(0), ""}, got(p), "port stands in for agent-port at run time")
	require.Equal(t, 8080, p.CheckPort)
}

func TestAgentCheckErrors(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      error
		msg       string
	}{
		{"no port", "backend b\n  server s1 127.0.0.1:1 agent-check\n", ErrBadValue, "test.cfg:2: bad value: backend 'b': server 's1' does not have agent port: 'agent-check' needs 'agent-port' or 'port'"},
		{"no port from defaults", "defaults\n  default-server agent-check\nlisten l\n  bind :1\n  server s1 127.0.0.1:1\n", ErrBadValue, "test.cfg:5: bad value: listen 'l': server 's1' does not have agent port: 'agent-check'"},
		{"port zero", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 0\n", ErrBadValue, "test.cfg:2: bad value: 'server' in 'backend' section: server option 'agent-port': 0 out of range [1..65535]"},
		{"port range", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 70000\n", ErrBadValue, "server option 'agent-port'"},
		{"port word", "backend b\n  server s 127.0.0.1:1 agent-check agent-port abc\n", ErrBadValue, "server option 'agent-port'"},
		{"port missing", "backend b\n  server s 127.0.0.1:1 agent-check agent-port\n", ErrBadValue, "server option 'agent-port' expects 1 argument(s)"},
		{"inter zero", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-inter 0\n", ErrBadValue, "server option 'agent-inter': must be greater than 0"},
		{"inter word", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-inter abc\n", ErrBadValue, "server option 'agent-inter'"},
		{"addr host", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-addr nothost.invalid\n", ErrBadValue, "server option 'agent-addr': 'nothost.invalid' is not an IP address"},
		{"addr port", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-addr 127.0.0.1:9\n", ErrBadValue, "'127.0.0.1:9' is not an IP address"},
		{"send empty", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-send \"\"\n", ErrBadValue, "server option 'agent-send' expects 1 argument(s)"},
		{"send missing", "backend b\n  server s 127.0.0.1:1 agent-check agent-port 1 agent-send\n", ErrBadValue, "server option 'agent-send' expects 1 argument(s)"},
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
