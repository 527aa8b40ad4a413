package balancer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gone reports whether process pid has ended: no such process, or a
// zombie left for init to reap.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestExternalCheckKillsOnTimeout: a command that outlives inter is
// killed with what it started, reaped, and the check fails as
// PROCTOUT.
func TestExternalCheckKillsOnTimeout(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "chk.sh")
	require.NoError(t, os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
sleep 30 &
echo $$ $! > '%s/pids.tmp'
mv '%s/pids.tmp' '%s/pids'
wait
`, dir, dir, dir)), 0o755))
	cfg := parseCfg(t, `global
    external-check
    insecure-fork-wanted
backend b
    option external-check
    external-check command %s
    external-check path /usr/bin:/bin
    server s 127.0.0.1:1 check inter 300 rise 1 fall 1
`, script)
	b, _ := startLB(t, cfg)
	s := b.backends["b"].servers[0]
	var pids []int
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(filepath.Join(dir, "pids"))
		if err != nil {
			return false
		}
		pids = pids[:0]
		for _, f := range strings.Fields(string(data)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
		return len(pids) == 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return s.CheckStatus() == "PROCTOUT" }, 10*time.Second, 10*time.Millisecond)
	for _, pid := range pids {
		require.Eventually(t, func() bool { return gone(pid) }, 10*time.Second, 10*time.Millisecond, "pid %d", pid)
	}
	require.NoError(t, b.Close())
}
