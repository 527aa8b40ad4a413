package balancer

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// TestStatsTimeout checks that "stats timeout" closes an idle prompt-mode
// session: with the default of 10 s the read below would hit its own 5 s
// deadline instead of the server's close.
func TestStatsTimeout(t *testing.T) {
	done := testnet.Snapshot(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := parseCfg(t, `global
    stats timeout 200ms
    stats socket %s level admin
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 expire 1m store gpc0
`, sock)
	b, _ := startLB(t, cfg)

	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "prompt\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	r := bufio.NewReader(c)
	p := make([]byte, 2)
	_, err = io.ReadFull(r, p)
	require.NoError(t, err)
	require.Equal(t, "> ", string(p))

	// The session stays usable while commands keep coming.
	_, err = io.WriteString(c, "show table\n")
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "# table: fe, type: ip, size:10, used:0\n", line)

	rest, err := io.ReadAll(r)
	require.NoError(t, err, "the server should close the idle session before the client's deadline")
	require.Equal(t, "\n> ", string(rest))

	require.NoError(t, c.Close())
	require.NoError(t, b.Close())
	done()
}

// TestStatsSocketOwner checks that the stats socket file takes the
// owner and mode its line gives.
func TestStatsSocketOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	b, _ := startLB(t, parseCfg(t, `global
    stats socket %s mode 640 uid 65534 gid 65533
frontend fe
    bind 127.0.0.1:0
`, sock))
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, [2]uint32{65534, 65533}, [2]uint32{st.Uid, st.Gid})
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	require.NoError(t, b.Close())
}
