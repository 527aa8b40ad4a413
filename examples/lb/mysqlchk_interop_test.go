package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mysqlPacket frames payload as a MySQL packet with sequence seq.
func mysqlPacket(seq byte, payload string) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// TestInteropMySQLCheckMatchesHAProxy runs option mysql-check, without a
// user (the handshake alone) and with one (the 4.1 and the older
// authentication), against servers that greet, refuse at once, send a
// truncated packet, accept or deny the user, hang up or stay silent,
// under haproxy and lb: the servers receive the same authentication
// packets, and go up or down with the same reasons.
func TestInteropMySQLCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	packets := map[string]bool{}
	handshake := mysqlPacket(0, "\x0a5.7.99-fake\x00\x01\x00\x00\x00abcdefgh\x00\xff\xf7\x21\x02\x00")
	tooMany := mysqlPacket(0, "\xff\x10\x04#HY000Too many connections")
	denied := mysqlPacket(2, "\xff\x15\x04#28000Access denied")
	ok := mysqlPacket(2, "\x00\x00\x00\x02\x00\x00\x00")
	peer := func(greet []byte, answer []byte, silent bool) string {
		return checkPeer(t, func(c *net.TCPConn) {
			if silent {
				_, _ = io.Copy(io.Discard, c)
				return
			}
			_, _ = c.Write(greet)
			if answer == nil {
				// Read what comes, so that closing sends a FIN.
				_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				_, _ = io.Copy(io.Discard, c)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 256)
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			packets[hex.EncodeToString(buf[:n])] = true
			mu.Unlock()
			_, _ = c.Write(answer)
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	hangup := checkPeer(t, func(*net.TCPConn) {})
	// A greeting cut short and the end of the stream at once: waiting
	// to close raced the check's timeout on a loaded machine.
	truncated := checkPeer(t, func(c *net.TCPConn) {
		_, _ = c.Write(handshake[:12])
		_ = c.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = io.Copy(io.Discard, c)
	})
	silent := peer(nil, nil, true)
	servers := [][2]string{
		{"greets", peer(handshake, nil, false)},
		{"toomany", peer(tooMany, nil, false)},
		{"truncated", truncated},
		{"hangup", hangup},
		{"silent", silent},
	}
	extra := fmt.Sprintf(`backend u
    option mysql-check user haproxy_check
    option log-health-checks
    default-server check inter 1s rise 1 fall 1
    server accepts %s
    server denies %s
    server hangup %s
backend old
    option mysql-check user haproxy_check pre-41
    option log-health-checks
    server accepts %s check inter 1s rise 1 fall 1
`, peer(handshake, ok, false), peer(handshake, denied, false), hangup, peer(handshake, ok, false))
	want, got := protocolCheckReasons(t, "mysql-check", servers, extra, 4)
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	mu.Lock()
	require.Len(t, packets, 2, "haproxy and lb send the same 4.1 and pre-4.1 packets")
	mu.Unlock()
	require.Contains(t, got, `Health check for server b/greets succeeded, reason: Layer7 check passed, code: 0, info: "5.7.99-fake", check duration: N, status: 1/1 UP.`)
}
