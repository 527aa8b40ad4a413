package main

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// TestInteropSRVRecordsMatchHAProxy runs haproxy and lb on servers a
// server-template names by a DNS SRV record: two entries whose targets'
// addresses the answer's additional section gives fill two of the four
// servers, with their ports and weights, in haproxy's order; then one
// entry goes and one comes whose target must be resolved on its own. show servers state,
// the log lines and where connections go are the same under both.
func TestInteropSRVRecordsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	// Echo servers on the targets' addresses, each naming itself.
	named := func(ip, name string) uint16 {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Skipf("cannot listen on %s: %v", ip, err)
		}
		stop := testnet.Accept(ln, func(c net.Conn) {
			_, _ = fmt.Fprintln(c, name)
			_ = c.Close()
		})
		t.Cleanup(stop)
		return uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	pa, pb, pc := named("127.0.0.11", "A"), named("127.0.0.12", "B"), named("127.0.0.13", "C")
	first := []fakeSRV{{"a.svc.test", pa, 50, "127.0.0.11"}, {"b.svc.test", pb, 100, "127.0.0.12"}}
	second := []fakeSRV{{"a.svc.test", pa, 50, "127.0.0.11"}, {"c.svc.test", pc, 300, ""}}

	type step struct {
		State  []string // show servers state, without the time column
		Logs   []string
		Served []string
	}
	run := func(name string, start func(text, sock string) func() string) []step {
		dns := startFakeDNS(t, "nx")
		dns.mu.Lock()
		dns.names = map[string]string{"a.svc.test.": "127.0.0.11", "b.svc.test.": "127.0.0.12", "c.svc.test.": "127.0.0.13"}
		dns.mu.Unlock()
		sock := filepath.Join(t.TempDir(), "s.sock")
		port := freePorts(t, 1)[0]
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
resolvers dns
    nameserver dns1 %s
    timeout resolve 200ms
    timeout retry 200ms
    hold obsolete 1s
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    balance roundrobin
    server-template www 4 _app._tcp.svc.test resolvers dns resolve-prefer ipv4
`, sock, dns.addr, port), sock)
		seen := 0
		var steps []step
		do := func(recs []fakeSRV, ready func(state []string) bool, nlogs int) {
			dns.mu.Lock()
			dns.srv = map[string][]fakeSRV{"_app._tcp.svc.test.": recs}
			dns.mu.Unlock()
			var st step
			require.Eventually(t, func() bool {
				st.State = nil
				for _, l := range strings.Split(cliCommand(t, sock, "show servers state l"), "\n") {
					if f := strings.Fields(l); len(f) > 20 && strings.HasPrefix(f[3], "www") {
						f[9] = "T" // seconds since the last change
						st.State = append(st.State, strings.Join(f, " "))
					}
				}
				return ready(st.State)
			}, 10*time.Second, 20*time.Millisecond, "%s: servers never ready\n%s", name, out())
			var lines []string
			require.Eventually(t, func() bool {
				st.Logs = nil
				lines = strings.Split(out(), "\n")
				for _, l := range lines[seen:] {
					if strings.Contains(l, "l/www") && !strings.HasPrefix(l, "[") {
						st.Logs = append(st.Logs, strings.TrimSpace(l))
					}
				}
				return len(st.Logs) >= nlogs
			}, 5*time.Second, 10*time.Millisecond, "%s: log lines:\n%s", name, out())
			seen = len(lines) - 1
			sort.Strings(st.Logs)
			for range 4 {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
				require.NoError(t, err)
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				_ = c.Close()
				st.Served = append(st.Served, strings.TrimSpace(line))
			}
			sort.Strings(st.Served)
			steps = append(steps, st)
		}
		// The addresses the servers have, in their order.
		addrs := func(state []string) string {
			var a []string
			for _, l := range state {
				a = append(a, strings.Fields(l)[4])
			}
			return strings.Join(a, " ")
		}
		do(first, func(s []string) bool { return addrs(s) == "127.0.0.12 127.0.0.11 - -" }, 6)
		do(second, func(s []string) bool { return addrs(s) == "- 127.0.0.11 127.0.0.13 -" }, 5)
		return steps
	}
	want := run("haproxy", func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	got := run("lb", func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's steps, then lb's")
	// And what they are.
	// b.svc.test's entry comes first in haproxy's order, so www1
	// takes it, and loses it.
	require.Equal(t, "2 l 1 www1 - 0 96 1 1 T 1 0 0 0 0 0 0 - 0 _app._tcp.svc.test 0 0 - - 0", got[1].State[0])
	require.Equal(t, fmt.Sprintf("2 l 2 www2 127.0.0.11 2 64 1 1 T 1 0 0 0 0 0 0 a.svc.test %d _app._tcp.svc.test 0 0 - - 0", pa), got[1].State[1])
	require.Equal(t, fmt.Sprintf("2 l 3 www3 127.0.0.13 2 64 2 1 T 1 0 0 0 0 0 0 c.svc.test %d _app._tcp.svc.test 0 0 - - 0", pc), got[1].State[2])
	require.Equal(t, "2 l 4 www4 - 0 32 1 1 T 1 0 0 0 0 0 0 - 0 _app._tcp.svc.test 0 0 - - 0", got[1].State[3])
	require.Equal(t, []string{"A", "A", "B", "B"}, got[0].Served)
	require.Contains(t, got[1].Logs, "l/www3 changed its FQDN from (null) to c.svc.test by 'SRV record'")
	require.Contains(t, got[1].Logs, "Server l/www1 is going DOWN for maintenance (entry removed from SRV record). 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.")
}
