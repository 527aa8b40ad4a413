package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropTuneHTTPLimitsMatchHAProxy sends requests with many header
// fields and with a large header through a proxy with the default limits
// and one with tune.bufsize 32768 and tune.http.maxhdr 200, under
// haproxy and lb: which are answered and which refused must match (the
// refusal's status differs: haproxy answers 400 to a head too large for
// its buffer, lb 431).
func TestInteropTuneHTTPLimitsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	type req struct {
		name          string
		fields, bytes int
	}
	reqs := []req{{"150 fields", 150, 0}, {"90 fields", 90, 0}, {"20 KB field", 1, 20000}, {"8 KB field", 1, 8000}}
	run := func(start func(text string), tuned bool) []string {
		port := freePorts(t, 1)[0]
		global := ""
		if tuned {
			global = "global\n    tune.bufsize 32768\n    tune.http.maxhdr 200\n"
		}
		start(fmt.Sprintf(`%s%slisten x
    bind 127.0.0.1:%d
    http-request return status 200 content-type text/plain string "ok"
`, global, httpDefaults, port))
		var got []string
		for _, r := range reqs {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			var b strings.Builder
			b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
			for i := 0; i < r.fields; i++ {
				fmt.Fprintf(&b, "X-F%d: %s\r\n", i, strings.Repeat("v", max(r.bytes, 1)))
			}
			b.WriteString("\r\n")
			_, err = c.Write([]byte(b.String()))
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			outcome := "refused"
			if err == nil && resp.StatusCode == 200 {
				outcome = "answered"
			}
			_ = c.Close()
			got = append(got, r.name+": "+outcome)
		}
		return got
	}
	for _, tuned := range []bool{false, true} {
		want := run(func(text string) { startHAProxyReady(t, text) }, tuned)
		got := run(func(text string) { startInProcess(t, text) }, tuned)
		assert.Equal(t, want, got, "tuned %v", tuned)
		if tuned {
			assert.Equal(t, []string{"150 fields: answered", "90 fields: answered", "20 KB field: answered", "8 KB field: answered"}, got)
		} else {
			assert.Equal(t, []string{"150 fields: refused", "90 fields: answered", "20 KB field: refused", "8 KB field: answered"}, got)
		}
	}
}
