package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropStatsSocketTCPMatchesHAProxy: the runtime API on TCP
// addresses ("stats socket ipv4@ADDR:PORT", "stats socket :PORT"), each
// at its own level, answers as haproxy does, with the commands a session
// uses about itself: its level, lowering it, the sockets, and the expert
// and experimental modes.
func TestInteropStatsSocketTCPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string)) []string {
		p := freePorts(t, 4)
		start(fmt.Sprintf(`global
    stats socket ipv4@127.0.0.1:%d level admin
    stats socket :%d mode 600 level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:%d
    server one 127.0.0.1:%d weight 10
`, p[0], p[1], p[2], p[3]))
		admin, user := fmt.Sprintf("127.0.0.1:%d", p[0]), fmt.Sprintf("127.0.0.1:%d", p[1])
		var got []string
		for _, c := range []struct{ sock, cmd string }{
			{admin, "show cli level"},
			{user, "show cli level"},
			{user, "get weight web/one"},
			{user, "set weight web/one 5"},
			{admin, "set weight web/one 5"},
			{user, "get weight web/one"},
			{admin, "show cli level; get weight web/one"},
			{user, "show cli sockets"},
			{admin, "operator; show cli level; set weight web/one 7; user; show cli level; operator; get weight web/one"},
			{user, "expert-mode on; experimental-mode"},
			{admin, "expert-mode; expert-mode on; expert-mode; experimental-mode on; experimental-mode; expert-mode bogus; expert-mode"},
		} {
			// The ports differ between the two runs.
			ans := strings.NewReplacer(fmt.Sprint(p[0]), "P0", fmt.Sprint(p[1]), "P1").Replace(cliCommand(t, c.sock, c.cmd))
			got = append(got, c.cmd+" -> "+ans)
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "set weight web/one 5 -> Permission denied\n\n", got[3])
	require.Equal(t, "get weight web/one -> 5 (initial 10)\n\n", got[5])
	require.Equal(t, "show cli sockets -> # socket lvl processes\nipv4@127.0.0.1:P0 admin all\nipv4@0.0.0.0:P1 user all\n\n", got[7])
	require.Contains(t, got[8], "\noperator\n\nPermission denied\n")
}
