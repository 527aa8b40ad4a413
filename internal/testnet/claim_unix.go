//go:build unix

package testnet

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// portClaims coordinates FreePorts between test processes: go test runs
// each package's tests in a process of its own, at the same time, and two
// of them must not both pick a port that neither listens on yet. A claim
// is a file named after the port, holding the claiming process's id; it
// lapses when that process has ended. No descriptor stays open, so the
// leak checks are not disturbed.
type portClaims struct {
	dir  string
	lock *os.File
}

// openClaims takes the claims' lock, or returns nil when the directory
// cannot be used, in which case ports are not coordinated.
func openClaims() *portClaims {
	dir := filepath.Join(os.TempDir(), "proxyblocks-test-ports-"+strconv.Itoa(os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil
	}
	return &portClaims{dir: dir, lock: f}
}

// claim reports whether port is this process's now: it was not claimed
// by another process that is still running.
func (c *portClaims) claim(port int) bool {
	if c == nil {
		return true
	}
	name := filepath.Join(c.dir, strconv.Itoa(port))
	if b, err := os.ReadFile(name); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil && pid != os.Getpid() && running(pid) {
			return false
		}
	}
	return os.WriteFile(name, []byte(strconv.Itoa(os.Getpid())), 0o600) == nil
}

// close lets the other processes claim ports.
func (c *portClaims) close() {
	if c != nil {
		_ = c.lock.Close()
	}
}

// running reports whether a process with this id exists.
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
