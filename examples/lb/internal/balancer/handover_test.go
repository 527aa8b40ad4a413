package balancer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// bannerEcho is a server that says its name on connect, then echoes.
func bannerEcho(t *testing.T, name string) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		_, _ = io.WriteString(c, name+"\n")
		testnet.Echo(c)
	})
}

// openFDs counts the process's open descriptors, -1 where /proc is not.
func openFDs() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// A new Balancer started with the old one's Handover takes its sockets
// over: a client connecting in a loop throughout is never refused, a
// connection live before finishes on the old one, the new configuration
// answers, the stats socket's file survives the old one's stop, and once
// both are stopped no goroutine or descriptor is left.
func TestHandoverKeepsAccepting(t *testing.T) {
	a, bsrv := bannerEcho(t, "A"), bannerEcho(t, "B")
	port := testnet.FreePorts(t, 1)[0]
	sock := filepath.Join(t.TempDir(), "stats.sock")
	text := `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen px
    bind 127.0.0.1:%d
    server s %s
`
	g0, fd0 := runtime.NumGoroutine(), openFDs()
	b1, err := Start(context.Background(), parseCfg(t, text, sock, port, a), Options{Stdout: io.Discard, Stderr: io.Discard})
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	live, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	lr := bufio.NewReader(live)
	line, err := lr.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "A\n", line)

	var refused, failed, answers atomic.Int64
	var sawB atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				refused.Add(1)
				continue
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			l, err := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if err != nil {
				failed.Add(1)
				continue
			}
			answers.Add(1)
			if l == "B\n" {
				sawB.Store(true)
			}
		}
	}()
	require.Eventually(t, func() bool { return answers.Load() >= 20 }, 10*time.Second, time.Millisecond)

	h, err := b1.Handover()
	require.NoError(t, err)
	b2, err := Start(context.Background(), parseCfg(t, text, sock, port, bsrv), Options{Stdout: io.Discard, Stderr: io.Discard, Inherit: h})
	require.NoError(t, err)
	require.NoError(t, h.Close())
	shut := make(chan error, 1)
	go func() { shut <- b1.Shutdown(context.Background()) }()

	require.Eventually(t, sawB.Load, 10*time.Second, time.Millisecond, "the new configuration answers")
	n := answers.Load()
	require.Eventually(t, func() bool { return answers.Load() >= n+20 }, 10*time.Second, time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, refused.Load(), "connects refused")
	require.Zero(t, failed.Load(), "connections cut")

	// The connection live before the handover still works, on the old
	// configuration, which waits for it.
	_, err = io.WriteString(live, "still there\n")
	require.NoError(t, err)
	line, err = lr.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "still there\n", line)
	select {
	case err := <-shut:
		t.Fatalf("the old balancer stopped with a live connection: %v", err)
	default:
	}
	require.NoError(t, live.(*net.TCPConn).CloseWrite())
	_, err = io.ReadAll(lr)
	require.NoError(t, err)
	_ = live.Close()
	require.NoError(t, <-shut)

	// The stats socket, taken over, is still there and answers.
	c, err := net.Dial("unix", sock)
	require.NoError(t, err, "the old balancer's stop left the socket file")
	_, _ = io.WriteString(c, "show info\n")
	info, _ := io.ReadAll(c)
	_ = c.Close()
	require.Contains(t, string(info), "Name: ")
	require.Equal(t, "B", ask(t, addr))

	require.NoError(t, b2.Close())
	// Polled here: Eventually runs its condition on a goroutine of its own.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > g0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, %d before:\n%s", runtime.NumGoroutine(), g0, buf[:runtime.Stack(buf, true)])
		}
	}
	if fd0 >= 0 {
		require.Eventually(t, func() bool { return openFDs() <= fd0 }, 10*time.Second, 5*time.Millisecond,
			"descriptors: %d, %d before", openFDs(), fd0)
	}
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "nothing listens once both are stopped")
}
