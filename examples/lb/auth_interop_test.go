package main

import (
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

// TestInteropAuthMatchesHAProxy checks the same credentials against the
// same userlist under haproxy and lb: passwords hashed with MD5-crypt,
// SHA-256-crypt and SHA-512-crypt or given in clear, groups declared on
// either side, http-request auth with the default and a named realm,
// http_auth_group in a deny rule, and http_auth_user in a header; the
// answers (status, realm, what the server saw) and the log lines must
// match.
func TestInteropAuthMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "user="+r.Header.Get("X-User"))
	}), "http://")
	cfg := func(ports []int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
userlist L
    group admins users alice
    group ops
    user alice password $6$saltsalt$LMtDgChSrV.wGnnrAr7LXtxT9OYdesYYRBi0J7VAO0UoNpOTX5uxqMPmQ0Gkk2HMqd/t1jYDOamm5q1ro0ZhX/
    user bob password $5$abcd$WrUpleS9iRxCEI.jwiwPFlRdcTIegBTTXkwrhwG3I46 groups ops
    user carol password $1$xy$rDjnftc2dLXhrQIQsTBn..
    user dave insecure-password plain groups admins,ops
%slisten a
    bind 127.0.0.1:%d
    acl ok http_auth(L)
    acl adm http_auth_group(L) admins
    http-request auth unless ok
    http-request deny if { path /admin } !adm
    http-request return status 200 content-type text/plain string "local\n" if { path /local }
    http-request set-header X-User %%[http_auth_user]
    server s1 %s
listen b
    bind 127.0.0.1:%d
    http-request auth realm Secret\ Zone if !{ http_auth(L) }
    server s1 %s
`, httpLogDefaults, ports[0], web, ports[1], web)
	}
	type answer struct {
		Status      int
		Realm, Body string
	}
	logLine := regexp.MustCompile(`\] (\S+) (\S+) \S+ (\d+) \d+ - - (\S+) .*"(\S+ \S+) HTTP`)
	run := func(start func(text string) func() string) ([]answer, []string) {
		ports := freePorts(t, 2)
		out := start(cfg(ports))
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var answers []answer
		for _, tc := range []struct {
			port       int
			path, cred string
		}{
			{0, "/", ""}, {0, "/", "alice:secret6"}, {0, "/", "alice:bad"}, {0, "/", "bob:secret5"},
			{0, "/", "carol:secret1"}, {0, "/", "dave:plain"}, {0, "/", "eve:plain"}, {0, "/admin", "alice:secret6"},
			{0, "/admin", "bob:secret5"}, {0, "/admin", "dave:plain"}, {0, "/local", "carol:secret1"},
			{1, "/", ""}, {1, "/", "bob:secret5"}, {1, "/", "bob:secret6"},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", ports[tc.port], tc.path), nil)
			require.NoError(t, err)
			if u, p, ok := strings.Cut(tc.cred, ":"); ok {
				req.SetBasicAuth(u, p)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			answers = append(answers, answer{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)})
		}
		var lines []string
		if !assert.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					lines = append(lines, strings.Join(m[1:], " "))
				}
			}
			return len(lines) == len(answers)
		}, 10*time.Second, 10*time.Millisecond) {
			// The output as it is after the wait, not before it.
			t.Fatalf("%d lines wanted, %d in:\n%s", len(answers), len(lines), out())
		}
		sort.Strings(lines)
		return answers, lines
	}
	haStart := func(text string) func() string { return startHAProxyReady(t, text) }
	lbStart := func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	wantAnswers, wantLines := run(haStart)
	gotAnswers, gotLines := run(lbStart)
	assert.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	require.Equal(t, "user=alice", gotAnswers[1].Body)
	require.Equal(t, `Basic realm="Secret Zone"`, gotAnswers[11].Realm)
}

// startHAProxyReady runs haproxy on text until it accepts connections on
// the address of the first bind line. The probe is a bare connection,
// which "option dontlognull" keeps out of the logs; probing by binding
// the port instead can take it from haproxy at the wrong moment.
func startHAProxyReady(t *testing.T, text string) func() string {
	t.Helper()
	addr := text[strings.Index(text, "bind ")+5:]
	addr = strings.Fields(addr[:strings.IndexByte(addr, '\n')])[0]
	return startHAProxy(t, text, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}
