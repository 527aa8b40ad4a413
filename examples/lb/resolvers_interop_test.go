package main

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS is a UDP name server on 127.0.0.1 whose one answer the test
// changes: an IPv4 address for every A question (AAAA questions get no
// record), NXDOMAIN for every question ("nx"), or no answer at all
// ("drop").
type fakeDNS struct {
	mu     sync.Mutex
	answer string // an IPv4 address, or "nx"
	addr   string
	// names answer for the names they list, as answer does for all.
	names map[string]string
	// srv are the SRV records of the names they list.
	srv map[string][]fakeSRV
	// asked counts the questions by name and type ("a.example. A").
	asked map[string]int
}

// fakeSRV is one SRV record; addr, when set, is its target's address,
// given in the answer's additional section.
type fakeSRV struct {
	target       string
	port, weight uint16
	addr         string
}

func startFakeDNS(t *testing.T, answer string) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &fakeDNS{answer: answer, addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := d.reply(buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); <-done })
	return d
}

// questions returns how many questions each name and type got.
func (d *fakeDNS) questions() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.asked {
		out[k] = v
	}
	return out
}

func (d *fakeDNS) set(answer string) {
	d.mu.Lock()
	d.answer = answer
	d.mu.Unlock()
}

func (d *fakeDNS) reply(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil
	}
	d.mu.Lock()
	if d.asked == nil {
		d.asked = map[string]int{}
	}
	d.asked[qs[0].Name.String()+" "+strings.TrimPrefix(qs[0].Type.String(), "Type")]++
	answer := d.answer
	if a, ok := d.names[qs[0].Name.String()]; ok {
		answer = a
	}
	srvs := d.srv[qs[0].Name.String()]
	d.mu.Unlock()
	if qs[0].Type == dnsmessage.TypeSRV && srvs != nil {
		answer = "srv"
	}
	if answer == "drop" {
		return nil // never answered
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if answer == "nx" {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(qs[0])
	_ = b.StartAnswers()
	if answer != "nx" && qs[0].Type == dnsmessage.TypeA {
		ip := net.ParseIP(answer).To4()
		_ = b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: [4]byte(ip)})
	}
	if qs[0].Type == dnsmessage.TypeSRV {
		for _, r := range srvs {
			_ = b.SRVResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 1},
				dnsmessage.SRVResource{Priority: 10, Weight: r.weight, Port: r.port, Target: dnsmessage.MustNewName(r.target + ".")})
		}
		_ = b.StartAdditionals()
		for _, r := range srvs {
			if r.addr != "" {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(r.target + "."), Class: dnsmessage.ClassINET, TTL: 1},
					dnsmessage.AResource{A: [4]byte(net.ParseIP(r.addr).To4())})
			}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// namedListeners listens on port of 127.0.0.1 and 127.0.0.2 (a free port
// on both), each connection answered with "A" or "B" respectively.
func namedListeners(t *testing.T) int {
	t.Helper()
	for range 20 {
		port := freePorts(t, 1)[0]
		var lns []net.Listener
		for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < 2 {
			for _, ln := range lns {
				_ = ln.Close()
			}
			continue
		}
		for i, ln := range lns {
			name := string(rune('A' + i))
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = fmt.Fprintf(c, "%s\n", name)
					_ = c.Close()
				}
			}()
			t.Cleanup(func() { _ = ln.Close() })
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return 0
}

func resolversCfg(sock, dns string, port, srvPort int) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
resolvers dns
    nameserver dns1 %s
    resolve_retries 3
    timeout resolve 200ms
    timeout retry 200ms
    hold valid 200ms
    hold nx 300ms
    accepted_payload_size 8192
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:%d
    server w1 app.example.internal:%d resolvers dns resolve-prefer ipv4 init-addr none check inter 100ms
`, sock, dns, port, srvPort)
}

// resolvStep is what one DNS answer leads to: where a connection goes,
// the server's status in show stat, its address, admin bits, host name
// and port in show servers state, and the log lines about it since the
// previous step.
type resolvStep struct {
	Served, Status, Addr, Admin, FQDN, Port string
	Logs                                    []string
}

// TestInteropResolversMatchHAProxy runs haproxy and lb on one resolvers
// section whose name server the test controls: the server starts in
// resolution maintenance (init-addr none), comes up at the first
// address, follows the name to a second one, goes into resolution
// maintenance past hold nx when the name stops existing, and comes back
// when it resolves again.
func TestInteropResolversMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srvPort := namedListeners(t)
	run := func(name string, start func(text, sock string) func() string) []resolvStep {
		dns := startFakeDNS(t, "nx")
		sock := filepath.Join(t.TempDir(), "s.sock")
		port := freePorts(t, 1)[0]
		out := start(resolversCfg(sock, dns.addr, port, srvPort), sock)
		front := fmt.Sprintf("127.0.0.1:%d", port)
		seen := 0
		var steps []resolvStep
		step := func(answer, wantStatus, wantAddr string, nlogs int) {
			dns.set(answer)
			var st resolvStep
			ok := assert.Eventually(t, func() bool {
				_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
				// A server leaving maintenance is one check from down
				// ("UP 1/3") until its next check: how far its checks got
				// is timing, not resolution.
				st.Status, _, _ = strings.Cut(rows["a/w1"]["status"], " ")
				if st.Status == "MAINT" {
					st.Status = rows["a/w1"]["status"]
				}
				for _, l := range strings.Split(cliCommand(t, sock, "show servers state a"), "\n") {
					if f := strings.Fields(l); len(f) > 18 && f[3] == "w1" {
						st.Addr, st.Admin, st.FQDN, st.Port = f[4], f[6], f[17], f[18]
					}
				}
				return st.Status == wantStatus && st.Addr == wantAddr
			}, 10*time.Second, 20*time.Millisecond)
			require.True(t, ok, "%s: %s answered %s: status %q addr %q\n%s", name, answer, wantStatus, st.Status, st.Addr, out())
			c, err := net.DialTimeout("tcp", front, 2*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			st.Served = strings.TrimSpace(line)
			// The log lines the change wrote, which may follow the state
			// it shows by a moment.
			var lines []string
			require.Eventually(t, func() bool {
				st.Logs = nil
				lines = strings.Split(out(), "\n")
				for _, l := range lines[seen:] {
					if strings.Contains(l, "a/w1") && !strings.HasPrefix(l, "[") {
						st.Logs = append(st.Logs, strings.TrimSpace(l))
					}
				}
				return len(st.Logs) >= nlogs
			}, 5*time.Second, 10*time.Millisecond, "%s: log lines after %s:\n%s", name, answer, out())
			seen = len(lines) - 1
			steps = append(steps, st)
		}
		step("nx", "MAINT (resolution)", "-", 0)
		step("127.0.0.1", "UP", "127.0.0.1", 3)
		step("127.0.0.2", "UP", "127.0.0.2", 1)
		step("nx", "MAINT (resolution)", "-", 1)
		step("127.0.0.1", "UP", "127.0.0.1", 3)
		return steps
	}
	want := run("haproxy", func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	for i, s := range want {
		t.Logf("haproxy %d: %+v", i, s)
	}
	got := run("lb", func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's steps, then lb's")
	var served, admin []string
	for _, st := range got {
		served, admin = append(served, st.Served), append(admin, st.Admin)
	}
	require.Equal(t, []string{"", "A", "B", "", "A"}, served, "where connections went")
	require.Equal(t, []string{"32", "0", "0", "32", "0"}, admin, "RMAINT is admin bit 0x20")
	require.Equal(t, []string{"a/w1 changed its IP from 127.0.0.1 to 127.0.0.2 by dns/dns1."}, got[2].Logs)
	require.Equal(t, []string{"Server a/w1 is going DOWN for maintenance (DNS NX status). 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."}, got[3].Logs)
}

// TestInteropShowResolversMatchesHAProxy resolves three names once (a
// long timeout resolve): one answered for A, asked first; the same for
// a server preferring IPv6, whose AAAA question gets no record; and one
// that does not exist. show resolvers counts the same under both.
func TestInteropShowResolversMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srvPort := namedListeners(t)
	run := func(start func(text, sock string)) (string, string, string) {
		dns := startFakeDNS(t, "127.0.0.1")
		dns.mu.Lock()
		dns.names = map[string]string{"nx.example.": "nx"}
		dns.mu.Unlock()
		sock := filepath.Join(t.TempDir(), "s.sock")
		port := freePorts(t, 1)[0]
		start(fmt.Sprintf(`global
    stats socket %s level admin
resolvers dns
    nameserver dns1 %s
    timeout resolve 1h
    timeout retry 200ms
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:%d
    server s1 v4.example:%d resolvers dns resolve-prefer ipv4 init-addr none
    server s2 v4.example:%d resolvers dns init-addr none
    server s3 nx.example:%d resolvers dns resolve-prefer ipv4 init-addr none
`, sock, dns.addr, port, srvPort, srvPort, srvPort), sock)
		var out string
		prev := ""
		require.Eventually(t, func() bool {
			out = cliCommand(t, sock, "show resolvers dns")
			// Settled: the answers are in, and nothing moved for longer
			// than a try lasts.
			done := strings.Contains(out, "valid:       2") && !strings.Contains(out, "nx:          0") && out == prev
			prev = out
			return done
		}, 15*time.Second, 500*time.Millisecond)
		return out, cliCommand(t, sock, "show resolvers nope"), cliCommand(t, sock, "show resolvers")
	}
	want, wantNope, wantAll := run(func(text, sock string) { startHAProxySocket(t, text, sock) })
	got, gotNope, gotAll := run(func(text, _ string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's counters, then lb's")
	require.Equal(t, wantNope, gotNope)
	// Every section, with the "default" one both make from resolv.conf.
	require.Equal(t, wantAll, gotAll)
	// s1 asked A once; s2 AAAA (no record) then A; s3 A and AAAA, three
	// tries, each NX.
	for _, l := range []string{"sent:        9", "valid:       2", "update:      2", "any_err:     1", "nx:          6"} {
		require.Contains(t, got, "  "+l+"\n")
	}
	require.Equal(t, "Can't find that resolvers section\n\n", gotNope)
}
