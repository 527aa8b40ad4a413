package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stickQueueCfg(port int, peers []string) string {
	return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
listen st
    bind 127.0.0.1:%d
    stick-table type ip size 100 expire 1m
    stick on src
    server s1 %s maxconn 1
    server s2 %s maxconn 1
`, port, peers[0], peers[1])
}

// TestInteropStickQueueMatchesHAProxy: a client the stick table sends to
// a full server waits in that server's queue, as under haproxy, rather
// than going to the free one, and is served there once the slot frees.
func TestInteropStickQueueMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var peers []string
	for _, name := range []string{"s1", "s2"} {
		peers = append(peers, checkPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			_, _ = io.Copy(io.Discard, c)
		}))
	}
	read := func(c net.Conn) string {
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		return strings.TrimSpace(line)
	}
	run := func(port int, queued func() int) []string {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		first := dialFrom(t, "127.0.0.2", addr)
		got := []string{read(first)}
		again := dialFrom(t, "127.0.0.2", addr) // sticks to the full s1
		ok := assert.Eventually(t, func() bool { return queued() == 1 }, 10*time.Second, 10*time.Millisecond)
		require.True(t, ok, "the second connection waits in s1's queue")
		other := dialFrom(t, "127.0.0.3", addr)
		got = append(got, read(other))
		_ = first.Close()
		got = append(got, read(again))
		return got
	}
	ports := freePorts(t, 2)
	sock := filepath.Join(t.TempDir(), "haproxy.sock")
	haCfg := strings.Replace(stickQueueCfg(ports[0], peers), "defaults\n", "global\n    stats socket "+sock+"\ndefaults\n", 1)
	startHAProxy(t, haCfg, func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0], func() int { return haproxyQueued(t, sock, "st", "s1") })
	b, _, _ := startInProcess(t, stickQueueCfg(ports[1], peers))
	got := run(ports[1], func() int { return b.Backend("st").Server("s1").Queued() })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, []string{"s1", "s2", "s1"}, got)
}
