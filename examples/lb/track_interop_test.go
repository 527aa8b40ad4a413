package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// trackCfg: s0's checks decide for web/x1, which runs none ("track"),
// and for web/x3 through x1 (a chain); x2 is web's backup.
func trackCfg(port int, chk, a, b string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    log-format "tr %%b/%%s"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend chk
    option tcp-check
    tcp-check expect string OK
    server s0 %s check inter 100ms fall 1 rise 1
listen web
    bind 127.0.0.1:%d
    server x1 %s track chk/s0
    server x3 %s track x1
    server x2 %s backup
`, chk, port, a, a, b)
}

// TestInteropTrackMatchesHAProxy: a server that tracks another goes down
// and up with it, logged "via" the tracked server, a chain follows its
// root, and the traffic moves to the backup and back, as under haproxy.
func TestInteropTrackMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var ok atomic.Bool
	chk := checkPeer(t, func(c *net.TCPConn) {
		if ok.Load() {
			_, _ = io.WriteString(c, "OK\n")
		} else {
			_, _ = io.WriteString(c, "NO\n")
		}
	})
	name := func(n string) string {
		return checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, n+"\n") })
	}
	a, b := name("x1"), name("x2")
	durations := regexp.MustCompile(`check duration: \d+ms`)
	run := func(start func(text string) func() string) []string {
		ok.Store(true)
		port := freePorts(t, 1)[0]
		out := start(trackCfg(port, chk, a, b))
		lines := func() []string {
			var got []string
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, " is UP") || strings.Contains(l, " is DOWN") || strings.HasPrefix(l, "tr ") || strings.Contains(l, "no server available") {
					if !strings.HasPrefix(l, "[") { // haproxy's copies on stderr
						got = append(got, durations.ReplaceAllString(l, "check duration: Nms"))
					}
				}
			}
			return got
		}
		waitFor := func(s string, n int) {
			require.Eventually(t, func() bool { return strings.Count(strings.Join(lines(), "\n"), s) == n }, 10*time.Second, 10*time.Millisecond, "%d times %q in:\n%s", n, s, out())
		}
		trs := 1 // the readiness probe's
		waitFor("tr ", trs)
		answer := func() string {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			require.NoError(t, c.Close())
			trs++
			waitFor("tr ", trs) // the session ended
			return strings.TrimSpace(line)
		}
		var seen []string
		seen = append(seen, answer())
		ok.Store(false)
		waitFor("web/x3 is DOWN", 1)
		seen = append(seen, answer())
		ok.Store(true)
		waitFor("web/x3 is UP", 1)
		seen = append(seen, answer())
		waitFor("\n", 10) // eleven lines
		return append(seen, lines()...)
	}
	// haproxy's readiness probe, a connection that sends nothing, takes
	// a server turn and logs a line: lb is sent the same probe.
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		c, err := net.Dial("tcp", strings.Fields(text[strings.Index(text, "bind ")+5:])[0])
		require.NoError(t, err)
		require.NoError(t, c.Close())
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's answers and lines, then lb's")
	// x3 shares x1's address, hence its answer.
	require.Equal(t, []string{"x1", "x2", "x1"}, got[:3])
	require.Contains(t, got, "tr web/x3", "the first answer came through x3, the probe's through x1")
	require.Contains(t, got, "Server web/x3 is DOWN via web/x1. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.")
}

// TestInteropTrackAdminMatchesHAProxy: maintenance and drain set at run
// time pass down a tracking chain as inherited states, with HAProxy's
// lines for each step, statuses and admin-state bits.
func TestInteropTrackAdminMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	up := checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, "OK\n") })
	run := func(start func(text, sock string) func() string) []string {
		sock := filepath.Join(t.TempDir(), "admin.sock")
		text := strings.Replace(trackCfg(freePorts(t, 1)[0], up, up, up), "global\n", "global\n    stats socket "+sock+" level admin\n", 1)
		text = strings.Replace(text, "tcp-check expect string OK", "tcp-check expect string OK\n    option log-health-checks", 1)
		// Only the runtime commands move the servers here: a check slow
		// under load must not take s0 down.
		text = strings.Replace(text, "backend chk\n", "backend chk\n    timeout check 5s\n", 1)
		out := start(text, sock)
		var got []string
		lines := func() []string {
			var ls []string
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "Server ") || strings.HasPrefix(l, "Backup Server ") || strings.HasPrefix(l, "backend ") {
					ls = append(ls, l)
				}
			}
			return ls
		}
		step := func(cmd string) {
			require.Empty(t, strings.TrimSpace(cliCommand(t, sock, cmd)), cmd)
			// Until the lines stop coming.
			for n := -1; n != len(lines()); {
				n = len(lines())
				time.Sleep(150 * time.Millisecond)
			}
			got = append(got, "> "+cmd)
		}
		status := func() {
			var st []string
			for _, l := range strings.Split(cliCommand(t, sock, "show stat"), "\n") {
				f := strings.Split(l, ",")
				if len(f) > 17 && f[0] == "web" && strings.HasPrefix(f[1], "x") {
					st = append(st, f[1]+"="+f[17])
				}
			}
			var adm []string
			for _, l := range strings.Split(cliCommand(t, sock, "show servers state web"), "\n") {
				if f := strings.Fields(l); len(f) > 6 && !strings.HasPrefix(f[0], "#") {
					adm = append(adm, f[3]+":"+f[5]+"/"+f[6])
				}
			}
			got = append(got, strings.Join(st, " ")+" | "+strings.Join(adm, " "))
		}
		status()
		step("set server web/x1 state maint")
		status()
		step("set server chk/s0 state maint")
		step("set server chk/s0 state ready")
		step("set server web/x1 state ready")
		step("set server web/x1 state drain")
		status()
		step("set server web/x1 state ready")
		step("set server chk/s0 state maint")
		status()
		step("set server web/x1 state maint")
		step("set server web/x1 state ready")
		step("set server chk/s0 state ready")
		status()
		return append(got, lines()...)
	}
	want := run(func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's steps and lines, then lb's")
	require.Contains(t, got, "Server web/x3 is going DOWN for maintenance via web/x1. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.")
}
