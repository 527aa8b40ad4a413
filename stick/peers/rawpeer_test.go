package peers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

// patience bounds every wait of these tests for something that must
// happen: it only turns a hang into a failure, nothing is timed against it.
const patience = 10 * time.Second

// setTimings shortens the protocol's timers for one test (0 keeps one),
// and puts them back when the test ends, after the Sections it makes
// next are closed. Such tests must not run in parallel.
func setTimings(t *testing.T, heartbeat, reconnect, resync time.Duration) {
	t.Helper()
	oldHB, oldRC, oldRS := heartbeatEvery, reconnectAfter, resyncTimeout
	if heartbeat > 0 {
		heartbeatEvery = heartbeat
	}
	if reconnect > 0 {
		reconnectAfter = reconnect
	}
	if resync > 0 {
		resyncTimeout = resync
	}
	t.Cleanup(func() { heartbeatEvery, reconnectAfter, resyncTimeout = oldHB, oldRC, oldRS })
}

// logBook keeps a Section's log lines.
type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBook) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *logBook) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *logBook) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// wait polls until a line contains one of subs.
func (l *logBook) wait(t testing.TB, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		for _, s := range subs {
			if l.count(s) > 0 {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", subs, l)
}

// eventually polls cond until it holds.
func eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t testing.TB) string {
	return fmt.Sprintf("127.0.0.1:%d", testnet.FreePorts(t, 1)[0])
}

// rawSection is a started Section named "s" whose remote peers ("raw",
// and more if asked) are played by the test over raw connections. The
// Section's own connections to them are refused.
type rawSection struct {
	sec  *Section
	addr string
	tabs []*stick.Table
	log  *logBook
}

func startRawSection(t *testing.T, defs [][2]string, peers ...string) *rawSection {
	t.Helper()
	if len(peers) == 0 {
		peers = []string{"raw"}
	}
	rs := &rawSection{log: &logBook{}}
	for _, d := range defs {
		rs.tabs = append(rs.tabs, newTable(t, d[0], d[1]))
	}
	var ps []Peer
	for _, p := range peers {
		ps = append(ps, Peer{Name: p, Addr: closedAddr(t)})
	}
	sec, err := New(Config{Name: "p", Local: "s", Peers: ps, Tables: rs.tabs, Logf: rs.log.logf})
	require.NoError(t, err)
	t.Cleanup(func() { sec.Close() })
	ln := testnet.Listen(t)
	rs.sec, rs.addr = sec, ln.Addr().String()
	sec.Start(ln)
	return rs
}

// rawMsg is one message as read off the wire.
type rawMsg struct {
	class, typ byte
	body       []byte
}

func (m rawMsg) is(class, typ byte) bool { return m.class == class && m.typ == typ }

func (m rawMsg) String() string {
	return fmt.Sprintf("%s [% x]", msgName(m.class, m.typ), m.body)
}

// rawPeer is the far end of a connection with a Section, written by hand.
type rawPeer struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, c: c, br: bufio.NewReaderSize(c, 1<<16)}
}

// hello connects to rs as peer name and completes the hello.
func (rs *rawSection) hello(t testing.TB, name string) *rawPeer {
	t.Helper()
	p := dialRaw(t, rs.addr)
	p.send([]byte("HAProxyS 2.1\ns\n" + name + " 4242 1\n"))
	require.Equal(t, "200", p.line())
	return p
}

func (p *rawPeer) send(parts ...[]byte) {
	p.t.Helper()
	p.c.SetWriteDeadline(time.Now().Add(patience))
	_, err := p.c.Write(cat(parts...))
	require.NoError(p.t, err)
}

// line reads a status line.
func (p *rawPeer) line() string {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(patience))
	s, err := p.br.ReadString('\n')
	require.NoError(p.t, err, "reading a status line")
	return strings.TrimSuffix(s, "\n")
}

// next reads one message.
func (p *rawPeer) next() (rawMsg, error) {
	p.c.SetReadDeadline(time.Now().Add(patience))
	var m rawMsg
	var hdr [2]byte
	if _, err := io.ReadFull(p.br, hdr[:]); err != nil {
		return m, err
	}
	m.class, m.typ = hdr[0], hdr[1]
	if m.typ&0x80 == 0 {
		return m, nil
	}
	var lb []byte
	for {
		c, err := p.br.ReadByte()
		if err != nil {
			return m, err
		}
		lb = append(lb, c)
		if (len(lb) == 1 && c < 0xf0) || (len(lb) > 1 && c < 0x80) {
			break
		}
	}
	r := reader{b: lb}
	n := r.varint()
	if r.err != nil {
		return m, r.err
	}
	m.body = make([]byte, n)
	_, err := io.ReadFull(p.br, m.body)
	return m, err
}

// until reads messages until one satisfies ok, and returns it with those
// read before it.
func (p *rawPeer) until(ok func(rawMsg) bool, what string) (rawMsg, []rawMsg) {
	p.t.Helper()
	var seen []rawMsg
	for {
		m, err := p.next()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v after %v", what, err, seen)
		}
		if ok(m) {
			return m, seen
		}
		seen = append(seen, m)
	}
}

func (p *rawPeer) untilMsg(class, typ byte) []rawMsg {
	p.t.Helper()
	_, seen := p.until(func(m rawMsg) bool { return m.is(class, typ) }, msgName(class, typ))
	return seen
}

// closed reads until the Section closes the connection and returns what
// it sent before.
func (p *rawPeer) closed() []rawMsg {
	p.t.Helper()
	var seen []rawMsg
	for {
		m, err := p.next()
		if err == nil {
			seen = append(seen, m)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			p.t.Fatalf("the connection stays open; received %v", seen)
		}
		return seen
	}
}

// sentError reads until the Section closes and checks that the last thing
// it sent was the error message code.
func (p *rawPeer) sentError(code byte) {
	p.t.Helper()
	msgs := p.closed()
	require.NotEmpty(p.t, msgs)
	require.Equal(p.t, rawMsg{class: classError, typ: code}, msgs[len(msgs)-1], "received %v", msgs)
	for _, m := range msgs[:len(msgs)-1] {
		require.NotEqual(p.t, byte(classError), m.class, "received %v", msgs)
	}
}

// tableMsg builds a table message with a body.
func tableMsg(typ byte, body []byte) []byte { return appendMsg(nil, classTable, typ, body) }

// updateKey returns the key of an update message from a table with
// fixed-size keys of klen bytes, and its id (0 for incremental forms).
func updateKey(m rawMsg, klen int) (key []byte, id uint32, expire uint32) {
	r := reader{b: m.body}
	if m.typ == msgUpdate || m.typ == msgUpdateTimed {
		id = r.u32()
	}
	if m.typ == msgUpdateTimed || m.typ == msgIncUpdateTimed {
		expire = r.u32()
	}
	return r.bytes(uint64(klen)), id, expire
}

func isUpdate(m rawMsg) bool {
	return m.class == classTable && (m.typ == msgUpdate || m.typ == msgIncUpdate || m.typ == msgUpdateTimed || m.typ == msgIncUpdateTimed)
}
