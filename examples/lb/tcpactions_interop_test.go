package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"

	"github.com/stretchr/testify/require"
)

// tcpActionsCfg exercises the socket and address actions of the
// tcp-request stages, http-request and http-response: set-mark, set-tos,
// set-src, set-dst and their port forms, set-priority-*, silent-drop.
func tcpActionsCfg(ports []int, echo, web string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend tc
    mode tcp
    bind 127.0.0.1:%d
    log-format "tc %%ci:%%cp %%fi:%%fp %%ts prio=%%[prio_class]/%%[prio_offset] src=%%[src]:%%[src_port] dst=%%[dst]:%%[dst_port]"
    tcp-request connection set-mark 0x10
    tcp-request connection set-src ipv4(10.1.2.3)
    tcp-request session set-tos 0x20
    tcp-request session set-dst-port str(2222x)
    tcp-request inspect-delay 1s
    tcp-request content set-mark 0x11 if { req.len gt 0 }
    tcp-request content set-src-port int(1111)
    tcp-request content set-dst str(10.9.9.9)
    tcp-request content set-dst str(not-an-address)
    tcp-request content set-priority-class int(5)
    tcp-request content set-priority-offset str(-20)
    tcp-request content set-nice 10
    default_backend echo
frontend tc6
    mode tcp
    bind 127.0.0.1:%d
    log-format "tc6 %%ci:%%cp %%fi:%%fp %%ts"
    tcp-request connection set-src ipv6(::1)
    tcp-request connection set-tos 300
    tcp-request content set-dst-port str(77abc)
    tcp-request content set-mark -1
    default_backend echo
frontend hf
    mode http
    bind 127.0.0.1:%d
    log-format "hf %%ci:%%cp %%fi:%%fp %%ST %%HP"
    tcp-request content set-tos 0x30
    tcp-request content set-src-port int(4444)
    http-request set-mark 0x12 if { path /m }
    http-request set-dst ipv4(10.8.8.8) if { path /m }
    http-response set-tos 0x40 if { status 200 }
    http-request return status 201 if { path /m }
    http-request return status 200 unless { path /s }
    use_backend web
frontend drop
    mode tcp
    bind 127.0.0.1:%d
    log-format "drop %%ts"
    tcp-request inspect-delay 1s
    tcp-request content silent-drop if { req.len gt 0 }
    default_backend echo
frontend sdrop
    mode tcp
    bind 127.0.0.1:%d
    log-format "sdrop %%ts"
    tcp-request session silent-drop
    default_backend echo
frontend hdrop
    mode http
    bind 127.0.0.1:%d
    log-format "hdrop %%ts %%r"
    tcp-request content silent-drop if { path /drop }
    http-request return status 200
backend echo
    mode tcp
    server s %s
backend web
    mode http
    server s %s
`, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], echo, web)
}

// sockMarks reads the mark and TOS of the proxy's socket on port that
// talks to the client at clientPort, as ss shows them.
func sockMarks(t *testing.T, ss string, port, clientPort int) string {
	t.Helper()
	out, err := exec.Command(ss, "-tnH", "-e", "--tos", "state", "established",
		fmt.Sprintf("( sport = :%d and dport = :%d )", port, clientPort)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	mark := "0x0"
	if m := regexp.MustCompile(`fwmark:(0x[0-9a-f]+)`).FindSubmatch(out); m != nil {
		mark = string(m[1])
	}
	tos := regexp.MustCompile(`tos:(0x[0-9a-f]+|0)`).FindSubmatch(out)
	require.NotNil(t, tos, "no socket for :%d <-> :%d: %s", port, clientPort, out)
	return "mark " + mark + " tos " + string(tos[1])
}

// runTCPActions drives the configuration's frontends and returns what
// the clients saw and the proxy's sockets showed, case by case.
func runTCPActions(t *testing.T, ss string, ports []int) map[string]string {
	t.Helper()
	got := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	run := func(name string, f func() string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := f()
			mu.Lock()
			got[name] = v
			mu.Unlock()
		}()
	}
	dial := func(port int) net.Conn {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil
		}
		return c
	}
	clientPort := func(c net.Conn) int { return c.LocalAddr().(*net.TCPAddr).Port }
	// A TCP client: once its bytes come back the rules have all run.
	echoed := func(port int) string {
		c := dial(port)
		if c == nil {
			return "refused"
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return err.Error()
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(line) + "; " + sockMarks(t, ss, port, clientPort(c))
	}
	run("tcp", func() string { return echoed(ports[0]) })
	run("tcp v6 source", func() string { return echoed(ports[1]) })
	for _, path := range []string{"/m", "/other", "/s"} {
		run("http "+path, func() string {
			c := dial(ports[2])
			if c == nil {
				return "refused"
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
				return err.Error()
			}
			status, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return err.Error()
			}
			return strings.TrimSpace(status) + "; " + sockMarks(t, ss, ports[2], clientPort(c))
		})
	}
	// Dropped clients: a silent drop tells them nothing (TCP_REPAIR,
	// where the process may use it) or a reset; a second's wait tells.
	dropped := func(port int, send string) string {
		c := dial(port)
		if c == nil {
			return "refused"
		}
		defer c.Close()
		if send != "" {
			if _, err := io.WriteString(c, send); err != nil {
				return err.Error()
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		n, err := c.Read(make([]byte, 64))
		switch {
		case n > 0:
			return "data"
		case err == io.EOF:
			return "eof"
		case err != nil && strings.Contains(err.Error(), "reset"):
			return "reset"
		case err != nil && strings.Contains(err.Error(), "timeout"):
			return "nothing"
		}
		return fmt.Sprint(err)
	}
	run("content silent-drop", func() string { return dropped(ports[3], "ping\n") })
	run("session silent-drop", func() string { return dropped(ports[4], "") })
	run("http content silent-drop", func() string { return dropped(ports[5], "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n") })
	run("http content kept", func() string {
		r := dropped(ports[5], "GET /keep HTTP/1.1\r\nHost: x\r\n\r\n")
		return r
	})
	wg.Wait()
	return got
}

// proxyLines returns the lines of out that start with one of the
// configuration's frontend names, sorted.
func proxyLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		for _, p := range []string{"tc ", "tc6 ", "hf ", "drop ", "sdrop ", "hdrop ", "l "} {
			if strings.HasPrefix(l, p) {
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// TestInteropTCPActionsMatchHAProxy runs the socket and address actions
// of the tcp-request rules (all three stages), http-request and
// http-response under haproxy and lb: the clients see the same, the
// proxy's sockets carry the same mark and TOS (read with ss), and the
// log lines show the same addresses and priorities.
func TestInteropTCPActionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	ss := toolBin(t, "ss")
	echo := echoServer(t)
	web := httpServer(t, "hi")

	ports := freePorts(t, 6)
	haPorts := ports
	out := startHAProxy(t, tcpActionsCfg(ports, echo, web), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[5])) })
	ha := runTCPActions(t, ss, ports)
	t.Logf("haproxy: %q", ha)
	var haLines []string
	require.Eventually(t, func() bool {
		haLines = proxyLines(out())
		return len(haLines) >= 6
	}, 10*time.Second, 10*time.Millisecond, "haproxy's lines")
	require.Equal(t, "ping; mark 0x11 tos 0x20", ha["tcp"], "haproxy: content's mark over the connection's, session's tos")

	ports = freePorts(t, 6)
	_, logs, mu := startInProcess(t, tcpActionsCfg(ports, echo, web))
	lb := runTCPActions(t, ss, ports)
	require.Equal(t, ha, lb)
	var lbLines []string
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		lbLines = proxyLines(logs.String())
		return len(lbLines) >= len(haLines)
	}, 10*time.Second, 10*time.Millisecond, "lb's lines")
	// The client's own port and the listeners' differ between the runs.
	port := regexp.MustCompile(`^(\S+ [0-9a-f.:]+?):(\d+) `)
	norm := func(lines []string, ports []int) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			if m := port.FindStringSubmatch(l); m != nil {
				if n, _ := strconv.Atoi(m[2]); n >= 32768 { // an ephemeral port, not one a rule set
					l = m[1] + ":PORT " + l[len(m[0]):]
				}
			}
			for j, p := range ports {
				l = strings.ReplaceAll(l, fmt.Sprintf(":%d ", p), fmt.Sprintf(":LISTENER%d ", j))
			}
			out[i] = l
		}
		sort.Strings(out)
		return out
	}
	t.Logf("lines: %q", norm(lbLines, ports))
	require.Equal(t, norm(haLines, haPorts), norm(lbLines, ports))
}

// TestInteropTCPActionsConfigMatchesHAProxy: haproxy and lb take and
// refuse the same set-mark, set-tos, set-src, set-dst, set-nice,
// set-priority-* and silent-drop rules, stage by stage.
func TestInteropTCPActionsConfigMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	const base = `defaults
    mode %s
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:19999
    %s
    default_backend b
backend b
    server s 127.0.0.1:1
`
	for _, tc := range []struct{ mode, line string }{
		{"tcp", "tcp-request connection set-mark 0x10"},
		{"tcp", "tcp-request connection set-mark"},
		{"tcp", "tcp-request connection set-mark 12abc"},
		{"tcp", "tcp-request connection set-mark 0x"},
		{"tcp", "tcp-request session set-mark 010"},
		{"tcp", "tcp-request content set-tos -3"},
		{"tcp", "tcp-request content set-tos 1 2"},
		{"http", "http-request set-mark 4294967296"},
		{"http", "http-response set-tos 0x2e"},
		{"http", "http-after-response set-tos 0x2e"},
		{"http", "http-after-response set-mark 1"},
		{"tcp", "tcp-request connection set-src src,ipmask(24)"},
		{"tcp", "tcp-request connection set-src"},
		{"tcp", "tcp-request connection set-src nosuchfetch"},
		{"tcp", "tcp-request session set-dst-port int(1)"},
		{"tcp", "tcp-request content set-src-port req.len"},
		{"tcp", "tcp-request content set-nice 10"},
		{"tcp", "tcp-request content set-nice x"},
		{"http", "http-request set-nice 5x"},
		{"tcp", "tcp-request connection set-nice 10"},
		{"tcp", "tcp-request session set-priority-class int(1)"},
		{"tcp", "tcp-request content set-priority-class int(1)"},
		{"tcp", "tcp-request content set-priority-offset"},
		{"tcp", "tcp-request session silent-drop"},
		{"tcp", "tcp-request content silent-drop"},
		{"tcp", "tcp-request content silent-drop if { req.len gt 1 }"},
		{"http", "tcp-request content set-mark 3 if { path /x }"},
	} {
		t.Run(tc.mode+" "+tc.line, func(t *testing.T) {
			text := fmt.Sprintf(base, tc.mode, tc.line)
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "h.cfg", text)).CombinedOutput()
			_, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if herr == nil {
				require.NoError(t, err, "haproxy takes it: %s", hout)
				return
			}
			require.Error(t, err, "haproxy refuses it: %s", hout)
			require.Contains(t, err.Error(), "lb.cfg:8", "the line is named")
		})
	}
}

// tcpResponseActionsCfg: a listen section whose tcp-response rules mark
// the client's socket, count on a gpc array element and silently drop
// the connections whose server answer starts with DROP.
func tcpResponseActionsCfg(port int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    log-format "l %%ts %%B counted=%%[sc_get_gpc(1,0),bool] gpc0=%%[sc_get_gpc(0,0)]"
    stick-table type ip size 10 store gpc(2)
    tcp-request content track-sc0 src
    tcp-response inspect-delay 1s
    tcp-response content set-mark 0x21
    tcp-response content set-tos 0x28
    tcp-response content sc-inc-gpc(1,0)
    tcp-response content silent-drop if { res.payload(0,4) -m str DROP }
    tcp-response content accept if { res.len gt 0 }
    server s %s
`, port, echo)
}

// TestInteropTCPResponseActionsMatchHAProxy: set-mark, set-tos, the gpc
// array actions and silent-drop in tcp-response rules act as haproxy's
// (how often the rules run, and count, depends on when the bytes come):
// the same marks on the client's socket, the same counts, nothing at all
// for a dropped client, and the same lines.
func TestInteropTCPResponseActionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	ss := toolBin(t, "ss")
	echo := echoServer(t)
	run := func(port int) []string {
		var got []string
		for _, send := range []string{"okay\n", "DROP\n", "okay\n"} {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			_, err = io.WriteString(c, send)
			require.NoError(t, err)
			_ = c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			line, err := bufio.NewReader(c).ReadString('\n')
			switch {
			case err == nil:
				got = append(got, strings.TrimSpace(line)+"; "+sockMarks(t, ss, port, c.LocalAddr().(*net.TCPAddr).Port))
			case strings.Contains(err.Error(), "timeout"):
				got = append(got, "nothing")
			default:
				got = append(got, err.Error())
			}
			_ = c.Close()
		}
		return got
	}
	lines := func(out func() string, n int) []string {
		var l []string
		require.Eventually(t, func() bool {
			l = proxyLines(out())
			return len(l) >= n
		}, 10*time.Second, 10*time.Millisecond)
		return l
	}
	p := freePorts(t, 2)
	hout := startHAProxy(t, tcpResponseActionsCfg(p[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", p[0])) })
	ha := run(p[0])
	require.Equal(t, []string{"okay; mark 0x21 tos 0x28", "nothing", "okay; mark 0x21 tos 0x28"}, ha, "haproxy")
	haLines := lines(hout, 3)
	_, logs, mu := startInProcess(t, tcpResponseActionsCfg(p[1], echo))
	require.Equal(t, ha, run(p[1]))
	lbLines := lines(func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }, 3)
	require.Equal(t, haLines, lbLines)
}
