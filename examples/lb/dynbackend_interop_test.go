package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropDynamicUseBackendMatchesHAProxy routes by names made of
// samples (use_backend %[...]) under haproxy and lb: in mode http by the
// Host header through a map file, in mode tcp by the port the client
// reached; a name that names no backend leaves the default one. An ACL
// reads its patterns from a file (-f). Which backend answers each
// request must match.
func TestInteropDynamicUseBackendMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.map")
	require.NoError(t, os.WriteFile(hosts, []byte("# host backend\nexample.com be_web\napi.example.com be_api\nghost.example.com be_none\n"), 0o600))
	blocked := filepath.Join(dir, "blocked.lst")
	require.NoError(t, os.WriteFile(blocked, []byte("# paths\n/admin\n  /private\n"), 0o600))
	named := func(n string) string {
		return handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, n) })
	}
	web, api, dflt := named("web"), named("api"), named("default")
	echoName := func(n string) string {
		return checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, n+"\n") })
	}
	run := func(start func(text string)) []string {
		ports := freePorts(t, 3)
		start(fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    mode http
    bind 127.0.0.1:%d
    http-request deny if { path -f %s }
    use_backend %%[req.hdr(host),lower,map(%s,be_missing)]
    default_backend be_default
backend be_web
    mode http
    server s %s
backend be_api
    mode http
    server s %s
backend be_default
    mode http
    server s %s
frontend ft
    mode tcp
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d
    use_backend bt_%%[dst_port]
    default_backend bt_default
backend bt_%d
    mode tcp
    server s %s
backend bt_default
    mode tcp
    server s %s
`, ports[0], blocked, hosts, web, api, dflt, ports[1], ports[2], ports[1], echoName("first port"), echoName("tcp default")))
		var got []string
		for _, tc := range []struct{ host, path string }{
			{"example.com", "/"}, {"API.example.com", "/"}, {"ghost.example.com", "/"}, {"unknown", "/"},
			{"example.com", "/admin"}, {"example.com", "/private"}, {"example.com", "/public"},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", ports[0], tc.path), nil)
			require.NoError(t, err)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			answer := string(b)
			if resp.StatusCode != 200 {
				answer = resp.Status
			}
			got = append(got, tc.host+tc.path+" => "+answer)
		}
		for i, port := range ports[1:] {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			got = append(got, fmt.Sprintf("tcp port %d => %s", i, line))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	assert.Equal(t, want, got)
	assert.Equal(t, []string{
		"example.com/ => web", "API.example.com/ => api", "ghost.example.com/ => default", "unknown/ => default",
		"example.com/admin => 403 Forbidden", "example.com/private => 403 Forbidden", "example.com/public => web",
		"tcp port 0 => first port\n", "tcp port 1 => tcp default\n",
	}, got)
}
