package balancer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// readDatagram returns the next datagram c receives, failing the test
// after a while without one.
func readDatagram(t *testing.T, c net.PacketConn) string {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := c.ReadFrom(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

// Log lines go to syslog servers as HAProxy sends them: one datagram per
// line, over UDP or a UNIX datagram socket, with HAProxy's headers (no
// host name unless log-send-hostname gives one; the level alone in the
// short format). A UNIX socket made after the start gets the lines again
// once lb dials it (at most once a second while it is missing), and Close
// leaves no socket open.
func TestSyslogTargets(t *testing.T) {
	check := testnet.Snapshot(t)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	sock := filepath.Join(t.TempDir(), "log.sock")
	ss := servers(t, "a")
	cfg := parseCfg(t, `
global
    log %[1]s local0
    log unix@%[2]s format rfc5424 local1
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:0
    log %[1]s format short local2 info
    server a %[3]s
`, udp.LocalAddr().String(), sock, ss[0].addr())
	b, logs := startLB(t, cfg)

	require.Equal(t, "a", ask(t, feAddr(t, b, "px")))
	pid := os.Getpid()
	// The global rfc3164 target, then the proxy's short one; the UNIX
	// socket does not exist yet, so its line is dropped.
	first, second := readDatagram(t, udp), readDatagram(t, udp)
	require.Regexp(t, fmt.Sprintf(`^<134>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d haproxy\[%d\]: 127\.0\.0\.1:\d+ \[[^]]+\] px px/a \d+/\d+/\d+ \d+ -- 1/1/0/0/0 0/0\n$`, pid), first)
	require.Regexp(t, `^<6>127\.0\.0\.1:\d+ \[[^]]+\] px px/a `, second)

	ux, err := net.ListenPacket("unixgram", sock)
	require.NoError(t, err)
	defer ux.Close()
	// lb dials a missing socket again at most once a second: lines
	// reach it again within a few connections.
	var line string
	for i := 0; i < 40 && line == ""; i++ {
		require.Equal(t, "a", ask(t, feAddr(t, b, "px")))
		buf := make([]byte, 2048)
		_ = ux.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := ux.ReadFrom(buf); err == nil {
			line = string(buf[:n])
		}
	}
	require.Regexp(t, fmt.Sprintf(`^<142>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d - haproxy %d - - 127\.0\.0\.1:\d+ \[[^]]+\] px px/a `, pid), line)
	require.Regexp(t, `^<134>`, readDatagram(t, udp))
	require.Regexp(t, `^<6>`, readDatagram(t, udp))
	for _, l := range logs.lines() {
		require.NotContains(t, l, " px/a ", "nothing on stdout")
	}

	require.NoError(t, b.Close())
	ss[0].close()
	_ = ux.Close()
	_ = udp.Close()
	check()
}

// log-send-hostname and log-tag set the host and tag fields.
func TestSyslogHostAndTag(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	startLB(t, parseCfg(t, `
global
    log %[1]s local0
    log %[1]s format rfc5424 local0
    log-send-hostname edge1
    log-tag lb
listen px
    bind 127.0.0.1:0
    log global
    server a %[2]s check inter 50 fall 1
`, udp.LocalAddr().String(), refusingAddr(t)))
	re3164 := regexp.MustCompile(fmt.Sprintf(`^<\d+>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d edge1 lb\[%d\]: Server px/a is DOWN`, os.Getpid()))
	re5424 := regexp.MustCompile(fmt.Sprintf(`^<\d+>1 \S+ edge1 lb %d - - Server px/a is DOWN`, os.Getpid()))
	require.Regexp(t, re3164, readDatagram(t, udp))
	require.Regexp(t, re5424, readDatagram(t, udp))
}

// A log host name that cannot be resolved stops the start, naming the
// line and the target.
func TestSyslogBadHost(t *testing.T) {
	cfg := parseCfg(t, `
global
    log no-such-host.invalid:514 local0
listen px
    bind 127.0.0.1:0
    server a 127.0.0.1:1
`)
	_, err := Start(t.Context(), cfg, Options{Stdout: &safeBuffer{}, Stderr: &safeBuffer{}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "test.cfg:3: log target 'no-such-host.invalid:514'")
}

// A proxy's own log-tag takes the place of the global one in its lines.
func TestSyslogProxyTag(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	startLB(t, parseCfg(t, `
global
    log %[1]s local0
    log-tag lb
listen px
    bind 127.0.0.1:0
    log global
    log-tag edge
    server a %[2]s check inter 50 fall 1
`, udp.LocalAddr().String(), refusingAddr(t)))
	require.Regexp(t, regexp.MustCompile(fmt.Sprintf(` edge\[%d\]: Server px/a is DOWN`, os.Getpid())), readDatagram(t, udp))
}
