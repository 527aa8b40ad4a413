package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// daemonEnv marks the background copy a daemon lb starts; its value is
// the descriptor on which the copy reports its start.
const daemonEnv = "LB_DAEMON_REPORT_FD"

// readyLine ends a background copy's report when it listens.
const readyLine = "lb: ready\n"

// daemonize runs lb again in the background, in a session of its own with
// its standard streams on /dev/null, as HAProxy's daemon mode does, and
// waits for the copy's report: what it printed while starting, then
// either readyLine (this process exits 0) or nothing more because it
// failed (exit 1).
func daemonize(args []string, stderr io.Writer) int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT] daemon: %v\n", err)
		return 1
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		_ = w.Close()
		fmt.Fprintf(stderr, "[ALERT] daemon: %v\n", err)
		return 1
	}
	defer null.Close()
	exe, err := os.Executable()
	if err != nil {
		_ = w.Close()
		fmt.Fprintf(stderr, "[ALERT] daemon: %v\n", err)
		return 1
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT] daemon: %v\n", err)
		return 1
	}
	report, _ := io.ReadAll(r)
	_ = cmd.Process.Release()
	if text, ok := bytes.CutSuffix(report, []byte(readyLine)); ok {
		_, _ = stderr.Write(text)
		return 0
	}
	_, _ = stderr.Write(report)
	if len(report) == 0 {
		fmt.Fprintln(stderr, "[ALERT] daemon: the background process ended before it listened")
	}
	return 1
}

// startReport is, in a background copy, the descriptor on which it tells
// the process that started it what it printed while starting and when it
// is ready. Outside one it writes nowhere.
type startReport struct {
	mu sync.Mutex
	f  *os.File
}

// openStartReport opens the report descriptor the environment names, if
// any.
func openStartReport() *startReport {
	v := os.Getenv(daemonEnv)
	if v == "" {
		return &startReport{}
	}
	_ = os.Unsetenv(daemonEnv)
	fd, err := strconv.Atoi(v)
	if err != nil {
		return &startReport{}
	}
	return &startReport{f: os.NewFile(uintptr(fd), "start report")}
}

// background reports whether this process is a daemon's background copy.
func (s *startReport) background() bool { return s.f != nil }

func (s *startReport) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_, _ = s.f.Write(p)
	}
	return len(p), nil
}

// ready ends the report with readyLine.
func (s *startReport) ready() { s.end(true) }

// close ends the report; a report closed before ready tells of a failed
// start.
func (s *startReport) close() { s.end(false) }

func (s *startReport) end(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		if ready {
			_, _ = io.WriteString(s.f, readyLine)
		}
		_ = s.f.Close()
		s.f = nil
	}
}

// settle does, once the listeners are bound, what the global section asks
// of the process, in HAProxy's order: write the pid file, confine the
// process to the chroot directory, then give up root for the configured
// group and user.
//
// In master-worker mode the process stays as it started, warning about
// what it leaves out: HAProxy's master does not confine itself either,
// and lb's one process must reach the configuration files again on a
// reload and start the programs as their sections say.
func settle(g config.Global, stderr io.Writer) error {
	if g.PidFile != "" {
		if err := os.WriteFile(g.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("cannot write pidfile: %w", err)
		}
	}
	if g.MasterWorker {
		for _, kw := range []struct {
			name string
			set  bool
		}{{"chroot", g.Chroot != ""}, {"group", g.GID != 0}, {"user", g.UID != 0}} {
			if kw.set {
				fmt.Fprintf(stderr, "[WARNING] '%s' is not applied in master-worker mode: lb reloads in its one process, which keeps the access it started with\n", kw.name)
			}
		}
		return nil
	}
	if g.Chroot != "" {
		// Local time is read from /etc/localtime on first use: read it
		// now, while the file is still in reach.
		_, _ = time.Now().Zone()
		if err := syscall.Chroot(g.Chroot); err != nil {
			return fmt.Errorf("cannot chroot to '%s': %w", g.Chroot, err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("cannot enter the chroot '%s': %w", g.Chroot, err)
		}
	}
	if g.GID != 0 {
		if err := syscall.Setgroups([]int{g.GID}); err != nil {
			return fmt.Errorf("cannot set supplementary groups: %w", err)
		}
		if err := syscall.Setgid(g.GID); err != nil {
			return fmt.Errorf("cannot set gid %d: %w", g.GID, err)
		}
	}
	if g.UID != 0 {
		if err := syscall.Setuid(g.UID); err != nil {
			return fmt.Errorf("cannot set uid %d: %w", g.UID, err)
		}
	}
	return nil
}
