package balancer

import (
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCheckIntervals uses a minute for inter, so that only downinter
// (while down) and fastinter (while going up) can bring a server back
// within the test's wait.
func TestCheckIntervals(t *testing.T) {
	for _, opts := range []string{
		"downinter 50ms rise 1 fall 1",
		"downinter 50ms fastinter 50ms rise 3 fall 1",
	} {
		t.Run(opts, func(t *testing.T) {
			addr := refusingAddr(t)
			b, logs := startLB(t, parseCfg(t, globalLog+"backend bk\n    server s %s check inter 60s %s\n", addr, opts))
			logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server bk/s is DOWN") })
			ln, err := net.Listen("tcp", addr)
			require.NoError(t, err)
			serveOn(t, ln, "s", false)
			require.Eventually(t, b.Backend("bk").Server("s").Up, 10*time.Second, 10*time.Millisecond)
		})
	}
}

// TestLogHealthChecks logs a line per check that moves a server's health
// or changes its status, and the state change without its reason.
func TestLogHealthChecks(t *testing.T) {
	addr := refusingAddr(t)
	_, logs := startLB(t, parseCfg(t, globalLog+"backend bk\n    option log-health-checks\n    server s %s check inter 50ms rise 2 fall 3\n", addr))
	require.Regexp(t, `^Health check for server bk/s failed, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms, status: 0/2 DOWN\.$`,
		logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Health check") }))
	require.Equal(t, "Server bk/s is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
		logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server bk/s") }))
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	serveOn(t, ln, "s", false)
	require.Equal(t, "Server bk/s is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
		logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server bk/s is UP") }))
	all := strings.Join(logs.lines(), "\n")
	require.Equal(t, 3, strings.Count(all, "Health check for server bk/s"), "one failure, two passes; the failures while down change nothing:\n%s", all)
}

// holdingServer greets each connection with name and holds it open until
// the client ends its side; close stops accepting (its checks are then
// refused) and leaves the held connections be.
func holdingServer(t *testing.T, name string, addr string) (close func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			go func() { _, _ = io.WriteString(c, name+"\n"); _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return func() { _ = ln.Close() }
}

// TestOnMarkedDownShutsSessions: as a check marks a server with
// on-marked-down shutdown-sessions down, its connections are closed, and
// their lines end with D-, as in HAProxy.
func TestOnMarkedDownShutsSessions(t *testing.T) {
	aAddr := refusingAddr(t)
	stopA := holdingServer(t, "a", aAddr)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %s check inter 50ms fall 1 on-marked-down shutdown-sessions
`, aAddr))
	c, name := holdConn(t, feAddr(t, b, "px"))
	require.Equal(t, "a", name)
	stopA()
	logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/a is DOWN") })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	require.Error(t, err, "the session was closed")
	line := logs.waitLine(t, func(l string) bool { return strings.Contains(l, " px px/a ") })
	require.Contains(t, line, " D- ")
}

// TestOnMarkedUpShutsBackupSessions: as an active server with on-marked-up
// shutdown-backup-sessions comes up, the backup's connections are closed.
func TestOnMarkedUpShutsBackupSessions(t *testing.T) {
	aAddr, bkAddr := refusingAddr(t), refusingAddr(t)
	holdingServer(t, "bk", bkAddr)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %s check inter 50ms rise 1 fall 1 on-marked-up shutdown-backup-sessions
    server bk %s backup
`, aAddr, bkAddr))
	logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/a is DOWN") })
	c, name := holdConn(t, feAddr(t, b, "px"))
	require.Equal(t, "bk", name)
	holdingServer(t, "a", aAddr)
	logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/a is UP") })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	require.Error(t, err, "the backup's session was closed")
	require.Contains(t, logs.waitLine(t, func(l string) bool { return strings.Contains(l, " px px/bk ") }), " D- ")
}

// TestObserveFastinter: with on-error fastinter (the default), a failed
// connect at error-limit brings the next check forward to fastinter; inter
// is a minute, so only that brings a second check within the test.
func TestObserveFastinter(t *testing.T) {
	var checks atomic.Int32
	peer := newScriptPeer(t, func(c *net.TCPConn) { checks.Add(1) })
	port := peer.addr[strings.LastIndexByte(peer.addr, ':')+1:]
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    retries 0
    # A bare connect check never reaches the peer's accept (TCP_QUICKACK
    # off, then a reset); one that sends does.
    option tcp-check
    tcp-check send x
    server s %s check port %s inter 60s fastinter 50ms observe layer4 error-limit 1
`, refusingAddr(t), port))
	require.Eventually(t, func() bool { return checks.Load() == 1 }, 5*time.Second, 5*time.Millisecond, "the first check")
	c, err := net.Dial("tcp", feAddr(t, b, "px"))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Read(make([]byte, 1))
	_ = c.Close()
	require.Eventually(t, func() bool { return checks.Load() == 2 }, 5*time.Second, 5*time.Millisecond, "a check within fastinter after the error")
	require.True(t, b.Backend("px").Server("s").Up(), "fastinter only hurries the check, which passes")
}
