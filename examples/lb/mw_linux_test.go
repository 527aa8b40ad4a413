package main

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// procField reads a line of /proc/PID/FILE matching re and returns its
// first group.
func procField(t *testing.T, pid int, file, re string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	require.NoError(t, err)
	m := regexp.MustCompile(re).FindSubmatch(data)
	require.NotNil(t, m, "%s in /proc/%d/%s:\n%s", re, pid, file, data)
	return string(m[1])
}

// A reload applies the new configuration's process settings, as
// haproxy's new worker takes them: the open file limit and the CPUs.
func TestMasterWorkerReloadAppliesProcessSettings(t *testing.T) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Max < 1700 {
		t.Skipf("the hard file limit here, %d, is below the test's", lim.Max)
	}
	cpus := "0"
	if runtime.NumCPU() > 1 {
		cpus = "1"
	}
	port := freePort(t)
	path := writeFile(t, "lb.cfg", strings.Replace(mwCfg(port, bannerServer(t, "A")), "global\n", "global\n    ulimit-n 1500\n    cpu-map 1/1 0\n", 1))
	p := startCommand(t, lbBinary(t), "-f", path, "-W")
	p.waitOutput(t, "Loading success.", 1)
	pid := p.cmd.Process.Pid
	limit := `Max open files\s+(\d+)`
	require.Equal(t, "1500", procField(t, pid, "limits", limit))
	require.Equal(t, "0", procField(t, pid, "status", `Cpus_allowed_list:\s+(\S+)`))

	replaceFile(t, path, strings.Replace(mwCfg(port, bannerServer(t, "B")), "global\n", "global\n    ulimit-n 1700\n    cpu-map 1/1 "+cpus+"\n", 1))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
	p.waitOutput(t, "Loading success.", 2)
	require.Equal(t, "1700", procField(t, pid, "limits", limit))
	require.Equal(t, cpus, procField(t, pid, "status", `Cpus_allowed_list:\s+(\S+)`))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	require.Eventually(t, func() bool { return askLine(t, addr) == "B\n" }, 10*time.Second, 5*time.Millisecond)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.exitCode(t), "output:\n%s", p.output())
}
