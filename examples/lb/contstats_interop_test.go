package main

import (
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

// TestInteropContStatsMatchesHAProxy moves bytes through a TCP session
// that stays open, under haproxy and lb: with option contstats the
// frontend's, backend's and server's bin and bout count them while the
// session runs; without it, only once it ends.
func TestInteropContStatsMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := checkPeer(t, func(c *net.TCPConn) { _, _ = io.Copy(c, c) })
	run := func(start func(text, sock string)) []string {
		ports := freePorts(t, 2)
		sock := filepath.Join(t.TempDir(), "stats.sock")
		start(fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen cont
    bind 127.0.0.1:%d
    option contstats
    server s %s
listen plain
    bind 127.0.0.1:%d
    server s %s
`, sock, ports[0], echo, ports[1], echo), sock)
		var got []string
		for i, px := range []string{"cont", "plain"} {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[i]))
			msg := strings.Repeat("x", 3000)
			_, err := io.WriteString(c, msg)
			require.NoError(t, err)
			buf := make([]byte, len(msg))
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err)
			var rows map[string]map[string]string
			// Counted within a moment where counted while running.
			deadline := time.Now().Add(2 * time.Second)
			for {
				_, rows, _ = statTable(t, cliCommand(t, sock, "show stat"))
				if rows[px+"/FRONTEND"]["bout"] != "0" || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, row := range []string{"FRONTEND", "s", "BACKEND"} {
				r := rows[px+"/"+row]
				got = append(got, fmt.Sprintf("%s/%s running: bin=%s bout=%s", px, row, r["bin"], r["bout"]))
			}
			_ = c.Close()
			require.Eventually(t, func() bool {
				_, rows, _ = statTable(t, cliCommand(t, sock, "show stat"))
				return rows[px+"/FRONTEND"]["scur"] == "0"
			}, 5*time.Second, 20*time.Millisecond)
			for _, row := range []string{"FRONTEND", "s", "BACKEND"} {
				r := rows[px+"/"+row]
				got = append(got, fmt.Sprintf("%s/%s ended: bin=%s bout=%s", px, row, r["bin"], r["bout"]))
			}
		}
		return got
	}
	want := run(func(text, sock string) { startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) { startInProcess(t, text) })
	assert.Equal(t, want, got)
	assert.Contains(t, got, "cont/s running: bin=3000 bout=3000")
	assert.Contains(t, got, "plain/s running: bin=0 bout=0")
	assert.Contains(t, got, "plain/BACKEND ended: bin=3000 bout=3000")
}
