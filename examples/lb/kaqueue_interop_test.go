package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropMaxKeepAliveQueueMatchesHAProxy: a client keeps its
// connection to a full server (option prefer-last-server, maxconn 1); its
// next request waits in that server's queue, unless max-keep-alive-queue
// 0 sends it where the algorithm chooses, under haproxy and lb alike.
func TestInteropMaxKeepAliveQueueMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var web []string
	started := make(chan struct{}, 4) // a slow request reached a server
	for _, name := range []string{"s1", "s2"} {
		web = append(web, strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				started <- struct{}{}
				time.Sleep(700 * time.Millisecond)
			}
			_, _ = io.WriteString(w, name)
		}), "http://"))
	}
	cfg := func(p []int) string {
		section := func(name string, port int, extra string) string {
			return fmt.Sprintf(`listen %s
    bind 127.0.0.1:%d
    balance first
    option prefer-last-server
    http-reuse never
%s    server s1 %s maxconn 1
    server s2 %s maxconn 1
`, name, port, extra, web[0], web[1])
		}
		return "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout queue 5s\n    timeout http-keep-alive 5s\n" +
			section("wait", p[0], "") + section("move", p[1], "    max-keep-alive-queue 0\n")
	}
	// run: the client's first request, another client's slow one that
	// fills the server, then the client's second request.
	// s1Busy tells whether a section's s1 still holds a connection: the
	// first request's slot may come back a moment after its answer.
	run := func(addr string, s1Busy func() bool) []string {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		ask := func() string {
			_, err := io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(r, nil)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return string(b)
		}
		first := ask()
		require.Eventually(t, func() bool { return !s1Busy() }, 5*time.Second, 5*time.Millisecond, "s1 gives back the first request's slot")
		slow := make(chan string, 1)
		go func() {
			resp, err := http.Get("http://" + addr + "/slow")
			if err != nil {
				slow <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			slow <- string(b)
		}()
		<-started // the slow request holds s1
		second := ask()
		return []string{first, <-slow, second}
	}
	ports := freePorts(t, 2)
	hw, hm := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	sock := filepath.Join(t.TempDir(), "haproxy.sock")
	startHAProxy(t, strings.Replace(cfg(ports), "defaults\n", "global\n    stats socket "+sock+"\ndefaults\n", 1), func() bool { return !bindable(hm) })
	haBusy := func(section string) func() bool {
		return func() bool { return haproxyStat(t, sock, section, "s1", "scur") > 0 }
	}
	want := [][]string{run(hw, haBusy("wait")), run(hm, haBusy("move"))}
	lb, _, _ := startInProcess(t, cfg([]int{0, 0}))
	lbBusy := func(section string) func() bool {
		return func() bool { return lb.Backend(section).Server("s1").CurConns() > 0 }
	}
	got := [][]string{run(lb.Addrs("wait")[0].String(), lbBusy("wait")), run(lb.Addrs("move")[0].String(), lbBusy("move"))}
	require.Equal(t, want, got, "the servers under haproxy, then lb")
	require.Equal(t, [][]string{{"s1", "s1", "s1"}, {"s1", "s1", "s2"}}, got)
}
