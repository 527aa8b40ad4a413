package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backlogCfg: one listener each for backlog from nothing but the global
// maxconn, the frontend's maxconn, the frontend's backlog, and the bind
// line's backlog over its maxconn.
func backlogCfg(p []int) string {
	return fmt.Sprintf(`global
    maxconn 500
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen a
    bind 127.0.0.1:%d
    server s 127.0.0.1:9
listen b
    bind 127.0.0.1:%d
    maxconn 77
    server s 127.0.0.1:9
listen c
    bind 127.0.0.1:%d
    backlog 33
    maxconn 77
    server s 127.0.0.1:9
listen d
    bind 127.0.0.1:%d backlog 12 maxconn 50
    server s 127.0.0.1:9
`, p[0], p[1], p[2], p[3])
}

// acceptQueues reads, with ss, the accept queue size of the sockets
// listening on ports, in their order; 0 for one not listening yet.
func acceptQueues(t *testing.T, ss string, ports []int) []int {
	t.Helper()
	out, err := exec.Command(ss, "-Hltn").Output()
	require.NoError(t, err)
	sizes := make([]int, len(ports))
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		for i, p := range ports {
			if strings.HasSuffix(f[3], ":"+strconv.Itoa(p)) {
				sizes[i], err = strconv.Atoi(f[2])
				require.NoError(t, err, line)
			}
		}
	}
	return sizes
}

// TestInteropBacklogMatchesHAProxy: lb sizes each listener's accept
// queue as haproxy does: the bind line's backlog, else the frontend's,
// else the bind line's maxconn, the frontend's, the global maxconn.
func TestInteropBacklogMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	ss := toolBin(t, "ss")
	ports := freePorts(t, 8)
	hp, lp := ports[:4], ports[4:]
	read := func(ports []int) []int {
		var sizes []int
		ok := assert.Eventually(t, func() bool {
			sizes = acceptQueues(t, ss, ports)
			for _, n := range sizes {
				if n == 0 {
					return false
				}
			}
			return true
		}, 10*time.Second, 10*time.Millisecond)
		require.True(t, ok, "every port listening: %v", sizes)
		return sizes
	}
	startHAProxy(t, backlogCfg(hp), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", hp[3])) })
	want := read(hp)
	require.Equal(t, []int{500, 77, 33, 12}, want, "haproxy's sizes")
	startInProcess(t, backlogCfg(lp))
	require.Equal(t, want, read(lp), "haproxy's sizes, then lb's")
}
