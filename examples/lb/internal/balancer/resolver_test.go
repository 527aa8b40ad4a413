package balancer

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// resolvFixture is one backend of servers resolved through a resolvers
// section whose answers and clock the test drives.
type resolvFixture struct {
	sec  *resolverSection
	be   *Backend
	now  time.Time
	logs *bytes.Buffer
}

func newResolvFixture(t *testing.T, servers string) *resolvFixture {
	t.Helper()
	text := `resolvers dns
    nameserver ns1 127.0.0.1:53
    timeout resolve 1s
    hold valid 1s
    hold nx 3s
    hold timeout 5s
    hold refused 7s
    hold other 9s
backend web
` + servers
	cfg, err := config.Parse(config.Source{Name: "t.cfg", Data: []byte(text)})
	require.NoError(t, err)
	require.NoError(t, cfg.Resolve(context.Background(), func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil
	}))
	var buf bytes.Buffer
	logs := &logSet{targets: []logTarget{{cfg: config.Log{Format: "raw"}, w: &lockedWriter{w: &buf}}}}
	be := newBackend(cfg.Proxy("web", config.KindBackend), logs)
	start := time.Unix(1000, 0)
	secs := newResolverSections(cfg, []*Backend{be}, start)
	require.Len(t, secs, 1)
	f := &resolvFixture{sec: secs[0], be: be, now: start, logs: &buf}
	f.sec.now = func() time.Time { return f.now }
	return f
}

// answer applies an outcome to the first resolution after d more time.
func (f *resolvFixture) answer(d time.Duration, st dnsStatus, addrs ...string) {
	f.now = f.now.Add(d)
	out := dnsResult{status: st, by: "dns/ns1"}
	for _, a := range addrs {
		out.addrs = append(out.addrs, netip.MustParseAddr(a))
	}
	f.sec.apply(f.sec.res[0], out, f.now)
}

func (f *resolvFixture) state(name string) (addr string, rmaint, usable bool) {
	s := f.be.Server(name)
	f.be.mu.Lock()
	defer f.be.mu.Unlock()
	return s.address(), s.rmaint, s.usable()
}

func TestResolverErrorsWaitTheirHold(t *testing.T) {
	for _, tc := range []struct {
		st     dnsStatus
		hold   time.Duration
		reason string
	}{
		{dnsNX, 3 * time.Second, "DNS NX status"},
		{dnsTimeout, 5 * time.Second, "DNS timeout status"},
		{dnsRefused, 7 * time.Second, "DNS refused status"},
		{dnsOther, 9 * time.Second, "unspecified DNS error"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns\n")
			addr, rmaint, usable := f.state("s1")
			require.Equal(t, "10.0.0.1:80", addr, "libc gave the first address")
			require.False(t, rmaint)
			require.True(t, usable)

			// A valid answer a second in; errors then count from it.
			f.answer(time.Second, dnsValid, "10.0.0.1")
			f.answer(tc.hold-time.Millisecond, tc.st)
			addr, rmaint, _ = f.state("s1")
			require.Equal(t, "10.0.0.1:80", addr, "within hold the address stays")
			require.False(t, rmaint)
			require.Empty(t, f.logs.String())

			f.answer(time.Millisecond, tc.st)
			addr, rmaint, usable = f.state("s1")
			require.Equal(t, ":80", addr, "past hold the server loses its address")
			require.True(t, rmaint)
			require.False(t, usable)
			require.Equal(t, "Server web/s1 is going DOWN for maintenance ("+tc.reason+"). 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.\n"+
				"backend web has no server available!\n", f.logs.String())

			f.logs.Reset()
			f.answer(time.Second, tc.st)
			require.Empty(t, f.logs.String(), "a server already in resolution maintenance stays silent")

			f.answer(time.Second, dnsValid, "10.0.0.2")
			addr, rmaint, usable = f.state("s1")
			require.Equal(t, "10.0.0.2:80", addr)
			require.False(t, rmaint)
			require.True(t, usable)
			require.Equal(t, "web/s1 changed its IP from (none) to 10.0.0.2 by dns/ns1.\n"+
				"Server web/s1 ('app.example') is UP/READY (resolves again).\n"+
				"Server web/s1 administratively READY thanks to valid DNS answer.\n", f.logs.String())
		})
	}
}

func TestResolverAddressChange(t *testing.T) {
	f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns\n")
	f.answer(time.Second, dnsValid, "10.0.0.1")
	require.Empty(t, f.logs.String(), "the same address changes nothing")
	f.answer(time.Second, dnsValid, "10.0.0.9")
	addr, _, usable := f.state("s1")
	require.Equal(t, "10.0.0.9:80", addr)
	require.True(t, usable)
	require.Equal(t, "web/s1 changed its IP from 10.0.0.1 to 10.0.0.9 by dns/ns1.\n", f.logs.String())
}

func TestResolverInitAddrNoneStartsInResolutionMaint(t *testing.T) {
	f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns init-addr none\n")
	addr, rmaint, usable := f.state("s1")
	require.Equal(t, ":80", addr)
	require.True(t, rmaint)
	require.False(t, usable)
	require.False(t, f.be.Server("s1").cfg.Disabled, "resolution maintenance, not configured maintenance")
	f.answer(time.Second, dnsNX)
	require.Empty(t, f.logs.String())
	f.answer(time.Second, dnsValid, "10.0.0.3")
	addr, rmaint, usable = f.state("s1")
	require.Equal(t, "10.0.0.3:80", addr)
	require.False(t, rmaint)
	require.True(t, usable)
}

func TestResolverPickAddr(t *testing.T) {
	v4, v6 := "10.0.0.1", "2001:db8::1"
	for _, tc := range []struct {
		name, opts string
		cur        string
		answer     []string
		want       string
	}{
		{"ipv6 preferred by default", "", "", []string{v4, v6}, v6},
		{"prefer ipv4", "resolve-prefer ipv4", "", []string{v6, v4}, v4},
		{"prefer ipv6, only ipv4 answered", "resolve-prefer ipv6", "", []string{v4}, v4},
		{"resolve-net first", "resolve-prefer ipv4 resolve-net 192.168.0.0/16", "", []string{v4, "192.168.1.1"}, "192.168.1.1"},
		{"current kept among equals", "resolve-prefer ipv4", "10.0.0.2", []string{v4, "10.0.0.2"}, "10.0.0.2"},
		{"first among equals", "resolve-prefer ipv4", "10.0.0.7", []string{v4, "10.0.0.2"}, v4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns "+tc.opts+"\n")
			s := f.be.Server("s1")
			cur := net.JoinHostPort(tc.cur, "80")
			s.addr.Store(&cur)
			var addrs []netip.Addr
			for _, a := range tc.answer {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			got, ok := s.pickAddr(addrs, f.sec.res[0].prefer, []*Server{s})
			require.True(t, ok)
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestResolverPreventsDuplicateAddresses(t *testing.T) {
	f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns resolve-prefer ipv4\n    server s2 app.example:80 resolvers dns resolve-prefer ipv4\n")
	require.Len(t, f.sec.res, 1, "one resolution for both servers")
	// libc gave both 10.0.0.1 at start; s1, first, may not keep an
	// address s2 has and moves; s2 then keeps its own.
	f.answer(time.Second, dnsValid, "10.0.0.1", "10.0.0.2")
	a1, _, _ := f.state("s1")
	a2, _, _ := f.state("s2")
	require.Equal(t, []string{"10.0.0.2:80", "10.0.0.1:80"}, []string{a1, a2})

	f.answer(time.Second, dnsValid, "10.0.0.2")
	a1, r1, _ := f.state("s1")
	a2, r2, _ := f.state("s2")
	require.Equal(t, "10.0.0.2:80", a1)
	require.False(t, r1)
	require.Equal(t, ":80", a2, "s1 has the only address: none is left for s2")
	require.True(t, r2)
	require.Contains(t, f.logs.String(), "Server web/s2 is going DOWN for maintenance (No IP for server ).")

	g := newResolvFixture(t, "    default-server resolve-opts allow-dup-ip\n    server s1 app.example:80 resolvers dns resolve-prefer ipv4\n    server s2 app.example:80 resolvers dns resolve-prefer ipv4\n")
	g.answer(time.Second, dnsValid, "10.0.0.2")
	a1, _, _ = g.state("s1")
	a2, _, _ = g.state("s2")
	require.Equal(t, []string{"10.0.0.2:80", "10.0.0.2:80"}, []string{a1, a2}, "allow-dup-ip shares the address")
}

func TestResolverDueCadence(t *testing.T) {
	f := newResolvFixture(t, "    server s1 app.example:80 resolvers dns\n    server s2 other.example:80 resolvers dns\n")
	require.Len(t, f.sec.res, 2)
	t0 := f.now
	due, next := f.sec.due(t0)
	require.Len(t, due, 2, "every name resolves at once at start")
	require.Equal(t, t0.Add(time.Second), next)

	due[0].busy = true
	f.sec.apply(due[1], dnsResult{status: dnsValid, addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5")}, by: "dns/ns1"}, t0.Add(100*time.Millisecond))
	due, next = f.sec.due(t0.Add(400 * time.Millisecond))
	require.Empty(t, due, "one under way, the other not due before timeout resolve")
	require.Equal(t, t0.Add(1100*time.Millisecond), next)

	due, _ = f.sec.due(t0.Add(1100 * time.Millisecond))
	require.Len(t, due, 1, "due again a timeout resolve after its last ended")
	require.Equal(t, "other.example", due[0].host)
	addr, _, _ := f.state("s2")
	require.Equal(t, "10.0.0.5:80", addr)
}

// testDNS answers queries on a UDP socket by what answer returns for the
// question's type: nil to stay silent.
func testDNS(t *testing.T, answer func(q dnsmessage.Question) *dnsmessage.Message) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			r := answer(m.Questions[0])
			if r == nil {
				continue
			}
			r.ID, r.Response, r.Questions = m.ID, true, m.Questions
			out, err := r.Pack()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); wg.Wait() })
	return pc.LocalAddr().String()
}

func aAnswer(q dnsmessage.Question, ip string) *dnsmessage.Message {
	a := netip.MustParseAddr(ip)
	m := &dnsmessage.Message{}
	h := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	if a.Is4() {
		h.Type = dnsmessage.TypeA
		m.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AResource{A: a.As4()}}}
	} else {
		h.Type = dnsmessage.TypeAAAA
		m.Answers = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}}}
	}
	return m
}

func testClient(t *testing.T, ns ...string) *dnsClient {
	t.Helper()
	rc := &config.Resolvers{Name: "dns", ResolveRetries: 3, TimeoutRetry: 100 * time.Millisecond, AcceptedPayloadSize: 512}
	for i, a := range ns {
		rc.Nameservers = append(rc.Nameservers, config.Nameserver{ID: "ns" + string(rune('1'+i)), Addr: a})
	}
	c, err := newDNSClient(rc, newResolversStats(rc))
	require.NoError(t, err)
	t.Cleanup(c.close)
	return c
}

func TestDNSClientFamilies(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	ns := testDNS(t, func(q dnsmessage.Question) *dnsmessage.Message {
		mu.Lock()
		asked = append(asked, q.Type.String())
		mu.Unlock()
		switch {
		case strings.HasPrefix(q.Name.String(), "nx."):
			return &dnsmessage.Message{Header: dnsmessage.Header{RCode: dnsmessage.RCodeNameError}}
		case strings.HasPrefix(q.Name.String(), "refused."):
			return &dnsmessage.Message{Header: dnsmessage.Header{RCode: dnsmessage.RCodeRefused}}
		case q.Type == dnsmessage.TypeA:
			return aAnswer(q, "10.1.1.1")
		case strings.HasPrefix(q.Name.String(), "both."):
			return aAnswer(q, "2001:db8::5")
		}
		return &dnsmessage.Message{} // no AAAA record
	})
	c := testClient(t, ns)
	ctx := context.Background()
	reset := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := asked
		asked = nil
		return out
	}

	r := c.resolve(ctx, "both.example", "ipv6")
	require.Equal(t, dnsValid, r.status)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::5")}, r.addrs)
	require.Equal(t, "dns/ns1", r.by)
	require.Equal(t, []string{"TypeAAAA"}, reset())

	r = c.resolve(ctx, "v4only.example", "ipv6")
	require.Equal(t, dnsValid, r.status)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("10.1.1.1")}, r.addrs, "no AAAA record: A asked next")
	require.Equal(t, []string{"TypeAAAA", "TypeA"}, reset())

	r = c.resolve(ctx, "both.example", "ipv4")
	require.Equal(t, []netip.Addr{netip.MustParseAddr("10.1.1.1")}, r.addrs)
	require.Equal(t, []string{"TypeA"}, reset())

	start := time.Now()
	require.Equal(t, dnsNX, c.resolve(ctx, "nx.example", "ipv4").status)
	require.Equal(t, []string{"TypeA", "TypeAAAA", "TypeA", "TypeAAAA", "TypeA", "TypeAAAA"}, reset(),
		"each of the three tries asks both families before NX stands")
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "a try starts a timeout retry after the previous one")
	require.Equal(t, dnsRefused, c.resolve(ctx, "refused.example", "ipv4").status)
}

func TestDNSClientRetriesAndTimeouts(t *testing.T) {
	var mu sync.Mutex
	n := 0
	silent := testDNS(t, func(dnsmessage.Question) *dnsmessage.Message {
		mu.Lock()
		n++
		mu.Unlock()
		return nil
	})
	c := testClient(t, silent)
	start := time.Now()
	require.Equal(t, dnsTimeout, c.resolve(context.Background(), "app.example", "ipv4").status)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "three tries of timeout retry")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return n == 3 }, time.Second, 5*time.Millisecond)

	good := testDNS(t, func(q dnsmessage.Question) *dnsmessage.Message { return aAnswer(q, "10.2.2.2") })
	c2 := testClient(t, silent, good)
	r := c2.resolve(context.Background(), "app.example", "ipv4")
	require.Equal(t, dnsValid, r.status)
	require.Equal(t, "dns/ns2", r.by, "the name server that answered")
}

// A running balancer resolves its servers' names through its resolvers
// section: the server left without an address at start (init-addr none)
// gets the one the name server gives, and traffic follows it; closing
// the balancer leaves neither the section's goroutine nor its socket.
func TestResolversRunAndStop(t *testing.T) {
	srv := newServer(t, "s1", false)
	host, port, err := net.SplitHostPort(srv.addr())
	require.NoError(t, err)
	ns := testDNS(t, func(q dnsmessage.Question) *dnsmessage.Message {
		if q.Type == dnsmessage.TypeA {
			return aAnswer(q, host)
		}
		return &dnsmessage.Message{}
	})
	check := testnet.Snapshot(t)
	b, err := Start(context.Background(), parseCfg(t, `resolvers dns
    nameserver ns1 %s
    timeout resolve 50ms
    timeout retry 50ms
listen px
    bind 127.0.0.1:0
    server s1 app.example:%s resolvers dns init-addr none
`, ns, port), Options{Stdout: &safeBuffer{}, Stderr: &safeBuffer{}})
	require.NoError(t, err)
	s := b.backends["px"].Server("s1")
	require.Eventually(t, s.inUse, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, srv.addr(), s.address())
	require.Equal(t, "s1", ask(t, feAddr(t, b, "px")))
	require.NoError(t, b.Close())
	check()
}

// A section resolves its names side by side in its one goroutine: a
// name whose answers do not come does not hold back another.
func TestResolverNamesSideBySide(t *testing.T) {
	f := newResolvFixture(t, "    server s1 slow.example:80 resolvers dns\n    server s2 fast.example:80 resolvers dns\n")
	ns := testDNS(t, func(q dnsmessage.Question) *dnsmessage.Message {
		if strings.HasPrefix(q.Name.String(), "slow.") {
			return nil
		}
		return aAnswer(q, "10.9.9.9")
	})
	rc := *f.sec.cfg
	rc.Nameservers = []config.Nameserver{{ID: "ns1", Addr: ns}}
	rc.TimeoutRetry = time.Second
	f.sec.cfg = &rc
	f.sec.now = time.Now
	c, err := newDNSClient(&rc, newResolversStats(&rc))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.sec.run(ctx, c) }()
	start := time.Now()
	require.Eventually(t, func() bool { a, _, _ := f.state("s2"); return a == "10.9.9.9:80" }, 5*time.Second, 5*time.Millisecond)
	require.Less(t, time.Since(start), 900*time.Millisecond, "resolved within the slow name's first try")
	f.be.mu.Lock()
	require.True(t, f.sec.res[0].busy, "the slow name is still being asked")
	f.be.mu.Unlock()
	cancel()
	c.close()
	<-done
}
