package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
)

// TestInteropSPOPCheckMatchesHAProxy runs option spop-check against an
// agent, one that speaks an older SPOP, one that announces no frame size
// and one whose frame size is too big, under haproxy and lb: the agents
// receive the same HELLO, and the servers go up or down with the same
// reasons. An agent that leaves with a DISCONNECT and a web server fail
// lb's check, where haproxy's never ends.
func TestInteropSPOPCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	hellos := map[string]bool{}
	peer := func(answer []byte) string {
		return checkPeer(t, func(c *net.TCPConn) {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			f, _, err := spoe.ReadFrame(c, nil, 1<<16)
			if err != nil {
				return
			}
			kvs, _ := spoe.ParseKVList(f.Payload)
			mu.Lock()
			hellos[fmt.Sprint(f.Type, kvs)] = true
			mu.Unlock()
			_, _ = c.Write(answer)
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	frame := func(t spoe.FrameType, kvs ...spoe.KV) []byte {
		b := spoe.AppendFrameHead(nil, t, spoe.FlagFin, 0, 0)
		for _, kv := range kvs {
			b = spoe.AppendKV(b, kv.Key, kv.Value)
		}
		return spoe.FinishFrame(b, 0)
	}
	hello := func(version string) []byte {
		return frame(spoe.FrameAgentHello, spoe.KV{Key: "version", Value: spoe.Str(version)},
			spoe.KV{Key: "max-frame-size", Value: spoe.Uint32(16380)}, spoe.KV{Key: "capabilities", Value: spoe.Str("")})
	}
	servers := [][2]string{
		{"agent", peer(hello("2.0"))},
		{"old", peer(hello("1.0"))},
		{"nosize", peer(frame(spoe.FrameAgentHello, spoe.KV{Key: "version", Value: spoe.Str("2.0")}, spoe.KV{Key: "capabilities", Value: spoe.Str("")}))},
		{"big", peer(frame(spoe.FrameAgentHello, spoe.KV{Key: "version", Value: spoe.Str("2.0")},
			spoe.KV{Key: "max-frame-size", Value: spoe.Uint32(70000)}, spoe.KV{Key: "capabilities", Value: spoe.Str("")}))},
	}
	want, got := protocolCheckReasons(t, "spop-check", servers, "", 0)
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	mu.Lock()
	require.Len(t, hellos, 1, "haproxy and lb send the same HELLO")
	mu.Unlock()
	require.Contains(t, got, `Health check for server b/agent succeeded, reason: Layer7 check passed, code: 0, info: "SPOA server is ok", check duration: N, status: 1/1 UP.`)
	require.Contains(t, got, `Health check for server b/old failed, reason: Layer7 invalid response, info: "unsupported version", check duration: N, status: 0/1 DOWN.`)

	// Where haproxy 2.6 never decides (its check stays pending), lb
	// fails the server with a reason.
	lbOnly := [][2]string{
		{"leaves", peer(frame(spoe.FrameAgentDisconnect, spoe.KV{Key: "status-code", Value: spoe.Uint32(42)}, spoe.KV{Key: "message", Value: spoe.Str("nope")}))},
		{"http", peer([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))},
	}
	var sb strings.Builder
	for _, s := range lbOnly {
		fmt.Fprintf(&sb, "    server %s %s\n", s[0], s[1])
	}
	out := lbLogs(t)(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout check 500ms
backend b
    option spop-check
    option log-health-checks
    default-server check inter 1s rise 1 fall 1
%s`, sb.String()))
	require.Equal(t, []string{
		`Health check for server b/http failed, reason: Layer7 invalid response, info: "invalid frame received", check duration: N, status: 0/1 DOWN.`,
		`Health check for server b/leaves failed, reason: Layer7 invalid response, info: "nope", check duration: N, status: 0/1 DOWN.`,
	}, checkLines(t, out, 2, "Health check for"))
}
