//go:build unix

package balancer

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, and makes its
// cancellation kill the whole group, so that what a check script starts
// (a sleep, a client) dies with it rather than outliving the check.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
