package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestInteropDisabledProxiesMatchHAProxy runs a configuration with a
// disabled frontend, a disabled backend and a disabled listen under
// haproxy and lb: the disabled frontends do not listen, traffic sent to
// the disabled backend gets 503, and the statistics list the running
// proxies only, a backend without servers shown up.
func TestInteropDisabledProxiesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	text := func(ports []int, sock string) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    use_backend off if { path /off }
    default_backend on
frontend fd
    bind 127.0.0.1:%d
    disabled
    default_backend on
listen ld
    bind 127.0.0.1:%d
    disabled
    http-request return status 200
backend on
    http-request return status 200 content-type text/plain string on
backend off
    disabled
    server s 127.0.0.1:1 check
backend back
    disabled
    enabled
    http-request return status 200
`, sock, ports[0], ports[1], ports[2])
	}
	run := func(ports []int, sock string) []string {
		var out []string
		for _, p := range []string{"/off", "/x"} {
			resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), "GET "+p+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
			line, _, _ := strings.Cut(resp, "\r\n")
			out = append(out, p+" -> "+line)
		}
		for i, p := range ports[1:] {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err == nil {
				_ = c.Close()
			}
			out = append(out, fmt.Sprintf("port %d listens: %v", i+1, err == nil))
		}
		for _, l := range strings.Split(strings.TrimSpace(cliCommand(t, sock, "show stat")), "\n")[1:] {
			f := strings.Split(l, ",")
			out = append(out, f[0]+"/"+f[1]+" "+f[17])
		}
		return out
	}
	ports := freePorts(t, 6)
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	startHAProxySocket(t, text(ports[:3], haSock), haSock)
	want := run(ports[:3], haSock)
	startInProcess(t, text(ports[3:], lbSock))
	got := run(ports[3:], lbSock)
	assert.Equal(t, want, got, "haproxy's, then lb's")
	assert.Contains(t, want, "/off -> HTTP/1.1 503 Service Unavailable")
	assert.Contains(t, want, "port 1 listens: false")
}
