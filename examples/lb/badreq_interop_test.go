package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropBadRequestsMatchHAProxy opens HTTP connections that never
// bring a whole request (one sends nothing, one part of a head, one a
// malformed head), with and without dontlognull, under haproxy and lb:
// the lines (CR for a client that left, PR for a refused head, no request
// time) and the frontend's request, error and 4xx counts must match.
func TestInteropBadRequestsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dateRe := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] `)
	// The total time: a few milliseconds either side under load.
	totalRe := regexp.MustCompile(`^(\S+ \S+ -1/-1/-1/-1/)\d+ `)
	for _, opt := range []string{"", "option dontlognull", "option http-ignore-probes"} {
		t.Run(cmp.Or(opt, "plain"), func(t *testing.T) { // no '#' in paths: haproxy reads a comment
			quiet := opt != "" // the empty connection has no line
			cfg := func(sock string, port int) string {
				return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode http
    log global
    option httplog
    %s
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend h
    bind 127.0.0.1:%d
    default_backend w
backend w
    server w 127.0.0.1:1
`, sock, opt, port)
			}
			run := func(start func(text string) func() string) ([]string, string) {
				port := freePorts(t, 1)[0]
				sock := filepath.Join(t.TempDir(), "stats.sock")
				out := start(cfg(sock, port))
				time.Sleep(200 * time.Millisecond)
				_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
				base := rows["h/FRONTEND"]
				for _, send := range []string{"", "GET", "BAD REQUEST LINE HERE\r\n\r\n"} {
					c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
					require.NoError(t, err)
					if send != "" {
						_, err = io.WriteString(c, send)
						require.NoError(t, err)
					}
					if strings.HasSuffix(send, "\r\n\r\n") {
						_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
						_, _ = io.ReadAll(c)
					}
					require.NoError(t, c.Close())
					time.Sleep(100 * time.Millisecond)
				}
				want := 3
				if quiet {
					want = 2
				}
				var lines []string
				require.Eventually(t, func() bool {
					lines = lines[:0]
					for _, l := range strings.Split(out(), "\n") {
						if dateRe.MatchString(l) {
							lines = append(lines, totalRe.ReplaceAllString(dateRe.ReplaceAllString(l, ""), "${1}T "))
						}
					}
					// haproxy also logs its readiness probe without
					// dontlognull: the lines before ours are left out.
					return len(lines) >= want
				}, 10*time.Second, 10*time.Millisecond)
				lines = lines[len(lines)-want:]
				sort.Strings(lines)
				_, rows, _ = statTable(t, cliCommand(t, sock, "show stat"))
				fe := rows["h/FRONTEND"]
				counts := ""
				for _, k := range []string{"req_tot", "ereq", "hrsp_4xx"} {
					counts += fmt.Sprintf("%s+%d ", k, atoi(t, fe[k])-atoi(t, base[k]))
				}
				return lines, counts
			}
			want, wantCounts := run(func(text string) func() string { return startHAProxyReady(t, text) })
			got, gotCounts := run(func(text string) func() string {
				_, logs, mu := startInProcess(t, text)
				return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
			})
			require.Equal(t, want, got, "haproxy's lines, then lb's")
			require.Equal(t, wantCounts, gotCounts, "haproxy's counts, then lb's")
			if opt == "option http-ignore-probes" {
				require.Equal(t, "req_tot+2 ereq+2 hrsp_4xx+2 ", gotCounts, "the empty connection is not counted")
			} else {
				require.Equal(t, "req_tot+3 ereq+3 hrsp_4xx+3 ", gotCounts)
			}
			require.Contains(t, got, `h h/<NOSRV> -1/-1/-1/-1/T 400 0 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>"`)
		})
	}
}

// atoi reads a statistics column's number ("" is 0).
func atoi(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	var n int
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}
