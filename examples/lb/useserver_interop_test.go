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

// TestInteropUseServerMatchesHAProxy sends connections and requests
// through use-server rules, under haproxy and lb: a rule by source
// address, one with a dynamic name, one naming a server in maintenance
// (passed over for the next rule), and the algorithm for the rest, in
// mode tcp and in mode http (where a persistence cookie comes first).
// The servers reached, in order, and the servers' session and balancing
// counts must be the same.
func TestInteropUseServerMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	tcp := nameServers(t, 3, false)
	web := nameServers(t, 3, true)
	cfg := func(sock string, tp, hp int) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen t
    mode tcp
    bind 127.0.0.1:%d
    balance roundrobin
    use-server s3 if { src 127.0.0.2 }
    use-server s%%[str(1)] if { src 127.0.0.3 }
    use-server s2 if { src 127.0.0.4 }
    use-server s3 if { src 127.0.0.4 }
    server s1 %s
    server s2 %s disabled
    server s3 %s
listen h
    mode http
    bind 127.0.0.1:%d
    balance roundrobin
    cookie SRV insert indirect nocache
    use-server s3 if { path_beg /three }
    use-server s2 if { path_beg /two }
    server s1 %s cookie c1
    server s2 %s cookie c2 disabled
    server s3 %s cookie c3
`, sock, tp, tcp[0], tcp[1], tcp[2], hp, web[0], web[1], web[2])
	}
	run := func(start func(text string)) ([]string, map[string]string) {
		ports := freePorts(t, 2)
		sock := filepath.Join(t.TempDir(), "stats.sock")
		start(cfg(sock, ports[0], ports[1]))
		var got []string
		tcpAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
		for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.1", "127.0.0.1", "127.0.0.2"} {
			c := dialFrom(t, src, tcpAddr)
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			got = append(got, "tcp "+src+" "+strings.TrimSpace(line))
			_ = c.Close()
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, tc := range []struct{ path, cookie string }{
			{"/", ""}, {"/three", ""}, {"/two", ""}, {"/three", "SRV=c1"}, {"/", ""}, {"/three", ""},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", ports[1], tc.path), nil)
			require.NoError(t, err)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("http %s %s %s set-cookie=%q", tc.path, tc.cookie, strings.TrimSpace(string(body)), resp.Header.Get("Set-Cookie")))
		}
		_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
		counts := map[string]string{}
		for _, px := range []string{"t", "h"} {
			for _, s := range []string{"s1", "s2", "s3", "BACKEND"} {
				r := rows[px+"/"+s]
				counts[px+"/"+s] = fmt.Sprintf("stot=%s lbtot=%s", r["stot"], r["lbtot"])
			}
		}
		return got, counts
	}
	want, wantCounts := run(func(text string) {
		startHAProxy(t, text, func() bool {
			c, err := net.Dial("unix", text[strings.Index(text, "socket ")+7:strings.Index(text, " level")])
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
	})
	got, gotCounts := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, wantCounts, gotCounts, "haproxy's counts, then lb's")
	require.Equal(t, []string{
		"tcp 127.0.0.1 s1", "tcp 127.0.0.2 s3", "tcp 127.0.0.3 s1", "tcp 127.0.0.4 s3",
		"tcp 127.0.0.1 s3", "tcp 127.0.0.1 s1", "tcp 127.0.0.2 s3",
	}, got[:7])
}
