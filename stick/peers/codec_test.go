package peers

import (
	"math"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// define parses src's definition against dst, which must match.
func define(t testing.TB, src, dst *shared) *remoteDef {
	t.Helper()
	_, _, body := splitMsg(t, src.def)
	d, err := parseDefine(body, []*shared{dst})
	require.NoError(t, err)
	require.Same(t, dst, d.st)
	return d
}

// remoteDefOf builds the definition a peer would send for table dst with the
// data types bits and the parameters params, and parses it.
func remoteDefOf(t testing.TB, dst *shared, bits uint64, params ...uint64) *remoteDef {
	t.Helper()
	d, err := parseDefine(defBody(1, dst.name, dst.ktype, dst.klen, bits, 60000, params...), []*shared{dst})
	require.NoError(t, err)
	require.Same(t, dst, d.st)
	return d
}

func v6(s string) []byte {
	a := netip.MustParseAddr(s).As16()
	return a[:]
}

// TestApplyUpdateKeyTypes sends an entry of every key type from one table
// to a twin, through appendEntry and applyUpdate.
func TestApplyUpdateKeyTypes(t *testing.T) {
	const store = " size 10 expire 1m store server_id,gpc0,bytes_in_cnt,http_req_rate(10s)"
	for _, c := range []struct {
		typ      string
		key      []byte // as given to the table
		stored   []byte // as the table keeps it
		wire     []byte // as sent
		keyLen   int
		describe string
	}{
		{"ip", ip("192.0.2.1"), ip("192.0.2.1"), ip("192.0.2.1"), 4, ""},
		{"ipv6", v6("2001:db8::1"), v6("2001:db8::1"), v6("2001:db8::1"), 16, ""},
		{"integer", []byte{0, 1, 0xe2, 0x40}, []byte{0, 1, 0xe2, 0x40}, []byte{0, 1, 0xe2, 0x40}, 4, "123456, big-endian"},
		{"string len 16", []byte("alice"), []byte("alice"), cat([]byte{5}, []byte("alice")), 16, "length, then the bytes without NUL"},
		{"string len 16", []byte("0123456789abcdef"), []byte("0123456789abcdef"), cat([]byte{16}, []byte("0123456789abcdef")), 16, "a full key"},
		{"binary len 6", []byte{1, 2, 3, 4, 5, 6}, []byte{1, 2, 3, 4, 5, 6}, []byte{1, 2, 3, 4, 5, 6}, 6, ""},
		{"binary len 6", []byte{1, 2, 3}, []byte{1, 2, 3, 0, 0, 0}, []byte{1, 2, 3, 0, 0, 0}, 6, "zero-padded"},
	} {
		t.Run(c.typ, func(t *testing.T) {
			clk := freq.NewFakeClock(1 << 20)
			src := mustShared(t, clockTable(t, "t", "type "+c.typ+store, clk), 1)
			dst := mustShared(t, clockTable(t, "t", "type "+c.typ+store, freq.NewFakeClock(1<<24)), 1)
			e, err := src.t.GetOrCreate(c.key)
			require.NoError(t, err)
			defer e.Release()
			require.NoError(t, e.Set(stick.DataServerID, -7))
			require.NoError(t, e.Set(stick.DataGPC0, 12))
			require.NoError(t, e.Set(stick.DataBytesInCnt, 1<<40+5))
			e.Ctr(stick.DataHTTPReqRate).Set(1<<20-300, 9, 4)

			body := src.appendEntry(nil, e, 42, false, false)
			want := cat(appendU32(nil, 42), c.wire, varints(uint64(1<<64-7), 12, 300, 9, 4, 1<<40+5))
			require.Equal(t, want, body, c.describe)

			d := define(t, src, dst)
			id, err := applyUpdate(body, d, 0, false, false)
			require.NoError(t, err)
			require.Equal(t, uint32(42), id)
			g := lookup(t, dst.t, c.key)
			require.Equal(t, c.stored, g.KeyBytes())
			require.Equal(t, int64(-7), g.Get(stick.DataServerID))
			require.Equal(t, int64(12), g.Get(stick.DataGPC0))
			require.Equal(t, int64(1<<40+5), g.Get(stick.DataBytesInCnt))
			tick, curr, prev := g.Ctr(stick.DataHTTPReqRate).Snapshot()
			require.Equal(t, [3]uint32{1<<24 - 300, 9, 4}, [3]uint32{tick, curr, prev})
			require.Equal(t, 1, dst.t.Len())
			// The entry was learned: it is queued as a remote update,
			// which live pushes do not send back.
			seq, ok := g.UpdateSeq()
			require.True(t, ok)
			require.GreaterOrEqual(t, seq, uint32(1<<31))
			_, local := dst.t.LastUpdate()
			require.Zero(t, local)
		})
	}
}

// TestApplyUpdateLongStringKey checks that a string key longer than the
// table's is cut to the table's length, and the rest of it skipped.
func TestApplyUpdateLongStringKey(t *testing.T) {
	dst := mustShared(t, clockTable(t, "s", "type string len 8 size 10 expire 1m store gpc0,gpt0", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(1, 2))
	long := []byte("abcdefghijklmnopqrstuvwxyz")
	body := cat(appendU32(nil, 3), varints(uint64(len(long))), long, varints(77, 66))
	_, err := applyUpdate(body, d, 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, []byte("abcdefgh"))
	require.Equal(t, []byte("abcdefgh"), g.KeyBytes())
	require.Equal(t, int64(77), g.Get(stick.DataGPT0))
	require.Equal(t, int64(66), g.Get(stick.DataGPC0))

	// A key length past any message is an error, not an allocation.
	_, err = applyUpdate(cat(appendU32(nil, 3), varints(1<<40)), d, 0, false, false)
	require.Error(t, err)
}

// TestApplyUpdateServerID checks server_id in both encodings a peer may
// use: sign-extended to 64 bits (10 bytes) and as 32 bits.
func TestApplyUpdateServerID(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store server_id,gpc0", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(0, 2))
	neg := AppendVarint(nil, uint64(1<<64-3))
	require.Len(t, neg, 10)
	require.Equal(t, unhex(t, "fd f0 fe fe fe fe fe fe fe 0e"), neg)
	for _, enc := range [][]byte{neg, AppendVarint(nil, 0xfffffffd)} {
		_, err := applyUpdate(cat(appendU32(nil, 1), ip("10.0.0.1"), enc, varints(8)), d, 0, false, false)
		require.NoError(t, err)
		g := lookup(t, dst.t, ip("10.0.0.1"))
		require.Equal(t, int64(-3), g.Get(stick.DataServerID), "% x", enc)
		require.Equal(t, int64(8), g.Get(stick.DataGPC0), "% x", enc)
	}
	// And the sender sign-extends.
	e := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, cat(appendU32(nil, 1), ip("10.0.0.1"), neg, varints(8)), dst.appendEntry(nil, e, 1, false, false))
}

// TestApplyUpdateULL checks the 64-bit counters, up to 2^64-1.
func TestApplyUpdateULL(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store bytes_in_cnt,bytes_out_cnt", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(13, 15))
	_, err := applyUpdate(cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1<<40+5, math.MaxUint64)), d, 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, int64(1<<40+5), g.Get(stick.DataBytesInCnt))
	require.Equal(t, uint64(math.MaxUint64), uint64(g.Get(stick.DataBytesOutCnt)))
}

// TestApplyUpdateRates checks that a rate's counter is restored from the
// age of its period and its two counts, and reads what the sender read.
func TestApplyUpdateRates(t *testing.T) {
	srcClk := freq.NewFakeClock(7_000_000)
	src := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store conn_rate(10s),http_req_rate(1s)", srcClk), 1)
	dstClk := freq.NewFakeClock(123_456)
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store conn_rate(10s),http_req_rate(1s)", dstClk), 1)
	e, err := src.t.GetOrCreate(ip("10.1.1.1"))
	require.NoError(t, err)
	defer e.Release()
	// 4 s into a 10 s period with 30 events, 50 in the previous one.
	e.Ctr(stick.DataConnRate).Set(7_000_000-4000, 30, 50)
	// Events in the current second only.
	e.Inc(stick.DataHTTPReqRate, 5)
	srcRate := e.Get(stick.DataConnRate)
	srcReq := e.Get(stick.DataHTTPReqRate)
	require.NotZero(t, srcRate)

	d := define(t, src, dst)
	_, err = applyUpdate(src.appendEntry(nil, e, 1, false, false), d, 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, ip("10.1.1.1"))
	tick, curr, prev := g.Ctr(stick.DataConnRate).Snapshot()
	require.Equal(t, [3]uint32{123_456 - 4000, 30, 50}, [3]uint32{tick, curr, prev})
	require.Equal(t, srcRate, g.Get(stick.DataConnRate))
	require.Equal(t, srcReq, g.Get(stick.DataHTTPReqRate))
	// As time goes by on both sides, both read the same.
	srcClk.Advance(7000)
	dstClk.Advance(7000)
	require.Equal(t, e.Get(stick.DataConnRate), g.Get(stick.DataConnRate))

	// The start of the period is made even, as HAProxy does (bit 0 is its
	// lock).
	_, err = applyUpdate(cat(appendU32(nil, 2), ip("10.1.1.2"), varints(1001, 1, 2, 0, 0, 0)), d, 0, false, false)
	require.NoError(t, err)
	tick, curr, prev = lookup(t, dst.t, ip("10.1.1.2")).Ctr(stick.DataConnRate).Snapshot()
	require.Equal(t, [3]uint32{(130_456 - 1001) &^ 1, 1, 2}, [3]uint32{tick, curr, prev})
}

// TestApplyUpdateConnCurNotLearned checks that conn_cur, a count of this
// process's own connections, is never overwritten by a peer.
func TestApplyUpdateConnCurNotLearned(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store conn_cnt,conn_cur", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(4, 6))
	e, err := dst.t.GetOrCreate(ip("10.0.0.1"))
	require.NoError(t, err)
	e.StartConn()
	e.StartConn()
	e.Release()
	for _, k := range []string{"10.0.0.1", "10.0.0.2"} {
		_, err := applyUpdate(cat(appendU32(nil, 1), ip(k), varints(40, 9)), d, 0, false, false)
		require.NoError(t, err)
	}
	g := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, int64(40), g.Get(stick.DataConnCnt))
	require.Equal(t, int64(2), g.Get(stick.DataConnCur))
	g = lookup(t, dst.t, ip("10.0.0.2"))
	require.Equal(t, int64(40), g.Get(stick.DataConnCnt))
	require.Zero(t, g.Get(stick.DataConnCur))
}

// TestApplyUpdateSkipsOtherTypes sends every kind of value the table does
// not store around the one it does: each must be read with its own width.
func TestApplyUpdateSkipsOtherTypes(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store gpc1", freq.NewFakeClock(5)), 1)
	// server_id, gpc0, conn_rate, bytes_in_cnt, gpc1, http_fail_cnt.
	d := remoteDefOf(t, dst, bit(0, 2, 5, 13, 17, 20), 5, 10000)
	body := cat(appendU32(nil, 1), ip("10.0.0.1"),
		varints(uint64(1<<64-1), 300, 5000, 70000, 80000, math.MaxUint64, 99, 1234))
	_, err := applyUpdate(body, d, 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, int64(99), g.Get(stick.DataGPC1))
	require.Equal(t, []stick.DataType{stick.DataGPC1}, dst.t.StoredTypes())
}

// TestApplyUpdateDict checks that server_key values (type 19, a
// dictionary entry) are skipped in their three forms: none, a cached id,
// and a new entry with its value.
func TestApplyUpdateDict(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store gpc0,http_fail_cnt", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(2, 19, 20))
	for i, dict := range [][]byte{
		{0},
		{1, 5},
		{1, 128},
		cat([]byte{6, 3, 4}, []byte("srv1")),
		cat(AppendVarint(nil, 1+2+300), []byte{0x7f}, AppendVarint(nil, 300), make([]byte, 300)),
	} {
		key := ip("10.0.0.1")
		key[3] = byte(i)
		body := cat(appendU32(nil, uint32(i)), key, varints(uint64(10+i)), dict, varints(uint64(20+i)))
		_, err := applyUpdate(body, d, 0, false, false)
		require.NoError(t, err, "dict % x", dict)
		g := lookup(t, dst.t, key)
		require.Equal(t, int64(10+i), g.Get(stick.DataGPC0), "dict % x", dict)
		require.Equal(t, int64(20+i), g.Get(stick.DataHTTPFailCnt), "dict % x", dict)
		// A dict value longer than what is left is an error.
		_, err = applyUpdate(body[:len(body)-2], d, 0, false, false)
		require.Error(t, err, "dict % x cut", dict)
	}
}

// TestApplyUpdateArrays checks that the values of array types the table
// does not store are skipped by the element counts of the definition.
func TestApplyUpdateArrays(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store gpc0", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(2, 22, 23, 24, 25, 26), 22, 3, 23, 2, 24, 2, 10000, 26, 1000)
	body := cat(appendU32(nil, 1), ip("10.0.0.1"),
		varints(7),             // gpc0
		varints(1, 2, 3),       // gpt[3]
		varints(4, 5000),       // gpc[2]
		varints(10, 1, 2),      // gpc_rate[0]
		varints(20, 3, 4),      // gpc_rate[1]
		varints(6),             // glitch_cnt
		varints(30, 7, 300000)) // glitch_rate
	_, err := applyUpdate(body, d, 0, false, false)
	require.NoError(t, err)
	require.Equal(t, int64(7), lookup(t, dst.t, ip("10.0.0.1")).Get(stick.DataGPC0))
	// One value fewer: the arrays were read by their counts.
	_, err = applyUpdate(body[:len(body)-3], d, 0, false, false)
	require.Error(t, err)
}

// TestArraysRoundTrip sends an entry with every array type from one table
// to a twin: the definition gives the counts and periods, the update every
// element in turn.
func TestArraysRoundTrip(t *testing.T) {
	const def = "type ip size 10 expire 1m store http_req_cnt,gpt(2),gpc(3),gpc_rate(2,10s)"
	clk := freq.NewFakeClock(1 << 20)
	src := mustShared(t, clockTable(t, "t", def, clk), 1)
	dst := mustShared(t, clockTable(t, "t", def, clk), 1)
	_, _, body := splitMsg(t, src.def)
	// After the expiry: gpt's count, gpc's count, gpc_rate's count and period.
	require.Equal(t, cat(defBody(1, "t", wireKeyIPv4, 4, bit(9, 22, 23, 24), 60000, 22, 2, 23, 3, 24, 2, 10000)), body)

	e, err := src.t.GetOrCreate(ip("10.0.0.1"))
	require.NoError(t, err)
	e.Inc(stick.DataHTTPReqCnt, 1)
	require.NoError(t, e.SetElem(stick.DataGPT, 1, 42))
	e.IncElem(stick.DataGPC, 0, 5)
	e.IncElem(stick.DataGPC, 2, 300)
	e.IncElem(stick.DataGPCRate, 1, 7)
	upd := src.appendEntry(nil, e, 1, false, false)
	e.Release()
	// http_req_cnt, gpt[2], gpc[3], then gpc_rate's (age, current, previous) twice.
	head := cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1, 0, 42, 5, 0, 300))
	require.Equal(t, head, upd[:len(head)])
	r := reader{b: upd[len(head):]}
	var rates []uint64
	for range 6 {
		rates = append(rates, r.varint())
	}
	require.NoError(t, r.err)
	require.Empty(t, r.b)
	require.Equal(t, []uint64{0, 7, 0}, rates[3:], "element 1 was counted now")
	require.Equal(t, []uint64{0, 0}, rates[1:3], "element 0 counted nothing")

	_, err = applyUpdate(upd, define(t, src, dst), 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, []int64{1, 0, 42, 5, 0, 300, 0, 7},
		[]int64{g.Get(stick.DataHTTPReqCnt), g.GetElem(stick.DataGPT, 0), g.GetElem(stick.DataGPT, 1),
			g.GetElem(stick.DataGPC, 0), g.GetElem(stick.DataGPC, 1), g.GetElem(stick.DataGPC, 2),
			g.GetElem(stick.DataGPCRate, 0), g.GetElem(stick.DataGPCRate, 1)})
}

// TestApplyUpdateArrayCounts: a peer's array longer than the table's has
// its extra elements dropped; a shorter one leaves the rest alone.
func TestApplyUpdateArrayCounts(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store gpc(2),gpc_rate(3,1s)", freq.NewFakeClock(5)), 1)
	e, err := dst.t.GetOrCreate(ip("10.0.0.1"))
	require.NoError(t, err)
	require.NoError(t, e.SetElem(stick.DataGPCRate, 2, 9))
	e.Release()
	d := remoteDefOf(t, dst, bit(23, 24), 23, 4, 24, 1, 1000)
	body := cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1, 2, 3, 4), varints(0, 6, 0))
	_, err = applyUpdate(body, d, 0, false, false)
	require.NoError(t, err)
	g := lookup(t, dst.t, ip("10.0.0.1"))
	require.Equal(t, []int64{1, 2, 6, 0, 9},
		[]int64{g.GetElem(stick.DataGPC, 0), g.GetElem(stick.DataGPC, 1),
			g.GetElem(stick.DataGPCRate, 0), g.GetElem(stick.DataGPCRate, 1), g.GetElem(stick.DataGPCRate, 2)})
	// A malformed update changes nothing, arrays included.
	bad := cat(appendU32(nil, 2), ip("10.0.0.1"), varints(7, 7, 7, 7), varints(0, 8))
	_, err = applyUpdate(bad, d, 0, false, false)
	require.Error(t, err)
	require.Equal(t, int64(1), g.GetElem(stick.DataGPC, 0))
}

// TestApplyUpdateTimedExpiry checks the expiry of learned entries: the
// table's own for plain updates, the one sent for timed updates, even
// beyond the table's, as HAProxy 2.6 keeps it.
func TestApplyUpdateTimedExpiry(t *testing.T) {
	clk := freq.NewFakeClock(1_000_000)
	dst := mustShared(t, clockTable(t, "t", "type ip size 10 expire 1m store gpc0", clk), 1)
	d := remoteDefOf(t, dst, bit(2))
	for i, c := range []struct {
		inc, timed bool
		sent, want uint32
	}{
		{false, false, 0, 60000},
		{true, false, 0, 60000},
		{false, true, 10000, 10000},
		{true, true, 59999, 59999},
		{false, true, 60000, 60000},
		{false, true, 3_600_000, 3_600_000},
		{true, true, math.MaxUint32, math.MaxInt32},
		{false, true, 0, 0},
	} {
		key := ip("10.0.0.0")
		key[3] = byte(i)
		var body []byte
		if !c.inc {
			body = appendU32(body, 500)
		}
		if c.timed {
			body = appendU32(body, c.sent)
		}
		body = cat(body, key, varints(uint64(i)))
		id, err := applyUpdate(body, d, 99, c.inc, c.timed)
		require.NoError(t, err)
		if c.inc {
			require.Equal(t, uint32(100), id)
		} else {
			require.Equal(t, uint32(500), id)
		}
		g := lookup(t, dst.t, key)
		require.Equal(t, c.want, g.ExpiresIn(), "%+v", c)
		require.Equal(t, int64(i), g.Get(stick.DataGPC0))
	}
	// The incremental id wraps.
	id, err := applyUpdate(cat(ip("10.0.1.1"), varints(1)), d, math.MaxUint32, true, false)
	require.NoError(t, err)
	require.Zero(t, id)
}

// TestApplyUpdateTruncated cuts an update everywhere: each cut is an error
// and leaves the table as it was, an existing entry included.
func TestApplyUpdateTruncated(t *testing.T) {
	const def = "type string len 12 size 10 expire 1m store server_id,gpc0,conn_rate(10s),bytes_in_cnt"
	clk := freq.NewFakeClock(1_000_000)
	src := mustShared(t, clockTable(t, "t", def, clk), 1)
	dst := mustShared(t, clockTable(t, "t", def, clk), 1)
	d := define(t, src, dst)
	e, err := src.t.GetOrCreate([]byte("carol"))
	require.NoError(t, err)
	defer e.Release()
	require.NoError(t, e.Set(stick.DataServerID, -1))
	require.NoError(t, e.Set(stick.DataGPC0, 300))
	require.NoError(t, e.Set(stick.DataBytesInCnt, 1<<50))
	e.Ctr(stick.DataConnRate).Set(1_000_000-5000, 3000, 4000)

	old, err := dst.t.GetOrCreate([]byte("carol"))
	require.NoError(t, err)
	defer old.Release()
	require.NoError(t, old.Set(stick.DataGPC0, 1))
	old.Ctr(stick.DataConnRate).Set(1_000_000, 2, 3)
	oldTick, _, _ := old.Ctr(stick.DataConnRate).Snapshot()
	oldExp := old.ExpiresIn()
	clk.Advance(10)

	for _, form := range []struct{ inc, timed bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		body := src.appendEntry(nil, e, 9, form.inc, form.timed)
		for n := range len(body) {
			_, err := applyUpdate(body[:n], d, 8, form.inc, form.timed)
			require.Error(t, err, "%+v cut at %d of % x", form, n, body)
			require.Equal(t, 1, dst.t.Len())
			require.Equal(t, int64(1), old.Get(stick.DataGPC0))
			require.Zero(t, old.Get(stick.DataServerID))
			require.Zero(t, old.Get(stick.DataBytesInCnt))
			tick, curr, prev := old.Ctr(stick.DataConnRate).Snapshot()
			require.Equal(t, [3]uint32{oldTick, 2, 3}, [3]uint32{tick, curr, prev})
			require.Equal(t, oldExp-10, old.ExpiresIn(), "a bad update touched the entry")
		}
		_, err = applyUpdate(body, d, 8, form.inc, form.timed)
		require.NoError(t, err)
		require.Equal(t, int64(300), old.Get(stick.DataGPC0))
		require.NoError(t, old.Set(stick.DataGPC0, 1))
		require.NoError(t, old.Set(stick.DataServerID, 0))
		require.NoError(t, old.Set(stick.DataBytesInCnt, 0))
		old.Ctr(stick.DataConnRate).Set(oldTick, 2, 3)
		old.SetExpire(oldExp - 10)
	}
}

// TestApplyUpdateFullTable checks that an update a full table cannot take
// is dropped without error, as HAProxy drops it.
func TestApplyUpdateFullTable(t *testing.T) {
	dst := mustShared(t, clockTable(t, "t", "type ip size 1 nopurge expire 1m store gpc0", freq.NewFakeClock(5)), 1)
	d := remoteDefOf(t, dst, bit(2))
	_, err := applyUpdate(cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1)), d, 0, false, false)
	require.NoError(t, err)
	id, err := applyUpdate(cat(appendU32(nil, 2), ip("10.0.0.2"), varints(2)), d, 0, false, false)
	require.NoError(t, err)
	require.Equal(t, uint32(2), id)
	require.Equal(t, 1, dst.t.Len())
	_, err = dst.t.Lookup(ip("10.0.0.2"))
	require.ErrorIs(t, err, stick.ErrNotFound)
	// The entry it holds is still updated.
	_, err = applyUpdate(cat(appendU32(nil, 3), ip("10.0.0.1"), varints(3)), d, 0, false, false)
	require.NoError(t, err)
	require.Equal(t, int64(3), lookup(t, dst.t, ip("10.0.0.1")).Get(stick.DataGPC0))
}
