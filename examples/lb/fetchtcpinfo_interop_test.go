package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropTCPInfoAndPriorityFetchesMatchHAProxy: fc_rtt, fc_rttvar
// (ms and us) and the kernel's segment counters of the client
// connection, and prio_class and prio_offset after the set-priority
// rules, under haproxy and lb. The round-trip times vary: they are
// compared for presence, the counters and priorities for their values.
func TestInteropTCPInfoAndPriorityFetchesMatchHAProxy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO in Linux's form")
	}
	haproxyBin(t)
	const fmtText = `rtt=%[fc_rtt] rttus=%[fc_rtt(us)] var=%[fc_rttvar] unacked=%[fc_unacked] sacked=%[fc_sacked] retrans=%[fc_retrans] fackets=%[fc_fackets] lost=%[fc_lost] reord=%[fc_reordering] pc=%[prio_class] po=%[prio_offset]`
	run := func(start func(text string)) string {
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:%d
    http-request set-priority-class int(7) if { path /prio }
    http-request set-priority-offset int(-1500) if { path /prio }
    http-request return status 200 content-type text/plain lf-string "%s"
`, p[0], fmtText))
		var out string
		for _, path := range []string{"/", "/prio"} {
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p[0], path))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			out += path + " " + string(body) + "\n"
		}
		return out
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	rtt := regexp.MustCompile(`(rtt|rttus|var)=\d+`)
	require.Regexp(t, `rtt=\d+ rttus=\d+ var=\d+ `, got)
	require.Equal(t, rtt.ReplaceAllString(want, "$1=N"), rtt.ReplaceAllString(got, "$1=N"), "haproxy's values, then lb's")
	require.Contains(t, got, "pc=7 po=-1500")
}
