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
