package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropPriorityMatchesHAProxy queues requests behind a server of
// maxconn 1 under haproxy and lb, each with its own
// set-priority-class and set-priority-offset, and requires the server
// to see them in the same order: the lower class first, then the
// earlier arrival moved by the offset.
func TestInteropPriorityMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	var order []string
	release := make(chan struct{})
	var releaseOnce sync.Once
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
			return
		}
		mu.Lock()
		order = append(order, strings.TrimPrefix(r.URL.Path, "/"))
		mu.Unlock()
	})
	dir := t.TempDir()
	text := func(port int, sock string) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
frontend f
    bind 127.0.0.1:%d
    http-request set-priority-class req.hdr(x-c) if { req.hdr(x-c) -m found }
    http-request set-priority-offset req.hdr(x-o) if { req.hdr(x-o) -m found }
    default_backend b
backend b
    server s %s maxconn 1
`, sock, port, srv)
	}
	// name, class, offset (ms): sent in this order while the server is
	// busy.
	reqs := [][3]string{{"a", "", ""}, {"b", "-1", ""}, {"c", "1", ""}, {"d", "-1", ""}, {"e", "0", "-1000"}, {"f", "", "1000"}, {"g", "2047", "-500000"}}
	run := func(port int, sock string) []string {
		mu.Lock()
		order = nil
		mu.Unlock()
		release = make(chan struct{})
		releaseOnce = sync.Once{}
		defer releaseOnce.Do(func() { close(release) })
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		var wg sync.WaitGroup
		send := func(path string, hdrs ...string) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := "GET /" + path + " HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
				for _, h := range hdrs {
					req += h + "\r\n"
				}
				oneShot(t, addr, req+"\r\n")
			}()
		}
		queued := func() string {
			_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
			return rows["b/BACKEND"]["qcur"]
		}
		send("hold")
		require.Eventually(t, func() bool {
			_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
			return rows["b/s"]["scur"] == "1"
		}, 5*time.Second, 10*time.Millisecond)
		for i, r := range reqs {
			var hdrs []string
			if r[1] != "" {
				hdrs = append(hdrs, "x-c: "+r[1])
			}
			if r[2] != "" {
				hdrs = append(hdrs, "x-o: "+r[2])
			}
			send(r[0], hdrs...)
			want := fmt.Sprint(i + 1)
			require.Eventually(t, func() bool { return queued() == want }, 5*time.Second, 5*time.Millisecond, "request %s queued", r[0])
			time.Sleep(2 * time.Millisecond) // arrivals a millisecond apart at least
		}
		releaseOnce.Do(func() { close(release) })
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), order...)
	}
	ports := freePorts(t, 2)
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	startHAProxySocket(t, text(ports[0], haSock), haSock)
	want := run(ports[0], haSock)
	startInProcess(t, text(ports[1], lbSock))
	got := run(ports[1], lbSock)
	assert.Equal(t, want, got, "the order haproxy served the queue in, then lb's")
	assert.Equal(t, []string{"b", "d", "e", "a", "f", "c", "g"}, want, "class first, then arrival plus offset")
}
