package conn

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// keepAliveOf reads SO_KEEPALIVE and, when on, the three timings of c.
func keepAliveOf(t *testing.T, c net.Conn) (on bool, idle, intvl, cnt int) {
	t.Helper()
	var err error
	ok := rawControl(c, func(fd int) {
		var v int
		if v, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err != nil || v == 0 {
			return
		}
		on = true
		if idle, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); err != nil {
			return
		}
		if intvl, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL); err != nil {
			return
		}
		cnt, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	})
	require.True(t, ok)
	require.NoError(t, err)
	return on, idle, intvl, cnt
}

// Keepalive is set on the listening socket and inherited by accepted
// ones: on with Go's timings by default, with the configured ones when
// given (rounded up to whole seconds), off with DisableKeepAlive. The
// Dialer sets the same on its own sockets.
func TestKeepAlive(t *testing.T) {
	type want struct {
		on               bool
		idle, intvl, cnt int
	}
	custom := net.KeepAliveConfig{Idle: 33 * time.Second, Interval: 6500 * time.Millisecond, Count: 5}
	cases := []struct {
		name    string
		ka      net.KeepAliveConfig
		disable bool
		want    want
	}{
		{"default", net.KeepAliveConfig{}, false, want{true, 15, 15, 9}},
		{"custom", custom, false, want{true, 33, 7, 5}},
		{"disabled", custom, true, want{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, ListenConfig{KeepAlive: tc.ka, DisableKeepAlive: tc.disable})
			accepted := acceptAsync(l)
			d := Dialer{KeepAlive: tc.ka, DisableKeepAlive: tc.disable}
			out, err := d.Dial(context.Background(), "tcp", l.Addr().String(), nil)
			require.NoError(t, err)
			defer out.Close()
			r := <-accepted
			require.NoError(t, r.err)
			defer r.c.Close()
			for side, c := range map[string]net.Conn{"accepted": r.c.sock, "dialed": out.sock} {
				on, idle, intvl, cnt := keepAliveOf(t, c)
				got := want{on, idle, intvl, cnt}
				require.Equal(t, tc.want, got, "%s socket", side)
			}
		})
	}
}
