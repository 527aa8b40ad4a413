//go:build unix

package testnet

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPortClaims: a port claimed by another running process is refused;
// one whose claimant has ended, or that this process claimed, is taken.
func TestPortClaims(t *testing.T) {
	c := openClaims()
	if c == nil {
		t.Fatal("the claims directory could not be opened")
	}
	defer c.close()
	// Ports 1 and 2 are never handed out, so no concurrent test
	// process claims them.
	write := func(port, pid int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(c.dir, strconv.Itoa(port)), []byte(strconv.Itoa(pid)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(1, os.Getppid())
	if c.claim(1) {
		t.Error("a port the running parent process claimed was claimed again")
	}
	write(2, 1<<30) // above any pid_max: no such process
	if !c.claim(2) {
		t.Error("a port whose claimant has ended was refused")
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "2"))
	if err != nil || string(b) != strconv.Itoa(os.Getpid()) {
		t.Errorf("claim file holds %q (%v), want this process's id", b, err)
	}
	if !c.claim(2) {
		t.Error("this process's own claim was refused")
	}
	for _, p := range []string{"1", "2"} {
		_ = os.Remove(filepath.Join(c.dir, p))
	}
}
