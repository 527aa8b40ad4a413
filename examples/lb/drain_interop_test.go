package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropDrainMatchesHAProxy drains a server through the runtime API
// under haproxy and lb: a client whose persistence cookie names it still
// reaches it, a new client goes to the other server; in maintenance,
// even the cookie's client goes elsewhere; back to ready, new clients
// reach it again.
func TestInteropDrainMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	name := func(n string) string {
		return handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, n) })
	}
	s1, s2 := name("s1"), name("s2")
	run := func(start func(text, sock string)) []string {
		port := freePorts(t, 1)[0]
		sock := filepath.Join(t.TempDir(), "admin.sock")
		start(fmt.Sprintf(`global
    stats socket %s level admin
%slisten web
    bind 127.0.0.1:%d
    balance roundrobin
    cookie SRV insert indirect nocache
    server s1 %s cookie c1
    server s2 %s cookie c2
`, sock, httpDefaults, port, s1, s2), sock)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(cookie string) string {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
			require.NoError(t, err)
			if cookie != "" {
				req.Header.Set("Cookie", "SRV="+cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return string(b)
		}
		var got []string
		step := func(label string, cookies ...string) {
			var seen []string
			for _, c := range cookies {
				seen = append(seen, get(c))
			}
			got = append(got, label+": "+strings.Join(seen, " "))
		}
		step("ready", "", "", "c1", "c2")
		cliCommand(t, sock, "set server web/s1 state drain")
		step("drain", "", "", "c1", "c2")
		cliCommand(t, sock, "set server web/s1 state maint")
		step("maint", "", "c1", "c2")
		cliCommand(t, sock, "set server web/s1 state ready")
		step("ready again", "", "", "c1")
		return got
	}
	want := run(func(text, sock string) { startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, "drain: s2 s2 s1 s2", got[1], "the drained server keeps its cookie's client")
}

// startHAProxySocket runs haproxy on text until its runtime API socket
// answers: by then its listeners are bound.
func startHAProxySocket(t *testing.T, text, sock string) func() string {
	t.Helper()
	return startHAProxy(t, text, func() bool {
		_, err := cliAnswer(sock, "show info")
		return err == nil
	})
}
