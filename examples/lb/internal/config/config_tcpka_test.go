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

func TestTCPKeepAliveOff(t *testing.T) {
	c := mustParse(t, "frontend f\n  bind :1\n  default_backend b\nbackend b\n  server s 127.0.0.1:1\nlisten l\n  bind :2\n  server s 127.0.0.1:1\n")
	for _, px := range c.Proxies {
		require.Zero(t, px.CliTCPKA, "%s %s", px.Kind, px.Name)
		require.Zero(t, px.SrvTCPKA, "%s %s", px.Kind, px.Name)
	}
}

func TestTCPKeepAliveKeywords(t *testing.T) {
	c := mustParse(t, `
frontend f
  option clitcpka
  clitcpka-idle 30
  clitcpka-intvl 500ms
  clitcpka-cnt 4
backend b
  option srvtcpka
  srvtcpka-idle 2m
  srvtcpka-intvl 10s
  srvtcpka-cnt 127
listen l
  option clitcpka
  option srvtcpka
  clitcpka-idle 1
  srvtcpka-intvl 32767
listen both
  option tcpka
frontend fe_tcpka
  option tcpka
backend be_tcpka
  option tcpka
`)
	px := func(name string) *Proxy { return c.Proxy(name, KindFrontend|KindBackend) }
	require.Equal(t, TCPKeepAlive{On: true, Idle: 30 * time.Second, Interval: 500 * time.Millisecond, Count: 4}, px("f").CliTCPKA)
	require.Zero(t, px("f").SrvTCPKA)
	require.Equal(t, TCPKeepAlive{On: true, Idle: 2 * time.Minute, Interval: 10 * time.Second, Count: 127}, px("b").SrvTCPKA)
	require.Zero(t, px("b").CliTCPKA)
	require.Equal(t, TCPKeepAlive{On: true, Idle: time.Second}, px("l").CliTCPKA)
	require.Equal(t, TCPKeepAlive{On: true, Interval: 32767 * time.Second}, px("l").SrvTCPKA)
	// tcpka turns on the sides the section has.
	require.Equal(t, TCPKeepAlive{On: true}, px("both").CliTCPKA)
	require.Equal(t, TCPKeepAlive{On: true}, px("both").SrvTCPKA)
	require.True(t, px("fe_tcpka").CliTCPKA.On)
	require.False(t, px("fe_tcpka").SrvTCPKA.On)
	require.False(t, px("be_tcpka").CliTCPKA.On)
	require.True(t, px("be_tcpka").SrvTCPKA.On)
}

func TestTCPKeepAliveInheritance(t *testing.T) {
	c := mustParse(t, `
defaults named
  option clitcpka
  srvtcpka-idle 9
defaults
  option tcpka
  clitcpka-idle 60
  clitcpka-cnt 3
  srvtcpka-intvl 5s
frontend f
  no option clitcpka
frontend g
  clitcpka-idle 0
backend b
  srvtcpka-cnt 7
backend c
  no option srvtcpka
listen from_named from named
defaults
listen fresh
`)
	px := func(name string) *Proxy { return c.Proxy(name, KindFrontend|KindBackend) }
	// "no option clitcpka" turns the side off and keeps its timings.
	require.Equal(t, TCPKeepAlive{Idle: time.Minute, Count: 3}, px("f").CliTCPKA)
	// 0 brings back the system's value.
	require.Equal(t, TCPKeepAlive{On: true, Count: 3}, px("g").CliTCPKA)
	require.Equal(t, TCPKeepAlive{On: true, Interval: 5 * time.Second, Count: 7}, px("b").SrvTCPKA)
	require.Equal(t, TCPKeepAlive{Interval: 5 * time.Second}, px("c").SrvTCPKA)
	// A new defaults section starts again from no keepalive.
	require.Zero(t, px("fresh").CliTCPKA)
	require.Zero(t, px("fresh").SrvTCPKA)
	require.Equal(t, TCPKeepAlive{On: true}, px("from_named").CliTCPKA)
	require.Equal(t, TCPKeepAlive{Idle: 9 * time.Second}, px("from_named").SrvTCPKA)
}

// tcpkaCase is one line lb refuses, in one section. haproxy says what
// HAProxy 2.6 makes of the same line: "alert" when it refuses it too,
// "warning" when it ignores it with a warning, "" when it takes it
// silently (values the kernel refuses, which HAProxy's setsockopt then
// fails to set). A keyword in a section without its side is ignored with
// haproxy's warning by lb too (TestInteropMisplacedKeywordsMatchHAProxy).
type tcpkaCase struct {
	section, line string
	sentinel      error
	keyword, want string
	haproxy       string
}

var tcpkaErrors = []tcpkaCase{
	{"global", "clitcpka-idle 10", ErrMisplaced, "clitcpka-idle", "'clitcpka-idle' not allowed in 'global' section", "alert"},
	{"global", "option tcpka", ErrMisplaced, "option", "'option' not allowed in 'global' section", "alert"},
	{"listen l", "no option tcpka", ErrBadValue, "option", "'option tcpka' in 'listen' section: cannot be negated", "alert"},
	{"defaults", "no option tcpka", ErrBadValue, "option", "'option tcpka' in 'defaults' section: cannot be negated", "alert"},
	{"listen l", "clitcpka-idle", ErrBadValue, "clitcpka-idle", "'clitcpka-idle' in 'listen' section: expects one time", "alert"},
	{"listen l", "clitcpka-idle -5", ErrBadValue, "clitcpka-idle", `'clitcpka-idle' in 'listen' section: invalid time "-5"`, "alert"},
	{"listen l", "clitcpka-intvl 1.5s", ErrBadValue, "clitcpka-intvl", `'clitcpka-intvl' in 'listen' section: invalid time "1.5s"`, "alert"},
	{"frontend f", "clitcpka-idle 10S", ErrBadValue, "clitcpka-idle", `'clitcpka-idle' in 'frontend' section: invalid time "10S"`, "alert"},
	{"backend b", "srvtcpka-idle 1x", ErrBadValue, "srvtcpka-idle", `'srvtcpka-idle' in 'backend' section: invalid time "1x"`, "alert"},
	{"defaults", "srvtcpka-intvl 3000000000", ErrBadValue, "srvtcpka-intvl", `'srvtcpka-intvl' in 'defaults' section: invalid time "3000000000": too large`, "alert"},
	{"listen l", "clitcpka-cnt", ErrBadValue, "clitcpka-cnt", "'clitcpka-cnt' in 'listen' section: expects one number", "alert"},
	{"backend b", "srvtcpka-cnt x", ErrBadValue, "srvtcpka-cnt", `'srvtcpka-cnt' in 'backend' section: invalid number "x"`, "alert"},
	{"defaults", "clitcpka-cnt 5x", ErrBadValue, "clitcpka-cnt", `'clitcpka-cnt' in 'defaults' section: invalid number "5x"`, "alert"},
	{"listen l", "option clitcpka now", ErrBadValue, "option", "'option clitcpka' in 'listen' section: unexpected argument 'now'", "alert"},
	{"listen l", "option tcpka now", ErrBadValue, "option", "'option tcpka' in 'listen' section: unexpected argument 'now'", "alert"},
	// HAProxy ignores the extra word.
	{"listen l", "clitcpka-idle 1 2", ErrBadValue, "clitcpka-idle", "'clitcpka-idle' in 'listen' section: expects one time", ""},
}

// tcpkaConfig is a whole configuration with line in section, and the
// number of that line. Every proxy has its bind, server and timeouts, so
// that HAProxy has nothing else to say about it.
func tcpkaConfig(section, line string) (string, int) {
	const timeouts = "  mode tcp\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
	const server = "  server s 127.0.0.1:18601\n"
	var b strings.Builder
	if section != "defaults" {
		b.WriteString("defaults\n" + timeouts)
	}
	b.WriteString(section + "\n")
	n := strings.Count(b.String(), "\n") + 1
	b.WriteString("  " + line + "\n")
	switch strings.Fields(section)[0] {
	case "defaults":
		b.WriteString(timeouts + "listen l\n  bind 127.0.0.1:18600\n" + server)
	case "frontend":
		b.WriteString("  bind 127.0.0.1:18600\n  default_backend b\nbackend b\n" + server)
	case "backend":
		b.WriteString(server + "frontend f\n  bind 127.0.0.1:18600\n  default_backend b\n")
	case "listen":
		b.WriteString("  bind 127.0.0.1:18600\n" + server)
	}
	return b.String(), n
}

func TestTCPKeepAliveErrors(t *testing.T) {
	for _, tc := range tcpkaErrors {
		t.Run(tc.section+"/"+tc.line, func(t *testing.T) {
			text, line := tcpkaConfig(tc.section, tc.line)
			_, err := parse(t, text)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.sentinel)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, Pos{"lb.cfg", line}, ce.Pos)
			require.Equal(t, tc.keyword, ce.Keyword)
			want := fmt.Sprintf("lb.cfg:%d: %v: %s", line, tc.sentinel, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), want), "got %q, want prefix %q", err.Error(), want)
			require.NotContains(t, err.Error(), "\n", "one error only")
		})
	}
}

// tcpkaWarned are lines with values the kernel refuses. HAProxy takes
// them silently and its setsockopt fails, leaving the system's value; lb
// takes them, leaves the system's value and warns at the line.
var tcpkaWarned = []struct {
	section, line, want string
	side                func(*Proxy) TCPKeepAlive
}{
	{"listen l", "clitcpka-idle 32768", "'clitcpka-idle 32768': more than Linux takes (32767s); the system's value (net.ipv4.tcp_keepalive_time) applies", cli},
	{"listen l", "srvtcpka-idle 10h", "'srvtcpka-idle 10h': more than Linux takes (32767s); the system's value (net.ipv4.tcp_keepalive_time) applies", srv},
	{"defaults", "srvtcpka-intvl 2147483", "'srvtcpka-intvl 2147483': more than Linux takes (32767s); the system's value (net.ipv4.tcp_keepalive_intvl) applies", srv},
	{"backend b", "srvtcpka-cnt 128", "'srvtcpka-cnt 128': outside what Linux takes (1..127); the system's value (net.ipv4.tcp_keepalive_probes) applies", srv},
	{"frontend f", "clitcpka-cnt -1", "'clitcpka-cnt -1': outside what Linux takes (1..127); the system's value (net.ipv4.tcp_keepalive_probes) applies", cli},
}

func cli(px *Proxy) TCPKeepAlive { return px.CliTCPKA }
func srv(px *Proxy) TCPKeepAlive { return px.SrvTCPKA }

func TestTCPKeepAliveBeyondKernel(t *testing.T) {
	for _, tc := range tcpkaWarned {
		t.Run(tc.section+"/"+tc.line, func(t *testing.T) {
			text, line := tcpkaConfig(tc.section, tc.line)
			c, err := parse(t, text)
			require.NoError(t, err)
			require.Len(t, c.Warnings, 1)
			require.True(t, strings.HasPrefix(c.Warnings[0], fmt.Sprintf("lb.cfg:%d: %s", line, tc.want)), c.Warnings[0])
			for _, px := range c.Proxies {
				require.Zero(t, tc.side(px), "%s keeps the system's values", px.Name)
			}
		})
	}
}

// TestTCPKeepAliveAgainstHAProxy runs haproxy -c on the keepalive lines:
// everything lb takes, HAProxy takes without a warning, and every line lb
// refuses gets from HAProxy the verdict tcpkaErrors records.
func TestTCPKeepAliveAgainstHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	check := func(t *testing.T, text string) string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "tcpka.cfg")
		require.NoError(t, os.WriteFile(f, []byte(text), 0o644))
		out, _ := exec.Command(bin, "-c", "-f", f).CombinedOutput()
		return string(out)
	}
	t.Run("accepted", func(t *testing.T) {
		text := `defaults
  mode tcp
  timeout connect 1s
  timeout client 1s
  timeout server 1s
  option tcpka
  option clitcpka
  option srvtcpka
  no option clitcpka
  no option srvtcpka
  clitcpka-idle 30
  clitcpka-intvl 10s
  clitcpka-cnt 4
  srvtcpka-idle 2m
  srvtcpka-intvl 0
  srvtcpka-cnt 127
frontend f
  bind 127.0.0.1:18600
  option tcpka
  option clitcpka
  no option clitcpka
  clitcpka-idle 500ms
  clitcpka-intvl 32767
  clitcpka-cnt 0
  default_backend b
backend b
  option tcpka
  option srvtcpka
  no option srvtcpka
  srvtcpka-idle 1
  srvtcpka-intvl 1m
  srvtcpka-cnt 1
  server s 127.0.0.1:18601
listen l
  bind 127.0.0.1:18602
  option tcpka
  option clitcpka
  option srvtcpka
  clitcpka-idle 9h
  srvtcpka-idle 1s
  clitcpka-cnt 9
  srvtcpka-cnt 9
  server s 127.0.0.1:18601
`
		_, err := parse(t, text)
		require.NoError(t, err)
		out := check(t, text)
		require.Contains(t, out, "Configuration file is valid", out)
		require.NotContains(t, out, "WARNING", out)
	})
	for _, tc := range tcpkaWarned {
		t.Run("warned/"+tc.section+"/"+tc.line, func(t *testing.T) {
			text, line := tcpkaConfig(tc.section, tc.line)
			out := check(t, text)
			require.Contains(t, out, "Configuration file is valid", out)
			require.NotContains(t, out, fmt.Sprintf("/tcpka.cfg:%d]", line), out)
		})
	}
	for _, tc := range tcpkaErrors {
		t.Run(tc.section+"/"+tc.line, func(t *testing.T) {
			text, line := tcpkaConfig(tc.section, tc.line)
			out := check(t, text)
			at := fmt.Sprintf("/tcpka.cfg:%d]", line)
			switch tc.haproxy {
			case "alert":
				require.Regexp(t, `ALERT.*`+regexpQuote(at), out)
				require.NotContains(t, out, "Configuration file is valid", out)
			case "warning":
				require.Regexp(t, `WARNING.*`+regexpQuote(at)+`.*ignored`, out)
				require.Contains(t, out, "Configuration file is valid", out)
			default:
				require.Contains(t, out, "Configuration file is valid", out)
				require.NotContains(t, out, at, out)
			}
		})
	}
}

func regexpQuote(s string) string {
	r := strings.NewReplacer("[", `\[`, "]", `\]`, ".", `\.`)
	return r.Replace(s)
}
