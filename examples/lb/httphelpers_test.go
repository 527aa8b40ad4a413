package main

import (
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpDefaults is the defaults section of the HTTP interop tests'
// configurations.
const httpDefaults = `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
`

// httpLogDefaults is the defaults section of the HTTP interop tests
// that compare httplog lines; bare connections (a readiness probe) are
// not logged.
const httpLogDefaults = `defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
`

// handlerServer serves h on a loopback port until the test ends and
// returns its address.
func handlerServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// sortedLines waits until out holds n lines that pick keeps, and returns
// what pick made of them, sorted: a line is written once its exchange
// is over, which may be after the client has moved on.
func sortedLines(t *testing.T, out func() string, n int, pick func(line string) (string, bool)) []string {
	t.Helper()
	var got []string
	ok := assert.Eventually(t, func() bool {
		got = got[:0]
		for _, l := range strings.Split(out(), "\n") {
			if v, keep := pick(l); keep {
				got = append(got, v)
			}
		}
		return len(got) == n
	}, 5*time.Second, 10*time.Millisecond)
	require.True(t, ok, "%d lines in:\n%s", n, out())
	sort.Strings(got)
	return got
}

// withPrefix keeps the lines starting with prefix, as they are.
func withPrefix(prefix string) func(string) (string, bool) {
	return func(l string) (string, bool) { return l, strings.HasPrefix(l, prefix) }
}

// oneShot sends request (a whole HTTP/1 request, the connection closed
// after it) to addr on a new connection and returns all the proxy sent
// back until it closed.
func oneShot(t *testing.T, addr, request string) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, request)
	require.NoError(t, err)
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}
