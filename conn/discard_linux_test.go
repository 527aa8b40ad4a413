package conn

import (
	"context"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// queued is how many bytes c's socket holds unread (SIOCINQ).
func queued(t *testing.T, c *Conn) int {
	t.Helper()
	rc, ok := c.Raw()
	require.True(t, ok)
	n, ierr := 0, error(nil)
	require.NoError(t, rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }))
	require.NoError(t, ierr)
	return n
}

// DiscardInput drops what the peer sent and the socket holds, without
// waiting, so that the close ends with a FIN instead of the reset unread
// bytes would cause; Close on a NoLinger connection still resets.
func TestDiscardInput(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		name     string
		discard  bool
		nolinger bool
		want     string
	}{
		{"unread bytes", false, false, "reset"},
		{"discarded", true, false, "eof"},
		{"discarded, nolinger", true, true, "reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, ListenConfig{NoLinger: tc.nolinger})
			peer := dial(t, l.Addr())
			c, err := l.Accept()
			require.NoError(t, err)
			require.NoError(t, c.Handshake(context.Background()))
			_, err = peer.Write([]byte("hello"))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return queued(t, c) == 5 }, 10*time.Second, time.Millisecond)
			if tc.discard {
				require.Equal(t, 3, c.DiscardInput(3), "at most max")
				require.Equal(t, 2, c.DiscardInput(100))
				require.Zero(t, c.DiscardInput(100), "nothing left, no wait")
			}
			require.NoError(t, c.Close())
			require.Equal(t, tc.want, testnet.HowEnded(peer))
			require.NoError(t, l.Close())
		})
	}
}
