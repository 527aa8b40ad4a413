package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func preferLastCfg(p []int, web []string) string {
	return fmt.Sprintf(httpDefaults+`    timeout http-keep-alive 5s
listen last
    bind 127.0.0.1:%d
    option prefer-last-server
    http-reuse never
    server s1 %s
    server s2 %s
listen rr
    bind 127.0.0.1:%d
    server s1 %s
    server s2 %s
listen shared
    bind 127.0.0.1:%d
    option prefer-last-server
    server s1 %s
    server s2 %s
`, p[0], web[0], web[1], p[1], web[0], web[1], p[2], web[0], web[1])
}

// TestInteropPreferLastServerMatchesHAProxy: over one kept client
// connection, option prefer-last-server keeps a client's requests on the
// server of its previous one, where round robin alone moves them, when
// the server connection stays the client's (http-reuse never); with
// shared connections (http-reuse safe) it changes nothing, under haproxy
// and lb alike.
func TestInteropPreferLastServerMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := nameServers(t, 2, true)
	run := func(p []int) []string {
		var got []string
		for _, port := range p {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			var seen []string
			for range 4 {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				seen = append(seen, strings.TrimSpace(string(body)))
			}
			client.CloseIdleConnections()
			got = append(got, strings.Join(seen, ","))
		}
		return got
	}
	ports := freePorts(t, 6)
	startHAProxy(t, preferLastCfg(ports[:3], web), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[2])) })
	want := run(ports[:3])
	startInProcess(t, preferLastCfg(ports[3:], web))
	got := run(ports[3:])
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, []string{"s1,s1,s1,s1", "s1,s2,s1,s2", "s1,s2,s1,s2"}, got)
}
