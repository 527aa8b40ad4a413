package balancer

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// TestLuaCloseLeavesNothing: Close ends a service waiting for its
// client's body and the scripts' tasks; no goroutine is left.
func TestLuaCloseLeavesNothing(t *testing.T) {
	g0 := runtime.NumGoroutine()
	script := filepath.Join(t.TempDir(), "hold.lua")
	require.NoError(t, os.WriteFile(script, []byte(`
core.register_task(function() while true do core.msleep(10) end end)
core.register_service("hold", "http", function(applet)
  applet:start_response()
  applet:send("started\n")
  applet:receive()
  applet:send("never\n")
end)
`), 0o600))
	cfg, err := config.Parse(config.Source{Name: "lua.cfg", Data: []byte("global\n    lua-load " + script + httpDefaults + `
frontend f
    bind 127.0.0.1:0
    http-request use-service lua.hold
`)})
	require.NoError(t, err)
	b, err := Start(t.Context(), cfg, Options{Stderr: io.Discard})
	require.NoError(t, err)
	c, err := net.Dial("tcp", b.Addrs("f")[0].String())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	for {
		// The head, then the chunk holding "started": the service
		// waits in receive from then on.
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "started") {
			break
		}
	}
	require.NoError(t, b.Close())
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > g0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, %d before:\n%s", runtime.NumGoroutine(), g0, buf[:runtime.Stack(buf, true)])
		}
	}
}
