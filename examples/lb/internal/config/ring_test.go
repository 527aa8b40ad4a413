package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRingSection(t *testing.T) {
	c := mustParse(t, `global
  log ring@r1 len 200 format iso sample 1-2,5:6 local3 info
ring r1
  description "the ring"
  format rfc5424
  size 32768
  maxlen 500
  timeout connect 2s
  timeout server 3s
  timeout client 4s
  server s1 127.0.0.1:514
  server s2 /var/run/sys.sock log-proto octet-count check
`)
	r := c.Ring("r1")
	require.NotNil(t, r)
	require.Equal(t, "the ring", r.Description)
	require.Equal(t, "rfc5424", r.Format)
	require.Equal(t, 32768, r.Size)
	require.Equal(t, 500, r.MaxLen)
	require.Equal(t, 2*time.Second, r.TimeoutConnect)
	require.Equal(t, 3*time.Second, r.TimeoutServer)
	require.Len(t, r.Servers, 2)
	require.Equal(t, "127.0.0.1:514", r.Servers[0].Addr)
	require.False(t, r.Servers[0].OctetCount)
	require.Equal(t, UnixPrefix+"/var/run/sys.sock", r.Servers[1].Addr)
	require.True(t, r.Servers[1].OctetCount)
	l := c.Global.Logs[0]
	require.Equal(t, "r1", l.Ring)
	require.Equal(t, [][2]int{{1, 2}, {5, 5}}, l.Sample.Ranges)
	var kept []uint64
	for n := uint64(0); n < 12; n++ {
		if l.Sample.Keep(n) {
			kept = append(kept, n+1)
		}
	}
	require.Equal(t, []uint64{1, 2, 5, 7, 8, 11}, kept)
	require.NoError(t, c.CheckLogRings())
	require.Empty(t, c.Warnings)
}

func TestRingDefaultsAndWarnings(t *testing.T) {
	c := mustParse(t, "ring r1\n  maxlen 20000\n  server s 127.0.0.1:1\n")
	r := c.Ring("r1")
	require.Equal(t, "r1", r.Description)
	require.Equal(t, "raw", r.Format)
	require.Equal(t, 16384, r.MaxLen, "forced to the size")
	require.ElementsMatch(t, []string{
		"ring 'r1' event max length '20000' exceeds size, forced to size '16384'.",
		"missing timeouts for backend 'r1'.",
	}, c.Warnings)
}

func TestRingErrors(t *testing.T) {
	for _, tc := range []struct{ text, msg string }{
		{"ring\n", "lb.cfg:1: bad value: missing ring name"},
		{"ring a/b\n", "invalid ring name 'a/b'"},
		{"ring buf0\n", "sink named 'buf0' already exists"},
		{"ring r\nring r\n", "lb.cfg:2: bad reference: sink named 'r' already exists (declared at lb.cfg:1)"},
		{"ring r\n  size 100\n", "lb.cfg:2: bad value: 'size' in ring 'r': ignoring new size '100' that is smaller than current size '16384' for ring 'r'"},
		{"ring r\n  size x\n", "invalid size 'x' for new sink buffer"},
		{"ring r\n  maxlen 0\n", "invalid size '0' for new sink buffer"},
		{"ring r\n  format x\n", "unknown format 'x'"},
		{"ring r\n  description\n", "missing ring description text"},
		{"ring r\n  timeout connect\n", "'timeout connect' expects <time> as argument"},
		{"ring r\n  timeout server 5x\n", "unexpected character 'x' in '5x'"},
		{"ring r\n  timeout server 3000000000\n", "timer overflow"},
		{"ring r\n  timeout server 10us\n", "timer underflow"},
		{"ring r\n  mode tcp\n", "lb.cfg:2: 'mode' in ring 'r': unknown keyword: unknown statement 'mode'"},
		{"ring r\n  server s\n", "'server' expects <name> and <addr>[:<port>] as arguments"},
		{"ring r\n  server s 127.0.0.1:1 log-proto x\n", "'log-proto' expects one of 'legacy' or 'octet-count' but got 'x'"},
		{"ring r\n  server s udp@127.0.0.1:1\n", "dgram-type address not acceptable"},
		{"ring r\n  server s 127.0.0.1:1 bogus\n", "'server r/s'"},
		{"ring r\n  server s 127.0.0.1:1\n  server s 127.0.0.1:2\n", "another server named 's' was already defined at lb.cfg:2"},
		{"global\n  log ring@r sample 3:2 local0\n", "sample size 2 should be greater or equal to 3"},
		{"global\n  log ring@r sample 1,1:2 local0\n", "ranges are overlapping"},
		{"global\n  log ring@r sample 0:2 local0\n", "wrong sample range '0'"},
		{"global\n  log ring@r sample 1:x local0\n", "wrong sample size 'x' for sample range '1'"},
		{"global\n  log ring@r sample x local0\n", "missing sample size"},
	} {
		_, err := parse(t, tc.text)
		require.ErrorContains(t, err, tc.msg, tc.text)
	}
	// An unknown ring passes a check, and stops a start.
	c := mustParse(t, "global\n  log ring@nope local0\nfrontend f\n  bind :1\n  log ring@r2 local0\n")
	err := c.CheckLogRings()
	require.ErrorContains(t, err, "lb.cfg:2: bad reference: global log server uses unknown ring named 'nope'")
	require.ErrorContains(t, err, "lb.cfg:5: bad reference: log server declared in proxy section 'f' uses unknown ring named 'r2'")
}
