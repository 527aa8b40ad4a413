package balancer

import (
	"net"
	"strings"
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
	require.Equal(t, `Health check for server bk/s failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 0/2 DOWN.`,
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
