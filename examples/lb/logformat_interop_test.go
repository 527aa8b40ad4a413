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

	"github.com/stretchr/testify/require"
)

// logFormatCfg logs one TCP and one HTTP section through log-format, with
// the fields that do not depend on timing or ports (nor, on the TCP line,
// on whether the HTTP request has begun: %ac counts the whole process).
func logFormatCfg(tcpPort, httpPort int, echo, web string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen l
    mode tcp
    bind 127.0.0.1:%d
    log-format "%%ci %%ft %%f %%b/%%s %%B %%ts %%tsc %%fc/%%bc/%%sc/%%rc %%sq/%%bq %%{+Q}ST %%{+Q}b %%%% end"
    server a %s
listen w
    mode http
    bind 127.0.0.1:%d
    log-format "%%ci %%ft %%b/%%s %%ST %%tsc %%fc/%%bc/%%sc/%%rc %%sq/%%bq %%{+Q}r %%HM %%HU %%HV %%{+Q}s"
    server w %s
`, tcpPort, echo, httpPort, web)
}

// logFormatTraffic sends one TCP session and one HTTP request through the
// two sections.
func logFormatTraffic(t *testing.T, tcpPort, httpPort int) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcpPort))
	require.NoError(t, err)
	roundTrip(t, c, "hello")
	require.NoError(t, c.Close())
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/path/x?k=1", httpPort))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
}

// logLines waits for two lines in out and returns them sorted by section.
func logLines(t *testing.T, out func() string) []string {
	t.Helper()
	var lines []string
	require.Eventually(t, func() bool {
		lines = lines[:0]
		for _, l := range strings.Split(out(), "\n") {
			if strings.HasPrefix(l, "127.0.0.1 ") {
				lines = append(lines, l)
			}
		}
		return len(lines) == 2
	}, 10*time.Second, 10*time.Millisecond, "two traffic lines")
	if strings.HasPrefix(lines[0], "127.0.0.1 w ") {
		lines[0], lines[1] = lines[1], lines[0]
	}
	return lines
}

// A log-format line reads the same under haproxy and lb, quoting and all.
func TestInteropLogFormat(t *testing.T) {
	echo := echoServer(t)
	web := nameServers(t, 1, true)[0]
	ports := freePorts(t, 4)

	hout := startHAProxy(t, logFormatCfg(ports[0], ports[1], echo, web), func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	// Let haproxy count the readiness probe out (dontlognull keeps it
	// out of the log) before the counted traffic.
	time.Sleep(300 * time.Millisecond)
	logFormatTraffic(t, ports[0], ports[1])
	want := logLines(t, hout)

	_, lout, lmu := startInProcess(t, logFormatCfg(ports[2], ports[3], echo, web))
	logFormatTraffic(t, ports[2], ports[3])
	got := logLines(t, func() string { lmu.Lock(); defer lmu.Unlock(); return lout.String() })

	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, `127.0.0.1 l l l/a 5 -- ---- 1/0/0/0 0/0 0 "l" % end`, got[0])
}

// TestInteropLogASAPMatchesHAProxy writes the traffic line as soon as the
// server connection is up (option logasap), under haproxy and lb, in the
// tcplog format and in a log-format, and requires the same lines but for
// the times.
func TestInteropLogASAPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := checkPeer(t, pongPeer)
	msRe := regexp.MustCompile(`\b\d+\b`)
	run := func(start func(text string) func() string, port, port2 int) []string {
		text := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option logasap
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    option tcplog
    server a %s
listen lf
    bind 127.0.0.1:%d
    log-format "%%ft %%b/%%s %%Tw/%%Tc/%%Tt %%B %%ts"
    server a %s
`, port, srv, port2, srv)
		out := start(text)
		for _, p := range []int{port, port2} {
			var c net.Conn
			require.Eventually(t, func() bool {
				var err error
				c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
				return err == nil
			}, 5*time.Second, 10*time.Millisecond)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err := io.WriteString(c, "PING\r\n")
			require.NoError(t, err)
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "+PONG\r\n", line)
			_ = c.Close()
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if i := strings.Index(l, "] px "); i >= 0 {
					lines = append(lines, msRe.ReplaceAllString(l[i+2:], "N"))
				} else if strings.HasPrefix(l, "lf ") {
					lines = append(lines, msRe.ReplaceAllString(l, "N"))
				}
			}
			return len(lines) == 2
		}, 5*time.Second, 10*time.Millisecond)
		sort.Strings(lines)
		return lines
	}
	ports := freePorts(t, 4)
	ha := run(haproxyLogs(t), ports[0], ports[1])
	lb := run(lbLogs(t), ports[2], ports[3])
	require.Equal(t, ha, lb)
	require.Equal(t, []string{"lf lf/a N/N/+N +N --", "px px/a N/N/+N +N -- N/N/N/N/N N/N"}, lb)
}
