package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// finCfg: in cfin the server greets and ends its side at once, and the
// client stays silent; in sfin the client sends a line and ends its side,
// and the server stays silent. The half-closed timeouts end both long
// before timeout client and timeout server would.
func finCfg(cfin, sfin int, greeter, holder string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 30s
    timeout server 30s
listen cfin
    bind 127.0.0.1:%d
    timeout client-fin 300ms
    server s %s
listen sfin
    bind 127.0.0.1:%d
    timeout server-fin 300ms
    server s %s
`, cfin, greeter, sfin, holder)
}

// finRun drives finCfg's two cases and returns their lines, cut down to
// the section, server, bytes and termination state, with the total time.
func finRun(t *testing.T, cfin, sfin int, out func() string) (lines []string, tt []int) {
	t.Helper()
	c := dialFrom(t, "127.0.0.2", fmt.Sprintf("127.0.0.1:%d", cfin))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "hi\n", string(got))
	// c stays open and silent.
	s := dialFrom(t, "127.0.0.2", fmt.Sprintf("127.0.0.1:%d", sfin))
	_, err = io.WriteString(s, "x\n")
	require.NoError(t, err)
	require.NoError(t, s.(*net.TCPConn).CloseWrite())
	got, err = io.ReadAll(s)
	require.NoError(t, err, "the proxy ends the session once server-fin strikes")
	require.Empty(t, got)
	ok := assert.Eventually(t, func() bool {
		lines, tt = lines[:0], tt[:0]
		for _, l := range strings.Split(out(), "\n") {
			f := strings.Fields(l)
			if len(f) < 9 || !strings.HasPrefix(f[0], "127.0.0.2:") {
				continue
			}
			times := strings.Split(f[4], "/")
			n, err := strconv.Atoi(times[len(times)-1])
			require.NoError(t, err, l)
			tt = append(tt, n)
			lines = append(lines, strings.Join([]string{f[2], f[3], f[5], f[6]}, " "))
		}
		return len(lines) == 2
	}, 10*time.Second, 20*time.Millisecond)
	if !ok {
		t.Fatalf("want two lines:\n%s", out())
	}
	// The two sessions end within moments of each other, in either order.
	sort.Strings(lines)
	return lines, tt
}

// TestInteropFinTimeoutsMatchHAProxy: timeout client-fin and server-fin
// end a half-closed session whose other side stays silent, under haproxy
// and lb alike: the same lines (cD once the client was sent the server's
// FIN, sD once the server was sent the client's), both after the
// half-closed timeout, long before timeout client and server.
func TestInteropFinTimeoutsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	greeter := checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, "hi\n") })
	hold := make(chan struct{})
	holder := checkPeer(t, func(c *net.TCPConn) {
		_, _ = io.Copy(io.Discard, c)
		<-hold // silent, its side open, until the test ends
	})
	t.Cleanup(func() { close(hold) }) // runs before the peers' cleanups
	ports := freePorts(t, 4)
	hout := startHAProxy(t, finCfg(ports[0], ports[1], greeter, holder), func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	want, htt := finRun(t, ports[0], ports[1], hout)
	_, lout, lmu := startInProcess(t, finCfg(ports[2], ports[3], greeter, holder))
	got, ltt := finRun(t, ports[2], ports[3], func() string { lmu.Lock(); defer lmu.Unlock(); return lout.String() })
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, []string{"cfin cfin/s 3 cD", "sfin sfin/s 0 sD"}, got)
	// haproxy dates its lines from the clock it reads once per turn of
	// its poller, so its own line may show 299 for a 300 ms timeout.
	for i, ms := range htt {
		require.GreaterOrEqual(t, ms, 290, "haproxy's line %d ends after the half-closed timeout", i)
		require.Less(t, ms, 10000, "haproxy's line %d ends long before timeout client and server", i)
	}
	for i, ms := range ltt {
		require.GreaterOrEqual(t, ms, 300, "lb's line %d ends after the half-closed timeout", i)
		require.Less(t, ms, 10000, "lb's line %d ends long before timeout client and server", i)
	}
}
