package balancer

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// Connection retries follow HAProxy's rules. Under option redispatch, an
// algorithm that hashes nothing (round robin, leastconn) over several
// active servers retries on another server at once; otherwise a refused
// connect is retried on the same server after the turn-around time,
// min(1 s, timeout connect), and only the last retry may go elsewhere
// (with option redispatch), without a turn-around. The traffic line counts
// the retries, with "+" when the server changed, and the time spent before
// a new assignment as waiting (Tw).
func TestRetriesAndRedispatch(t *testing.T) {
	dead := refusingAddr(t)
	ss := servers(t, "b")
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen redisp
    bind 127.0.0.1:0
    retries 2
    option redispatch
    server a %[1]s
    server b %[2]s
listen redisp_lc
    bind 127.0.0.1:0
    retries 2
    timeout connect 300ms
    balance leastconn
    option redispatch
    server a %[1]s
    server b %[2]s
listen noredisp
    bind 127.0.0.1:0
    retries 2
    timeout connect 300ms
    server a %[1]s
    server b %[2]s
listen redisp_src
    bind 127.0.0.1:0
    retries 2
    timeout connect 1s
    balance source
    option redispatch
    server a %[1]s
    server b %[3]s
listen alone
    bind 127.0.0.1:0
    retries 2
    timeout connect 300ms
    option redispatch
    server a %[1]s
`, dead, ss[0].addr(), refusingAddr(t)))
	line := func(fe string) logLine {
		return parseLog(t, logs.waitLine(t, func(s string) bool { return tcplogRe.MatchString(s) && parseLog(t, s).fe == fe }))
	}

	// Round robin sends the first connection to a, whose connect fails;
	// the retry goes to b at once. a keeps its turn: the next connection
	// tries it first again.
	for range 2 {
		require.Equal(t, "b", ask(t, feAddr(t, b, "redisp")))
	}
	var redisp []logLine
	require.Eventually(t, func() bool {
		redisp = redisp[:0]
		for _, s := range logs.lines() {
			if tcplogRe.MatchString(s) && parseLog(t, s).fe == "redisp" {
				redisp = append(redisp, parseLog(t, s))
			}
		}
		return len(redisp) == 2
	}, 10*time.Second, 5*time.Millisecond)
	for _, l := range redisp {
		require.Equal(t, "b", l.srv)
		require.Equal(t, "+1", l.retries, "each connection tried a first")
		require.Equal(t, "--", l.term)
	}

	// leastconn hashes nothing either: the retry goes to b at once, with
	// no turn-around.
	require.Equal(t, "b", ask(t, feAddr(t, b, "redisp_lc")))
	l := line("redisp_lc")
	require.Equal(t, "b", l.srv)
	require.Equal(t, "+1", l.retries)
	require.Less(t, l.tw+l.tc, 300, "no turn-around: %+v", l)

	// A source hash stays on its server: both refuse, the first retry
	// comes after one turn-around on the same server, and the last moves
	// to the other one without a second.
	require.Equal(t, "", ask(t, feAddr(t, b, "redisp_src")))
	l = line("redisp_src")
	require.Equal(t, "+2", l.retries)
	require.Equal(t, "SC", l.term)
	require.GreaterOrEqual(t, l.tt, 1000, "one turn-around: %+v", l)
	require.Less(t, l.tt, 2000, "no turn-around before the last retry: %+v", l)
	require.GreaterOrEqual(t, l.tw, 1000, "the time before the new assignment is waiting (Tw): %+v", l)

	// Without redispatch every retry hits a, two turn-arounds apart, and
	// the connection fails: SC.
	require.Equal(t, "", ask(t, feAddr(t, b, "noredisp")))
	l = line("noredisp")
	require.Equal(t, "a", l.srv)
	require.Equal(t, "2", l.retries)
	require.Equal(t, "SC", l.term)
	require.Equal(t, -1, l.tc)
	require.GreaterOrEqual(t, l.tt, 600, "two turn-arounds of timeout connect")

	// Redispatch with a single server lands on the same one: no "+".
	require.Equal(t, "", ask(t, feAddr(t, b, "alone")))
	l = line("alone")
	require.Equal(t, "a", l.srv)
	require.Equal(t, "2", l.retries)
	require.Equal(t, "SC", l.term)
}

// A client whose server cannot be reached sees its connection end with a
// FIN, as with HAProxy, although it sent bytes lb never forwarded: lb
// reads them before it closes, where they would turn the close into a
// reset.
func TestNoServerClosesCleanly(t *testing.T) {
	dead := refusingAddr(t)
	// One retry after a 200 ms turn-around: the client's bytes are
	// surely in when lb gives up, reads them and closes.
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen l
    bind 127.0.0.1:0
    retries 1
    timeout connect 200ms
    server a %s
`, dead))
	c, err := net.Dial("tcp", feAddr(t, b, "l"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "eof", testnet.HowEnded(c))
}

func TestSendProxy(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			srv := newServer(t, "p", true)
			kw := "send-proxy"
			if v == 2 {
				kw = "send-proxy-v2"
			}
			b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server p %s %s check inter 1s
`, srv.addr(), kw))
			addr := feAddr(t, b, "px")
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}}
			c, err := d.Dial("tcp", addr)
			require.NoError(t, err)
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "p\n", line)
			srv.mu.Lock()
			defer srv.mu.Unlock()
			// The checks send their own headers: v1 with the check
			// connection's addresses, v2 LOCAL, as haproxy's.
			var relayed []conn.ProxyHeader
			for _, h := range srv.headers {
				if h.HasAddrs() && h.Src.Addr() == netip.MustParseAddr("127.0.0.7") {
					relayed = append(relayed, h)
				}
			}
			require.Len(t, relayed, 1)
			h := relayed[0]
			require.Equal(t, uint8(v), h.Version)
			require.Equal(t, c.LocalAddr().(*net.TCPAddr).AddrPort(), h.Src, "the server sees the true client")
			require.Equal(t, c.RemoteAddr().(*net.TCPAddr).AddrPort(), h.Dst)
		})
	}
}

func TestAcceptProxy(t *testing.T) {
	srv := newServer(t, "p", true)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0 accept-proxy
    server p %s send-proxy-v2
`, srv.addr()))
	addr := feAddr(t, b, "px")
	for _, hdr := range []string{"PROXY TCP4 192.0.2.7 198.51.100.1 4444 80\r\n", "v2"} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		want := netip.MustParseAddrPort("192.0.2.7:4444")
		if hdr == "v2" {
			h := conn.NewProxyHeader(netip.MustParseAddrPort("[2001:db8::9]:5555"), netip.MustParseAddrPort("[2001:db8::1]:80"))
			h.Version = 2
			_, err = h.WriteTo(c)
			want = netip.MustParseAddrPort("[2001:db8::9]:5555")
		} else {
			_, err = io.WriteString(c, hdr)
		}
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "p\n", line)
		require.NoError(t, c.Close())
		l := parseLog(t, logs.waitLine(t, func(s string) bool {
			return tcplogRe.MatchString(s) && parseLog(t, s).port == int(want.Port())
		}))
		require.Equal(t, want.Addr().String(), l.client)
		srv.mu.Lock()
		require.Equal(t, want, srv.headers[len(srv.headers)-1].Src)
		srv.mu.Unlock()
	}

	// Without a header the connection is closed and nothing reaches p.
	before := srv.accepted.Load()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(make([]byte, 10))
	require.Zero(t, n)
	_ = c.Close()
	require.Equal(t, before, srv.accepted.Load())
}

func TestTCPLogFormat(t *testing.T) {
	ss := servers(t, "")
	b, logs := startLB(t, parseCfg(t, globalLog+`
frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    server echo %s
`, ss[0].addr()))
	c, err := net.Dial("tcp", feAddr(t, b, "fe"))
	require.NoError(t, err)
	msg := []byte("hello, echo\n")
	_, err = c.Write(msg)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	back, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, msg, back)
	_ = c.Close()
	line := logs.waitLine(t, tcplogRe.MatchString)
	l := parseLog(t, line)
	require.Equal(t, "127.0.0.1", l.client)
	require.Equal(t, c.LocalAddr().(*net.TCPAddr).Port, l.port)
	_, err = time.Parse("02/Jan/2006:15:04:05.000", l.date)
	require.NoError(t, err)
	require.Equal(t, "fe", l.fe)
	require.Equal(t, "be", l.be)
	require.Equal(t, "echo", l.srv)
	require.Equal(t, 0, l.tw)
	require.GreaterOrEqual(t, l.tc, 0)
	require.GreaterOrEqual(t, l.tt, l.tc)
	require.Equal(t, len(msg), l.bytes)
	require.Equal(t, "--", l.term)
	require.Equal(t, []int{1, 1, 0, 0}, []int{l.ac, l.fc, l.bc, l.sc})
	require.Equal(t, "0", l.retries)
	require.Equal(t, []int{0, 0}, []int{l.sq, l.bq})
}

func TestServerTimeoutLogsSD(t *testing.T) {
	ss := servers(t, "quiet") // answers once, then stays silent
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    timeout server 200ms
    timeout client 5s
    server a %s
`, ss[0].addr()))
	c, name := holdConn(t, feAddr(t, b, "px"))
	require.Equal(t, "quiet", name)
	l := parseLog(t, logs.waitLine(t, tcplogRe.MatchString))
	require.Equal(t, "sD", l.term)
	_ = c.Close()
}

// pushThrough sends n random bytes through addr to an echo server on each
// of conns connections at once and checks every byte comes back. On a
// failure it names each connection that failed, how far it got and when,
// then explain tells what the balancer saw.
func pushThrough(t *testing.T, addr string, conns, n int, explain func()) {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = echoOnce(addr, i, n, start)
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Logf("%d of %d connections to %s failed; the round took %v", failed, conns, addr, time.Since(start).Round(time.Millisecond))
		explain()
		t.FailNow()
	}
}

// echoOnce sends n random bytes to an echo behind addr on connection
// number id, half-closes, and checks that the same bytes come back. Its
// error tells how many bytes went each way and when, counted from start.
func echoOnce(addr string, id, n int, start time.Time) error {
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("conn %d: dial at %v: %w", id, since(), err)
	}
	defer c.Close()
	dialled := since()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	data := make([]byte, n)
	_, _ = rand.Read(data)
	return testnet.CheckEcho(c, data, nil, fmt.Sprintf("conn %d (%s): dialled at %v", id, c.LocalAddr(), dialled), since)
}

// explainTraffic logs what the balancer saw, for a test that moved bytes
// and failed: its live sessions, and every traffic line that did not end
// normally (termination state other than "--").
func explainTraffic(t *testing.T, b *Balancer, logs *safeBuffer) {
	t.Helper()
	lines := trafficLines(logs)
	t.Logf("balancer: %d sessions live, %d traffic lines", b.Sessions(), len(lines))
	terms := map[string]int{}
	for _, s := range lines {
		l := parseLog(t, s)
		terms[l.term]++
		if l.term != "--" {
			t.Logf("abnormal end: %s", s)
		}
	}
	t.Logf("termination states: %v", terms)
	for _, s := range logs.lines() {
		if !tcplogRe.MatchString(s) {
			t.Logf("other log line: %s", s)
		}
	}
}

func TestEndToEndIntegrity(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 700 MiB")
	}
	check := testnet.Snapshot(t)
	echo := newServer(t, "", false)
	logs := &safeBuffer{}
	// The clients, the balancer and the echo server share this process:
	// on a loaded machine (more so under -race) their goroutines can wait
	// seconds for a CPU, long enough for globalLog's 10 s inactivity
	// timeouts to end sessions whose peer simply had not run yet (cD/sD
	// with 0 bytes). This test checks bytes, not timing, so its timeouts
	// match the clients' own two-minute deadline.
	cfg := parseCfg(t, globalLog+`
global
    maxconn 1000
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2m
    timeout client 2m
    timeout server 2m
listen copy
    bind 127.0.0.1:0
    server echo %s
listen splice
    bind 127.0.0.1:0
    option splice-auto
    server echo %s
`, echo.addr(), echo.addr())
	b, err := Start(t.Context(), cfg, Options{Stdout: logs, Stderr: logs})
	require.NoError(t, err)
	explain := func() { explainTraffic(t, b, logs) }
	pushThrough(t, feAddr(t, b, "copy"), 300, 1<<20, explain)
	pushThrough(t, feAddr(t, b, "splice"), 50, 8<<20, explain)
	require.Eventually(t, func() bool { return b.Sessions() == 0 }, time.Minute, 5*time.Millisecond)
	ps := b.pipes.Stats()
	require.Zero(t, ps.InUse)
	if buffer.SpliceSupported {
		require.NotZero(t, ps.Created, "splice-auto used pipes")
	} else {
		require.Zero(t, ps.Created, "no pipes in this build")
	}
	require.NoError(t, b.Close())
	echo.close()
	lines := trafficLines(logs)
	require.Len(t, lines, 350)
	for _, s := range lines {
		l := parseLog(t, s)
		require.Equal(t, "--", l.term, s)
		if l.fe == "splice" {
			require.Equal(t, 8<<20, l.bytes)
		} else {
			require.Equal(t, 1<<20, l.bytes)
		}
	}
	check()
}

func TestCloseLeavesNothing(t *testing.T) {
	check := testnet.Snapshot(t)
	ss := []*backendServer{newServer(t, "a", false)}
	logs := &safeBuffer{}
	b, err := Start(t.Context(), parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    timeout queue 10s
    server a %s maxconn 2 check inter 20ms
`, ss[0].addr()), Options{Stdout: logs, Stderr: logs})
	require.NoError(t, err)
	addr := feAddr(t, b, "px")
	var cs []net.Conn
	for i := 0; i < 2; i++ {
		c, _ := holdConn(t, addr)
		cs = append(cs, c)
	}
	// One more waits in the queue when Close comes.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	cs = append(cs, c)
	be := b.Backend("px")
	require.Eventually(t, func() bool { be.mu.Lock(); defer be.mu.Unlock(); return len(be.queue) == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, 3, b.Sessions())
	require.NoError(t, b.Close())
	require.Zero(t, b.Sessions())
	for _, c := range cs {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadAll(c)
		require.NoError(t, err, "closed by the balancer")
		_ = c.Close()
	}
	ss[0].close()
	check()
	terms := map[string]int{}
	for _, s := range trafficLines(logs) {
		terms[parseLog(t, s).term]++
	}
	require.Equal(t, map[string]int{"KD": 2, "KQ": 1}, terms)
}

func TestShutdownWaitsForConnections(t *testing.T) {
	ss := servers(t, "a")
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %[1]s
frontend fe
    bind 127.0.0.1:0
    default_backend bk
backend bk
    server a %[1]s
`, ss[0].addr()))
	addr := feAddr(t, b, "px")
	c, _ := holdConn(t, addr)
	c2, _ := holdConn(t, feAddr(t, b, "fe"))
	require.NoError(t, c2.Close())
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(t.Context()) }()
	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		c2, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c2.Close()
		}
		return err != nil
	}, 5*time.Second, 5*time.Millisecond)
	select {
	case <-done:
		t.Fatal("Shutdown returned with a live connection")
	case <-time.After(50 * time.Millisecond):
	}
	// The live connection still works until its client leaves.
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, <-done)
	// Each proxy said it stopped, with what it took, as HAProxy says it.
	var stopped []string
	for _, l := range logs.lines() {
		if strings.HasPrefix(l, "Proxy ") {
			stopped = append(stopped, l)
		}
	}
	// px's counts include whatever the refusal probes above got in
	// before its listener closed; fe and bk had one connection each.
	require.Len(t, stopped, 3)
	require.Regexp(t, `^Proxy px stopped \(cumulated conns: FE: [1-9]\d*, BE: [1-9]\d*\)\.$`, stopped[0])
	require.Equal(t, []string{
		"Proxy fe stopped (cumulated conns: FE: 1, BE: 0).",
		"Proxy bk stopped (cumulated conns: FE: 0, BE: 1).",
	}, stopped[1:])
}

var _ = strconv.Itoa
