package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// A program is one running instance of a "program" section's command,
// which lb starts in master-worker mode as HAProxy's master forks them.
type program struct {
	name string
	pid  int
	cmd  *exec.Cmd
	// former: a reload replaced the configuration it was started for;
	// its exit is only reported, as HAProxy reports a former program's.
	former bool
}

// programExit is a program's end, as its waiter reports it.
type programExit struct {
	p      *program
	status int // HAProxy's exit code: the exit status, or 128 + signal
}

// startProgram starts pr's command, with its user and group, on lb's
// standard streams, and reports its exit on exits. A command that cannot
// start is reported as a program that exited with code 1, as HAProxy's
// forked child exits when exec fails.
func startProgram(pr *config.Program, stdout, stderr io.Writer, exits chan<- programExit) *program {
	p := &program{name: pr.Name, pid: -1}
	cmd := exec.Command(pr.Command[0], pr.Command[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Output copied through a pipe (lb's streams are not files) stops
	// being waited for a moment after the program exits.
	cmd.WaitDelay = time.Second
	if cred := programCredential(pr); cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "[ALERT] Cannot execute %s: %s\n", pr.Command[0], sysMessage(err))
		go func() { exits <- programExit{p: p, status: 1} }()
		return p
	}
	p.pid = cmd.Process.Pid
	fmt.Fprintf(stderr, "[NOTICE] New program '%s' (%d) forked\n", p.name, p.pid)
	go func() {
		_ = cmd.Wait()
		exits <- programExit{p: p, status: exitCode(cmd.ProcessState)}
	}()
	return p
}

// programCredential is the user and group a program runs as, nil for
// lb's own. As HAProxy, a group drops the supplementary groups, a user
// alone keeps them.
func programCredential(pr *config.Program) *syscall.Credential {
	if pr.UID < 0 && pr.GID < 0 {
		return nil
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: pr.GID < 0}
	if pr.UID >= 0 {
		cred.Uid = uint32(pr.UID)
	}
	if pr.GID >= 0 {
		cred.Gid = uint32(pr.GID)
	}
	return cred
}

// signal sends sig to the program, if it started.
func (p *program) signal(sig syscall.Signal) {
	if p.pid > 0 {
		_ = p.cmd.Process.Signal(sig)
	}
}

// exitCode is a process's end as HAProxy's master counts it: the exit
// status, or 128 plus the signal that killed it.
func exitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// exitReason is what HAProxy prints after an exit code: "Exit", or the
// signal's description.
func exitReason(status int) string {
	if status < 128 {
		return "Exit"
	}
	return capitalize(syscall.Signal(status - 128).String())
}

// sysMessage is an error's system message as strerror words it.
func sysMessage(err error) string {
	var errno syscall.Errno
	if errors.Is(err, exec.ErrNotFound) {
		// execvp's word for a command not found in $PATH.
		errno = syscall.ENOENT
	}
	if errno != 0 || errors.As(err, &errno) {
		return capitalize(errno.Error())
	}
	return err.Error()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
