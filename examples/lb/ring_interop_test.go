package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
)

// TestInteropRingSectionsMatchHAProxy: haproxy -c's verdicts and
// warnings on ring sections and log ring@ targets.
func TestInteropRingSectionsMatchHAProxy(t *testing.T) {
	for _, ring := range []string{
		"ring\n",
		"ring r1\n",
		"ring r1 extra\n",
		"ring r.1-x_y:z\n",
		"ring r/1\n",
		"ring stdout\n",
		"ring buf0\n",
		"ring r1\nring r1\n",
		"ring r1\n    size\n",
		"ring r1\n    size 0\n",
		"ring r1\n    size abc\n",
		"ring r1\n    size 20000x\n",
		"ring r1\n    size 16384\n",
		"ring r1\n    size 16383\n",
		"ring r1\n    size -5\n",
		"ring r1\n    size 32768\n    size 20000\n",
		"ring r1\n    size 1m\n",
		"ring r1\n    maxlen\n",
		"ring r1\n    maxlen 0\n",
		"ring r1\n    maxlen 20000\n",
		"ring r1\n    maxlen -1\n",
		"ring r1\n    size 30000\n    maxlen 30000\n",
		"ring r1\n    maxlen 100x\n",
		"ring r1\n    format\n",
		"ring r1\n    format bogus\n",
		"ring r1\n    format iso extra\n",
		"ring r1\n    format timed\n    format priority\n    format short\n    format local\n    format rfc5424\n    format rfc3164\n    format raw\n",
		"ring r1\n    description\n",
		"ring r1\n    description a b c\n",
		"ring r1\n    timeout\n",
		"ring r1\n    timeout connect\n",
		"ring r1\n    timeout client 1s\n",
		"ring r1\n    timeout connect 1x\n",
		"ring r1\n    timeout server 0\n",
		"ring r1\n    timeout server 3000000000\n",
		"ring r1\n    bogus 1\n",
		"ring r1\n    mode tcp\n",
		"ring r1\n    default-server check\n",
		"ring r1\n    server\n",
		"ring r1\n    server s1\n",
		"ring r1\n    server s1 127.0.0.1:514\n",
		"ring r1\n    server s1 127.0.0.1\n",
		"ring r1\n    timeout connect 1s\n    server s1 127.0.0.1:514\n",
		"ring r1\n    timeout connect 1s\n    timeout server 1s\n    server s1 127.0.0.1:514 log-proto octet-count\n",
		"ring r1\n    server s1 127.0.0.1:514\n    timeout server 1s\n    timeout connect 1s\n",
		"ring r1\n    server s1 127.0.0.1:514 log-proto bogus\n",
		"ring r1\n    server s1 127.0.0.1:514 log-proto\n",
		"ring r1\n    server s1 127.0.0.1:514 weight 3 maxconn 4\n",
		"ring r1\n    server s1 127.0.0.1:514 weight 300\n",
		"ring r1\n    server s1 127.0.0.1:514\n    server s1 127.0.0.1:515\n",
		"ring r1\n    server s1 udp@127.0.0.1:514\n",
		"ring r1\n    server s1 127.0.0.1:514 bogus\n",
		"ring r1\n    server s1 127.0.0.1:514-516\n",
		"ring r1\n    server s1 127.0.0.1:514\nring r2\n    server s1 127.0.0.1:514\n",
		"ring be\n",
		"global\n    log ring@nope local0\n",
		"global\n    log ring@ local0\n",
		"global\n    log ring@r1 format iso local0\nring r1\n",
		"global\n    log ring@r1 format timed local0\nring r1\n",
		"global\n    log ring@r1 format priority local0\nring r1\n",
		"global\n    log ring@r1 format bad local0\nring r1\n",
		"global\n    log ring@r1 sample 1:2 local0\nring r1\n",
		"global\n    log ring@r1 sample 1-2,5:6 local0 info\nring r1\n",
		"global\n    log ring@r1 sample 3:2 local0\nring r1\n",
		"global\n    log ring@r1 sample 0:2 local0\nring r1\n",
		"global\n    log ring@r1 sample 2-1:4 local0\nring r1\n",
		"global\n    log ring@r1 sample 1-a:4 local0\nring r1\n",
		"global\n    log ring@r1 sample 1:0 local0\nring r1\n",
		"global\n    log ring@r1 sample 1,1:2 local0\nring r1\n",
		"global\n    log ring@r1 sample :4 local0\nring r1\n",
		"global\n    log ring@r1 sample x local0\nring r1\n",
		"global\n    log ring@r1 len 100000 local0\nring r1\n",
		"global\n    log ring@r1 len 100 local0 info notice\nring r1\n",
		"ring r1\nfrontend x\n    bind 127.0.0.1:18002\n    log ring@r1 len 200 format raw local0 info\n",
	} {
		t.Run(strings.ReplaceAll(ring, "\n", "|"), func(t *testing.T) {
			checkParity(t, parityBase+ring)
		})
	}
	w := checkParity(t, parityBase+"ring r1\n    maxlen 20000\n")
	require.Equal(t, []string{": ring 'r1' event max length '20000' exceeds size, forced to size '16384'."}, w)
	w = checkParity(t, parityBase+"ring r1\n    server s1 127.0.0.1:514\n")
	require.Equal(t, []string{": missing timeouts for backend 'r1'."}, w)
}

// ringNorm hides what differs between two processes' log lines: times,
// dates, process ids, client ports, and timers.
var ringNorm = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d`), "ISO"},
	{regexp.MustCompile(`[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d`), "STAMP"},
	{regexp.MustCompile(`\[\d+\]: `), "[PID]: "},
	{regexp.MustCompile(` \d+ - - `), " PID - - "},
}

func normRing(s string) string {
	for _, n := range ringNorm {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// TestInteropRingShowEventsMatchesHAProxy logs requests into rings of
// each format through log ring@ targets (with len, sample and the
// global log-send-hostname and log-tag) and compares "show events"
// over the stats socket, byte for byte but for times and pids: the
// list of sinks, each ring's lines, and a ring small enough that its
// oldest lines were dropped, the same ones.
func TestInteropRingShowEventsMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	formats := []string{"raw", "rfc3164", "rfc5424", "short", "local", "iso", "timed", "priority"}
	text := func(port int, sock string, hostname bool) string {
		var b strings.Builder
		fmt.Fprintf(&b, "global\n    stats socket %s level admin\n", sock)
		if hostname {
			b.WriteString("    log-send-hostname myhost\n    log-tag mytag\n")
		}
		for i, f := range formats {
			fmt.Fprintf(&b, "    log ring@r_%s local%d info\n", f, i)
		}
		b.WriteString("    log ring@r_len len 80 user info\n")
		b.WriteString("    log ring@r_sample sample 1,3:4 daemon info\n")
		b.WriteString("    log ring@r_small local0 debug emerg\n")
		for _, f := range formats {
			fmt.Fprintf(&b, "ring r_%s\n    format %s\n", f, f)
		}
		b.WriteString("ring r_len\n    description \"cut lines\"\n    format iso\n    maxlen 70\n")
		b.WriteString("ring r_sample\n")
		b.WriteString("ring r_small\n    size 16384\n    maxlen 1000\n")
		fmt.Fprintf(&b, `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    log global
    log-format "req %%HU"
    http-request return status 200 content-type text/plain string ok
`, port)
		return b.String()
	}
	const requests = 30
	// r_small's lines, "req PATH", take 586 bytes each in a ring (a
	// 2-byte length, 583 bytes, a count byte): 27 fit in 16384 bytes
	// with the ring's leading byte, and 28 would if one byte less were
	// counted.
	path := func(i int) string { return fmt.Sprintf("/%03d/%s", i, strings.Repeat("p", 574)) }
	run := func(hostname bool, port int, sock string) map[string]string {
		for i := 0; i < requests; i++ {
			oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET "+path(i)+" HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n")
		}
		out := map[string]string{}
		// The last request's line is in once the response is sent;
		// wait for it all the same.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if strings.Contains(cliCommand(t, sock, "show events r_raw"), path(requests-1)) {
				break
			}
		}
		for _, cmd := range []string{"show events", "show events nope", "show events stdout", "show events buf0",
			"show events r_raw -x", "show events r_raw -n", "show events r_len", "show events r_sample", "show events r_small"} {
			out[cmd] = cliCommand(t, sock, cmd)
		}
		for _, f := range formats {
			cmd := "show events r_" + f
			out[cmd] = normRing(cliCommand(t, sock, cmd))
		}
		out["show events r_len"] = normRing(out["show events r_len"])
		out["user: show events r_raw"] = cliCommand(t, sock, "user; show events r_raw")
		return out
	}
	for _, hostname := range []bool{false, true} {
		t.Run(fmt.Sprintf("hostname=%v", hostname), func(t *testing.T) {
			ports := freePorts(t, 2)
			haSock, lbSock := filepath.Join(dir, fmt.Sprintf("ha%v.sock", hostname)), filepath.Join(dir, fmt.Sprintf("lb%v.sock", hostname))
			startHAProxySocket(t, text(ports[0], haSock, hostname), haSock)
			want := run(hostname, ports[0], haSock)
			startInProcess(t, text(ports[1], lbSock, hostname))
			got := run(hostname, ports[1], lbSock)
			for cmd, w := range want {
				assert.Equal(t, w, got[cmd], "%s: haproxy's answer, then lb's", cmd)
			}
			// The test saw what it means to compare.
			require.Equal(t, 16, strings.Count(want["show events r_sample"], "\n"), "1, 3, 5, ... of 30 lines, and the end")
			small := want["show events r_small"]
			require.Equal(t, 27+1, strings.Count(small, "\n"), "27 lines kept, then the end")
			require.NotContains(t, small, path(2)+"\n", "the oldest lines were dropped")
			require.Contains(t, small, "req "+path(3)+"\n")
			require.Contains(t, want["show events r_rfc5424"], "<150>1 ISO ")
		})
	}
}

// ringRequests sends n requests for /PREFIX0.. to the frontend on port,
// then waits, up to 10 s, until each server received the last one's log
// line.
func ringRequests(t *testing.T, port int, prefix string, n int, servers ...*syslogTCP) {
	t.Helper()
	for i := 0; i < n; i++ {
		oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("GET /%s%d HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n", prefix, i))
	}
	last := fmt.Sprintf("req /%s%d", prefix, n-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		all := true
		for _, s := range servers {
			all = all && strings.Contains(s.received(), last)
		}
		if all {
			return
		}
	}
}

// startHAProxyOn returns a start function that runs a configuration
// under haproxy and waits until it accepts connections on port.
func startHAProxyOn(t *testing.T, port int) func(text string) {
	return func(text string) {
		startHAProxy(t, text, func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
	}
}

// syslogTCP is a TCP syslog server keeping what each connection sent.
type syslogTCP struct {
	ln   net.Listener
	mu   sync.Mutex
	data []string
	wg   sync.WaitGroup
}

func newSyslogTCP(t *testing.T) *syslogTCP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return newSyslogOn(t, ln)
}

// newSyslogOn is a syslogTCP on ln, a TLS listener say.
func newSyslogOn(t *testing.T, ln net.Listener) *syslogTCP {
	s := &syslogTCP{ln: ln}
	var conns []net.Conn
	var cmu sync.Mutex
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			s.mu.Lock()
			i := len(s.data)
			s.data = append(s.data, "")
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				r := bufio.NewReader(c)
				buf := make([]byte, 4096)
				for {
					n, err := r.Read(buf)
					s.mu.Lock()
					s.data[i] += string(buf[:n])
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		cmu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		cmu.Unlock()
		s.wg.Wait()
	})
	return s
}

// received returns what the first connection sent.
func (s *syslogTCP) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.data) == 0 {
		return ""
	}
	return s.data[0]
}

// octetFrames checks that data is a run of "LEN MSG" frames, each LEN
// the length of its MSG, and returns them with the lengths checked
// replaced by "N" and the messages normalised.
func octetFrames(t *testing.T, data string) string {
	t.Helper()
	var out strings.Builder
	for data != "" {
		n, rest, ok := strings.Cut(data, " ")
		require.True(t, ok, "a frame's length: %q", data)
		var l int
		_, err := fmt.Sscanf(n, "%d", &l)
		require.NoError(t, err, "a frame's length: %q", data)
		require.LessOrEqual(t, l, len(rest), "frame of %d bytes: %q", l, rest)
		out.WriteString("N " + normRing(rest[:l]) + "|")
		data = rest[l:]
	}
	return out.String()
}

// TestInteropRingForwardMatchesHAProxy: a ring's servers receive its
// lines over TCP, those logged before the connection included, newline
// terminated by default and as "LEN LINE" with log-proto octet-count.
// What haproxy's and lb's servers receive is compared, times and pids
// aside.
func TestInteropRingForwardMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	text := func(port int, legacy, octet string) string {
		return fmt.Sprintf(`global
    log-send-hostname myhost
    log ring@fwd local3 info
ring fwd
    format rfc5424
    maxlen 300
    timeout connect 1s
    timeout server 5s
    server s1 %s
    server s2 %s log-proto octet-count
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    log global
    option dontlognull
    log-format "req %%HU"
    http-request return status 200 content-type text/plain string ok
`, legacy, octet, port)
	}
	const requests = 5
	run := func(port int, start func(string)) (string, string) {
		legacy, octet := newSyslogTCP(t), newSyslogTCP(t)
		start(text(port, legacy.ln.Addr().String(), octet.ln.Addr().String()))
		ringRequests(t, port, "line", requests, legacy, octet)
		return normRing(legacy.received()), octetFrames(t, octet.received())
	}
	ports := freePorts(t, 2)
	wantL, wantO := run(ports[0], startHAProxyOn(t, ports[0]))
	gotL, gotO := run(ports[1], func(text string) { startInProcess(t, text) })
	assert.Equal(t, wantL, gotL, "legacy framing: haproxy's, then lb's")
	assert.Equal(t, wantO, gotO, "octet counting: haproxy's, then lb's")
	require.Equal(t, requests, strings.Count(wantL, "\n"), wantL)
	require.Contains(t, wantL, "<158>1 ISO myhost haproxy PID - - req /line0\n")
	require.Contains(t, wantO, "N <158>1 ISO myhost haproxy PID - - req /line0|")
	require.Equal(t, requests, strings.Count(wantO, "N <158>1 "), wantO)
}

// TestInteropRingForwardTLSMatchesHAProxy: a ring server line with ssl
// (and verify none, or a ca-file) sends the lines over TLS, as haproxy's
// does, each line as the plain forwarding sends it; without verify
// none or a ca-file the line is refused, as haproxy refuses it.
func TestInteropRingForwardTLSMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	serverTLS, _ := testcert.Configs(t, "localhost")
	text := func(port int, addr, opts string) string {
		return fmt.Sprintf(`global
    log ring@fwd local3 info
ring fwd
    format rfc5424
    timeout connect 1s
    timeout server 5s
    server s1 %s %s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    log global
    option dontlognull
    log-format "req %%HU"
    http-request return status 200 content-type text/plain string ok
`, addr, opts, port)
	}
	const requests = 3
	run := func(port int, start func(string)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := newSyslogOn(t, tls.NewListener(ln, serverTLS))
		start(text(port, ln.Addr().String(), "ssl verify none log-proto octet-count"))
		ringRequests(t, port, "tls", requests, srv)
		return octetFrames(t, srv.received())
	}
	ports := freePorts(t, 2)
	want := run(ports[0], startHAProxyOn(t, ports[0]))
	got := run(ports[1], func(text string) { startInProcess(t, text) })
	assert.Equal(t, want, got, "the lines over TLS: haproxy's, then lb's")
	require.Equal(t, requests, strings.Count(want, "N <158>1 "), want)
	// What haproxy -c says of the TLS options, lb says.
	for _, opts := range []string{"ssl", "ssl verify none", "ssl verify required", "ssl verify none sni str(x)", "ssl verify none alpn h2", "ssl verify none ssl-min-ver TLSv1.3"} {
		t.Run(opts, func(t *testing.T) { checkParity(t, text(ports[0], "127.0.0.1:6514", opts)) })
	}
}
