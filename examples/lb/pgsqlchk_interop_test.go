package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropPgSQLCheckMatchesHAProxy runs option pgsql-check against
// database servers that accept the user, ask for a password, refuse the
// user with an error, answer nonsense, close at once or stay silent,
// under haproxy and lb: the servers receive the same startup packet, and
// go up or down with the same reasons.
func TestInteropPgSQLCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	packets := map[string]bool{}
	pgPeer := func(answer []byte, silent bool) string {
		return checkPeer(t, func(c *net.TCPConn) {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 256)
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			packets[hex.EncodeToString(buf[:n])] = true
			mu.Unlock()
			if silent {
				_, _ = io.Copy(io.Discard, c)
				return
			}
			_, _ = c.Write(answer)
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	pgError := "E\x00\x00\x00\x2cSFATAL\x00VFATAL\x00C28000\x00Mrole \"x\" does not exist\x00\x00"
	peers := []string{
		pgPeer([]byte("R\x00\x00\x00\x08\x00\x00\x00\x00"), false),
		pgPeer([]byte("R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"), false),
		pgPeer([]byte(pgError), false),
		pgPeer([]byte("XYZ123456789"), false),
		pgPeer(nil, false),
		pgPeer(nil, true),
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
    option pgsql-check user haproxy_check
    option log-health-checks
    default-server check inter 1s rise 1 fall 1
    server trust %s
    server md5 %s
    server refused %s
    server nonsense %s
    server closes %s
    server silent %s
`, freePorts(t, 1)[0], peers[0], peers[1], peers[2], peers[3], peers[4], peers[5]))
		return checkLines(t, out, 6, "Health check for")
	}
	want := run(haproxyLogs(t))
	mu.Lock()
	haPackets := fmt.Sprint(packets)
	clear(packets)
	mu.Unlock()
	got := run(lbLogs(t))
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	mu.Lock()
	require.Equal(t, haPackets, fmt.Sprint(packets), "the startup packets")
	mu.Unlock()
	joined := strings.Join(got, "\n")
	require.Contains(t, joined, `b/trust succeeded, reason: Layer7 check passed, code: 0, info: "PostgreSQL server is ok"`)
	require.Contains(t, joined, `b/refused failed, reason: Layer7 invalid response, info: "FATAL"`)
}
