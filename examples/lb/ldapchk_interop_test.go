package main

import (
	"encoding/hex"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropLDAPCheckMatchesHAProxy runs option ldap-check against
// directory servers that accept the anonymous bind, refuse it, speak
// something else, answer with the wrong message id, hang up or stay
// silent, under haproxy and lb: the servers receive the same bind
// request, and go up or down with the same reasons.
func TestInteropLDAPCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	requests := map[string]bool{}
	peer := func(answer string) string {
		return checkPeer(t, func(c *net.TCPConn) {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			requests[hex.EncodeToString(buf[:n])] = true
			mu.Unlock()
			if answer == "" {
				_, _ = io.Copy(io.Discard, c)
				return
			}
			_, _ = io.WriteString(c, answer)
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	servers := [][2]string{
		{"binds", peer("\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00")},
		{"refuses", peer("\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x31\x04\x00\x04\x00")},
		{"http", peer("HTTP/1.1 400 Bad Request\r\n\r\n")},
		{"wrongid", peer("\x30\x0c\x02\x01\x02\x61\x07\x0a\x01\x00\x04\x00\x04\x00")},
		{"hangup", checkPeer(t, func(*net.TCPConn) {})},
		{"silent", peer("")},
	}
	want, got := protocolCheckReasons(t, "ldap-check", servers, "", 0)
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	mu.Lock()
	require.Len(t, requests, 1, "haproxy and lb send the same bind request")
	mu.Unlock()
	require.Contains(t, got, `Health check for server b/binds succeeded, reason: Layer7 check passed, code: 0, info: "Success", check duration: N, status: 1/1 UP.`)
}
