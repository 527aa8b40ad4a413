package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// startCommand runs bin with args, collecting its output, and stops it
// with SIGKILL if the test ends first.
func startCommand(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	// A group of its own, so that the cleanup also ends the programs a
	// master started.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// waitOutput waits until the output holds s at least n times.
func (p *process) waitOutput(t *testing.T, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); strings.Count(p.output(), s) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d × %q; output:\n%s", n, s, p.output())
		}
	}
}

// exitCode waits for the process to end and returns its exit code.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the process did not exit; output:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// replaceFile writes text to path in one step, as a reload must read
// either the old file or the new one.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// bannerServer says its name on connect, then echoes.
func bannerServer(t *testing.T, name string) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		_, _ = io.WriteString(c, name+"\n")
		testnet.Echo(c)
	})
}

func mwCfg(port int, server string) string {
	return fmt.Sprintf(`global
    hard-stop-after 30s
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen px
    bind 127.0.0.1:%d
    server s %s
`, port, server)
}

// A reload under load: clients connecting in a loop throughout three
// reloads are never refused nor cut, each reload's configuration
// answers, a connection opened before the reloads keeps working until
// it ends, and SIGTERM then stops lb with HAProxy's master's messages.
func TestMasterWorkerReloadUnderLoad(t *testing.T) {
	a, b := bannerServer(t, "A"), bannerServer(t, "B")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	path := writeFile(t, "lb.cfg", mwCfg(port, a))
	p := startCommand(t, lbBinary(t), "-W", "-f", path)
	p.waitOutput(t, "Loading success.", 1)

	live, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer live.Close()
	lr := bufio.NewReader(live)
	line, err := lr.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "A\n", line)

	var refused, cut, answers atomic.Int64
	var last atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					refused.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				l, err := r.ReadString('\n')
				if err == nil {
					_, err = io.WriteString(c, "ping\n")
				}
				if err == nil {
					var echo string
					if echo, err = r.ReadString('\n'); err == nil && echo != "ping\n" {
						err = fmt.Errorf("echo %q", echo)
					}
				}
				_ = c.Close()
				if err != nil {
					cut.Add(1)
					continue
				}
				answers.Add(1)
				last.Store(l)
			}
		}()
	}
	waitAnswers := func(want string) {
		t.Helper()
		n := answers.Load()
		require.Eventually(t, func() bool { return answers.Load() > n+20 && last.Load() == want }, 20*time.Second, time.Millisecond,
			"answers %d, last %v", answers.Load(), last.Load())
	}
	waitAnswers("A\n")
	for i, server := range []string{b, a, b} {
		replaceFile(t, path, mwCfg(port, server))
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
		p.waitOutput(t, "Loading success.", i+2)
		waitAnswers(map[string]string{a: "A\n", b: "B\n"}[server])
	}
	close(stop)
	wg.Wait()
	require.Zero(t, refused.Load(), "connects refused during the reloads")
	require.Zero(t, cut.Load(), "connections cut during the reloads")
	require.Equal(t, 3, strings.Count(p.output(), "[NOTICE] Reloading HAProxy"))

	// The connection from before the reloads is served by the first
	// configuration, which waits for it.
	_, err = io.WriteString(live, "after three reloads\n")
	require.NoError(t, err)
	line, err = lr.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "after three reloads\n", line)
	require.NoError(t, live.(*net.TCPConn).CloseWrite())
	_, err = io.ReadAll(lr)
	require.NoError(t, err)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.exitCode(t), "output:\n%s", p.output())
	require.Contains(t, p.output(), "[WARNING] Exiting Master process...\n")
	require.Contains(t, p.output(), "[WARNING] All workers exited. Exiting... (0)\n")
	_, err = net.Dial("tcp", addr)
	require.Error(t, err)
}

// A reload on an invalid configuration prints its errors and "Loading
// failure!", and the running configuration keeps serving; once fixed,
// the next reload applies it.
func TestMasterWorkerInvalidReload(t *testing.T) {
	a, b := bannerServer(t, "A"), bannerServer(t, "B")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	path := writeFile(t, "lb.cfg", mwCfg(port, a))
	p := startCommand(t, lbBinary(t), "-f", path, "-W")
	p.waitOutput(t, "Loading success.", 1)

	replaceFile(t, path, mwCfg(port, b)+"    bogus keyword\n")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
	p.waitOutput(t, "[WARNING] Loading failure!", 1)
	require.Contains(t, p.output(), "[ALERT] "+path+":11: unknown keyword: unknown keyword 'bogus' in 'listen' section\n")
	require.Equal(t, "A\n", askLine(t, addr))

	// A configuration that parses but cannot start (a stats socket in a
	// directory that does not exist) fails the same way.
	replaceFile(t, path, strings.Replace(mwCfg(port, b), "global\n", "global\n    stats socket /nonexistent/dir/s.sock\n", 1))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitOutput(t, "[WARNING] Loading failure!", 2)
	require.Contains(t, p.output(), "[ALERT] balancer: stats socket /nonexistent/dir/s.sock")
	require.Equal(t, "A\n", askLine(t, addr))

	// Warnings under zero-warning refuse the new configuration, as
	// haproxy's master refuses it.
	replaceFile(t, path, strings.Replace(mwCfg(port, b), "global\n", "global\n    zero-warning\n", 1)+"    option httplog\n")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitOutput(t, "[WARNING] Loading failure!", 3)
	require.Contains(t, p.output(), "[ALERT] Some warnings were found and 'zero-warning' is set. Aborting.\n[WARNING] Loading failure!\n")
	require.Equal(t, "A\n", askLine(t, addr))

	replaceFile(t, path, mwCfg(port, b))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.waitOutput(t, "Loading success.", 2)
	require.Eventually(t, func() bool { return askLine(t, addr) == "B\n" }, 10*time.Second, 5*time.Millisecond)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.exitCode(t), "output:\n%s", p.output())
}

// askLine connects to addr and returns the first line it reads.
func askLine(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return line
}

// With "master-worker no-exit-on-failure", a program that fails is
// reported and lb keeps serving; its code is still lb's exit code when
// it stops, as HAProxy's master counts it.
func TestMasterWorkerNoExitOnFailure(t *testing.T) {
	a := bannerServer(t, "A")
	port := freePort(t)
	cfg := strings.Replace(mwCfg(port, a), "global\n", "global\n    master-worker no-exit-on-failure\n", 1) +
		"program failing\n    command sh -c \"exit 3\"\n"
	p := startCommand(t, lbBinary(t), "-f", writeFile(t, "lb.cfg", cfg))
	p.waitOutput(t, "exited with code 3 (Exit)", 1)
	require.Regexp(t, `\[ALERT\] Current program 'failing' \(\d+\) exited with code 3 \(Exit\)`, p.output())
	require.NotContains(t, p.output(), "exit-on-failure")
	require.Equal(t, "A\n", askLine(t, fmt.Sprintf("127.0.0.1:%d", port)))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 3, p.exitCode(t), "output:\n%s", p.output())
	require.Contains(t, p.output(), "All workers exited. Exiting... (3)")
}

// A program runs with the user and group its section names.
func TestProgramUserGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("user and group need root: skipping")
	}
	dir, err := os.MkdirTemp("", "lb-program")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	out := filepath.Join(dir, "id")
	port := freePort(t)
	cfg := mwCfg(port, bannerServer(t, "A")) + fmt.Sprintf("program id\n    command sh -c \"id -u > %[1]s.tmp; id -g >> %[1]s.tmp; id -G >> %[1]s.tmp; mv %[1]s.tmp %[1]s; exec sleep 100\"\n    user nobody\n    group nogroup\n", out)
	p := startCommand(t, lbBinary(t), "-W", "-f", writeFile(t, "lb.cfg", cfg))
	require.Eventually(t, func() bool { _, err := os.Stat(out); return err == nil }, 20*time.Second, 5*time.Millisecond, "the program did not write its ids")
	ids, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "65534\n65534\n65534\n", string(ids))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.exitCode(t), "output:\n%s", p.output())
	require.Regexp(t, `\[ALERT\] Current program 'id' \(\d+\) exited with code 143 \(Terminated\)`, p.output())
}

// -Ws tells the service manager on $NOTIFY_SOCKET when lb is ready, when
// it reloads and is ready again, and when it stops, with HAProxy's
// messages.
func TestMasterWorkerSystemdNotify(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	require.NoError(t, err)
	defer ns.Close()
	next := func() string {
		t.Helper()
		buf := make([]byte, 512)
		_ = ns.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := ns.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}
	port := freePort(t)
	p := &process{done: make(chan error, 1)}
	p.cmd = exec.Command(lbBinary(t), "-Ws", "-f", writeFile(t, "lb.cfg", mwCfg(port, bannerServer(t, "A"))))
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	w := lockedWriter{&p.mu, &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait(); p.exited.Store(true) }()
	t.Cleanup(func() {
		if !p.exited.Load() {
			_ = p.cmd.Process.Kill()
		}
	})
	ready := fmt.Sprintf("READY=1\nMAINPID=%d", p.cmd.Process.Pid)
	require.Equal(t, ready, next())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
	require.Equal(t, "RELOADING=1", next())
	require.Equal(t, ready, next())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, "STOPPING=1", next())
	require.Equal(t, 0, p.exitCode(t), "output:\n%s", p.output())
}
