package peers

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// fuzzDefs are tables of every key type, storing every kind of value.
var fuzzDefs = [][2]string{
	{"t1", "type ip size 64 expire 1m store server_id,gpc0,conn_cnt,conn_cur,http_req_rate(10s),bytes_in_cnt,http_fail_cnt"},
	{"t2", "type string len 8 size 64 expire 1m store gpt0,conn_rate(1s)"},
	{"t3", "type integer size 4 nopurge expire 1m store gpc1,bytes_out_cnt"},
	{"t4", "type binary len 6 size 64 store gpc0"},
	{"t5", "type ipv6 size 64 expire 1h store sess_cnt,sess_rate(1m)"},
	{"t6", "type ip size 64 expire 1m store gpt(2),gpc(3),gpc_rate(2,10s)"},
}

// fuzzSeeds returns message streams a peer could send: every message kind
// of every table, alone and in sequences, for the fuzzer to start from.
func fuzzSeeds(t testing.TB, sess *session) [][]byte {
	clk := freq.NewFakeClock(1 << 30)
	var all [][]byte
	var stream []byte
	for i, st := range sess.s.tables {
		src := mustShared(t, clockTable(t, st.name, fuzzDefs[i][1], clk), uint64(i+1))
		keys := map[stick.KeyType][]byte{
			stick.KeyIPv4: ip("10.1.2.3"), stick.KeyIPv6: v6("2001:db8::7"), stick.KeyInteger: {0, 0, 1, 0},
			stick.KeyString: []byte("abc"), stick.KeyBinary: {1, 2, 3, 4, 5, 6},
		}
		e, err := src.t.GetOrCreate(keys[src.t.KeyType()])
		require.NoError(t, err)
		for _, dt := range src.t.StoredTypes() {
			for i := range src.t.Elems(dt) {
				e.IncElem(dt, i, int64(300+i))
			}
		}
		msgs := [][]byte{
			src.def,
			tableMsg(msgUpdate, src.appendEntry(nil, e, 1, false, false)),
			tableMsg(msgIncUpdate, src.appendEntry(nil, e, 2, true, false)),
			tableMsg(msgUpdateTimed, src.appendEntry(nil, e, 3, false, true)),
			tableMsg(msgIncUpdateTimed, src.appendEntry(nil, e, 4, true, true)),
			tableMsg(msgSwitch, varints(uint64(i+1))),
			tableMsg(msgAck, cat(varints(uint64(i+1)), appendU32(nil, 2))),
		}
		e.Release()
		all = append(all, cat(msgs...))
		stream = cat(stream, cat(msgs...))
	}
	all = append(all, stream)
	// Control and error messages, reserved and unknown classes, lengths.
	all = append(all,
		[]byte{0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 9},
		[]byte{1, 0, 1, 1, 1, 0x80, 0},
		[]byte{255, 0},
		[]byte{7, 0x80, 3, 1, 2, 3, 7, 1},
		cat([]byte{10, 0x80}, AppendVarint(nil, maxBody+1)),
		[]byte{10, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		cat([]byte{0, 0}, sess.s.tables[0].def, []byte{0, 1, 0, 3}),
	)
	// Arrays and dictionary values in a definition of t1.
	all = append(all, cat(
		tableMsg(msgDefine, defBody(9, "t1", wireKeyIPv4, 4, bit(2, 19, 20, 22, 24), 60000, 22, 2, 24, 1, 1000)),
		tableMsg(msgUpdate, cat(appendU32(nil, 1), ip("10.0.0.1"), varints(1), []byte{6, 3, 4}, []byte("srv1"), varints(2, 3, 4, 5, 6, 7))),
		tableMsg(msgIncUpdate, cat(ip("10.0.0.2"), varints(1), []byte{1, 3}, varints(2, 3, 4, 5, 6, 7))),
		tableMsg(msgIncUpdate, cat(ip("10.0.0.3"), varints(1, 0, 2, 3, 4, 5, 6, 7))),
	))
	// A definition without expire, and one that matches nothing.
	all = append(all, cat(
		tableMsg(msgDefine, defBody(3, "t2", wireKeyStr, 9, bit(1, 5), -1)),
		tableMsg(msgUpdate, cat(appendU32(nil, 1), varints(20), []byte("0123456789abcdefghij"), varints(1, 2, 3, 4))),
		tableMsg(msgDefine, defBody(3, "zz", wireKeyStr, 9, bit(1), 0)),
		tableMsg(msgUpdate, cat(appendU32(nil, 1), varints(3), []byte("abc"), varints(1))),
	))
	return all
}

// FuzzMessages feeds arbitrary bytes to a session's reader, as if a peer
// sent them after its hello, then lets the writer answer. Nothing may
// panic; a read ends with an error, and a protocol error is announced to
// the peer before the close.
func FuzzMessages(f *testing.F) {
	base := testSession(f, fuzzDefs)
	for _, s := range fuzzSeeds(f, base) {
		f.Add(s)
	}
	sec := base.s
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &fakeConn{r: bytes.NewReader(data)}
		sess := newSession(sec, sec.remotes["peer"], c)
		defer func() {
			for _, stop := range sess.stop {
				stop()
			}
		}()
		err := sess.reader(bufio.NewReaderSize(c, readBuf))
		require.Error(t, err)
		var pe *ProtocolError
		if errors.As(err, &pe) {
			w := c.written()
			require.GreaterOrEqual(t, len(w), 2)
			tail := w[len(w)-2:]
			require.True(t, bytes.Equal(tail, []byte{1, 0}) || bytes.Equal(tail, []byte{1, 1}), "error %v announced as % x", err, tail)
		}
		// The writer's half: acks, confirmations, a lesson if one was
		// asked for.
		for range 100 {
			if _, more := sess.fill(nil); !more {
				break
			}
		}
	})
}

// FuzzVarint checks that every 64-bit value survives a round trip, and
// that decoding arbitrary bytes never panics and gives back the canonical
// encoding of what it read (below 10 bytes, where no bit overflows).
func FuzzVarint(f *testing.F) {
	for _, v := range []uint64{0, 239, 240, 2287, 2288, 0x1234, math.MaxUint32, math.MaxUint64} {
		f.Add(v, AppendVarint(nil, v))
	}
	f.Add(uint64(0), []byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v uint64, b []byte) {
		enc := AppendVarint(nil, v)
		r := reader{b: enc}
		require.Equal(t, v, r.varint())
		require.NoError(t, r.err)
		require.Empty(t, r.b)

		r = reader{b: b}
		got := r.varint()
		if r.err != nil {
			require.Zero(t, got)
			return
		}
		used := b[:len(b)-len(r.b)]
		if len(used) < 10 {
			require.Equal(t, AppendVarint(nil, got), used)
		}
	})
}
