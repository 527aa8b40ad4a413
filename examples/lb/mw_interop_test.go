package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// masterLine finds the messages of HAProxy's master about programs,
// reloads and its own end; masterPrefix is haproxy's "[LEVEL]   (PID) : "
// prefix, which lb writes "[LEVEL] ".
var (
	masterLine   = regexp.MustCompile(`program '|exit-on-failure|All workers exited|Exiting Master|Reloading HAProxy|Loading success|Loading failure|Cannot execute`)
	masterPrefix = regexp.MustCompile(`^\[(\w+)\]\s+\(\d+\) : `)
	pidInLine    = regexp.MustCompile(`' \(-?\d+\)`)
)

// masterMessages returns the master's messages in out, with the pids
// blanked, sorted: the order of two programs' ends is the system's.
func masterMessages(out string) []string {
	var msgs []string
	for _, l := range strings.Split(out, "\n") {
		l = masterPrefix.ReplaceAllString(l, "[$1] ")
		if masterLine.MatchString(l) {
			msgs = append(msgs, pidInLine.ReplaceAllString(l, "' (PID)"))
		}
	}
	slices.Sort(msgs)
	return msgs
}

// runMaster runs bin -W on the configuration cfg makes for a free port,
// drives it with steps once it has loaded, and returns its exit code and
// master messages.
func runMasterWorker(t *testing.T, bin, cfg string, steps func(p *process)) (int, []string) {
	t.Helper()
	p := startCommand(t, bin, "-W", "-f", writeFile(t, "mw.cfg", fmt.Sprintf(cfg, freePort(t))))
	p.waitOutput(t, "Loading success.", 1)
	if steps != nil {
		if bin == haproxyBin(t) {
			waitMasterSignals(t, p)
		}
		steps(p)
	}
	code := p.exitCode(t)
	return code, masterMessages(p.output())
}

// waitMasterSignals waits until haproxy's master catches its signals,
// which it does a moment after it says "Loading success.".
func waitMasterSignals(t *testing.T, p *process) {
	t.Helper()
	want := uint64(1)<<(syscall.SIGUSR1-1) | 1<<(syscall.SIGUSR2-1) | 1<<(syscall.SIGTERM-1)
	status := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	if _, err := os.Stat(status); err != nil {
		t.Skip("no /proc to see when haproxy's master takes signals")
	}
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(status)
		if err != nil {
			return false
		}
		m := regexp.MustCompile(`(?m)^SigCgt:\s*([0-9a-f]+)$`).FindSubmatch(b)
		if m == nil {
			return false
		}
		caught, err := strconv.ParseUint(string(m[1]), 16, 64)
		return err == nil && caught&want == want
	}, 20*time.Second, 5*time.Millisecond, "haproxy's master does not catch its signals")
}

// compareMasters runs haproxy and lb on cfg with the same steps and
// requires the same exit code and master messages.
func compareMasters(t *testing.T, cfg string, steps func(p *process)) []string {
	t.Helper()
	hcode, hmsgs := runMasterWorker(t, haproxyBin(t), cfg, steps)
	lcode, lmsgs := runMasterWorker(t, lbBinary(t), cfg, steps)
	require.Equal(t, hmsgs, lmsgs, "master messages, haproxy then lb")
	require.Equal(t, hcode, lcode, "exit code, haproxy then lb")
	return lmsgs
}

const mwInteropCfg = `global
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    server s 127.0.0.1:1
`

// A program that fails stops everything (exit-on-failure): the other
// programs get SIGTERM and the exit code is the program's, in haproxy
// and lb alike.
func TestInteropProgramExitOnFailure(t *testing.T) {
	cfg := mwInteropCfg + "program failing\n    command sh -c \"exit 3\"\nprogram idle\n    command sleep 100\n"
	msgs := compareMasters(t, cfg, nil)
	require.Contains(t, msgs, "[ALERT] Current program 'failing' (PID) exited with code 3 (Exit)")
	require.Contains(t, msgs, "[ALERT] Current program 'idle' (PID) exited with code 143 (Terminated)")
	require.Contains(t, msgs, "[WARNING] All workers exited. Exiting... (3)")
}

// A command that cannot be executed fails as a program exiting with
// code 1.
func TestInteropProgramCannotExecute(t *testing.T) {
	cfg := mwInteropCfg + "program missing\n    command /nonexistent/command arg\n"
	hcode, hmsgs := runMasterWorker(t, haproxyBin(t), cfg, nil)
	lcode, lmsgs := runMasterWorker(t, lbBinary(t), cfg, nil)
	require.Equal(t, hcode, lcode)
	require.Equal(t, 1, lcode)
	// haproxy forks, then fails to exec; lb fails to start the command,
	// and has no fork to tell of.
	hmsgs = slices.DeleteFunc(hmsgs, func(m string) bool { return strings.HasPrefix(m, "[NOTICE] New program 'missing'") })
	require.Equal(t, hmsgs, lmsgs)
	require.Contains(t, lmsgs, "[ALERT] Cannot execute /nonexistent/command: No such file or directory")
}

// On a reload every program is sent SIGUSR1 and reported as former when
// it exits; those with start-on-reload (the default) start again, those
// with "no option start-on-reload" do not. SIGTERM then stops the new
// instance, and the exit code is 0.
func TestInteropProgramReload(t *testing.T) {
	cfg := mwInteropCfg + "program again\n    command sleep 100\nprogram once\n    command sleep 100\n    no option start-on-reload\n"
	msgs := compareMasters(t, cfg, func(p *process) {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
		p.waitOutput(t, "Loading success.", 2)
		p.waitOutput(t, "Former program", 2)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	})
	require.Equal(t, []string{
		"[ALERT] Current program 'again' (PID) exited with code 143 (Terminated)",
		"[NOTICE] Loading success.",
		"[NOTICE] Loading success.",
		"[NOTICE] New program 'again' (PID) forked",
		"[NOTICE] New program 'again' (PID) forked",
		"[NOTICE] New program 'once' (PID) forked",
		"[NOTICE] Reloading HAProxy",
		"[WARNING] All workers exited. Exiting... (0)",
		"[WARNING] Exiting Master process...",
		"[WARNING] Former program 'again' (PID) exited with code 138 (User defined signal 1)",
		"[WARNING] Former program 'once' (PID) exited with code 138 (User defined signal 1)",
	}, msgs)
}

// SIGUSR1 to the master stops softly and passes the signal on: a
// program that does not handle it dies of it, which is a failure.
func TestInteropProgramSoftStop(t *testing.T) {
	cfg := mwInteropCfg + "program idle\n    command sleep 100\n"
	msgs := compareMasters(t, cfg, func(p *process) {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR1))
	})
	require.Contains(t, msgs, "[WARNING] All workers exited. Exiting... (138)")
}

// A program section needs master-worker mode, from -W or the global
// section; haproxy and lb refuse it otherwise with the same words.
func TestInteropProgramNeedsMasterWorker(t *testing.T) {
	base := fmt.Sprintf(mwInteropCfg, freePort(t)) + "program p\n    command true\n"
	mwGlobal := strings.Replace(base, "global\n", "global\n    master-worker\n", 1)
	for _, tc := range []struct {
		name string
		cfg  string
		args []string
	}{
		{"no master-worker", base, nil},
		{"-W", base, []string{"-W"}},
		{"master-worker in global", mwGlobal, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "p.cfg", tc.cfg)
			args := append([]string{"-c", "-f", path}, tc.args...)
			hout, _ := exec.Command(haproxyBin(t), args...).CombinedOutput()
			h := exec.Command(haproxyBin(t), args...)
			_ = h.Run()
			l := exec.Command(lbBinary(t), args...)
			lout, _ := l.CombinedOutput()
			require.Equal(t, h.ProcessState.ExitCode(), l.ProcessState.ExitCode(), "haproxy:\n%s\nlb:\n%s", hout, lout)
			const msg = "config : Can't use a 'program' section without master worker mode."
			require.Equal(t, strings.Contains(string(hout), msg), strings.Contains(string(lout), msg), "haproxy:\n%s\nlb:\n%s", hout, lout)
		})
	}
}
