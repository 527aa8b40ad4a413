package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropUniqueIDMatchesHAProxy makes unique IDs with
// unique-id-format (hexadecimal addresses and ports, the stream number)
// in an HTTP and a TCP frontend, sends them to the server in
// unique-id-header, reads them back with %ID and the unique-id fetch,
// and logs the new variables %fi %fp %si %sp %rt with and without +X,
// under haproxy and lb. The lines (ports masked), and the IDs the server
// received, must be the same.
func TestInteropUniqueIDMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Unique-ID")+"|"+r.Header.Get("X-Request-ID"))
	}), "http://")
	cfg := func(hp, tp int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend h
    mode http
    bind 127.0.0.1:%d
    unique-id-format %%{+X}o\ %%ci_%%fi:%%fp_%%rt
    unique-id-header X-Unique-ID
    http-request set-header X-Request-ID %%[unique-id]
    log-format "http ID=%%ID U=%%[unique-id] rt=%%rt %%{+X}rt fi=%%fi fp=%%fp %%{+X}fi:%%{+X}fp si=%%si sp=%%sp %%{+X}si:%%{+X}sp ci=%%{+X}ci"
    default_backend w
backend w
    mode http
    server w %s
frontend t
    mode tcp
    bind 127.0.0.1:%d
    unique-id-format %%{+X}o\ %%fi:%%fp_%%rt
    log-format "tcp ID=%%ID U=%%{+Q}[unique-id] rt=%%rt si=%%si sp=%%sp fp=%%{+X}fp"
    default_backend e
backend e
    mode tcp
    server e %s
`, hp, web, tp, echo)
	}
	run := func(start func(text string) func() string) ([]string, []string) {
		ports := freePorts(t, 2)
		out := start(cfg(ports[0], ports[1]))
		var bodies []string
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for range 2 {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[0]))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			bodies = append(bodies, string(body))
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
		require.NoError(t, err)
		roundTrip(t, c, "hi")
		require.NoError(t, c.Close())
		mask := func(s string) string {
			for i, p := range ports {
				s = strings.ReplaceAll(s, fmt.Sprintf("%04X", p), fmt.Sprintf("PORT%dX", i))
				s = strings.ReplaceAll(s, fmt.Sprint(p), fmt.Sprintf("PORT%d", i))
			}
			return s
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "http ") || strings.HasPrefix(l, "tcp ") {
					lines = append(lines, mask(l))
				}
			}
			return len(lines) == 4
		}, 10*time.Second, 10*time.Millisecond, "four traffic lines")
		sort.Strings(lines)
		for i := range bodies {
			bodies[i] = mask(bodies[i])
		}
		return lines, bodies
	}
	// haproxy's readiness probe, a connection to the first bind line
	// that sends nothing, is a stream with a line of its own (rt 0, and
	// no unique ID without a request): lb is sent the same probe.
	// haproxy numbers that stream when it sees the probe's close, which
	// may come after the first request's: its line is awaited first.
	want, wantBodies := run(func(text string) func() string {
		out := startHAProxyReady(t, text)
		require.Eventually(t, func() bool { return strings.Contains(out(), "http ID=- ") }, 10*time.Second, 5*time.Millisecond, "the probe's line")
		return out
	})
	got, gotBodies := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		addr := text[strings.Index(text, "bind ")+5:]
		c, err := net.Dial("tcp", strings.Fields(addr)[0])
		require.NoError(t, err)
		require.NoError(t, c.Close())
		time.Sleep(100 * time.Millisecond)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, wantBodies, gotBodies, "the IDs haproxy's server received, then lb's")
	require.Equal(t, []string{"7F000001_7F000001:PORT0X_0001|7F000001_7F000001:PORT0X_0001", "7F000001_7F000001:PORT0X_0002|7F000001_7F000001:PORT0X_0002"}, gotBodies)
}
