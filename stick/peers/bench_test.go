package peers

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// benchDef is an ip table storing four types: a signed and two unsigned
// counters and a rate.
const benchDef = "type ip size 100k expire 10m store server_id,gpc0,conn_cnt,http_req_rate(10s)"

func benchEntry(b *testing.B, tab *stick.Table, key []byte) *stick.Entry {
	e, err := tab.GetOrCreate(key)
	require.NoError(b, err)
	require.NoError(b, e.Set(stick.DataServerID, 3))
	require.NoError(b, e.Set(stick.DataGPC0, 12345))
	require.NoError(b, e.Set(stick.DataConnCnt, 678))
	e.Inc(stick.DataHTTPReqRate, 42)
	return e
}

// BenchmarkAppendEntry encodes one update, as a session does for each
// entry it pushes.
func BenchmarkAppendEntry(b *testing.B) {
	for _, c := range []struct {
		name       string
		inc, timed bool
	}{{"update", false, false}, {"incremental", true, false}, {"timed", false, true}} {
		b.Run(c.name, func(b *testing.B) {
			tab := clockTable(b, "t1", benchDef, freq.NewFakeClock(1<<20))
			st := mustShared(b, tab, 1)
			e := benchEntry(b, tab, ip("192.0.2.1"))
			defer e.Release()
			buf := st.appendEntry(nil, e, 1, c.inc, c.timed)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				buf = st.appendEntry(buf[:0], e, uint32(i), c.inc, c.timed)
			}
		})
	}
}

// BenchmarkApplyUpdate decodes and stores one update, as a session does
// for each update it receives: into an entry the table holds, and into
// new entries (which evict once the table is full).
func BenchmarkApplyUpdate(b *testing.B) {
	clk := freq.NewFakeClock(1 << 20)
	src := mustShared(b, clockTable(b, "t1", benchDef, clk), 1)
	e := benchEntry(b, src.t, ip("192.0.2.1"))
	body := src.appendEntry(nil, e, 1, false, false)
	e.Release()

	b.Run("existing", func(b *testing.B) {
		dst := mustShared(b, clockTable(b, "t1", benchDef, clk), 1)
		d := define(b, src, dst)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := applyUpdate(body, d, 0, false, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		dst := mustShared(b, clockTable(b, "t1", "type ip size 4096 expire 10m store server_id,gpc0,conn_cnt,http_req_rate(10s)", clk), 1)
		d := define(b, src, dst)
		body := append([]byte(nil), body...)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := uint32(0); b.Loop(); i++ {
			// A new key each time: the id stays, the key is bytes 4-7.
			binary.BigEndian.PutUint32(body[4:], 0x0a000000+i)
			if _, err := applyUpdate(body, d, 0, false, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
