package peers

import (
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// unhex decodes a space-separated hex string, as the reference writes
// bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// clockTable makes a synced table from a stick-table line, on a fake
// clock and without a background expirer, so that ages and expiries are
// exact.
func clockTable(t testing.TB, name, def string, clk freq.Clock) *stick.Table {
	t.Helper()
	cfg, err := stick.ParseConfig(strings.Fields(def))
	require.NoError(t, err)
	cfg.Name, cfg.Sync, cfg.Clock, cfg.ExpireInterval = name, true, clk, -1
	tab, err := stick.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { tab.Close() })
	return tab
}

// mustShared describes tab as shared table id.
func mustShared(t testing.TB, tab *stick.Table, id uint64) *shared {
	t.Helper()
	st, err := newShared(tab, id)
	require.NoError(t, err)
	return st
}

// splitMsg checks that msg is exactly one message with a body and returns
// its class, type and body.
func splitMsg(t testing.TB, msg []byte) (class, typ byte, body []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(msg), 3)
	require.NotZero(t, msg[1]&0x80, "type %#x has no body", msg[1])
	r := reader{b: msg[2:]}
	n := r.varint()
	require.NoError(t, r.err)
	require.Equal(t, int(n), len(r.b), "length field %d, body of %d bytes", n, len(r.b))
	return msg[0], msg[1], r.b
}

// defBody builds a definition body by hand; expire < 0 leaves the expire
// (and so every parameter) out.
func defBody(id uint64, name string, ktype, klen, bits uint64, expire int64, params ...uint64) []byte {
	b := AppendVarint(nil, id)
	b = AppendVarint(b, uint64(len(name)))
	b = append(b, name...)
	b = AppendVarint(b, ktype)
	b = AppendVarint(b, klen)
	b = AppendVarint(b, bits)
	if expire >= 0 {
		b = AppendVarint(b, uint64(expire))
		for _, p := range params {
			b = AppendVarint(b, p)
		}
	}
	return b
}

// varints concatenates the encodings of vs.
func varints(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = AppendVarint(b, v)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func bit(dts ...uint) uint64 {
	var b uint64
	for _, d := range dts {
		b |= 1 << d
	}
	return b
}

// lookup returns key's entry in tab, failing the test if it is absent;
// the reference is released when the test ends.
func lookup(t testing.TB, tab *stick.Table, key []byte) *stick.Entry {
	t.Helper()
	e, err := tab.Lookup(key)
	require.NoError(t, err, "key %x", key)
	t.Cleanup(e.Release)
	return e
}

func TestVarintReferenceVectors(t *testing.T) {
	// Reference 4.3.
	for _, c := range []struct {
		v    uint64
		want string
	}{
		{0, "00"},
		{1, "01"},
		{239, "ef"},
		{240, "f0 00"},
		{2287, "ff 7f"},
		{2288, "f0 80 00"},
		{0x1234, "f4 94 01"},
		{0xFFFFFFFF, "ff f0 fe fe 7e"},
		{math.MaxUint64, "ff f0 fe fe fe fe fe fe fe 0e"},
	} {
		want := unhex(t, c.want)
		got := AppendVarint(nil, c.v)
		require.Equal(t, want, got, "encoding of %d", c.v)
		// Appending keeps what is there.
		require.Equal(t, cat([]byte{0xaa}, want), AppendVarint([]byte{0xaa}, c.v))
		r := reader{b: cat(want, []byte{0x42})}
		require.Equal(t, c.v, r.varint(), "decoding of % x", want)
		require.NoError(t, r.err)
		require.Equal(t, []byte{0x42}, r.b, "decoding %d consumed the wrong number of bytes", c.v)
	}
}

// encLen is the encoded length of v, from the limits of reference 4.3:
// MIN(n) = MIN(n-1) | 1<<(4+7(n-2)).
func encLen(v uint64) int {
	if v < 0xf0 {
		return 1
	}
	min := uint64(0xf0)
	for n := 2; n < 10; n++ {
		next := min | 1<<(4+7*(n-1))
		if v < next {
			return n
		}
		min = next
	}
	return 10
}

func TestVarintBoundariesRoundTrip(t *testing.T) {
	limits := []uint64{0xf0, 0x8f0, 0x408f0, 0x20408f0, 0x1020408f0, 0x81020408f0, 0x4081020408f0, 0x204081020408f0, 0x10204081020408f0}
	// The limits of the reference, as stated there.
	require.Equal(t, uint64(2288), limits[1])
	require.Equal(t, uint64(264432), limits[2])
	require.Equal(t, uint64(33818864), limits[3])
	require.Equal(t, uint64(4328786160), limits[4])
	var vals []uint64
	for _, l := range limits {
		vals = append(vals, l-2, l-1, l, l+1, l|0xf, l<<1)
	}
	for s := range 64 {
		vals = append(vals, 1<<s, 1<<s-1, 1<<s+1)
	}
	vals = append(vals, math.MaxUint64, math.MaxUint64-1, math.MaxUint32, math.MaxInt64, 1<<63, uint64(1<<64-3)) // -3 sign-extended
	for i, l := range limits {
		require.Len(t, AppendVarint(nil, l-1), i+1, "%d is the last value on %d bytes", l-1, i+1)
		require.Len(t, AppendVarint(nil, l), i+2, "%d is the first value on %d bytes", l, i+2)
	}
	for _, v := range vals {
		enc := AppendVarint(nil, v)
		require.Len(t, enc, encLen(v), "length of %d", v)
		// Every byte but the last has bit 7 set (after the first, which
		// has its top nibble set when there are more).
		for j := 1; j < len(enc)-1; j++ {
			require.GreaterOrEqual(t, enc[j], byte(0x80), "byte %d of % x", j, enc)
		}
		if len(enc) > 1 {
			require.GreaterOrEqual(t, enc[0], byte(0xf0))
			require.Less(t, enc[len(enc)-1], byte(0x80))
		}
		r := reader{b: enc}
		require.Equal(t, v, r.varint())
		require.NoError(t, r.err)
		require.Empty(t, r.b)
	}
}

func TestVarintTruncatedAndOverlong(t *testing.T) {
	for _, v := range []uint64{240, 2288, 0x1234, 0xFFFFFFFF, math.MaxUint64} {
		enc := AppendVarint(nil, v)
		for n := range len(enc) {
			r := reader{b: enc[:n]}
			require.Zero(t, r.varint(), "prefix % x of %d", enc[:n], v)
			require.ErrorIs(t, r.err, errShort, "prefix % x of %d", enc[:n], v)
			// The error sticks: later reads give zero values.
			require.Zero(t, r.varint())
			require.Zero(t, r.u32())
			require.Nil(t, r.bytes(0))
			require.ErrorIs(t, r.err, errShort)
		}
	}
	// Eleven bytes: more than 64 bits.
	r := reader{b: unhex(t, "ff ff ff ff ff ff ff ff ff ff 00")}
	require.Zero(t, r.varint())
	require.Error(t, r.err)
	require.NotErrorIs(t, r.err, errShort)
	// A run of continuation bytes that never ends is over-long, not short.
	r = reader{b: bytes.Repeat([]byte{0xff}, 64)}
	r.varint()
	require.Error(t, r.err)
	require.NotErrorIs(t, r.err, errShort)
	// Ten bytes are fine.
	r = reader{b: unhex(t, "f0 80 80 80 80 80 80 80 80 00")}
	r.varint()
	require.NoError(t, r.err)
}

func TestReaderFixedFields(t *testing.T) {
	r := reader{b: unhex(t, "de ad be ef 01 02 03")}
	require.Equal(t, uint32(0xdeadbeef), r.u32())
	require.Equal(t, []byte{1, 2}, r.bytes(2))
	require.Nil(t, r.bytes(2))
	require.ErrorIs(t, r.err, errShort)
	r = reader{b: []byte{1, 2, 3}}
	require.Zero(t, r.u32())
	require.ErrorIs(t, r.err, errShort)
	r = reader{b: []byte{1}}
	require.Nil(t, r.bytes(math.MaxUint64))
	require.ErrorIs(t, r.err, errShort)
	require.Equal(t, unhex(t, "12 34 56 78"), appendU32(nil, 0x12345678))
}

func TestMsgNames(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range [][2]byte{
		{classControl, ctrlResyncRequest}, {classControl, ctrlResyncFinished}, {classControl, ctrlResyncPartial},
		{classControl, ctrlResyncConfirm}, {classControl, ctrlHeartbeat},
		{classTable, msgUpdate}, {classTable, msgIncUpdate}, {classTable, msgDefine}, {classTable, msgSwitch},
		{classTable, msgAck}, {classTable, msgUpdateTimed}, {classTable, msgIncUpdateTimed},
	} {
		n := msgName(m[0], m[1])
		require.NotContains(t, n, "message ", "%d/%d", m[0], m[1])
		require.False(t, seen[n], "%q twice", n)
		seen[n] = true
	}
	require.Equal(t, "message 0/9", msgName(0, 9))
	require.Equal(t, "message 10/135", msgName(10, 0x87))
	require.Equal(t, "message 7/1", msgName(7, 1))
	e := &ProtocolError{Peer: "p", Msg: "update", Err: errShort}
	require.ErrorIs(t, e, errShort)
	require.Equal(t, "peers: p: update: truncated message", e.Error())
}

// TestReferenceExampleBytes checks the messages of reference 4.11.
func TestReferenceExampleBytes(t *testing.T) {
	const def = "type ip size 1k expire 30m store conn_cnt,conn_rate(10s)"
	clk := freq.NewFakeClock(100000)
	tab := clockTable(t, "t1", def, clk)
	st := mustShared(t, tab, 1)
	require.Equal(t, unhex(t, "0a 82 0f 01 02 74 31 04 04 30 f0 e5 ed 05 05 f0 e2 03"), st.def)

	e1, err := tab.GetOrCreate(ip("192.168.0.1"))
	require.NoError(t, err)
	defer e1.Release()
	require.NoError(t, e1.Set(stick.DataConnCnt, 3))
	e1.Ctr(stick.DataConnRate).Set(100000-1500, 2, 5)
	upd := appendMsg(nil, classTable, msgUpdate, st.appendEntry(nil, e1, 7, false, false))
	require.Equal(t, unhex(t, "0a 80 0d 00 00 00 07 c0 a8 00 01 03 fc 4e 02 05"), upd)

	e2, err := tab.GetOrCreate(ip("192.168.0.2"))
	require.NoError(t, err)
	defer e2.Release()
	require.NoError(t, e2.Set(stick.DataConnCnt, 1))
	e2.Ctr(stick.DataConnRate).Set(100000-10, 1, 0)
	inc := appendMsg(nil, classTable, msgIncUpdate, st.appendEntry(nil, e2, 8, true, false))
	require.Equal(t, unhex(t, "0a 81 08 c0 a8 00 02 01 0a 01 00"), inc)

	// The timed forms put the time left after the id (e1 was made 1 s
	// ago and expires 30 m after that).
	clk.Advance(1000)
	require.Equal(t, uint32(1799000), e1.ExpiresIn())
	timed := st.appendEntry(nil, e1, 7, false, true)
	require.Equal(t, cat(unhex(t, "00 00 00 07"), appendU32(nil, 1799000), ip("192.168.0.1"), varints(3, 2500, 2, 5)), timed)
	require.Equal(t, cat(appendU32(nil, 1799000), ip("192.168.0.1")), st.appendEntry(nil, e1, 7, true, true)[:8])
	clk.Set(100000)

	// A second process with the same table learns both.
	clk2 := freq.NewFakeClock(500000)
	tab2 := clockTable(t, "t1", def, clk2)
	st2 := mustShared(t, tab2, 1)
	_, _, body := splitMsg(t, st.def)
	d, err := parseDefine(body, []*shared{st2})
	require.NoError(t, err)
	require.Same(t, st2, d.st)
	require.Equal(t, uint64(1), d.id)
	require.Equal(t, uint64(0x30), d.bits)

	_, typ, ub := splitMsg(t, upd)
	require.Equal(t, byte(msgUpdate), typ)
	id, err := applyUpdate(ub, d, 0, false, false)
	require.NoError(t, err)
	require.Equal(t, uint32(7), id)
	_, _, ib := splitMsg(t, inc)
	id, err = applyUpdate(ib, d, id, true, false)
	require.NoError(t, err)
	require.Equal(t, uint32(8), id)

	g1 := lookup(t, tab2, ip("192.168.0.1"))
	require.Equal(t, int64(3), g1.Get(stick.DataConnCnt))
	tick, curr, prev := g1.Ctr(stick.DataConnRate).Snapshot()
	require.Equal(t, [3]uint32{500000 - 1500, 2, 5}, [3]uint32{tick, curr, prev})
	g2 := lookup(t, tab2, ip("192.168.0.2"))
	require.Equal(t, int64(1), g2.Get(stick.DataConnCnt))
	tick, curr, prev = g2.Ctr(stick.DataConnRate).Snapshot()
	require.Equal(t, [3]uint32{500000 - 10, 1, 0}, [3]uint32{tick, curr, prev})
	// Both were learned: untimed updates give the table's expiry.
	require.Equal(t, uint32(1800000), g1.ExpiresIn())
	require.Equal(t, 2, tab2.Len())
}

// TestReferenceAckBytes checks the ack of reference 4.11 as a session
// sends it, once, after receiving update 7 of the peer's table 1.
func TestReferenceAckBytes(t *testing.T) {
	sess := testSession(t, [][2]string{{"t1", "type ip size 1k expire 30m store conn_cnt,conn_rate(10s)"}})
	sess.defs[1] = &remoteDef{id: 1, st: sess.s.tables[0], lastGet: 7, got: true}
	b, more := sess.fill(nil)
	require.False(t, more)
	require.Equal(t, unhex(t, "0a 84 05 01 00 00 00 07"), b)
	// Sent once.
	b, _ = sess.fill(nil)
	require.Empty(t, b)
	// A definition the peer sent but no update: nothing to ack.
	sess.defs[2] = &remoteDef{id: 2, st: sess.s.tables[0]}
	b, _ = sess.fill(nil)
	require.Empty(t, b)
	// The ack carries the peer's id of its table, not the local one.
	sess.defs[9] = &remoteDef{id: 9, st: sess.s.tables[0], lastGet: 0x01020304, got: true}
	b, _ = sess.fill(nil)
	require.Equal(t, unhex(t, "0a 84 05 09 01 02 03 04"), b)
}

// fakeConn is a connection that reads from r (EOF when nil), records
// what is written, and ignores deadlines.
type fakeConn struct {
	r  io.Reader
	mu sync.Mutex
	w  bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	return c.r.Read(p)
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(p)
}

func (c *fakeConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.w.Bytes())
}

func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// testSession builds a session of a Section that is never started, on a
// connection that goes nowhere, for tests of its reader and writer
// halves called directly.
func testSession(t testing.TB, defs [][2]string) *session {
	t.Helper()
	var tabs []*stick.Table
	for _, d := range defs {
		tabs = append(tabs, clockTable(t, d[0], d[1], freq.NewFakeClock(1000000)))
	}
	sec, err := New(Config{Name: "p", Local: "me", Peers: []Peer{{Name: "peer", Addr: "127.0.0.1:1"}}, Tables: tabs})
	require.NoError(t, err)
	t.Cleanup(func() { sec.Close() })
	c := &fakeConn{}
	sess := newSession(sec, sec.remotes["peer"], c)
	t.Cleanup(func() {
		for _, stop := range sess.stop {
			stop()
		}
	})
	return sess
}

func TestNewSharedDefinitions(t *testing.T) {
	clk := freq.NewFakeClock(1)
	for _, c := range []struct {
		def         string
		ktype, klen uint64
	}{
		{"type ip size 10 store gpc0", wireKeyIPv4, 4},
		{"type ipv6 size 10 store gpc0", wireKeyIPv6, 16},
		{"type integer size 10 store gpc0", wireKeySINT, 4},
		{"type string size 10 store gpc0", wireKeyStr, 32},
		{"type string len 16 size 10 store gpc0", wireKeyStr, 17},
		{"type binary size 10 store gpc0", wireKeyBin, 32},
		{"type binary len 6 size 10 store gpc0", wireKeyBin, 6},
	} {
		st := mustShared(t, clockTable(t, "tab", c.def, clk), 3)
		require.Equal(t, c.ktype, st.ktype, c.def)
		require.Equal(t, c.klen, st.klen, c.def)
		_, typ, body := splitMsg(t, st.def)
		require.Equal(t, byte(msgDefine), typ)
		// No expire: 0 is sent.
		require.Equal(t, defBody(3, "tab", c.ktype, c.klen, bit(2), 0), body, c.def)
	}
	// Every rate carries its type and period, in type order.
	st := mustShared(t, clockTable(t, "r", "type ip size 10 expire 1m store http_req_rate(10s),server_id,gpc0_rate(1s),bytes_in_cnt,conn_cur", clk), 2)
	_, _, body := splitMsg(t, st.def)
	require.Equal(t, defBody(2, "r", wireKeyIPv4, 4, bit(0, 3, 6, 10, 13), 60000, 3, 1000, 10, 10000), body)
	require.Equal(t, bit(0, 3, 6, 10, 13), st.bits)

	_, err := newShared(clockTable(t, "", "type ip size 10 store gpc0", clk), 1)
	require.Error(t, err)

	// A table a peers section declares, named SECTION/NAME, goes on the
	// wire as /NAME, as HAProxy sends it, and matches that name.
	st = mustShared(t, clockTable(t, "mypeers/t1", "type ip size 10 store gpc0", clk), 1)
	require.Equal(t, "/t1", st.name)
	_, _, body = splitMsg(t, st.def)
	require.Equal(t, defBody(1, "/t1", wireKeyIPv4, 4, bit(2), 0), body)
	d, err := parseDefine(defBody(4, "/t1", wireKeyIPv4, 4, bit(2), 0), []*shared{st})
	require.NoError(t, err)
	require.Same(t, st, d.st)
	d, err = parseDefine(defBody(4, "mypeers/t1", wireKeyIPv4, 4, bit(2), 0), []*shared{st})
	require.NoError(t, err)
	require.Nil(t, d.st)
}

func TestParseDefineMatching(t *testing.T) {
	clk := freq.NewFakeClock(1)
	ipT := mustShared(t, clockTable(t, "t1", "type ip size 10 expire 1m store gpc0", clk), 1)
	strT := mustShared(t, clockTable(t, "s", "type string len 16 size 10 expire 1m store gpt0", clk), 2)
	binT := mustShared(t, clockTable(t, "b", "type binary len 6 size 10 expire 1m store gpc0", clk), 3)
	tables := []*shared{ipT, strT, binT}
	for _, c := range []struct {
		name        string
		body        []byte
		want        *shared
		wantID      uint64
		description string
	}{
		{"ip", defBody(5, "t1", wireKeyIPv4, 4, bit(2), 60000), ipT, 5, "exact match"},
		{"ip other types", defBody(5, "t1", wireKeyIPv4, 4, bit(1, 17), 0), ipT, 5, "stored types may differ"},
		{"string", defBody(1, "s", wireKeyStr, 17, bit(1), 60000), strT, 1, "string length counts the NUL"},
		{"binary", defBody(2, "b", wireKeyBin, 6, bit(2), 60000), binT, 2, ""},
		{"unknown name", defBody(5, "t2", wireKeyIPv4, 4, bit(2), 60000), nil, 5, ""},
		{"name prefix", defBody(5, "t", wireKeyIPv4, 4, bit(2), 60000), nil, 5, ""},
		{"empty name", defBody(5, "", wireKeyIPv4, 4, bit(2), 60000), nil, 5, ""},
		{"key type", defBody(5, "t1", wireKeyIPv6, 4, bit(2), 60000), nil, 5, ""},
		{"key type sint", defBody(5, "t1", wireKeySINT, 4, bit(2), 60000), nil, 5, ""},
		{"key length", defBody(5, "t1", wireKeyIPv4, 16, bit(2), 60000), nil, 5, ""},
		{"string without NUL", defBody(1, "s", wireKeyStr, 16, bit(1), 60000), nil, 1, "len 16 is 17 on the wire"},
		{"binary length", defBody(2, "b", wireKeyBin, 7, bit(2), 60000), nil, 2, ""},
		{"name of another", defBody(2, "b", wireKeyStr, 17, bit(2), 60000), nil, 2, ""},
	} {
		d, err := parseDefine(c.body, tables)
		require.NoError(t, err, c.name)
		require.Equal(t, c.want, d.st, "%s: %s", c.name, c.description)
		require.Equal(t, c.wantID, d.id, c.name)
	}
}

// TestParseDefineMismatchDropsUpdates checks that the updates following a
// definition that matches no table are read and dropped, not errors.
func TestParseDefineMismatchDropsUpdates(t *testing.T) {
	sess := testSession(t, [][2]string{{"t1", "type ip size 10 expire 1m store gpc0"}})
	var cur *remoteDef
	tab := sess.s.tables[0].t
	bad := defBody(1, "t1", wireKeyIPv4, 5, bit(2), 60000)
	require.NoError(t, sess.handle(classTable, msgDefine, bad, &cur))
	require.NotNil(t, cur)
	require.Nil(t, cur.st)
	upd := cat(unhex(t, "00 00 00 01 0a 00 00 01"), varints(4))
	require.NoError(t, sess.handle(classTable, msgUpdate, upd, &cur))
	// Even a malformed one: it is not read at all.
	require.NoError(t, sess.handle(classTable, msgUpdate, []byte{1}, &cur))
	require.Zero(t, tab.Len())
	b, _ := sess.fill(nil)
	require.NotContains(t, string(b), string([]byte{classTable, msgAck}), "an ignored update is acknowledged")

	// The right definition under the same id then takes over.
	good := defBody(1, "t1", wireKeyIPv4, 4, bit(2), 60000)
	require.NoError(t, sess.handle(classTable, msgDefine, good, &cur))
	require.NoError(t, sess.handle(classTable, msgUpdate, upd, &cur))
	require.Equal(t, int64(4), lookup(t, tab, ip("10.0.0.1")).Get(stick.DataGPC0))
	b, _ = sess.fill(nil)
	require.Equal(t, unhex(t, "0a 84 05 01 00 00 00 01"), b)
}

func TestParseDefineDataTypes(t *testing.T) {
	clk := freq.NewFakeClock(1)
	st := mustShared(t, clockTable(t, "t1", "type ip size 10 expire 1m store gpc0", clk), 1)
	tables := []*shared{st}
	def := func(bits uint64, params ...uint64) []byte {
		return defBody(1, "t1", wireKeyIPv4, 4, bits, 60000, params...)
	}

	// Every type HAProxy defines up to 26 is known; 27 and beyond are not.
	for _, b := range []uint{27, 28, 40, 63} {
		_, err := parseDefine(def(bit(2, b)), tables)
		require.Error(t, err, "bit %d", b)
		require.Contains(t, err.Error(), "unknown data type")
	}

	// Arrays: gpt (22) and gpc (23) of UINT, gpc_rate (24) of FRQP with a
	// period; glitch_cnt (25) and glitch_rate (26) after them.
	d, err := parseDefine(def(bit(2, 19, 22, 23, 24, 25, 26), 22, 3, 23, 2, 24, 2, 10000, 26, 1000), tables)
	require.NoError(t, err)
	require.Same(t, st, d.st)
	require.Equal(t, uint64(3), d.nbelem[22])
	require.Equal(t, uint64(2), d.nbelem[23])
	require.Equal(t, uint64(2), d.nbelem[24])
	require.Zero(t, d.nbelem[25])

	// Element counts of 0 or above 100 are refused.
	for _, n := range []uint64{0, 101, 1 << 40} {
		_, err := parseDefine(def(bit(22), 22, n), tables)
		require.Error(t, err, "nbelem %d", n)
	}
	_, err = parseDefine(def(bit(22), 22, 100), tables)
	require.NoError(t, err)

	// A type-id prefix that is not the bit's: the definition is ignored.
	for _, c := range []struct {
		bits   uint64
		params []uint64
	}{
		{bit(2, 10), []uint64{9, 10000}},
		{bit(3, 10), []uint64{3, 1000, 3, 10000}},
		{bit(22), []uint64{23, 3}},
		{bit(24), []uint64{23, 2, 1000}},
	} {
		d, err := parseDefine(def(c.bits, c.params...), tables)
		require.NoError(t, err, "%b %v", c.bits, c.params)
		require.Nil(t, d.st, "%b %v", c.bits, c.params)
	}
	// A bit with parameters whose parameters are missing: ignored, as
	// HAProxy ignores such a definition.
	d, err = parseDefine(def(bit(2, 10)), tables)
	require.NoError(t, err)
	require.Nil(t, d.st)
}

// TestParseDefineWithoutExpire checks definitions of very old senders,
// which end after the data-type bitfield: they carry no parameters, so
// they are ignored when they announce an array (whose length is then
// unknown) but not otherwise, as in HAProxy's peer_treat_definemsg.
func TestParseDefineWithoutExpire(t *testing.T) {
	clk := freq.NewFakeClock(1)
	st := mustShared(t, clockTable(t, "t1", "type ip size 10 expire 1m store gpc0,http_req_rate(10s)", clk), 1)
	tables := []*shared{st}
	d, err := parseDefine(defBody(4, "t1", wireKeyIPv4, 4, bit(2), -1), tables)
	require.NoError(t, err)
	require.Same(t, st, d.st)
	require.Equal(t, uint64(4), d.id)

	// A rate: no period follows, the definition stands.
	d, err = parseDefine(defBody(4, "t1", wireKeyIPv4, 4, bit(2, 10), -1), tables)
	require.NoError(t, err)
	require.Same(t, st, d.st, "a definition without expire that announces a rate is ignored")
	// And its updates carry the rate's three values.
	clk.Set(50000)
	body := cat(unhex(t, "00 00 00 01 0a 00 00 01"), varints(6, 100, 4, 3))
	_, err = applyUpdate(body, d, 0, false, false)
	require.NoError(t, err)
	e := lookup(t, st.t, ip("10.0.0.1"))
	require.Equal(t, int64(6), e.Get(stick.DataGPC0))
	tick, curr, prev := e.Ctr(stick.DataHTTPReqRate).Snapshot()
	require.Equal(t, [3]uint32{49900, 4, 3}, [3]uint32{tick, curr, prev})

	// An array: ignored.
	for _, b := range []uint{22, 23, 24} {
		d, err = parseDefine(defBody(4, "t1", wireKeyIPv4, 4, bit(2, b), -1), tables)
		require.NoError(t, err)
		require.Nil(t, d.st, "bit %d", b)
	}
}

func TestParseDefineTruncated(t *testing.T) {
	clk := freq.NewFakeClock(1)
	st := mustShared(t, clockTable(t, "t1", "type ip size 10 expire 1m store gpc0,http_req_rate(10s)", clk), 1)
	_, _, full := splitMsg(t, st.def)
	noExpire := defBody(1, "t1", wireKeyIPv4, 4, st.bits, -1)
	require.True(t, bytes.HasPrefix(full, noExpire))
	for n := range len(full) {
		d, err := parseDefine(full[:n], []*shared{st})
		switch {
		case n == len(noExpire):
			require.NoError(t, err)
			require.Same(t, st, d.st)
		case n > len(noExpire):
			// Cut in the expire or the parameters: an error within the
			// expire, ignored (as HAProxy) within the parameters.
			if err == nil {
				require.Nil(t, d.st, "definition cut to % x is taken", full[:n])
			}
		default:
			require.Error(t, err, "definition cut to % x is accepted", full[:n])
		}
	}
	d, err := parseDefine(full, []*shared{st})
	require.NoError(t, err)
	require.Same(t, st, d.st)
	// Trailing bytes are allowed: messages may be extended.
	d, err = parseDefine(cat(full, []byte{1, 2, 3}), []*shared{st})
	require.NoError(t, err)
	require.Same(t, st, d.st)
}
