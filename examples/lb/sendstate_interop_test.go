package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropSendStateMatchesHAProxy: "http-check send-state" tells the
// checked server how the balancer sees it, in the same words and counts
// from haproxy and lb: the state and health (UP 1/3 before the first
// check passed), address, port, name, node, weight over the backend's,
// connections and queue.
func TestInteropSendStateMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	seen := map[string]map[string]bool{}
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		who := r.URL.Query().Get("by")
		if seen[who] == nil {
			seen[who] = map[string]bool{}
		}
		seen[who][r.Header.Get("X-Haproxy-Server-State")] = true
	}), "http://")
	cfg := func(who string, port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    option httpchk GET /hc?by=%s
    http-check send-state
    server s1 %s check inter 200ms rise 2 fall 3 weight 10
    server s2 %s check inter 200ms weight 30 backup
    server s3 %s check inter 200ms disabled
`, port, who, srv, srv, srv)
	}
	states := func(who string) []string {
		var out []string
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			out = out[:0]
			for v := range seen[who] {
				out = append(out, v)
			}
			return len(out) >= 4
		}, 10*time.Second, 20*time.Millisecond)
		time.Sleep(500 * time.Millisecond) // more checks, no new states
		mu.Lock()
		defer mu.Unlock()
		out = out[:0]
		for v := range seen[who] {
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	startHAProxy(t, cfg("haproxy", hp), func() bool { return !bindable(hpAddr) })
	want := states("haproxy")
	startInProcess(t, cfg("lb", 0))
	got := states("lb")
	require.Equal(t, want, got, "the states haproxy sent, then lb")
	host, err := os.Hostname()
	require.NoError(t, err)
	require.Contains(t, got, fmt.Sprintf("UP; address=127.0.0.1; port=%s; name=b/s1; node=%s; weight=10/10; scur=0/0; qcur=0", srv[strings.LastIndexByte(srv, ':')+1:], host))
}
