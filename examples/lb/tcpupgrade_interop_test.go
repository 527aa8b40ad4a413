package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropTCPFrontendHTTPBackendMatchesHAProxy: a mode tcp frontend
// whose rules pick a mode http backend has its connection upgraded to
// HTTP, as haproxy does: the backend's http-request and http-response
// rules apply to every request of the connection, each logged in
// tcplog's fields; the next requests run the frontend's use_backend
// rules again, where content fetches find nothing, so a rule on the
// payload sends them to the TCP default backend, which closes the
// connection (IR) under haproxy and lb alike.
func TestInteropTCPFrontendHTTPBackendMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "path=%s x-be=%s\n", r.URL.Path, r.Header.Get("X-Be"))
	}), "http://")
	echo := echoServer(t)
	run := func(start func(text string) func() string) (answers, lines []string) {
		p := freePorts(t, 2)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend byport
    mode tcp
    option tcplog
    bind 127.0.0.1:%[1]d
    use_backend h if { dst_port %[1]d }
    default_backend t
frontend bypayload
    mode tcp
    option tcplog
    bind 127.0.0.1:%[2]d
    tcp-request inspect-delay 1s
    tcp-request content accept if { req.len gt 0 }
    use_backend h if { req.payload(0,3) -m str GET }
    default_backend t
backend h
    mode http
    http-request set-header x-be h
    http-response set-header x-via h
    server s %[3]s
backend t
    mode tcp
    server e %[4]s
`, p[0], p[1], web, echo))
		for i, port := range p {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for _, path := range []string{"/a", "/b"} {
				_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				require.NoError(t, err)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					answers = append(answers, fmt.Sprintf("%d %s: closed", i, path))
					break
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				answers = append(answers, fmt.Sprintf("%d %s: %d x-via=%s %s", i, path, resp.StatusCode, resp.Header.Get("X-Via"), strings.TrimSpace(string(b))))
			}
			_ = c.Close()
		}
		ok := assert.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, " by") && strings.Contains(l, "/") && !strings.HasPrefix(l, "[") {
					// Times vary, and so do the connection counts: a
					// line may come as the next connection opens, and
					// haproxy counts a stream its TCP backend refused
					// among the backend's.
					l = upgradeTimes.ReplaceAllStringFunc(l, func(m string) string {
						f := strings.Split(strings.TrimSpace(m), "/")
						if f[1] != "-1" {
							f[1] = "c" // a connect time, when there was one
						}
						return " " + f[0] + "/" + f[1] + "/T "
					})
					l = upgradeConns.ReplaceAllString(l, " C ")
					lines = append(lines, l[strings.Index(l, "]")+2:])
				}
			}
			return len(lines) == 4
		}, 10*time.Second, 10*time.Millisecond, "four lines")
		require.True(t, ok, "log:\n%s", out())
		sort.Strings(lines)
		return answers, lines
	}
	wantAnswers, wantLines := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotAnswers, gotLines := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's lines, then lb's")
	require.Equal(t, []string{
		"0 /a: 200 x-via=h path=/a x-be=h",
		"0 /b: 200 x-via=h path=/b x-be=h",
		"1 /a: 200 x-via=h path=/a x-be=h",
		"1 /b: closed",
	}, gotAnswers)
	require.Equal(t, "bypayload t/<NOSRV> -1/-1/T 0 IR C 0/0", gotLines[1])
	require.Equal(t, "byport h/s 0/c/T 135 -- C 0/0", gotLines[2])
}

var (
	upgradeTimes = regexp.MustCompile(` -?\d+/-?\d+/\d+ `)
	upgradeConns = regexp.MustCompile(` \d+/\d+/\d+/\d+/\d+ `)
)
