package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// lbBinary builds the command once for the tests that run it as a process.
func lbBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "lb-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "lb")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// echoServer echoes every connection until the peer half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	return testnet.Serve(t, testnet.Echo)
}

func TestCheckMode(t *testing.T) {
	good := writeFile(t, "good.cfg", "defaults\n  mode tcp\nlisten x\n  bind 127.0.0.1:0\n  server s 127.0.0.1:1\n")
	bad := writeFile(t, "bad.cfg", "global\n  maxconn 10\nbackend be\n  serverr s1 127.0.0.1:80\n  balance nope\n")
	unresolvable := writeFile(t, "unresolvable.cfg", "defaults\n  mode tcp\nlisten x\n  server s nosuchhost.invalid:80\n  bind 127.0.0.1:0\n  server t localhost:80\n")
	initNone := writeFile(t, "none.cfg", "defaults\n  mode tcp\nlisten x\n  server s nosuchhost.invalid:80 init-addr last,libc,none\n  bind 127.0.0.1:0\n")
	noListener := writeFile(t, "nolistener.cfg", "frontend f\n  bind 127.0.0.1:0\n  disabled\nbackend b\n  server s 127.0.0.1:1\n")
	statsOnly := writeFile(t, "statsonly.cfg", "global\n  stats socket "+filepath.Join(t.TempDir(), "s.sock")+"\nbackend b\n  server s 127.0.0.1:1\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHave []string
	}{
		{"valid", []string{"-c", "-f", good}, 0, "Configuration file is valid\n", nil},
		{"several files", []string{"-c", "-f", good, "-f", filepath.Join("testdata", "full.cfg")}, 0, "Configuration file is valid\n", nil},
		{"embedded default", []string{"-c"}, 0, "Configuration file is valid\n", nil},
		{"invalid", []string{"-c", "-f", bad}, 1, "", []string{
			bad + ":4: unknown keyword: unknown keyword 'serverr' in 'backend' section",
			bad + ":5: bad value: 'balance' in 'backend' section: unknown algorithm 'nope'",
			"Fatal errors found in configuration.",
		}},
		{"missing file", []string{"-c", "-f", filepath.Join(t.TempDir(), "none.cfg")}, 1, "", []string{"none.cfg"}},
		// Server host names are resolved at the check too, as haproxy
		// does: one nothing resolves stops it, unless init-addr none
		// leaves the server disabled.
		{"unresolvable server", []string{"-c", "-f", unresolvable}, 1, "", []string{
			unresolvable + ":4: 'server x/s' : could not resolve address 'nosuchhost.invalid'",
			"Fatal errors found in configuration.",
		}},
		{"init-addr none", []string{"-c", "-f", initNone}, 0, "Configuration file is valid\n", []string{
			"[WARNING] " + initNone + ":4: 'server x/s' : could not resolve address 'nosuchhost.invalid', disabling server",
		}},
		// Nothing to listen on (a disabled frontend does not): valid,
		// but it will not start, as haproxy says; a stats socket
		// listens.
		{"no listener", []string{"-c", "-f", noListener}, 2, "Configuration file has no error but will not start (no listener) => exit(2).\n", nil},
		{"stats socket only", []string{"-c", "-f", statsOnly}, 0, "Configuration file is valid\n", nil},
		{"no listener, started", []string{"-f", noListener}, 1, "", []string{"No enabled listener found (check for 'bind' directives) ! Exiting."}},
		{"bad flag", []string{"-x"}, 1, "", []string{"flag provided but not defined: -x"}},
		{"extra argument", []string{"-c", "extra"}, 1, "", []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			require.Equal(t, tt.code, code, "stderr: %s", stderr.String())
			require.Equal(t, tt.stdout, stdout.String())
			for _, s := range tt.stderrHave {
				require.Contains(t, stderr.String(), s)
			}
		})
	}
}

func TestDefaultConfigAlternates(t *testing.T) {
	cfg, err := config.Parse(config.Source{Name: defaultConfigName, Data: defaultConfig})
	require.NoError(t, err)
	fe := cfg.Proxy("demo", config.KindFrontend)
	require.Equal(t, []string{"127.0.0.1:8080"}, fe.Binds[0].Addrs)
	be := cfg.Proxy("demo_servers", config.KindBackend)
	require.Len(t, be.Servers, 2)
	// Move everything to free ports: the fixed ones may be taken on a
	// shared machine.
	fe.Binds[0].Addrs = []string{"127.0.0.1:0"}
	for _, s := range be.Servers {
		s.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	demos, err := startDemos(context.Background(), cfg)
	require.NoError(t, err)
	defer demos.Close()
	var logs bytes.Buffer
	var mu sync.Mutex
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{Stdout: lockedWriter{&mu, &logs}})
	require.NoError(t, err)
	defer b.Close()
	url := "http://" + b.Addrs("demo")[0].String() + "/"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var got []string
	for i := 0; i < 4; i++ {
		resp, err := client.Get(url)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		got = append(got, string(body))
	}
	require.Equal(t, []string{"hello from demo1\n", "hello from demo2\n", "hello from demo1\n", "hello from demo2\n"}, got)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// process runs the built lb on a configuration and collects its output.
type process struct {
	cmd    *exec.Cmd
	exited atomic.Bool
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan error
	listen string
}

func startProcess(t *testing.T, cfgText string, listen string) *process {
	t.Helper()
	p := &process{listen: listen, done: make(chan error, 1)}
	p.cmd = exec.Command(lbBinary(t), "-f", writeFile(t, "lb.cfg", cfgText))
	w := lockedWriter{&p.mu, &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		p.exited.Store(true)
		p.done <- err
	}()
	t.Cleanup(func() {
		if !p.exited.Load() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "lb did not start listening")
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *process) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		require.NoError(t, err, "lb exit status; output:\n%s", p.output())
	case <-time.After(10 * time.Second):
		t.Fatalf("lb did not exit; output:\n%s", p.output())
	}
}

func processCfg(port int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen px
    bind 127.0.0.1:%d
    server echo %s
`, port, echo)
}

// roundTrip writes msg and reads it back from the echo server behind lb.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := io.WriteString(c, msg)
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

func TestSIGTERMStopsAtOnce(t *testing.T) {
	port := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p := startProcess(t, processCfg(port, echoServer(t)), listen)
	c, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, "before\n")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.wait(t)
	// The live connection was closed by the stop.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	require.Error(t, err)
	_, err = net.Dial("tcp", listen)
	require.Error(t, err)
	require.Contains(t, p.output(), " px px/echo ")
}

func TestSIGUSR1SoftStop(t *testing.T) {
	port := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p := startProcess(t, processCfg(port, echoServer(t)), listen)
	c, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, "before\n")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR1))
	// New connections are refused once the listener is closed...
	require.Eventually(t, func() bool {
		c2, err := net.Dial("tcp", listen)
		if err == nil {
			_ = c2.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	// ...while the live one keeps working and the process stays up.
	roundTrip(t, c, "after the signal\n")
	require.False(t, p.exited.Load())
	// When the client leaves, the process exits cleanly.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	_, _ = io.ReadAll(c)
	p.wait(t)
	require.Regexp(t, `px px/echo \d+/\d+/\d+ 24 -- `, p.output())
}

func TestConfigErrorStopsStart(t *testing.T) {
	var stdout, stderr bytes.Buffer
	bad := writeFile(t, "lb.cfg", "frontend fe\n  bind 127.0.0.1:0\n  server s 127.0.0.1:1\n")
	require.Equal(t, 1, run([]string{"-f", bad}, &stdout, &stderr))
	require.Contains(t, stderr.String(), bad+":3: keyword not allowed here: 'server' not allowed in 'frontend' section")
	require.Empty(t, stdout.String())
	_ = strings.TrimSpace
}

// TestZeroWarningAndQuiet: under zero-warning a warning stops the start;
// quiet keeps warnings off a normal start but not off -c.
func TestZeroWarningAndQuiet(t *testing.T) {
	bin := lbBinary(t)
	cfg := func(global string) string {
		return writeFile(t, "w.cfg", fmt.Sprintf("global\n.warning \"attention here\"\n%s\nlisten l\n    mode tcp\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n", global, freePort(t)))
	}
	out, err := exec.Command(bin, "-c", "-f", cfg("    zero-warning")).CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Contains(t, string(out), "w.cfg:2: 'attention here'")
	require.Contains(t, string(out), "Some warnings were found and 'zero-warning' is set. Aborting.")

	out, err = exec.Command(bin, "-c", "-f", cfg("    quiet")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "'attention here'", "-c shows warnings even under quiet")

	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	out, _ = exec.CommandContext(ctx, bin, "-f", cfg("    quiet")).CombinedOutput()
	require.NotContains(t, string(out), "WARNING", "a quiet start")
}

// TestStrictLimits: an ulimit-n the system refuses is a warning, and
// under strict-limits it stops the start.
func TestStrictLimits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ulimit-n is applied on Linux only")
	}
	bin := lbBinary(t)
	cfg := writeFile(t, "s.cfg", fmt.Sprintf("global\n    ulimit-n 1073741824\n    strict-limits\nlisten l\n    mode tcp\n    bind 127.0.0.1:%d\n    server s 127.0.0.1:1\n", freePort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-f", cfg).CombinedOutput()
	require.Error(t, err, "%s", out)
	require.NoError(t, ctx.Err(), "it stops at once: %s", out)
	require.Contains(t, string(out), "[ALERT] cannot raise FD limit to 1073741824")
	require.Contains(t, string(out), "(strict-limits)")
}

// -L names the local peer, over "localpeer", as haproxy's -L does; a
// section without that peer is dropped with haproxy's warning.
func TestLocalPeerFlag(t *testing.T) {
	path := writeFile(t, "lb.cfg", `global
    localpeer a
peers p
    peer a 127.0.0.1:10001
    peer b 127.0.0.1:10002
peers q
    peer a 127.0.0.1:10003
backend st
    stick-table type ip size 1k peers p
`)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-c", "-L", "b", "-f", path}, &stdout, &stderr), stderr.String())
	require.Equal(t, "Configuration file is valid\n", stdout.String())
	require.Contains(t, stderr.String(), "[WARNING] "+path+":2: 'localpeer' ignored since it is already set by using the '-L' command line argument.")
	require.Contains(t, stderr.String(), "[WARNING] config : Removing incomplete section 'peers q' (no peer named 'b').")
	require.NotContains(t, stderr.String(), "'peers p'")

	stdout.Reset()
	stderr.Reset()
	require.Equal(t, 0, run([]string{"-c", "-f", path}, &stdout, &stderr), stderr.String())
	require.NotContains(t, stderr.String(), "WARNING", "localpeer a is in both sections")
}
