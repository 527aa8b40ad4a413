package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// daemonCfg is processCfg in daemon mode with a pid file, plus extra
// global lines.
func daemonCfg(port int, echo, pidfile, extra string) string {
	return strings.Replace(processCfg(port, echo), "global\n",
		fmt.Sprintf("global\n    daemon\n    pidfile %s\n%s", pidfile, extra), 1)
}

// runDaemon runs lb on cfg in daemon mode and returns the background
// process's pid, read from the pid file, once the foreground one has
// exited 0; the background process is stopped when the test ends.
func runDaemon(t *testing.T, cfg, pidfile string) int {
	t.Helper()
	out, err := exec.Command(lbBinary(t), "-f", writeFile(t, "lb.cfg", cfg)).CombinedOutput()
	require.NoError(t, err, "the foreground process exits 0 once the background one listens; output:\n%s", out)
	b, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// serveThenStop checks that the background lb pid forwards msg through
// port to the echo server and back, then stops it with SIGTERM.
func serveThenStop(t *testing.T, port, pid int, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, msg)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	waitGone(t, pid)
}

// waitGone waits for process pid to end.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 10*time.Millisecond, "lb %d still running", pid)
}

// With "daemon", lb listens in the background: the command returns
// once it does, the pid file names the background process, which runs in
// a session of its own, serves, and stops on SIGTERM.
func TestDaemon(t *testing.T) {
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "lb.pid")
	pid := runDaemon(t, daemonCfg(port, echoServer(t), pidfile, ""), pidfile)
	require.NotEqual(t, os.Getpid(), pid)
	sid, err := unix.Getsid(pid)
	require.NoError(t, err)
	require.Equal(t, pid, sid, "a session of its own")

	serveThenStop(t, port, pid, "to the daemon\n")
}

// A daemon that cannot start says why, and the command exits 1.
func TestDaemonStartFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pidfile := filepath.Join(t.TempDir(), "lb.pid")
	cmd := exec.Command(lbBinary(t), "-f", writeFile(t, "lb.cfg", daemonCfg(port, echoServer(t), pidfile, "")))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 1, cmd.ProcessState.ExitCode())
	require.Contains(t, string(out), "[ALERT] balancer: listen 'px': cannot bind 127.0.0.1:")
	_, err = os.Stat(pidfile)
	require.ErrorIs(t, err, os.ErrNotExist, "no pid file for a process that did not start")
}

// chroot, user and group take effect once lb listens: the background
// process runs as nobody:nogroup inside the directory, and still serves.
func TestChrootUserGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot, user and group need root: skipping")
	}
	port := freePort(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	pidfile := filepath.Join(dir, "lb.pid")
	jail := filepath.Join(dir, "jail")
	require.NoError(t, os.Mkdir(jail, 0o755))
	pid := runDaemon(t, daemonCfg(port, echoServer(t), pidfile,
		fmt.Sprintf("    chroot %s\n    user nobody\n    group nogroup\n", jail)), pidfile)

	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
	require.NoError(t, err)
	require.Equal(t, jail, root)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Uid:\t65534\t65534\t65534\t65534$`, string(status))
	require.Regexp(t, `(?m)^Gid:\t65534\t65534\t65534\t65534$`, string(status))
	require.Regexp(t, `(?m)^Groups:\t65534 ?$`, string(status))

	serveThenStop(t, port, pid, "confined\n")
}

// cpu-map binds every thread of the process to the CPUs it names for
// process 1, threads the runtime starts later included.
func TestCPUMap(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("cpu-map needs two CPUs to show a binding")
	}
	port := freePort(t)
	pidfile := filepath.Join(t.TempDir(), "lb.pid")
	pid := runDaemon(t, daemonCfg(port, echoServer(t), pidfile, "    cpu-map auto:1/1-2 1\n"), pidfile)
	// Traffic makes the runtime start threads after the binding.
	for i := range 20 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		roundTrip(t, c, fmt.Sprintf("message %d\n", i))
		_ = c.Close()
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
	for _, task := range tasks {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		require.NoError(t, err)
		require.Contains(t, string(status), "Cpus_allowed_list:\t1\n", "thread %s", task.Name())
	}
	serveThenStop(t, port, pid, "bound\n")
}
