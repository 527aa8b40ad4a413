package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropTCPContentActionsMatchHAProxy runs "tcp-request content"
// rules with track-sc, set-var and unset-var in a frontend and in its
// backends, a use_backend named from a variable, and a log-format that
// reads the variables and counters, under haproxy and lb: four
// connections, accepted, rejected by a backend's rule and by the
// frontend's once its counter passes three, must give the same lines.
// The unset-var rule's condition may change while bytes may still come,
// so every connection waits for the inspect delay, in both.
func TestInteropTCPContentActionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	cfg := func(sock string, port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend ft
    bind 127.0.0.1:%d
    stick-table type ip size 1k expire 1m store conn_cur,conn_cnt
    tcp-request inspect-delay 300ms
    tcp-request content track-sc1 src if { req.len gt 0 }
    tcp-request content set-var(sess.len) req.len
    tcp-request content set-var(txn.proto) str(echo)
    tcp-request content unset-var(txn.proto) if { req.len eq 3 }
    tcp-request content reject if { sc1_conn_cnt gt 3 }
    tcp-request content accept if { req.len ge 3 }
    log-format "L=%%[var(sess.len)] P=%%[var(txn.proto)] B=%%[var(sess.be)] C=%%[sc1_conn_cur]/%%[sc1_conn_cnt] D=%%[sc2_conn_cnt] %%b %%ts"
    use_backend be_%%[var(txn.proto)]
    default_backend be_other
backend be_echo
    stick-table type ip size 1k expire 1m store conn_cnt
    tcp-request content track-sc2 src if { req.len gt 0 }
    tcp-request content set-var(sess.be) str(echo)
    server e %s
backend be_other
    tcp-request content set-var(sess.be) str(other)
    tcp-request content reject
    server e %s
`, sock, port, echo, echo)
	}
	run := func(start func(text string) func() string) ([]string, map[string]string) {
		port := freePorts(t, 1)[0]
		sock := filepath.Join(t.TempDir(), "stats.sock")
		out := start(cfg(sock, port))
		// haproxy's readiness probe sends nothing, so the rules track
		// nothing for it; its line (L=0) is left out below.
		time.Sleep(200 * time.Millisecond)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for i, msg := range []string{"hello", "abc", "hello", "hello"} {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			_, err = io.WriteString(c, msg)
			require.NoError(t, err)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, len(msg))
			n, err := io.ReadFull(c, buf)
			// The echo answers what it was sent; a rejected
			// connection is closed without a byte, and with a FIN.
			if i != 0 && i != 2 {
				require.Zero(t, n, "rejected")
				require.ErrorIs(t, err, io.EOF, "a rejected connection ends with a FIN, not a reset")
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, c.Close())
			// Each connection ends before the next begins.
			time.Sleep(100 * time.Millisecond)
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "L=") && !strings.HasPrefix(l, "L=0 ") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 4
		}, 10*time.Second, 10*time.Millisecond, "four traffic lines")
		sort.Strings(lines)
		// The sessions and denials each proxy counted.
		_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
		counts := map[string]string{}
		for _, k := range []string{"ft/FRONTEND", "be_echo/BACKEND", "be_other/BACKEND"} {
			counts[k] = fmt.Sprintf("stot=%s dreq=%s", rows[k]["stot"], rows[k]["dreq"])
		}
		return lines, counts
	}
	want, wantCounts := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got, gotCounts := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	// haproxy's readiness probe is one more session on ft and be_echo.
	require.Equal(t, map[string]string{"ft/FRONTEND": "stot=5 dreq=2", "be_echo/BACKEND": "stot=3 dreq=0", "be_other/BACKEND": "stot=1 dreq=0"}, wantCounts)
	require.Equal(t, map[string]string{"ft/FRONTEND": "stot=4 dreq=2", "be_echo/BACKEND": "stot=2 dreq=0", "be_other/BACKEND": "stot=1 dreq=0"}, gotCounts)
	require.Equal(t, []string{
		"L=3 P=- B=other C=1/2 D=- be_other PR",
		"L=5 P=echo B=- C=1/4 D=- ft PR",
		"L=5 P=echo B=echo C=1/1 D=1 be_echo --",
		"L=5 P=echo B=echo C=1/3 D=2 be_echo --",
	}, got)
}
