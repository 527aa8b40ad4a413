package main

import (
	"fmt"
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

// logOptsSections are logOptsCfg's sections, in port order.
var logOptsSections = []string{"quiet", "quietdead", "sep", "sepdead", "both", "bothredisp", "web", "webdead"}

// logOptsCfg has a section per case of option dontlog-normal and option
// log-separate-errors, on consecutive ports from port, logging in the
// short format, which shows each line's level.
func logOptsCfg(port int, up, dead, web string) string {
	return fmt.Sprintf(`global
    log stdout format short local0
defaults
    mode tcp
    log global
    option tcplog
    retries 1
    timeout connect 100ms
    timeout client 2s
    timeout server 2s
listen quiet
    bind 127.0.0.1:%[1]d
    option dontlog-normal
    server up %[5]s
listen quietdead
    bind 127.0.0.1:%[2]d
    option dontlog-normal
    server dead %[6]s
listen sep
    bind 127.0.0.1:%[3]d
    option log-separate-errors
    server up %[5]s
listen sepdead
    bind 127.0.0.1:%[4]d
    option log-separate-errors
    server dead %[6]s
listen both
    bind 127.0.0.1:%[8]d
    option dontlog-normal
    option log-separate-errors
    server up %[5]s
listen bothredisp
    bind 127.0.0.1:%[9]d
    option dontlog-normal
    option log-separate-errors
    option redispatch
    server dead %[6]s
    server up %[5]s
listen web
    mode http
    option httplog
    bind 127.0.0.1:%[10]d
    option dontlog-normal
    option log-separate-errors
    server w %[7]s
listen webdead
    mode http
    option httplog
    bind 127.0.0.1:%[11]d
    option dontlog-normal
    option log-separate-errors
    server dead %[6]s
`, port, port+1, port+2, port+3, up, dead, web, port+4, port+5, port+6, port+7)
}

// logOptsRun sends one connection (or request) from 127.0.0.2 to each
// section and returns the lines logged for them, each cut down to its
// level, section, server, termination state and retries.
func logOptsRun(t *testing.T, port int, out func() string) []string {
	t.Helper()
	for i, name := range logOptsSections {
		addr := fmt.Sprintf("127.0.0.1:%d", port+i)
		if strings.HasPrefix(name, "web") {
			tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/")
			require.NoError(t, err, name)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			continue
		}
		c := dialFrom(t, "127.0.0.2", addr)
		_, _ = io.ReadAll(c)
		_ = c.Close()
	}
	// Each section logs once or not at all: wait for the lines of the
	// cases that log, then a little longer for any stray one.
	var lines []string
	collect := func() []string {
		lines = lines[:0]
		for _, l := range strings.Split(out(), "\n") {
			f := strings.Fields(l)
			if len(f) < 9 || !strings.HasPrefix(f[0], "<") || !strings.Contains(f[0], ">127.0.0.2:") {
				continue
			}
			level := f[0][:strings.IndexByte(f[0], '>')+1]
			if strings.HasPrefix(f[2], "web") {
				// httplog: the status, then the termination state.
				lines = append(lines, strings.Join([]string{level, f[2], f[3], f[5], f[9]}, " "))
				continue
			}
			counts := strings.Split(f[7], "/")
			lines = append(lines, strings.Join([]string{level, f[2], f[3], f[6], "rc=" + counts[len(counts)-1]}, " "))
		}
		sort.Strings(lines)
		return lines
	}
	if !assert.Eventually(t, func() bool { return len(collect()) >= 5 }, 10*time.Second, 20*time.Millisecond) {
		t.Fatalf("too few lines:\n%s", out())
	}
	time.Sleep(300 * time.Millisecond)
	return collect()
}

// TestInteropLogOptionsMatchHAProxy: option dontlog-normal leaves out
// the lines of connections and requests that went well, and option
// log-separate-errors logs the others at the err level, under haproxy and
// lb alike: a refused server, a redispatch that then succeeded, a 503.
func TestInteropLogOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	up := nameServers(t, 1, false)[0]
	web := nameServers(t, 1, true)[0]
	dead := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	hport := freePorts(t, 1)[0]
	for !isFree(hport, len(logOptsSections)) {
		hport = freePorts(t, 1)[0]
	}
	hout := startHAProxy(t, logOptsCfg(hport, up, dead, web), func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hport))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	want := logOptsRun(t, hport, hout)

	lport := freePorts(t, 1)[0]
	for !isFree(lport, len(logOptsSections)) {
		lport = freePorts(t, 1)[0]
	}
	_, lout, lmu := startInProcess(t, logOptsCfg(lport, up, dead, web))
	got := logOptsRun(t, lport, func() string { lmu.Lock(); defer lmu.Unlock(); return lout.String() })

	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, []string{
		"<3> bothredisp bothredisp/up -- rc=+1",
		"<3> sepdead sepdead/dead SC rc=1",
		"<3> webdead webdead/dead 503 SC--",
		"<6> quietdead quietdead/dead SC rc=1",
		"<6> sep sep/up -- rc=0",
	}, got)
}

// isFree reports whether n consecutive ports from port take a listener.
func isFree(port, n int) bool {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+i))
		if err != nil {
			return false
		}
		lns = append(lns, ln)
	}
	return true
}
