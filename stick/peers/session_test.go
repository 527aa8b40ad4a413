package peers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

var oneTable = [][2]string{{"t1", "type ip size 1k expire 1m store gpc0,http_req_rate(10s)"}}

// t1Def is the definition a peer sends for oneTable's t1, as its table 7.
func t1Def() []byte {
	return tableMsg(msgDefine, defBody(7, "t1", wireKeyIPv4, 4, bit(2, 10), 60000, 10, 10000))
}

// t1Update is an update of t1 (after t1Def) setting gpc0 of key.
func t1Update(id uint32, key []byte, gpc0 uint64) []byte {
	return tableMsg(msgUpdate, cat(appendU32(nil, id), key, varints(gpc0, 0, 0, 0)))
}

// TestHelloRefusals sends invalid hellos and checks the status the
// Section answers, and that it then closes the connection. Each hello
// stops at the line that is refused, so that the Section closes with
// nothing left unread.
func TestHelloRefusals(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	for _, c := range []struct {
		name, hello, status string
	}{
		{"not HAProxyS", "HTTP/1.0 200\n", "501"},
		{"no space", "HAProxyS\n", "501"},
		{"tab", "HAProxyS\t2.1\n", "501"},
		{"lower case", "haproxys 2.1\n", "501"},
		{"version 3.0", "HAProxyS 3.0\n", "502"},
		{"version 2.2", "HAProxyS 2.2\n", "502"},
		{"version 1.1", "HAProxyS 1.1\n", "502"},
		{"version 2", "HAProxyS 2\n", "502"},
		{"version 2.x", "HAProxyS 2.x\n", "502"},
		{"version -2.1", "HAProxyS -2.1\n", "502"},
		{"wrong target", "HAProxyS 2.1\nother\n", "503"},
		{"target with a trailing space", "HAProxyS 2.1\ns \n", "503"},
		{"unknown sender", "HAProxyS 2.1\ns\nstranger 1 1\n", "504"},
		{"sender is the local peer", "HAProxyS 2.1\ns\ns 1 1\n", "504"},
		{"no pid", "HAProxyS 2.1\ns\nraw\n", "501"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := dialRaw(t, rs.addr)
			p.send([]byte(c.hello))
			require.Equal(t, c.status, p.line())
			require.Empty(t, p.closed(), "messages after a refused hello")
		})
	}
	require.Equal(t, 15, rs.log.count("refused: status"), rs.log.String())
	require.Zero(t, rs.log.count("established"))
}

// TestHelloAccepted checks the hellos that are accepted: version 2.1 and
// 2.0, with CRLF line ends, pid and relative pid ignored.
func TestHelloAccepted(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	for i, hello := range []string{
		"HAProxyS 2.1\ns\nraw 1 1\n",
		"HAProxyS 2.0\ns\nraw 1 1\n",
		"HAProxyS 2.1\r\ns\r\nraw 99999 x\r\n",
		"HAProxyS 2.1\ns\nraw \n",
	} {
		p := dialRaw(t, rs.addr)
		p.send([]byte(hello))
		require.Equal(t, "200", p.line(), "%q", hello)
		// In message mode: updates are taken.
		// A value of its own per hello: the update is this session's.
		p.send(t1Def(), t1Update(1, ip("10.9.9.9"), uint64(100+i)))
		waitValue(t, rs.tabs[0], ip("10.9.9.9"), stick.DataGPC0, int64(100+i))
		p.c.Close()
	}
	require.Zero(t, rs.log.count("refused: status"))
}

// TestSizeLimit checks that a body longer than 16384 bytes gets the
// size-limit error and a close, and that one of 16384 bytes is read.
func TestSizeLimit(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	// An unknown class, so the body is skipped.
	p.send(appendMsg(nil, 7, 0x80, make([]byte, maxBody)))
	p.send(t1Def(), t1Update(1, ip("10.0.0.1"), 5))
	waitValue(t, rs.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 5)
	// One more byte: the length alone is sent, the Section must not wait
	// for the body.
	p.send([]byte{classTable, msgUpdate}, AppendVarint(nil, maxBody+1))
	p.sentError(errSize)
	rs.log.wait(t, "exceeds")

	// A length on more than 5 bytes is a protocol error.
	p = rs.hello(t, "raw")
	p.send([]byte{classTable, msgUpdate, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	p.sentError(errProto)
}

// TestProtocolErrors checks that malformed messages get the protocol
// error and a close.
func TestProtocolErrors(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	for _, c := range []struct {
		name string
		msgs [][]byte
	}{
		{"truncated update", [][]byte{t1Def(), tableMsg(msgUpdate, []byte{0, 0})}},
		{"update cut in its values", [][]byte{t1Def(), tableMsg(msgUpdate, cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1, 2)))}},
		{"truncated timed update", [][]byte{t1Def(), tableMsg(msgIncUpdateTimed, []byte{0, 0, 0, 9, 10, 0})}},
		{"truncated definition", [][]byte{tableMsg(msgDefine, []byte{1, 2, 't', '1', 4})}},
		{"unknown data type", [][]byte{tableMsg(msgDefine, defBody(1, "t1", wireKeyIPv4, 4, bit(2, 40), 60000))}},
		{"truncated ack", [][]byte{tableMsg(msgAck, []byte{1, 0, 0})}},
		{"empty switch", [][]byte{tableMsg(msgSwitch, nil)}},
		{"reserved class", [][]byte{{classReserve, 0}}},
		{"reserved class with a body", [][]byte{{classReserve, 0x80, 1, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			closed := rs.log.count("session with raw closed")
			p := rs.hello(t, "raw")
			p.send(c.msgs...)
			p.sentError(errProto)
			// Let the session go before the next one comes: a newer
			// session would otherwise replace it, and its end would not
			// be logged.
			eventually(t, func() bool { return rs.log.count("session with raw closed") == closed+1 }, "session not closed:\n%s", rs.log)
		})
	}
	// Nothing was stored.
	require.Zero(t, rs.tabs[0].Len())
}

// TestIgnoredMessages sends messages a peer must skip: other classes,
// received errors, unknown table and control types. The session goes
// on: a later update is stored and acknowledged, and no error is sent.
func TestIgnoredMessages(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	p.send(
		[]byte{5, 1},
		appendMsg(nil, 5, 0x80, []byte{1, 2, 3}),
		appendMsg(nil, 200, 0xff, nil),
		[]byte{classError, errProto},
		[]byte{classError, errSize},
		appendMsg(nil, classError, 0x80, []byte{9}),
		tableMsg(0x87, []byte{1, 2}),
		tableMsg(0xff, nil),
		[]byte{classTable, 0x05},
		[]byte{classControl, 5}, // unknown control types, as HAProxy does
		[]byte{classControl, 0x7f},
		[]byte{classControl, ctrlHeartbeat},
		t1Def(),
		// Updates before any definition, or for an unknown table, are
		// dropped; a switch to an unknown id drops them too.
		tableMsg(msgSwitch, []byte{3}),
		t1Update(1, ip("10.0.0.9"), 9),
		tableMsg(msgSwitch, []byte{7}),
		t1Update(0x01020304, ip("10.0.0.1"), 5),
	)
	ack, seen := p.until(func(m rawMsg) bool { return m.is(classTable, msgAck) }, "an ack")
	for _, m := range seen {
		require.NotEqual(t, byte(classError), m.class, "%v\n%s", seen, rs.log)
	}
	// The ack names the peer's table id, 7, and the update's id.
	require.Equal(t, cat([]byte{7}, appendU32(nil, 0x01020304)), ack.body)
	require.Equal(t, int64(5), lookup(t, rs.tabs[0], ip("10.0.0.1")).Get(stick.DataGPC0))
	_, err := rs.tabs[0].Lookup(ip("10.0.0.9"))
	require.ErrorIs(t, err, stick.ErrNotFound)
	require.Zero(t, rs.log.count("session with raw closed"), rs.log.String())
}

// TestHeartbeatSent checks that an idle session sends 00 04.
func TestHeartbeatSent(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 20*time.Millisecond, 0, 0)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	for range 3 {
		// Nothing else is due once the resync request went out.
		seen := p.untilMsg(classControl, ctrlHeartbeat)
		for _, m := range seen {
			require.True(t, m.is(classControl, ctrlResyncRequest), "%v", seen)
		}
	}
}

// TestSilentPeerDropped checks that a peer that says nothing after its
// hello is dropped after two liveness windows.
func TestSilentPeerDropped(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, time.Hour, 50*time.Millisecond, 0)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	p.closed()
	rs.log.wait(t, "session with raw (")
	rs.log.wait(t, "session with raw closed")
}

// TestHeartbeatsKeepSessionAlive checks that a peer that only sends
// heartbeats, more often than the liveness window, is kept for many
// windows.
func TestHeartbeatsKeepSessionAlive(t *testing.T) {
	testnet.LeakCheck(t)
	const window = 250 * time.Millisecond
	setTimings(t, time.Hour, window, 0)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	done := make(chan struct{})
	var drained sync.WaitGroup
	drained.Add(1)
	go func() {
		// Drain what the Section sends.
		defer drained.Done()
		for {
			if _, err := p.next(); err != nil {
				close(done)
				return
			}
		}
	}()
	tick := time.NewTicker(window / 10)
	defer tick.Stop()
	for range 40 { // four windows, twice the liveness limit
		<-tick.C
		p.send([]byte{classControl, ctrlHeartbeat})
	}
	select {
	case <-done:
		t.Fatalf("the session was dropped while the peer sent heartbeats:\n%s", rs.log)
	default:
	}
	p.send(t1Def(), t1Update(1, ip("10.0.0.1"), 1))
	waitValue(t, rs.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)
	require.Zero(t, rs.log.count("session with raw closed"), rs.log.String())
	p.c.Close()
	drained.Wait()
}

// TestLearnFromRawTeacher plays a teacher: the Section asks for a resync,
// stores the lesson's timed updates, confirms the end of the lesson and
// is then synced, long before its resync timer.
func TestLearnFromRawTeacher(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, time.Hour)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	p.untilMsg(classControl, ctrlResyncRequest)
	st := rs.sec.Status()
	require.Equal(t, []PeerStatus{{Name: "raw", Addr: st[0].Addr, Connected: true, Learning: true}}, st)
	require.False(t, rs.sec.Synced())
	p.send(t1Def(),
		tableMsg(msgUpdateTimed, cat(appendU32(nil, 10), appendU32(nil, 5000), ip("10.0.0.1"), varints(1, 0, 0, 0))),
		tableMsg(msgIncUpdateTimed, cat(appendU32(nil, 999999), ip("10.0.0.2"), varints(2, 0, 0, 0))),
		tableMsg(msgIncUpdate, cat(ip("10.0.0.3"), varints(3, 0, 0, 0))),
		[]byte{classControl, ctrlResyncFinished})
	// The Section confirms the lesson and acknowledges its last update
	// (10, then 11 and 12), in either order.
	confirmed, acked := false, false
	p.until(func(m rawMsg) bool {
		confirmed = confirmed || m.is(classControl, ctrlResyncConfirm)
		acked = acked || m.is(classTable, msgAck) && bytes.Equal(m.body, cat([]byte{7}, appendU32(nil, 12)))
		return confirmed && acked
	}, "the confirmation and the ack of update 12")
	eventually(t, rs.sec.Synced, "not synced after a full lesson")
	rs.log.wait(t, "tables learned from peer raw")
	e1 := lookup(t, rs.tabs[0], ip("10.0.0.1"))
	require.Equal(t, int64(1), e1.Get(stick.DataGPC0))
	require.LessOrEqual(t, e1.ExpiresIn(), uint32(5000))
	e2 := lookup(t, rs.tabs[0], ip("10.0.0.2"))
	require.Equal(t, int64(2), e2.Get(stick.DataGPC0))
	require.Greater(t, e2.ExpiresIn(), uint32(60000), "the timed expiry goes beyond the table's 60000, as in HAProxy 2.6")
	require.LessOrEqual(t, e2.ExpiresIn(), uint32(999999))
	require.Equal(t, int64(3), lookup(t, rs.tabs[0], ip("10.0.0.3")).Get(stick.DataGPC0))
	eventually(t, func() bool { return !rs.sec.Status()[0].Learning }, "still learning")
}

// TestPartialLesson checks that a partial lesson is confirmed but does
// not end the wait for a full one.
func TestPartialLesson(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, time.Hour)
	rs := startRawSection(t, oneTable)
	p := rs.hello(t, "raw")
	p.untilMsg(classControl, ctrlResyncRequest)
	p.send(t1Def(), t1Update(1, ip("10.0.0.1"), 1), []byte{classControl, ctrlResyncPartial})
	p.untilMsg(classControl, ctrlResyncConfirm)
	require.False(t, rs.sec.Synced())
	require.Equal(t, int64(1), lookup(t, rs.tabs[0], ip("10.0.0.1")).Get(stick.DataGPC0))
	// A FINISHED nobody asked for is confirmed too, and changes nothing.
	p.send([]byte{classControl, ctrlResyncFinished})
	p.untilMsg(classControl, ctrlResyncConfirm)
	require.False(t, rs.sec.Synced())
}

// TestTeacherSessionReplaced checks that a lesson survives its session
// being replaced by a newer one with the same peer: the Section asks
// again on the new session.
func TestTeacherSessionReplaced(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, time.Hour)
	rs := startRawSection(t, oneTable)
	p1 := rs.hello(t, "raw")
	p1.untilMsg(classControl, ctrlResyncRequest)
	p2 := rs.hello(t, "raw")
	p1.closed()
	p2.untilMsg(classControl, ctrlResyncRequest)
	p2.send([]byte{classControl, ctrlResyncFinished})
	p2.untilMsg(classControl, ctrlResyncConfirm)
	eventually(t, rs.sec.Synced, "not synced after a full lesson")
}

// TestTeacherLostAnotherAsked checks that when the teacher's session
// breaks during the lesson, another connected peer is asked.
func TestTeacherLostAnotherAsked(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, time.Hour)
	rs := startRawSection(t, oneTable, "raw1", "raw2")
	p1 := rs.hello(t, "raw1")
	p1.untilMsg(classControl, ctrlResyncRequest)
	p2 := rs.hello(t, "raw2")
	eventually(t, func() bool { return rs.sec.Status()[1].Connected }, "raw2 not connected")
	p1.c.Close()
	p2.untilMsg(classControl, ctrlResyncRequest)
	p2.send([]byte{classControl, ctrlResyncFinished})
	p2.untilMsg(classControl, ctrlResyncConfirm)
	eventually(t, rs.sec.Synced, "not synced after a full lesson")
}

// syncedRawSection starts a rawSection and waits until its resync timer
// has ended the wait for a lesson, so that it teaches full lessons.
func syncedRawSection(t *testing.T, defs [][2]string, before func(*rawSection)) *rawSection {
	t.Helper()
	setTimings(t, 0, 0, time.Millisecond)
	rs := &rawSection{log: &logBook{}}
	for _, d := range defs {
		rs.tabs = append(rs.tabs, newTable(t, d[0], d[1]))
	}
	if before != nil {
		before(rs)
	}
	sec, err := New(Config{Name: "p", Local: "s", Peers: []Peer{{Name: "raw", Addr: closedAddr(t)}}, Tables: rs.tabs, Logf: rs.log.logf})
	require.NoError(t, err)
	t.Cleanup(func() { sec.Close() })
	ln := testnet.Listen(t)
	rs.sec, rs.addr = sec, ln.Addr().String()
	sec.Start(ln)
	// Waiting for the line orders the timer's last read of resyncTimeout
	// before the test's next write of it.
	rs.log.wait(t, "no peer taught")
	require.True(t, sec.Synced())
	return rs
}

// TestTeachRawLearner plays a learner: after its resync request the
// Section sends every entry, its own and those it learned, as timed
// updates, then RESYNC FINISHED; after the confirmation it is back to
// plain live updates.
func TestTeachRawLearner(t *testing.T) {
	testnet.LeakCheck(t)
	rs := syncedRawSection(t, oneTable, func(rs *rawSection) {
		set(t, rs.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)
		set(t, rs.tabs[0], ip("10.0.0.2"), stick.DataGPC0, 2)
	})
	p := rs.hello(t, "raw")
	// The Section pushes its own entries live; one learned from the peer
	// is not sent back.
	p.send(t1Def(), t1Update(1, ip("10.0.0.3"), 3))
	waitValue(t, rs.tabs[0], ip("10.0.0.3"), stick.DataGPC0, 3)
	p.send([]byte{classControl, ctrlResyncRequest})
	seen := p.untilMsg(classControl, ctrlResyncFinished)
	require.True(t, rs.sec.Status()[0].Teaching, "teaching ends with the confirmation")

	var timed [][]byte
	for _, m := range seen {
		if !isUpdate(m) {
			continue
		}
		key, _, exp := updateKey(m, 4)
		switch m.typ {
		case msgUpdateTimed, msgIncUpdateTimed:
		default:
			if len(timed) > 0 {
				t.Fatalf("a live update %v in the lesson", m)
			}
			// Live pushes of the Section's own entries, before the
			// request was read.
			require.NotEqual(t, ip("10.0.0.3"), key, "a learned entry was pushed back live")
			continue
		}
		require.Greater(t, exp, uint32(0))
		require.LessOrEqual(t, exp, uint32(60000))
		timed = append(timed, key)
	}
	sort.Slice(timed, func(i, j int) bool { return bytes.Compare(timed[i], timed[j]) < 0 })
	require.Equal(t, [][]byte{ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")}, timed)

	p.send([]byte{classControl, ctrlResyncConfirm})
	eventually(t, func() bool { return !rs.sec.Status()[0].Teaching }, "still teaching after the confirmation")
	set(t, rs.tabs[0], ip("10.0.0.4"), stick.DataGPC0, 4)
	m, _ := p.until(func(m rawMsg) bool {
		if !isUpdate(m) {
			return false
		}
		k, _, _ := updateKey(m, 4)
		return bytes.Equal(k, ip("10.0.0.4"))
	}, "the live update of 10.0.0.4")
	require.Contains(t, []byte{msgUpdate, msgIncUpdate}, m.typ, "a live update after the lesson is timed")
}

// TestTeachPartialWhenNotSynced checks that a Section that has not
// learned its tables itself answers a resync with RESYNC PARTIAL.
func TestTeachPartialWhenNotSynced(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, time.Hour)
	rs := startRawSection(t, oneTable)
	set(t, rs.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)
	p := rs.hello(t, "raw")
	p.send([]byte{classControl, ctrlResyncRequest})
	seen := p.untilMsg(classControl, ctrlResyncPartial)
	var n int
	for _, m := range seen {
		require.False(t, m.is(classControl, ctrlResyncFinished))
		if m.typ == msgUpdateTimed || m.typ == msgIncUpdateTimed {
			n++
		}
	}
	require.Equal(t, 1, n, "%v", seen)
}

// TestAckResumesPushes checks that what a peer acknowledged is not sent
// again after a reconnection, and that an acknowledgement the table
// cannot have given (from before a restart) makes it send everything.
func TestAckResumesPushes(t *testing.T) {
	testnet.LeakCheck(t)
	rs := syncedRawSection(t, oneTable, func(rs *rawSection) {
		for i := range 3 {
			set(t, rs.tabs[0], ip(fmt.Sprintf("10.0.0.%d", i+1)), stick.DataGPC0, int64(i+1))
		}
	})
	keysUntil := func(p *rawPeer, last []byte) [][]byte {
		t.Helper()
		var keys [][]byte
		p.until(func(m rawMsg) bool {
			if !isUpdate(m) {
				return false
			}
			k, _, _ := updateKey(m, 4)
			keys = append(keys, k)
			return bytes.Equal(k, last)
		}, fmt.Sprintf("the update of %v", last))
		return keys
	}
	p := rs.hello(t, "raw")
	require.Equal(t, [][]byte{ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")}, keysUntil(p, ip("10.0.0.3")))
	_, local := rs.tabs[0].LastUpdate()
	require.Equal(t, uint32(3), local)
	// Ack of update 2 of the Section's table 1.
	p.send(tableMsg(msgAck, cat([]byte{1}, appendU32(nil, 2))))
	r := rs.sec.remotes["raw"]
	eventually(t, func() bool { return r.acked[0].Load() == 2 }, "ack not recorded")
	p.c.Close()

	p = rs.hello(t, "raw")
	require.Equal(t, [][]byte{ip("10.0.0.3")}, keysUntil(p, ip("10.0.0.3")), "acknowledged updates are sent again")
	p.send(tableMsg(msgAck, cat([]byte{1}, appendU32(nil, 3))))
	eventually(t, func() bool { return r.acked[0].Load() == 3 }, "ack not recorded")
	// Acks for tables the Section does not have are ignored.
	p.send(tableMsg(msgAck, cat([]byte{2}, appendU32(nil, 3))), tableMsg(msgAck, cat([]byte{0}, appendU32(nil, 3))))
	p.c.Close()

	p = rs.hello(t, "raw")
	set(t, rs.tabs[0], ip("10.0.0.4"), stick.DataGPC0, 4)
	require.Equal(t, [][]byte{ip("10.0.0.4")}, keysUntil(p, ip("10.0.0.4")))
	// An ack from the future: the peer talked to an earlier process.
	p.send(tableMsg(msgAck, cat([]byte{1}, appendU32(nil, 1000))))
	eventually(t, func() bool { return r.acked[0].Load() == 1000 }, "ack not recorded")
	p.c.Close()

	p = rs.hello(t, "raw")
	require.Len(t, keysUntil(p, ip("10.0.0.4")), 4)
}

// sectionSet builds Sections over a shared set of listeners.
type sectionSet struct {
	t   *testing.T
	lns map[string]net.Listener
}

func (ss *sectionSet) addr(name string) string { return ss.lns[name].Addr().String() }

// section makes Section local with the given peers (and dial hook) and
// starts it on its listener.
func (ss *sectionSet) section(local string, tabs []*stick.Table, log *logBook, dial func(context.Context, string) (net.Conn, error), peers ...string) *Section {
	t := ss.t
	t.Helper()
	var ps []Peer
	for _, p := range peers {
		ps = append(ps, Peer{Name: p, Addr: ss.addr(p)})
	}
	sec, err := New(Config{Name: "p", Local: local, Peers: ps, Tables: tabs, Logf: log.logf, Dial: dial})
	require.NoError(t, err)
	t.Cleanup(func() { sec.Close() })
	return sec
}

// TestResyncThroughAPeer checks the lesson between Sections: b starts
// after a, which already holds entries, its own and one it learned from
// c, which b does not know. b gets them all through the lesson, and is
// synced when a tells it the lesson was full, long before its resync
// timer.
func TestResyncThroughAPeer(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, 0, 0, 50*time.Millisecond)
	ss := &sectionSet{t: t, lns: map[string]net.Listener{"a": testnet.Listen(t), "b": testnet.Listen(t), "c": testnet.Listen(t)}}
	var tabs [3][]*stick.Table
	for i := range tabs {
		tabs[i] = []*stick.Table{newTable(t, "t1", oneTable[0][1]), newTable(t, "t2", "type string len 8 size 100 expire 1m store gpt0")}
	}
	logA, logB, logC := &logBook{}, &logBook{}, &logBook{}
	set(t, tabs[0][0], ip("10.0.0.1"), stick.DataGPC0, 1)
	set(t, tabs[2][0], ip("10.0.0.3"), stick.DataGPC0, 3)
	set(t, tabs[2][1], []byte("carol"), stick.DataGPT0, 33)
	a := ss.section("a", tabs[0], logA, nil, "b", "c")
	c := ss.section("c", tabs[2], logC, nil, "a")
	a.Start(ss.lns["a"])
	c.Start(ss.lns["c"])
	waitValue(t, tabs[0][0], ip("10.0.0.3"), stick.DataGPC0, 3)
	waitValue(t, tabs[0][1], []byte("carol"), stick.DataGPT0, 33)
	// Both are synced: by a lesson or by their timers.
	logA.wait(t, "no peer taught", "tables learned")
	logC.wait(t, "no peer taught", "tables learned")
	require.NoError(t, c.Close())
	set(t, tabs[0][1], []byte("alice"), stick.DataGPT0, 11)

	resyncTimeout = time.Hour
	b := ss.section("b", tabs[1], logB, nil, "a")
	b.Start(ss.lns["b"])
	eventually(t, b.Synced, "b did not learn from a:\n%s", logB)
	logB.wait(t, "tables learned from peer a")
	// Everything arrived before the end of the lesson.
	for _, kv := range []struct {
		tab  int
		key  []byte
		dt   stick.DataType
		want int64
	}{
		{0, ip("10.0.0.1"), stick.DataGPC0, 1},
		{0, ip("10.0.0.3"), stick.DataGPC0, 3},
		{1, []byte("carol"), stick.DataGPT0, 33},
		{1, []byte("alice"), stick.DataGPT0, 11},
	} {
		require.Equal(t, kv.want, lookup(t, tabs[1][kv.tab], kv.key).Get(kv.dt), "%s", kv.key)
	}
	require.Equal(t, 2, tabs[1][0].Len())
	require.Equal(t, 2, tabs[1][1].Len())
	// And live updates follow.
	set(t, tabs[1][0], ip("10.0.0.2"), stick.DataGPC0, 2)
	waitValue(t, tabs[0][0], ip("10.0.0.2"), stick.DataGPC0, 2)
	set(t, tabs[0][1], []byte("bob"), stick.DataGPT0, 22)
	waitValue(t, tabs[1][1], []byte("bob"), stick.DataGPT0, 22)
}

// sessConn returns the connection of sec's current session with peer,
// nil if none.
func sessConn(sec *Section, peer string) net.Conn {
	sec.mu.Lock()
	defer sec.mu.Unlock()
	if s := sec.remotes[peer].sess; s != nil {
		return s.c
	}
	return nil
}

// TestReconnect breaks a session, then replaces a Section by a new one on
// the same address: updates flow again each time, those made while
// disconnected included.
func TestReconnect(t *testing.T) {
	testnet.LeakCheck(t)
	ms := newMembers(t, 2, oneTable)
	a, b := ms[0], ms[1]
	a.sec.Start(a.ln)
	b.sec.Start(b.ln)
	set(t, a.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)
	waitValue(t, b.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)

	// Break the connection under both sessions.
	var old net.Conn
	eventually(t, func() bool { old = sessConn(a.sec, "b"); return old != nil }, "no session")
	old.Close()
	eventually(t, func() bool { c := sessConn(a.sec, "b"); return c != nil && c != old }, "no new session")
	set(t, a.tabs[0], ip("10.0.0.2"), stick.DataGPC0, 2)
	waitValue(t, b.tabs[0], ip("10.0.0.2"), stick.DataGPC0, 2)
	set(t, b.tabs[0], ip("10.0.0.3"), stick.DataGPC0, 3)
	waitValue(t, a.tabs[0], ip("10.0.0.3"), stick.DataGPC0, 3)

	// Replace b by a new Section, on the same address and tables.
	addr := b.ln.Addr().String()
	require.NoError(t, b.sec.Close())
	eventually(t, func() bool { return sessConn(a.sec, "b") == nil }, "a still has a session with the closed b")
	set(t, a.tabs[0], ip("10.0.0.4"), stick.DataGPC0, 4)
	set(t, a.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 10)
	set(t, b.tabs[0], ip("10.0.0.5"), stick.DataGPC0, 5)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	b2, err := New(Config{Name: "p", Local: "b", Peers: []Peer{{Name: "a", Addr: a.ln.Addr().String()}}, Tables: b.tabs})
	require.NoError(t, err)
	t.Cleanup(func() { b2.Close() })
	b2.Start(ln)
	waitValue(t, b.tabs[0], ip("10.0.0.4"), stick.DataGPC0, 4)
	waitValue(t, b.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 10)
	waitValue(t, a.tabs[0], ip("10.0.0.5"), stick.DataGPC0, 5)
	set(t, b.tabs[0], ip("10.0.0.6"), stick.DataGPC0, 6)
	waitValue(t, a.tabs[0], ip("10.0.0.6"), stick.DataGPC0, 6)
}

// TestCollision makes two Sections dial each other at the same moment,
// both hellos crossing: they must end with one session each, on the same
// connection, and keep syncing.
func TestCollision(t *testing.T) {
	testnet.LeakCheck(t)
	for round := range 3 {
		ss := &sectionSet{t: t, lns: map[string]net.Listener{"a": testnet.Listen(t), "b": testnet.Listen(t)}}
		// The first dial of each side returns once both have connected.
		var mu sync.Mutex
		arrived := 0
		both := make(chan struct{})
		dial := func() func(context.Context, string) (net.Conn, error) {
			first := true
			var d net.Dialer
			return func(ctx context.Context, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, "tcp", addr)
				mu.Lock()
				wait := first
				if first {
					first = false
					if arrived++; arrived == 2 {
						close(both)
					}
				}
				mu.Unlock()
				if wait {
					select {
					case <-both:
					case <-ctx.Done():
					}
				}
				return c, err
			}
		}
		tabA, tabB := newTable(t, "t1", oneTable[0][1]), newTable(t, "t1", oneTable[0][1])
		logA, logB := &logBook{}, &logBook{}
		a := ss.section("a", []*stick.Table{tabA}, logA, dial(), "b")
		b := ss.section("b", []*stick.Table{tabB}, logB, dial(), "a")
		a.Start(ss.lns["a"])
		b.Start(ss.lns["b"])
		<-both
		// Both hellos go through, so the two collide: each side has two
		// sessions, and must keep one.
		eventually(t, func() bool { return logA.count("established") >= 2 && logB.count("established") >= 2 },
			"round %d: no collision:\na: %s\nb: %s", round, logA, logB)
		// One connection serves both sessions.
		paired := func() bool {
			ca, cb := sessConn(a, "b"), sessConn(b, "a")
			return ca != nil && cb != nil && ca.LocalAddr().String() == cb.RemoteAddr().String() && ca.RemoteAddr().String() == cb.LocalAddr().String()
		}
		eventually(t, paired, "round %d: the sessions do not pair up:\na: %s\nb: %s", round, logA, logB)
		set(t, tabA, ip("10.0.0.1"), stick.DataGPC0, int64(round+1))
		waitValue(t, tabB, ip("10.0.0.1"), stick.DataGPC0, int64(round+1))
		set(t, tabB, ip("10.0.0.2"), stick.DataGPC0, int64(round+1))
		waitValue(t, tabA, ip("10.0.0.2"), stick.DataGPC0, int64(round+1))
		eventually(t, paired, "round %d: the sessions do not pair up:\na: %s\nb: %s", round, logA, logB)
		require.True(t, a.Status()[0].Connected)
		require.True(t, b.Status()[0].Connected)
		require.NoError(t, a.Close())
		require.NoError(t, b.Close())
	}
}

// noDeadlineConn ignores deadlines, as some wrapped connections do: only
// closing it ends a read.
type noDeadlineConn struct{ net.Conn }

func (noDeadlineConn) SetDeadline(time.Time) error      { return nil }
func (noDeadlineConn) SetReadDeadline(time.Time) error  { return nil }
func (noDeadlineConn) SetWriteDeadline(time.Time) error { return nil }

type noDeadlineListener struct{ net.Listener }

func (l noDeadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return noDeadlineConn{c}, nil
}

// closeReturns runs Close and fails the test if it hangs.
func closeReturns(t *testing.T, sec *Section) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		sec.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("Close hangs")
	}
}

// TestCloseDuringDialedHello closes a Section while a peer it dialed has
// not answered its hello.
func TestCloseDuringDialedHello(t *testing.T) {
	testnet.LeakCheck(t)
	got := make(chan *rawPeer, 1)
	release := make(chan struct{})
	addr, _ := testnet.Peer(t, func(c *net.TCPConn) {
		p := &rawPeer{t: t, c: c, br: bufio.NewReader(c)}
		for range 3 {
			if _, err := p.br.ReadString('\n'); err != nil {
				return
			}
		}
		got <- p
		<-release
	})
	defer close(release)
	sec, err := New(Config{Name: "p", Local: "s", Peers: []Peer{{Name: "x", Addr: addr}},
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return noDeadlineConn{c}, nil
		}})
	require.NoError(t, err)
	sec.Start(nil)
	p := <-got
	closeReturns(t, sec)
	// The connection was closed by Close, not by the far end.
	p.c.SetReadDeadline(time.Now().Add(patience))
	_, err = p.br.ReadByte()
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the Section left its connection open: %v", err)
}

// TestCloseDuringAcceptedHello closes a Section while a peer that
// connected to it has not finished its hello.
func TestCloseDuringAcceptedHello(t *testing.T) {
	testnet.LeakCheck(t)
	sec, err := New(Config{Name: "p", Local: "s", Peers: []Peer{{Name: "raw", Addr: closedAddr(t)}}})
	require.NoError(t, err)
	ln := testnet.Listen(t)
	sec.Start(noDeadlineListener{ln})
	p := dialRaw(t, ln.Addr().String())
	p.send([]byte("HAProxyS 2.1\n"))
	eventually(t, func() bool {
		sec.mu.Lock()
		defer sec.mu.Unlock()
		return len(sec.pending) == 1
	}, "the hello was not accepted")
	closeReturns(t, sec)
	require.Empty(t, p.closed())
}

// TestConfigErrors checks New's validation.
func TestConfigErrors(t *testing.T) {
	tab := newTable(t, "t1", oneTable[0][1])
	for _, cfg := range []Config{
		{Local: ""},
		{Local: "a b"},
		{Local: "a", Peers: []Peer{{Name: "", Addr: "127.0.0.1:1"}}},
		{Local: "a", Peers: []Peer{{Name: "a", Addr: "127.0.0.1:1"}}},
		{Local: "a", Peers: []Peer{{Name: "b", Addr: "127.0.0.1:1"}, {Name: "b", Addr: "127.0.0.1:2"}}},
		{Local: "a", Peers: []Peer{{Name: "b", Addr: "nowhere"}}},
		{Local: "a", Tables: []*stick.Table{tab, tab}},
		{Local: "a", Tables: []*stick.Table{newTable(t, "", oneTable[0][1])}},
	} {
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrConfig, "%+v", cfg)
	}
	// A section without peers is synced at once, and Close is idempotent.
	sec, err := New(Config{Local: "a", Tables: []*stick.Table{tab}})
	require.NoError(t, err)
	require.False(t, sec.Synced())
	sec.Start(nil)
	require.True(t, sec.Synced())
	require.NoError(t, sec.Close())
	require.NoError(t, sec.Close())
}

// TestOlderHelloLoses checks that of two sessions with a peer, the one
// whose hello came last stays, even when the other is installed after it.
func TestOlderHelloLoses(t *testing.T) {
	testnet.LeakCheck(t)
	rs := startRawSection(t, oneTable)
	c1, c2 := testnet.Pair(t)
	defer c2.Close()
	r := rs.sec.remotes["raw"]
	rs.sec.mu.Lock()
	newer := rs.sec.install(r, c1, 10)
	require.NotNil(t, newer)
	c3, c4 := testnet.Pair(t)
	defer c4.Close()
	require.Nil(t, rs.sec.install(r, c3, 9), "a session whose hello came first is refused")
	require.Same(t, newer, r.sess)
	rs.sec.mu.Unlock()
	// The refused connection is closed.
	c4.SetReadDeadline(time.Now().Add(patience))
	_, err := c4.Read(make([]byte, 1))
	require.Error(t, err)
	go newer.run(bufio.NewReader(c1))
	c2.Close()
	eventually(t, func() bool { rs.sec.mu.Lock(); defer rs.sec.mu.Unlock(); return r.sess == nil }, "the session did not end")
}
