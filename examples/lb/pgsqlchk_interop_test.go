package main

import (
	"encoding/hex"
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
	var servers [][2]string
	for i, name := range []string{"trust", "md5", "refused", "nonsense", "closes", "silent"} {
		servers = append(servers, [2]string{name, peers[i]})
	}
	want, got := protocolCheckReasons(t, "pgsql-check user haproxy_check", servers, "", 0)
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	mu.Lock()
	require.Len(t, packets, 1, "haproxy and lb send the same startup packet")
	mu.Unlock()
	joined := strings.Join(got, "\n")
	require.Contains(t, joined, `b/trust succeeded, reason: Layer7 check passed, code: 0, info: "PostgreSQL server is ok"`)
	require.Contains(t, joined, `b/refused failed, reason: Layer7 invalid response, info: "FATAL"`)
}
