package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// timeouts sets a proxy's client, connect and server timeouts, which
// spares a test configuration haproxy's warning of missing timeouts.
// feTimeout and beTimeouts are the frontend's and the backend's part.
const (
	timeouts   = feTimeout + beTimeouts
	feTimeout  = "    timeout client 1s\n"
	beTimeouts = "    timeout connect 1s\n    timeout server 1s\n"
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse(Source{Name: "lb.cfg", Data: []byte(text)})
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := parse(t, text)
	require.NoError(t, err)
	return c
}

func TestSplitLine(t *testing.T) {
	t.Setenv("LB_TEST_PORT", "8443")
	t.Setenv("LB_TEST_LIST", "X-A   X-B")
	t.Setenv("LB_EMPTY", "")
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"  bind  :80   accept-proxy ", []string{"bind", ":80", "accept-proxy"}, false},
		{"server s1 1.2.3.4:80 # comment here", []string{"server", "s1", "1.2.3.4:80"}, false},
		{`a\ b c\#d`, []string{"a b", "c#d"}, false},
		{`"a b" 'c d'`, []string{"a b", "c d"}, false},
		{`x"y z"w`, []string{"xy zw"}, false},
		{`'$HOME \n'`, []string{`$HOME \n`}, false},
		{`"port ${LB_TEST_PORT}"`, []string{"port 8443"}, false},
		{`${LB_TEST_PORT}`, []string{"${LB_TEST_PORT}"}, false},
		{`\x41\x62`, []string{"Ab"}, false},
		{`"a\"b"`, []string{`a"b`}, false},
		{`\t\r`, []string{"\t\r"}, false},
		{`tag-\1 \d`, []string{`tag-\1`, `\d`}, false},
		{`\\1`, []string{`\1`}, false},
		{`\$a "\$b"`, []string{`\$a`, `$b`}, false},
		{`""`, []string{}, false},
		{`a "" b`, []string{"a"}, false},
		{`a b'' c`, []string{"a", "b", "c"}, false},
		{`"unterminated`, nil, true},
		{`'unterminated`, nil, true},
		{`trailing\`, nil, true},
		{`\xZZ`, nil, true},
		{`"${}"`, nil, true},
		{`"${OPEN"`, nil, true},
		// What haproxy 2.6 makes of variables within double quotes.
		{`"q=$LB_TEST_PORT b=$LB_TEST_PORT.x c=$LB_TEST_PORTx g=${LB_TEST_PORT}x"`, []string{"q=8443 b=8443.x c= g=8443x"}, false},
		{`"u=${LB_UNSET_VAR-def x} d=${LB_TEST_PORT-def} e=${LB_EMPTY-def}"`, []string{"u=def x d=8443 e="}, false},
		{`"l=$.LINE f=$.FILE s=${.SECTION}"`, []string{"l=7 f=lb.cfg s=web"}, false},
		{`set-header "${LB_TEST_LIST[*]}" x`, []string{"set-header", "X-A", "X-B", "x"}, false},
		{`"a${LB_TEST_LIST[*]}b"`, []string{"aX-A", "X-Bb"}, false},
		{`^/x$ '^/y$'`, []string{"^/x$", "^/y$"}, false},
		{`"e=$ "`, nil, true},
		{`"f=$$X"`, nil, true},
		{`"i=$1"`, nil, true},
		{`"$.OTHER"`, nil, true},
		{`"${LB_TEST_PORT[x]}"`, nil, true},
		{`"${LB_TEST_PORT-def"`, nil, true},
		{"# only a comment", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitLine(tt.in, lineCtx{file: "lb.cfg", line: 7, section: "web"})
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"100", 100 * time.Millisecond, false},
		{"0", 0, false},
		{"250us", 250 * time.Microsecond, false},
		{"5ms", 5 * time.Millisecond, false},
		{"30s", 30 * time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"1h", time.Hour, false},
		{"3d", 72 * time.Hour, false},
		{"", 0, true},
		{"s", 0, true},
		{"10x", 0, true},
		{"-5s", 0, true},
		{"1.5s", 0, true},
		{"99999999999999999999", 0, true},
		{"25d", 0, true}, // beyond 2^31 ms, which HAProxy refuses
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"127.0.0.1:80", "127.0.0.1:80", false},
		{":8080", ":8080", false},
		{"*:8080", ":8080", false},
		{"[::1]:443", "[::1]:443", false},
		{"::1:443", "[::1]:443", false},
		{"ipv4@10.0.0.1:80", "10.0.0.1:80", false},
		{"localhost:80", "localhost:80", false},
		{"127.0.0.1", "", true},
		{"127.0.0.1:", "", true},
		{"127.0.0.1:70000", "", true},
		{"unix@/tmp/sock", "", true},
		{"bad host:80", "", true},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in, true)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseFullSample(t *testing.T) {
	c, err := ParseFiles(filepath.Join("..", "..", "testdata", "full.cfg"))
	require.NoError(t, err)
	g := c.Global
	require.Equal(t, 2000, g.MaxConn)
	require.Equal(t, 2, g.NbThread)
	require.Equal(t, 32768, g.BufSize)
	require.Equal(t, 131072, g.PipeSize)
	require.Equal(t, 512, g.MaxPipes)
	require.Len(t, g.Logs, 1)
	require.Equal(t, Log{Pos: Pos{g.Logs[0].File, 5}, Target: "stdout", Format: "raw", Facility: "local0"}, g.Logs[0])

	fe := c.Proxy("fe_main", KindFrontend)
	require.NotNil(t, fe)
	require.Equal(t, KindFrontend, fe.Kind)
	require.True(t, fe.LogGlobal)
	require.True(t, fe.Options.TCPLog)
	require.True(t, fe.Options.DontLogNull)
	require.True(t, fe.Options.SpliceAuto)
	require.Equal(t, 500, fe.MaxConn)
	require.Equal(t, "be_app", fe.DefaultBackend)
	require.Equal(t, time.Minute, fe.Timeouts.Client)
	require.Len(t, fe.Binds, 4)
	require.Equal(t, []string{"127.0.0.1:18443", "127.0.0.1:18444"}, fe.Binds[0].Addrs)
	require.Equal(t, "main", fe.Binds[0].Name)
	require.False(t, fe.Binds[0].AcceptProxy)
	require.Equal(t, []string{":18445"}, fe.Binds[1].Addrs)
	require.True(t, fe.Binds[1].AcceptProxy)
	require.Equal(t, []string{":18446"}, fe.Binds[2].Addrs)
	require.Equal(t, []string{"[::1]:18447"}, fe.Binds[3].Addrs)

	be := c.Proxy("be_app", KindBackend)
	require.NotNil(t, be)
	require.Equal(t, "leastconn", be.Balance)
	require.Equal(t, 2, be.Retries)
	require.True(t, be.Options.Redispatch)
	require.Equal(t, Timeouts{Connect: 5 * time.Second, Client: time.Minute, Server: time.Minute, Tunnel: time.Hour, Queue: 2 * time.Second, Check: 1500 * time.Millisecond}, be.Timeouts)
	require.Len(t, be.Servers, 5)
	s := be.Servers
	require.Equal(t, Server{Pos: s[0].Pos, Name: "app1", Addr: "127.0.0.1:19001", ID: 1, Weight: 10, MaxConn: 100, Check: true, Inter: 3 * time.Second, Rise: 3, Fall: 2, ErrorLimit: 10, OnError: "fastinter", PoolMaxConn: -1, MaxReuse: -1, PoolPurgeDelay: 5 * time.Second}, *s[0])
	require.Equal(t, Server{Pos: s[1].Pos, Name: "app2", Addr: "127.0.0.1:19002", ID: 2, Weight: 20, MaxConn: 100, Check: true, Inter: 500 * time.Millisecond, Rise: 1, Fall: 5, ErrorLimit: 10, OnError: "fastinter", PoolMaxConn: -1, MaxReuse: -1, PoolPurgeDelay: 5 * time.Second}, *s[1])
	require.True(t, s[2].SendProxy)
	require.Equal(t, "127.0.0.1", s[2].Source)
	require.True(t, s[3].SendProxyV2)
	require.True(t, s[3].Disabled)
	require.True(t, s[4].Backup)
	require.Equal(t, 42, s[4].ID)
	require.Equal(t, 37, s[1].Line)

	first := c.Proxy("be_first", KindBackend)
	require.Equal(t, "first", first.Balance)
	require.True(t, first.Options.SpliceRequest)
	require.True(t, first.Options.SpliceResponse)
}

func TestDefaultsInheritance(t *testing.T) {
	c, err := ParseFiles(filepath.Join("..", "..", "testdata", "inherit.cfg"))
	require.NoError(t, err)
	early := c.Proxy("early", KindListen)
	late := c.Proxy("late", KindListen)
	require.Equal(t, KindListen, early.Kind)
	// The first defaults section applies to "early" only.
	require.Equal(t, time.Second, early.Timeouts.Connect)
	require.Equal(t, "source", early.Balance)
	require.False(t, early.Options.TCPLog)
	require.False(t, early.LogGlobal)
	// The second one starts again from the built-in values.
	require.Equal(t, 2*time.Second, late.Timeouts.Connect)
	require.Equal(t, "static-rr", late.Balance)
	require.True(t, late.Options.TCPLog)
	require.True(t, late.LogGlobal)
	require.Equal(t, 3, late.Servers[0].Weight)
}

func TestDefaultsAcrossFilesAndNamed(t *testing.T) {
	c, err := Parse(
		Source{Name: "a.cfg", Data: []byte("defaults base\n  mode tcp\n  timeout connect 7s\n  retries 9\n")},
		Source{Name: "b.cfg", Data: []byte("defaults\n  timeout connect 1s\nbackend x from base\n  server s 127.0.0.1:1\nbackend y\n  server s 127.0.0.1:1\n")},
	)
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, c.Proxy("x", KindBackend).Timeouts.Connect)
	require.Equal(t, 9, c.Proxy("x", KindBackend).Retries)
	require.Equal(t, time.Second, c.Proxy("y", KindBackend).Timeouts.Connect)
	require.Equal(t, DefaultRetries, c.Proxy("y", KindBackend).Retries)
}

func TestBuiltinDefaults(t *testing.T) {
	c := mustParse(t, "backend b\n server s1 127.0.0.1:80\n server s2 127.0.0.1:81 id 1\n")
	b := c.Proxy("b", KindBackend)
	require.Equal(t, "roundrobin", b.Balance)
	require.Equal(t, "tcp", b.Mode)
	require.Equal(t, 3, b.Retries)
	s1, s2 := b.Servers[0], b.Servers[1]
	require.Equal(t, 1, s1.Weight)
	require.Equal(t, 2*time.Second, s1.Inter)
	require.Equal(t, 2, s1.Rise)
	require.Equal(t, 3, s1.Fall)
	// An explicit id is reserved before the others are numbered.
	require.Equal(t, 2, s1.ID)
	require.Equal(t, 1, s2.ID)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, text string
		sentinel   error
		want       string
	}{
		{"unknown keyword", "backend be\n  serverr s1 127.0.0.1:80\n", ErrUnknownKeyword, "lb.cfg:2: unknown keyword: unknown keyword 'serverr' in 'backend' section"},
		{"misplaced server", "frontend fe\n  bind :80\n  server s1 127.0.0.1:80\n", ErrMisplaced, "lb.cfg:3: keyword not allowed here: 'server' not allowed in 'frontend' section"},
		{"bind in defaults", "defaults\n  bind :80\n", ErrMisplaced, "lb.cfg:2:"},
		{"global keyword in proxy", "defaults\n  maxpipes 10\n", ErrMisplaced, "lb.cfg:2: keyword not allowed here: 'maxpipes' not allowed in 'defaults' section (global only)"},
		{"proxy keyword in global", "global\n  balance roundrobin\n", ErrMisplaced, "lb.cfg:2:"},
		{"unknown in global", "global\n  maxconnn 10\n", ErrUnknownKeyword, "lb.cfg:2: unknown keyword: unknown keyword 'maxconnn' in 'global' section"},
		{"out of section", "maxconn 10\n", ErrUnknownKeyword, "lb.cfg:1: unknown keyword: unknown keyword 'maxconn' out of section"},
		{"unknown option", "defaults\n  option tcplogg\n", ErrUnknownKeyword, "lb.cfg:2: unknown keyword: unknown option 'tcplogg'"},
		{"misplaced option", "frontend f\n  option httpclose x\n", ErrBadValue, "lb.cfg:2:"},
		{"unknown timeout", "defaults\n  timeout clientt 5s\n", ErrUnknownKeyword, "lb.cfg:2:"},
		{"bad time", "defaults\n  timeout client 5x\n", ErrBadValue, `lb.cfg:2: bad value: 'timeout' in 'defaults' section: invalid time "5x": unknown unit "x"`},
		{"bad weight", "backend b\n  server s 127.0.0.1:80 weight 300\n", ErrBadValue, "lb.cfg:2:"},
		{"weight missing value", "backend b\n  server s 127.0.0.1:80 weight\n", ErrBadValue, "lb.cfg:2:"},
		{"unknown server option", "backend b\n  server s 127.0.0.1:80 chek\n", ErrUnknownKeyword, "lb.cfg:2:"},
		{"server port offset out of range", "backend b\n  server s 127.0.0.1:+70000\n", ErrBadValue, "lb.cfg:2:"},
		{"unknown bind option", "frontend f\n  bind :80 acept-proxy\n", ErrUnknownKeyword, "lb.cfg:2:"},
		{"bad balance", "backend b\n  balance fastest\n", ErrBadValue, "lb.cfg:2:"},
		{"http frontend on tcp backend", "frontend f\n  mode http\n  bind :80\n  default_backend b\nbackend b\n  mode tcp\n", ErrReference, "lb.cfg:4: bad reference: frontend 'f' (mode http) cannot use backend 'b' (mode tcp)"},
		{"bad mode", "defaults\n  mode udp\n", ErrBadValue, "lb.cfg:2:"},
		{"missing backend", "frontend f\n  bind :80\n  default_backend nope\n", ErrReference, "lb.cfg:3: bad reference: frontend 'f': unable to find required default_backend 'nope'"},
		{"duplicate backend", "backend b\nbackend b\n", ErrReference, "lb.cfg:2:"},
		{"duplicate server", "backend b\n  server s 127.0.0.1:1\n  server s 127.0.0.1:2\n", ErrReference, "lb.cfg:3:"},
		{"duplicate id", "backend b\n  server s 127.0.0.1:1 id 3\n  server t 127.0.0.1:2 id 3\n", ErrReference, "lb.cfg:3:"},
		{"proxy without name", "frontend\n", ErrBadValue, "lb.cfg:1:"},
		{"unknown from", "backend b from nothing\n", ErrReference, "lb.cfg:1:"},
		{"bad quote", "global\n  log \"stdout local0\n", ErrBadValue, "lb.cfg:2:"},
		{"log bad port", "global\n  log 127.0.0.1:99999 local0\n", ErrBadValue, "lb.cfg:2:"},
		{"log family", "global\n  log udp6@127.0.0.1 local0\n", ErrBadValue, "lb.cfg:2:"},
		{"log empty unix", "global\n  log unix@ local0\n", ErrBadValue, "lb.cfg:2:"},
		{"log-tag empty", "global\n  log-tag\n", ErrBadValue, "lb.cfg:2:"},
		{"unknown user", "global\n  user no-such-user-here\n", ErrBadValue, "lb.cfg:2: bad value: 'user' in 'global' section: cannot find user id for 'no-such-user-here'"},
		{"unknown group", "global\n  group no-such-group-here\n", ErrBadValue, "lb.cfg:2: bad value: 'group' in 'global' section: cannot find group id for 'no-such-group-here'"},
		{"daemon with argument", "global\n  daemon now\n", ErrBadValue, "lb.cfg:2:"},
		{"chroot without dir", "global\n  chroot\n", ErrBadValue, "lb.cfg:2:"},
		{"log bad facility", "global\n  log stdout local9\n", ErrBadValue, "lb.cfg:2:"},
		{"log bad level", "global\n  log stdout local0 loud\n", ErrBadValue, "lb.cfg:2:"},
		{"log no facility", "global\n  log stdout format raw\n", ErrBadValue, "lb.cfg:2:"},
		{"small bufsize", "global\n  tune.bufsize 10\n", ErrBadValue, "lb.cfg:2:"},
		{"nbthread zero", "global\n  nbthread 0\n", ErrBadValue, "lb.cfg:2:"},
		{"global with argument", "global x\n", ErrBadValue, "lb.cfg:1:"},
		{"retries text", "defaults\n  retries many\n", ErrBadValue, "lb.cfg:2:"},
		{"inter zero", "backend b\n  server s 127.0.0.1:1 inter 0\n", ErrBadValue, "lb.cfg:2:"},
		{"option with argument", "frontend f\n  option tcplog extra\n", ErrBadValue, "lb.cfg:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.text)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.sentinel)
			require.True(t, strings.HasPrefix(err.Error(), tt.want), "got %q, want prefix %q", err.Error(), tt.want)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, "lb.cfg", ce.File)
		})
	}
}

func TestErrorsAreAllReported(t *testing.T) {
	_, err := parse(t, "global\n  bogus1\nbackend b\n  bogus2\n  server s 127.0.0.1:1\n  bogus3 x\n")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "lb.cfg:2:")
	require.Contains(t, lines[1], "lb.cfg:4:")
	require.Contains(t, lines[2], "lb.cfg:6:")
}

func TestNoOptionAndWarnings(t *testing.T) {
	c := mustParse(t, "defaults\n  option dontlognull\nfrontend f\n  no option dontlognull\nfrontend g\n  bind :1\n"+feTimeout)
	require.False(t, c.Proxy("f", KindFrontend).Options.DontLogNull)
	require.True(t, c.Proxy("g", KindFrontend).Options.DontLogNull)
	// f has no bind; a frontend without default_backend is no warning,
	// as in haproxy.
	require.Equal(t, []string{
		"frontend 'f' has no 'bind' directive. Please declare it as a backend if this was intended.",
		"missing timeouts for frontend 'f'." + missingTimeouts,
	}, c.Warnings)
	// As in haproxy, some options take no "no".
	_, err := parse(t, "defaults\n  option tcplog\nfrontend f\n  no option tcplog\n")
	require.ErrorContains(t, err, "lb.cfg:4: bad value: negation/default is not supported for option 'tcplog'.")
}

func TestLogVariants(t *testing.T) {
	c := mustParse(t, "global\n  log stdout local0\n  log stderr len 200 format short daemon notice err\n")
	require.Equal(t, Log{Pos: Pos{"lb.cfg", 2}, Target: "stdout", Format: "rfc3164", Facility: "local0"}, c.Global.Logs[0])
	require.Equal(t, Log{Pos: Pos{"lb.cfg", 3}, Target: "stderr", Format: "short", Facility: "daemon", Level: "notice", Len: 200}, c.Global.Logs[1])
	c = mustParse(t, "global\n  log 127.0.0.1 local0\n  log udp@[::1]:5140 local1\n  log ipv4@localhost:600 local2\n  log /dev/log local3\n  log unix@/run/l local4\n  log fd@2 local5\n  log-send-hostname edge1\n  log-tag lb\n")
	var got [][3]string
	for _, l := range c.Global.Logs {
		got = append(got, [3]string{l.Target, l.Network, l.Address})
	}
	require.Equal(t, [][3]string{
		{"127.0.0.1", "udp", "127.0.0.1:514"},
		{"udp@[::1]:5140", "udp", "[::1]:5140"},
		{"ipv4@localhost:600", "udp4", "localhost:600"},
		{"/dev/log", "unixgram", "/dev/log"},
		{"unix@/run/l", "unixgram", "/run/l"},
		{"stderr", "", ""},
	}, got)
	require.Equal(t, "edge1", c.Global.LogSendHostname)
	require.Equal(t, "lb", c.Global.LogTag)
	c = mustParse(t, "global\n  daemon\n  pidfile /run/lb.pid\n  chroot /var/empty\n  user root\n  uid 42\n  gid 43\n")
	require.True(t, c.Global.Daemon)
	require.Equal(t, []any{"/run/lb.pid", "/var/empty", 42, 43}, []any{c.Global.PidFile, c.Global.Chroot, c.Global.UID, c.Global.GID})
	require.Equal(t, 16, Facility("local0"))
	require.Equal(t, -1, Facility("nope"))
	require.Equal(t, 5, Level("notice"))
}

// haproxyBin returns the path of the haproxy binary. Without one the test
// is skipped, unless CI=true, where haproxy is required.
func haproxyBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy binary required when CI=true: %v", err)
		}
		t.Skip("haproxy not installed: skipping the comparison with haproxy -c")
	}
	return bin
}

// TestSamplesAcceptedByHAProxy runs haproxy -c on every sample
// configuration, so that lb's language stays a subset of HAProxy's.
func TestSamplesAcceptedByHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*.cfg"))
	require.NoError(t, err)
	files = append(files, filepath.Join("..", "..", "default.cfg"))
	require.GreaterOrEqual(t, len(files), 4)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command(bin, "-c", "-f", f).CombinedOutput()
			require.NoError(t, err, "haproxy -c -f %s: %s", f, out)
			require.Contains(t, string(out), "Configuration file is valid")
			_, err = ParseFiles(f)
			require.NoError(t, err)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"full.cfg", "inherit.cfg", "roundrobin.cfg"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("backend b\n server s \"1.2.3.4:80\" weight 3 'check'\\ x\n"))
	f.Add([]byte("global\n log stdout format raw local0\n"))
	f.Add([]byte("frontend f\n stick-table type ip size 10 store gpc(3),gpc_rate(2,10s),gpt(1)\n http-request track-sc0 src\n" +
		" http-request sc-inc-gpc(1,0) if { sc_get_gpc(1,0) lt 5 }\n http-request sc-set-gpt(0,0) src_gpc_rate(1,f)\n" +
		" tcp-request connection sc-inc-gpc(,2)\n tcp-request content sc-set-gpt(2,1)\n"))
	f.Add([]byte("backend b\n option tcp-check\n tcp-check comment c\n tcp-check connect port 6379 addr ::1\n tcp-check send PING\\r\\n\n" +
		" tcp-check expect min-recv 2 ! rstring ^-\n tcp-check send-binary 0d0a\n tcp-check expect binary 2b\n server s 1.2.3.4:80 check port 81 addr 10.0.0.1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(Source{Name: "fuzz.cfg", Data: data})
		if err != nil {
			// Every error must carry a position.
			var ce *Error
			require.True(t, errors.As(err, &ce), "error without position: %v", err)
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.cfg:"), err.Error())
			return
		}
		for _, p := range c.Proxies {
			require.NotEmpty(t, p.Name)
			for _, s := range p.Servers {
				require.LessOrEqual(t, s.Weight, MaxWeight)
				require.GreaterOrEqual(t, s.Rise, 1)
			}
		}
	})
}

func TestServerTemplate(t *testing.T) {
	cfg, err := parse(t, "backend b\n    server-template web 3 127.0.0.1:8080 check weight 2\n    server-template app 5-6 127.0.0.1:9090\n    server x 127.0.0.1:1\n")
	require.NoError(t, err)
	be := cfg.Proxy("b", KindBackend)
	var names []string
	for _, s := range be.Servers {
		names = append(names, fmt.Sprintf("%s=%s/%d/%d/%v", s.Name, s.Addr, s.ID, s.Weight, s.Check))
	}
	require.Equal(t, []string{
		"web1=127.0.0.1:8080/1/2/true", "web2=127.0.0.1:8080/2/2/true", "web3=127.0.0.1:8080/3/2/true",
		"app5=127.0.0.1:9090/4/1/false", "app6=127.0.0.1:9090/5/1/false", "x=127.0.0.1:1/6/1/false",
	}, names)
	for _, tc := range []struct{ line, msg string }{
		{"server-template web 0 127.0.0.1:1", "wrong server-template number or range arg '0'"},
		{"server-template web 3-1 127.0.0.1:1", "wrong server-template number or range arg '3-1'"},
		{"server-template web x 127.0.0.1:1", "wrong server-template number or range arg 'x'"},
		{"server-template web 2", "'server-template' expects <prefix> <nb | range> <addr>[:<port>]"},
		{"server-template web 2 127.0.0.1:1 bogus", "server option 'bogus'"},
	} {
		_, err := parse(t, "backend b\n    "+tc.line+"\n")
		require.ErrorContains(t, err, tc.msg, tc.line)
		require.ErrorContains(t, err, "lb.cfg:2", tc.line)
	}
	_, err = parse(t, "backend b\n    server web1 127.0.0.1:1\n    server-template web 2 127.0.0.1:2\n")
	require.ErrorContains(t, err, "server 'web1' already declared")
}

// defer-accept and tfo are bind options of their own, without argument.
func TestBindSocketOptions(t *testing.T) {
	c := mustParse(t, "frontend f\n  bind :1 defer-accept tfo\n  bind :2\n")
	binds := c.Proxy("f", KindFrontend).Binds
	require.True(t, binds[0].DeferAccept)
	require.True(t, binds[0].FastOpen)
	require.False(t, binds[1].DeferAccept || binds[1].FastOpen)
}

// A section lb does not implement stops the start with one error at its
// first line; its body is skipped, and the sections after it are read.
func TestUnsupportedSections(t *testing.T) {
	_, err := parse(t, "log-forward lf\n  maxconn 10\n  format raw\nmailers mymailers\n  mailer a 127.0.0.1:1024\nbackend b\n  stick-table type ip size 1k\n  bogus\n")
	require.ErrorIs(t, err, ErrUnsupported)
	msg := err.Error()
	require.Contains(t, msg, "lb.cfg:1: not supported: 'log-forward' sections (HAProxy's log-forward section is not implemented by lb)")
	require.Contains(t, msg, "lb.cfg:4: not supported: 'mailers' sections")
	require.NotContains(t, msg, "format raw")
	require.NotContains(t, msg, "lb.cfg:5")
	require.Contains(t, msg, "lb.cfg:8: unknown keyword: unknown keyword 'bogus' in 'backend' section")

	// A table that names a peers section no file declares.
	_, err = parse(t, "backend b\n  stick-table type ip size 1k peers mypeers\n")
	require.ErrorIs(t, err, ErrReference)
	require.ErrorContains(t, err, "lb.cfg:2: bad reference: backend 'b': unable to find sync peers 'mypeers'")
}
