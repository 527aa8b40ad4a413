package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropServerStateFileMatchesHAProxy keeps servers' states across
// a restart as HAProxy's seamless reload does: a first process is put
// through the runtime API (maintenance, drain, a weight, a disabled
// health check, a new port), its "show servers state" is saved, and a
// new process loads it (server-state-file, load-server-state-from-file
// global). haproxy loading haproxy's file, lb loading haproxy's file and
// lb loading its own must show the same states, weights and addresses.
func TestInteropServerStateFileMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	peer := checkPeer(t, func(c *net.TCPConn) {})
	other := checkPeer(t, func(c *net.TCPConn) {})
	_, otherPort, err := net.SplitHostPort(other)
	require.NoError(t, err)
	cfg := func(sock string, port int, state string) string {
		load := ""
		if state != "" {
			load = fmt.Sprintf("    server-state-file %s\n", state)
		}
		return fmt.Sprintf(`global
    stats socket %s level admin
%sdefaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    load-server-state-from-file global
listen web
    bind 127.0.0.1:%d
    server s1 %s check inter 100
    server s2 %s check inter 100 weight 10
    server s3 %s check inter 100
    server s4 %s check inter 100 disabled
    server s5 %s check inter 100
    server s6 %s weight 4
`, sock, load, port, peer, peer, peer, peer, peer, peer)
	}
	commands := []string{
		"set server web/s1 state maint",
		"set server web/s2 weight 5",
		"disable health web/s2",
		"set server web/s3 state drain",
		"set server web/s4 state ready",
		"set server web/s5 addr 127.0.0.1 port " + otherPort,
		"set server web/s6 weight 2",
	}
	// settled waits for the checks to have run: s3 and s5 checked, and,
	// once loaded, s4 (out of its configured maintenance, one failed
	// check from down) back to full health.
	settled := func(sock string) func() bool {
		return func() bool {
			_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
			for _, s := range []string{"s3", "s5"} {
				if rows["web/"+s]["check_status"] != "L4OK" {
					return false
				}
			}
			return rows["web/s4"]["status"] == "UP" || rows["web/s4"]["status"] == "MAINT"
		}
	}
	// snapshot is what the comparison rests on: each server's status,
	// weights and check status, and its "show servers state" line less
	// the seconds since its last change and what a check in progress
	// changes.
	snapshot := func(sock string) []string {
		require.Eventually(t, settled(sock), 10*time.Second, 20*time.Millisecond, "checks ran")
		_, rows, order := statTable(t, cliCommand(t, sock, "show stat"))
		var out []string
		for _, key := range order {
			if !strings.HasPrefix(key, "web/s") {
				continue
			}
			r := rows[key]
			out = append(out, fmt.Sprintf("%s status=%s weight=%s uweight=%s check=%s", key, r["status"], r["weight"], r["uweight"], strings.TrimPrefix(r["check_status"], "* ")))
		}
		for _, line := range strings.Split(strings.TrimSpace(cliCommand(t, sock, "show servers state web")), "\n")[2:] {
			f := strings.Fields(line)
			f[9] = "-" // srv_time_since_last_change
			// A check in progress at the snapshot sets the state's
			// in-progress bit and clears its result, under either.
			f[11] = "-"
			if st, err := strconv.Atoi(f[13]); err == nil {
				f[13] = strconv.Itoa(st &^ 1)
			}
			out = append(out, strings.Join(f, " "))
		}
		return out
	}
	dir := t.TempDir()
	ports := freePorts(t, 5)
	sock := func(name string) string { return filepath.Join(dir, name+".sock") }

	// The first process, changed through its runtime API, saves its state.
	startHAProxySocket(t, cfg(sock("ha1"), ports[0], ""), sock("ha1"))
	require.Eventually(t, settled(sock("ha1")), 10*time.Second, 20*time.Millisecond)
	for _, c := range commands {
		cliCommand(t, sock("ha1"), c)
	}
	haState := writeFile(t, "ha.state", cliCommand(t, sock("ha1"), "show servers state"))

	startHAProxySocket(t, cfg(sock("ha2"), ports[1], haState), sock("ha2"))
	want := snapshot(sock("ha2"))

	startInProcess(t, cfg(sock("lb1"), ports[2], haState))
	got := snapshot(sock("lb1"))
	assert.Equal(t, want, got, "haproxy's state file, loaded by haproxy, then by lb")

	// lb saves its own state, the same commands applied, and loads it.
	startInProcess(t, cfg(sock("lb2"), ports[3], ""))
	require.Eventually(t, settled(sock("lb2")), 10*time.Second, 20*time.Millisecond)
	for _, c := range commands {
		cliCommand(t, sock("lb2"), c)
	}
	lbState := writeFile(t, "lb.state", cliCommand(t, sock("lb2"), "show servers state"))
	startInProcess(t, cfg(sock("lb3"), ports[4], lbState))
	assert.Equal(t, want, snapshot(sock("lb3")), "lb's own state file, loaded by lb")

	// What the comparison rests on.
	assert.Contains(t, got, "web/s1 status=MAINT weight=1 uweight=1 check=")
	assert.Contains(t, got, "web/s2 status=no check weight=5 uweight=5 check=")
	assert.Contains(t, got, "web/s4 status=UP weight=1 uweight=1 check=L4OK")
	assert.Contains(t, got[2], "status=DRAIN")
	assert.Contains(t, strings.Join(got, "\n"), " 127.0.0.1 ")
}
