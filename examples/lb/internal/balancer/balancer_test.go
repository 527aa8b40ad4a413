package balancer

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const globalLog = `
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
`

// tcplogRe parses HAProxy's tcplog format:
// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
var tcplogRe = regexp.MustCompile(`^(\S+):(\d+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(\d+) (\d+) (\S\S) (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+)$`)

type logLine struct {
	client, date, fe, be, srv, term, retries string
	port, tw, tc, tt, bytes                  int
	ac, fc, bc, sc, sq, bq                   int
}

func parseLog(t *testing.T, s string) logLine {
	t.Helper()
	m := tcplogRe.FindStringSubmatch(s)
	require.NotNil(t, m, "not a tcplog line: %q", s)
	n := func(i int) int { v, err := strconv.Atoi(m[i]); require.NoError(t, err); return v }
	return logLine{client: m[1], port: n(2), date: m[3], fe: m[4], be: m[5], srv: m[6], tw: n(7), tc: n(8), tt: n(9), bytes: n(10), term: m[11],
		ac: n(12), fc: n(13), bc: n(14), sc: n(15), retries: m[16], sq: n(17), bq: n(18)}
}

func trafficLines(logs *safeBuffer) []string {
	var out []string
	for _, l := range logs.lines() {
		if tcplogRe.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func servers(t *testing.T, names ...string) []*backendServer {
	var out []*backendServer
	for _, n := range names {
		out = append(out, newServer(t, n, false))
	}
	return out
}

func TestAlgorithms(t *testing.T) {
	tests := []struct {
		name    string
		balance string
		weights [3]int
		want    []string
	}{
		// HAProxy's weighted round robin spreads the heavier server out.
		{"roundrobin", "roundrobin", [3]int{2, 1, 1}, []string{"a", "b", "a", "c", "a", "b", "a", "c"}},
		{"roundrobin equal", "roundrobin", [3]int{1, 1, 1}, []string{"a", "b", "c", "a", "b", "c"}},
		// static-rr walks HAProxy's map: a slot goes to the first server
		// whose score reaches the highest multiple of the total.
		{"static-rr", "static-rr", [3]int{2, 1, 1}, []string{"a", "a", "b", "c", "a", "a", "b", "c"}},
		{"weight zero never used", "roundrobin", [3]int{1, 0, 1}, []string{"a", "c", "a", "c"}},
		// Connections close before the next, so every server is idle each
		// time: leastconn goes round among equals.
		{"leastconn idle", "leastconn", [3]int{1, 1, 1}, []string{"a", "b", "c", "a", "b", "c"}},
		// first without maxconn always takes the lowest id.
		{"first", "first", [3]int{1, 1, 1}, []string{"a", "a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := servers(t, "a", "b", "c")
			b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    balance %s
    server a %s weight %d
    server b %s weight %d
    server c %s weight %d
`, tt.balance, ss[0].addr(), tt.weights[0], ss[1].addr(), tt.weights[1], ss[2].addr(), tt.weights[2]))
			addr := feAddr(t, b, "px")
			var got []string
			for range tt.want {
				got = append(got, ask(t, addr))
				// Wait for the log line, which comes after the server slot
				// is released, so that the next pick sees it free.
				n := len(got)
				require.Eventually(t, func() bool { return len(trafficLines(logs)) >= n }, 5*time.Second, time.Millisecond)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLeastconnAndFirstWithHeldConnections(t *testing.T) {
	ss := servers(t, "a", "b", "c")
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen lc
    bind 127.0.0.1:0
    balance leastconn
    server a %s
    server b %s
    server c %s weight 2
listen fi
    bind 127.0.0.1:0
    balance first
    server a %s maxconn 2
    server b %s maxconn 2
    server c %s maxconn 2
`, ss[0].addr(), ss[1].addr(), ss[2].addr(), ss[0].addr(), ss[1].addr(), ss[2].addr()))
	lc := feAddr(t, b, "lc")
	var held []string
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		c, name := holdConn(t, lc)
		held, conns = append(held, name), append(conns, c)
	}
	// a, b and c idle (key 0), then c has weight 2 so 1 conn on it weighs
	// less than 1 conn on a or b.
	require.Equal(t, []string{"a", "b", "c", "c"}, held)
	_ = conns[1].Close() // b drops to 0 connections: it is the least loaded
	be := b.Backend("lc")
	require.Eventually(t, func() bool { return be.Server("b").CurConns() == 0 }, 5*time.Second, time.Millisecond)
	_, name := holdConn(t, lc)
	require.Equal(t, "b", name)

	fi := feAddr(t, b, "fi")
	var firsts []string
	for i := 0; i < 5; i++ {
		_, name := holdConn(t, fi)
		firsts = append(firsts, name)
	}
	require.Equal(t, []string{"a", "a", "b", "b", "c"}, firsts)
}

func TestSourceHash(t *testing.T) {
	ss := servers(t, "a", "b", "c")
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    balance source
    server a %s weight 1
    server b %s weight 2
    server c %s weight 1
`, ss[0].addr(), ss[1].addr(), ss[2].addr()))
	addr := feAddr(t, b, "px")
	// HAProxy's weight-expanded map over a(1) b(2) c(1).
	slots := []string{"a", "b", "b", "c"}
	seen := map[string]bool{}
	for i := 1; i <= 12; i++ {
		src := netip.MustParseAddr(fmt.Sprintf("127.0.0.%d", i))
		want := slots[SourceHash(src)%4]
		for range 2 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
			c, err := d.Dial("tcp", addr)
			require.NoError(t, err)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			require.Equal(t, want, strings.TrimSpace(line), "source %s", src)
			seen[want] = true
		}
	}
	require.Len(t, seen, 3, "12 sources should reach every server")
	require.Equal(t, uint32(0x7f000001), SourceHash(netip.MustParseAddr("127.0.0.1")))
	require.Equal(t, uint32(0x7f000001), SourceHash(netip.MustParseAddr("::ffff:127.0.0.1")))
	require.Equal(t, uint32(0x20010db8^1), SourceHash(netip.MustParseAddr("2001:db8::1")))
}

var downRe = regexp.MustCompile(`^Server px/a is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 1 active and 1 backup servers left\. 0 sessions active, 0 requeued, 0 remaining in queue\.$`)
var upRe = regexp.MustCompile(`^Server px/a is UP, reason: Layer4 check passed, check duration: \d+ms\. 2 active and 1 backup servers online\. 0 sessions requeued, 0 total in queue\.$`)

func TestHealthChecksBackupAndDisabled(t *testing.T) {
	// Reserve a port for a, then close it so checks are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	aAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ss := servers(t, "b", "bk", "off")
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %s check inter 50ms rise 2 fall 2
    server b %s check inter 50ms fall 1 rise 1
    server off %s disabled
    server bk %s backup check inter 50ms
`, aAddr, ss[0].addr(), ss[2].addr(), ss[1].addr()))
	addr := feAddr(t, b, "px")

	// One failed check at start takes a down, as in HAProxy.
	line := logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/a is DOWN") })
	require.Regexp(t, downRe, line)
	require.False(t, b.Backend("px").Server("a").Up())
	for i := 0; i < 4; i++ {
		require.Equal(t, "b", ask(t, addr), "only b is up and active; off is disabled, bk a backup")
	}
	require.Zero(t, ss[2].accepted.Load(), "a disabled server is never used")

	// a comes back: two good checks (rise 2) bring it up.
	ln, err = net.Listen("tcp", aAddr)
	require.NoError(t, err)
	serveOn(t, ln, "a", false)
	line = logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/a is UP") })
	require.Regexp(t, upRe, line)
	got := map[string]int{}
	for i := 0; i < 4; i++ {
		got[ask(t, addr)]++
	}
	require.Equal(t, map[string]int{"a": 2, "b": 2}, got)

	// With every active server down, the backup takes the traffic.
	b.Backend("px").Server("a").checker.failure(fmt.Errorf("test"), 0)
	b.Backend("px").Server("a").checker.failure(fmt.Errorf("test"), 0)
	ss[0].close()
	logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server px/b is DOWN") })
	require.Equal(t, "bk", ask(t, addr))
	require.Zero(t, ss[2].accepted.Load())
}

func TestNoServerLogsSC(t *testing.T) {
	ss := servers(t, "a")
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %s disabled
`, ss[0].addr()))
	require.Equal(t, "", ask(t, feAddr(t, b, "px")))
	l := parseLog(t, logs.waitLine(t, tcplogRe.MatchString))
	require.Equal(t, "<NOSRV>", l.srv)
	require.Equal(t, "SC", l.term)
	require.Equal(t, -1, l.tc)
	require.Equal(t, -1, l.tw, "never assigned nor queued")
}

// When its last server goes down, a section says so as HAProxy does: a
// listen section is a "proxy", a backend a "backend".
func TestNoServerAvailableEvent(t *testing.T) {
	dead := refusingAddr(t)
	_, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %[1]s check inter 50 fall 1
frontend fe
    bind 127.0.0.1:0
    default_backend bk
backend bk
    server a %[1]s check inter 50 fall 1
`, dead))
	logs.waitLine(t, func(l string) bool { return l == "proxy px has no server available!" })
	logs.waitLine(t, func(l string) bool { return l == "backend bk has no server available!" })
}

func TestMaxconnQueueAndTimeoutQueue(t *testing.T) {
	ss := servers(t, "a")
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    timeout queue 300ms
    server a %s maxconn 1
`, ss[0].addr()))
	addr := feAddr(t, b, "px")
	c1, name := holdConn(t, addr)
	require.Equal(t, "a", name)

	// The second connection waits in the queue and times out: sQ.
	require.Equal(t, "", ask(t, addr))
	l := parseLog(t, logs.waitLine(t, func(s string) bool { return strings.Contains(s, " sQ ") }))
	require.Equal(t, "<NOSRV>", l.srv, "it waited in the backend queue, no server was assigned")
	require.GreaterOrEqual(t, l.tw, 250)
	require.Equal(t, -1, l.tc)
	// As HAProxy counts them: first in line is 1, and beconn counts the
	// connection holding the slot.
	require.Equal(t, []int{0, 1}, []int{l.sq, l.bq})
	require.Equal(t, 1, l.bc)

	// Two more queue, and get the slot in turn as the others leave.
	be := b.Backend("px")
	queued := func(n int) func() bool {
		return func() bool { be.mu.Lock(); defer be.mu.Unlock(); return len(be.queue) == n }
	}
	c3, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c3.Close()
	require.Eventually(t, queued(1), 5*time.Second, time.Millisecond)
	c4, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c4.Close()
	require.Eventually(t, queued(2), 5*time.Second, time.Millisecond)
	port := func(c net.Conn) int { return c.LocalAddr().(*net.TCPAddr).Port }
	lineOf := func(c net.Conn) logLine {
		return parseLog(t, logs.waitLine(t, func(s string) bool {
			return tcplogRe.MatchString(s) && parseLog(t, s).port == port(c)
		}))
	}
	require.NoError(t, c1.Close())
	l = lineOf(c1)
	require.Equal(t, 2, l.bc, "beconn counts the two waiting")
	require.Equal(t, 0, l.sc, "logged before the waiter it woke takes the slot, as HAProxy logs it")
	for i, c := range []net.Conn{c3, c4} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "a\n", line)
		require.NoError(t, c.Close())
		l = lineOf(c)
		require.Equal(t, []int{0, i + 1}, []int{l.sq, l.bq}, "the connection queued in position %d", i+1)
	}
	require.Equal(t, int64(3), ss[0].accepted.Load())
}

// A connection waiting in a server's queue when the server goes down
// moves to the backend queue; its log positions count both queues as
// HAProxy does, each from when it entered it.
func TestQueuePositionAcrossRequeue(t *testing.T) {
	b, _ := startLB(t, parseCfg(t, globalLog+`
backend be
    balance source
    timeout queue 10s
    server a 127.0.0.1:1 maxconn 1
    server c 127.0.0.1:2 maxconn 1
`))
	be := b.Backend("be")
	ctx := context.Background()
	src := netip.MustParseAddr("192.0.2.1")
	queuedOn := func(s *Server, n int) func() bool {
		return func() bool { be.mu.Lock(); defer be.mu.Unlock(); return len(s.queue) == n }
	}
	assignAsync := func() chan assignment {
		ch := make(chan assignment, 1)
		go func() {
			a, err := be.assign(ctx, src, nil, nil, nil, false, nil, Priority{})
			assert.NoError(t, err)
			ch <- a
		}()
		return ch
	}

	first, err := be.assign(ctx, src, nil, nil, nil, false, nil, Priority{})
	require.NoError(t, err)
	h := first.srv
	// The same source hashes to the same full server: it waits in its
	// queue, and is served from there once the first leaves.
	second := assignAsync()
	require.Eventually(t, queuedOn(h, 1), 10*time.Second, time.Millisecond)
	be.release(h)
	a := <-second
	require.Equal(t, h, a.srv)
	require.Equal(t, []int{1, 0}, []int{a.srvQueue, a.beQueue})

	// A third waits on h, which goes down: the backend queue takes it,
	// and the other server serves it.
	third := assignAsync()
	require.Eventually(t, queuedOn(h, 1), 10*time.Second, time.Millisecond)
	be.setState(h, false, "test", 0)
	a = <-third
	require.NotEqual(t, h, a.srv)
	require.Equal(t, []int{1, 1}, []int{a.srvQueue, a.beQueue}, "first in line in each queue")
}
