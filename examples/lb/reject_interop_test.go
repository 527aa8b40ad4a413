package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropRejectMatchesHAProxy sends requests that http-request
// reject and silent-drop stop, alone and after an answered request on a
// kept connection, through haproxy and lb: what the client sees (the
// answer, a close, a reset or nothing at all) and the log lines (no
// status, PR, TR -1) must match.
func TestInteropRejectMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
%slisten a
    bind 127.0.0.1:%d
    http-request reject if { path /r }
    http-request silent-drop if { path /s }
    http-request return status 200 content-type text/plain string "ok\n"
`, httpLogDefaults, port)
	}
	outcome := func(r *bufio.Reader) string {
		line, err := r.ReadString('\n')
		switch {
		case err == nil:
			// Read the rest of the answer: its head and its 3-byte body.
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == "\r\n" {
					break
				}
			}
			body := make([]byte, 3)
			_, _ = io.ReadFull(r, body)
			return strings.TrimSpace(line) + " " + strings.TrimSpace(string(body))
		case errors.Is(err, io.EOF):
			return "closed"
		case errors.Is(err, syscall.ECONNRESET):
			return "reset"
		case errors.Is(err, os.ErrDeadlineExceeded):
			return "nothing"
		}
		return err.Error()
	}
	// The byte counts of answers differ by the heads each writes (an old
	// difference); a stopped request's 0 is kept.
	logLine := regexp.MustCompile(`\] (\S+) (\S+) (-?\d+/-?\d+/-?\d+/-?\d+)/\d+ (-?\d+) (0 )?\d* ?- - (\S+) .*"(\S+ \S+) HTTP`)
	run := func(start func(text string) func() string) ([]string, []string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		var seen []string
		for _, paths := range [][]string{{"/r"}, {"/s"}, {"/ok", "/r"}, {"/ok", "/s"}} {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			r := bufio.NewReader(c)
			var got []string
			for _, p := range paths {
				_ = c.SetDeadline(time.Now().Add(700 * time.Millisecond))
				_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
				require.NoError(t, err)
				got = append(got, outcome(r))
			}
			_ = c.Close()
			seen = append(seen, strings.Join(paths, ",")+" => "+strings.Join(got, ", "))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					lines = append(lines, strings.Join(m[1:], " "))
				}
			}
			return len(lines) == 6
		}, 5*time.Second, 10*time.Millisecond, "six lines in:\n%s", out())
		sort.Strings(lines)
		return seen, lines
	}
	lbStart := func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	wantSeen, wantLines := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotSeen, gotLines := run(lbStart)
	assert.Equal(t, wantSeen, gotSeen, "what the client saw under haproxy, then lb")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	assert.Equal(t, "/r => closed", gotSeen[0])
	assert.Contains(t, gotLines, "a a/<NOSRV> -1/-1/-1/-1 -1 0  PR-- GET /r")
}
