package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropAbstractSocketsMatchHAProxy: bind and server lines on
// abns@ addresses (Linux's abstract namespace), which configurations use
// to chain one proxy into another without a file: lb reaches haproxy's
// abstract socket and haproxy reaches lb's, as each names them, and lb
// chains into itself.
func TestInteropAbstractSocketsMatchHAProxy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract UNIX sockets are Linux's")
	}
	haproxyBin(t)
	get := func(port int) string {
		t.Helper()
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(body)
	}
	// Abstract names are shared by the whole network namespace: each
	// test run takes its own.
	name := func(who string) string { return fmt.Sprintf("lbtest-%d-%s", os.Getpid(), who) }
	cfg := func(front int, inner, target, who string) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen front
    bind 127.0.0.1:%d
    server s abns@%s
listen inner
    bind abns@%s
    http-request return status 200 content-type text/plain string %s
`, front, target, inner, who)
	}
	p := freePorts(t, 2)
	// haproxy serves on its abstract socket; lb's front reaches it.
	startHAProxyReady(t, cfg(p[0], name("hap"), name("lb"), "haproxy"))
	startInProcess(t, cfg(p[1], name("lb"), name("hap"), "lb"))
	require.Equal(t, "lb", get(p[0]), "haproxy's front reaches lb's abstract socket")
	require.Equal(t, "haproxy", get(p[1]), "lb's front reaches haproxy's abstract socket")

	// lb alone, chained into itself.
	q := freePorts(t, 1)
	startInProcess(t, cfg(q[0], name("self"), name("self"), "self"))
	require.Equal(t, "self", get(q[0]))
}
