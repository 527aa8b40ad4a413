package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropMinconnMatchesHAProxy runs a backend with "fullconn" and a
// server with "minconn" and "maxconn" under haproxy and lb, sends rounds
// of simultaneous requests to a server that holds each a moment, and
// compares how many the server had at once in each round: the dynamic
// maxconn, max(minconn, maxconn×load/fullconn), grows with the
// backend's load until it reaches fullconn.
func TestInteropMinconnMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var cur, peak atomic.Int32
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
		cur.Add(-1)
		_, _ = io.WriteString(w, "ok")
	})
	ports := freePorts(t, 2)
	text := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 20s
    timeout server 20s
    timeout queue 20s
frontend f
    bind 127.0.0.1:%d
    maxconn 200
    default_backend b
backend b
    fullconn 20
    server a %s minconn 1 maxconn 4
`, port, srv)
	}
	rounds := []int{5, 15, 30}
	run := func(port int) []string {
		var out []string
		for _, n := range rounds {
			peak.Store(0)
			var wg sync.WaitGroup
			var ok atomic.Int32
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
					if strings.HasPrefix(resp, "HTTP/1.1 200") {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			out = append(out, fmt.Sprintf("%d requests: %d served, at most %d at once", n, ok.Load(), peak.Load()))
		}
		return out
	}
	runHAProxy(t, text(ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[0]))
	want := run(ports[0])
	startInProcess(t, text(ports[1]))
	got := run(ports[1])
	t.Logf("haproxy: %q", want)
	assert.Equal(t, want, got, "haproxy's rounds, then lb's")
	require.Len(t, want, 3)
	assert.Equal(t, "30 requests: 30 served, at most 4 at once", want[2], "past fullconn, the maxconn")
}
