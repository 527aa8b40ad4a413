package balancer

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// askFrom connects from a chosen loopback source address and returns the
// first line the server answers, or "" when the connection was refused
// or closed without an answer.
func askFrom(t *testing.T, src, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		// A reset can beat connect(2)'s return on loopback.
		require.ErrorIs(t, err, syscall.ECONNRESET)
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestConnRulesTrackAndReject(t *testing.T) {
	s1 := newServer(t, "s1", false)
	done := testnet.Snapshot(t)
	cfg := parseCfg(t, `defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 100 expire 30s store conn_cur,conn_cnt,conn_rate(10s),sess_cnt,bytes_in_cnt,bytes_out_cnt
    acl trusted src 127.0.0.5
    tcp-request connection accept if trusted
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc0_conn_rate gt 3 }
    default_backend be
backend be
    server s1 %s
`, s1.addr())
	b, _ := startLB(t, cfg)
	addr := feAddr(t, b, "fe")
	var got []string
	for range 6 {
		got = append(got, askFrom(t, "127.0.0.2", addr))
	}
	require.Equal(t, []string{"s1", "s1", "s1", "", "", ""}, got)
	// Accepted before tracking: never counted, never rejected.
	for range 5 {
		require.Equal(t, "s1", askFrom(t, "127.0.0.5", addr))
	}
	tb := b.Table("fe")
	require.NotNil(t, tb)
	// conn_cur goes back to 0 once the sessions ended; every connection
	// (rejected ones too) was counted, sessions only for accepted ones;
	// bytes_out counts "s1\n" three times.
	require.Eventually(t, func() bool {
		out := b.RunCommand("admin", "show table fe")
		return strings.Contains(out, "key=127.0.0.2 use=0 ") && strings.Contains(out, " conn_cur=0 ")
	}, 5*time.Second, 10*time.Millisecond, b.RunCommand("admin", "show table fe"))
	out := b.RunCommand("admin", "show table fe")
	require.Regexp(t, `(?m)^# table: fe, type: ip, size:100, used:1\n0x[0-9a-f]+: key=127\.0\.0\.2 use=0 exp=\d+ conn_cnt=6 conn_rate\(10000\)=6 conn_cur=0 sess_cnt=3 bytes_in_cnt=0 bytes_out_cnt=9\n$`, out)
	require.NoError(t, b.Close())
	done()
}

func TestConnRulesSilentDrop(t *testing.T) {
	s1 := newServer(t, "s1", false)
	cfg := parseCfg(t, `frontend fe
    bind 127.0.0.1:0
    tcp-request connection silent-drop if { src 127.0.0.3 }
    tcp-request connection reject if { src 127.0.0.4 }
    default_backend be
backend be
    server s1 %s
`, s1.addr())
	b, _ := startLB(t, cfg)
	addr := feAddr(t, b, "fe")
	require.Equal(t, "s1", askFrom(t, "127.0.0.2", addr))
	require.Equal(t, "", askFrom(t, "127.0.0.4", addr))
	require.Equal(t, int64(1), s1.accepted.Load())
	// A silent drop sends nothing: the client keeps waiting until its
	// own deadline, where a reject ends at once with a reset.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) {
		// Without CAP_NET_ADMIN the reset leaves with a TTL of 1, which
		// loopback still delivers.
		require.Contains(t, err.Error(), "reset", "silent-drop: %v", err)
	}
	require.Equal(t, int64(1), s1.accepted.Load())
}

func TestStickOnSrc(t *testing.T) {
	s1, s2, s3 := newServer(t, "s1", false), newServer(t, "s2", false), newServer(t, "s3", false)
	done := testnet.Snapshot(t)
	cfg := parseCfg(t, `defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen lb
    bind 127.0.0.1:0
    balance roundrobin
    stick-table type ip size 100 expire 1m
    stick on src
    server s1 %s
    server s2 %s id 7
    server s3 %s
`, s1.addr(), s2.addr(), s3.addr())
	b, _ := startLB(t, cfg)
	addr := feAddr(t, b, "lb")
	first := map[string]string{}
	for round := range 4 {
		for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
			got := askFrom(t, src, addr)
			require.NotEmpty(t, got)
			if round == 0 {
				first[src] = got
				continue
			}
			require.Equal(t, first[src], got, "client %s moved", src)
		}
	}
	// Round robin spread the first connections; persistence kept them.
	require.Equal(t, map[string]string{"127.0.0.2": "s1", "127.0.0.3": "s2", "127.0.0.4": "s3", "127.0.0.5": "s1"}, first)
	out := b.RunCommand("operator", "show table lb key 127.0.0.3")
	require.Regexp(t, `key=127\.0\.0\.3 use=0 exp=\d+ server_id=7\n$`, out)

	// The runtime socket moves a client to another server.
	require.Equal(t, "", b.RunCommand("admin", "set table lb key 127.0.0.3 data.server_id 1"))
	require.Equal(t, "s1", askFrom(t, "127.0.0.3", addr))
	// A server that cannot take the client is skipped.
	b.Backend("lb").setState(b.Backend("lb").Server("s1"), false, "test", 0)
	require.NotEqual(t, "s1", askFrom(t, "127.0.0.2", addr))
	require.NoError(t, b.Close())
	done()
}

func TestStatsSocket(t *testing.T) {
	done := testnet.Snapshot(t)
	dir := t.TempDir()
	adminSock, userSock := filepath.Join(dir, "admin.sock"), filepath.Join(dir, "user.sock")
	cfg := parseCfg(t, `global
    stats socket %s mode 600 level admin
    stats socket %s level user
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 expire 1m store gpc0,conn_rate(10s)
backend other
    stick-table type string len 8 size 5 store http_req_cnt
`, adminSock, userSock)
	b, _ := startLB(t, cfg)
	fi, err := os.Stat(adminSock)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	cmd := func(sock, line string) string {
		c, err := net.Dial("unix", sock)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, line+"\n")
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c)
		require.NoError(t, err)
		return string(out)
	}
	addr := regexp.MustCompile(`0x[0-9a-f]+`)
	for _, tc := range []struct{ sock, line, want string }{
		{adminSock, "show table", "# table: fe, type: ip, size:10, used:0\n# table: other, type: string, size:5, used:0\n\n"},
		{adminSock, "set table fe key 10.0.0.1 data.gpc0 5", "\n"},
		{adminSock, "set table fe key 10.0.0.2 data.gpc0 1; set table other key abc data.http_req_cnt 3", "\n\n"},
		{adminSock, "show table fe", "# table: fe, type: ip, size:10, used:2\nADDR: key=10.0.0.1 use=0 exp=EXP gpc0=5 conn_rate(10000)=0\nADDR: key=10.0.0.2 use=0 exp=EXP gpc0=1 conn_rate(10000)=0\n\n"},
		{adminSock, "show table fe data.gpc0 gt 2", "# table: fe, type: ip, size:10, used:2\nADDR: key=10.0.0.1 use=0 exp=EXP gpc0=5 conn_rate(10000)=0\n\n"},
		{adminSock, "show table other key abc", "# table: other, type: string, size:5, used:1\nADDR: key=abc use=0 exp=0 http_req_cnt=3\n\n"},
		{adminSock, "show table nope", "No such table\n\n"},
		{adminSock, "show table fe data.gpc1 gt 2", "Filter entry #1: Data type not stored in this table\n\n"},
		{adminSock, "set table fe key 10.0.0.1 data.nope 1", "Unknown data type\n\n"},
		{adminSock, "set table fe key 10.0.0.300 data.gpc0 1", "Invalid key\n\n"},
		{adminSock, "set table fe", "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n"},
		{adminSock, "clear table fe key 10.0.0.2", "\n"},
		{adminSock, "show table", "# table: fe, type: ip, size:10, used:1\n# table: other, type: string, size:5, used:1\n\n"},
		{adminSock, "clear table other", "\n"},
		{adminSock, "show table other", "# table: other, type: string, size:5, used:0\n\n"},
		{adminSock, "bogus", "Unknown command. Please enter one of the following commands only :\n" + cliHelp + "\n"},
		{userSock, "set table fe key 10.0.0.1 data.gpc0 9", "Permission denied\n\n"},
		{userSock, "clear table fe", "Permission denied\n\n"},
		{userSock, "show table fe key 10.0.0.1", "# table: fe, type: ip, size:10, used:1\nADDR: key=10.0.0.1 use=0 exp=EXP gpc0=5 conn_rate(10000)=0\n\n"},
	} {
		got := cmd(tc.sock, tc.line)
		got = addr.ReplaceAllString(got, "ADDR")
		got = regexp.MustCompile(`exp=[1-9]\d*`).ReplaceAllString(got, "exp=EXP")
		require.Equal(t, tc.want, got, tc.line)
	}

	// Prompt mode keeps the connection for several commands.
	c, err := net.Dial("unix", adminSock)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	_, err = io.WriteString(c, "prompt\n")
	require.NoError(t, err)
	p := make([]byte, 2)
	_, err = io.ReadFull(r, p)
	require.NoError(t, err)
	require.Equal(t, "> ", string(p))
	_, err = io.WriteString(c, "show table\n")
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "# table: fe, type: ip, size:10, used:1\n", line)
	require.NoError(t, c.Close())

	require.NoError(t, b.Close())
	_, err = os.Stat(adminSock)
	require.True(t, os.IsNotExist(err), "socket file left after Close: %v", err)
	done()
}
