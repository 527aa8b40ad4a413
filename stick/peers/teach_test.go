package peers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// Teach carries every entry with the data types both tables store and
// the time it has left, even beyond the new table's expire, as learned
// from a peer; a table with another key gets nothing.
func TestTeach(t *testing.T) {
	clock := freq.NewFakeClock(1000)
	src := clockTable(t, "tb", "type ip size 10 expire 10m store gpc0,http_req_rate(10s),conn_cur,server_id,gpt0", clock)
	for i, k := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		e, err := src.GetOrCreate(ip(k))
		require.NoError(t, err)
		e.Inc(stick.DataGPC0, int64(i+1))
		e.Inc(stick.DataHTTPReqRate, 5)
		e.Inc(stick.DataConnCur, 2)
		require.NoError(t, e.Set(stick.DataServerID, 7))
		e.TouchRelease()
		clock.Advance(1000)
	}
	// 10.0.0.1 has 597 s left, 10.0.0.3 599 s.

	same := clockTable(t, "tb", "type ip size 2 expire 30m store gpc0,gpc1,http_req_rate(20s),conn_cur,server_id", clock)
	ok, err := Teach(same, src)
	require.NoError(t, err)
	require.True(t, ok)
	// A smaller table keeps the last ones taught, as it evicts the oldest.
	require.Equal(t, 2, same.Len())
	for i, k := range []string{"10.0.0.2", "10.0.0.3"} {
		e, err := same.Lookup(ip(k))
		require.NoError(t, err)
		require.NotNil(t, e, k)
		require.EqualValues(t, i+2, e.Get(stick.DataGPC0))
		require.EqualValues(t, 0, e.Get(stick.DataGPC1))
		require.EqualValues(t, 5, e.Get(stick.DataHTTPReqRate))
		require.EqualValues(t, 0, e.Get(stick.DataConnCur), "conn_cur is never taught")
		require.EqualValues(t, 7, e.Get(stick.DataServerID))
		require.EqualValues(t, 598000+i*1000, e.ExpiresIn(), "the time left, not the new expire")
		e.Release()
	}
	// Learned, not local: a Section would not push them.
	update, local := same.LastUpdate()
	require.NotZero(t, update)
	require.Zero(t, local)

	shorter := clockTable(t, "tb", "type ip size 10 expire 1m store gpc0", clock)
	ok, err = Teach(shorter, src)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 3, shorter.Len())
	e, err := shorter.Lookup(ip("10.0.0.1"))
	require.NoError(t, err)
	require.EqualValues(t, 1, e.Get(stick.DataGPC0))
	require.EqualValues(t, 597000, e.ExpiresIn(), "the time left, beyond the new expire")
	e.Release()

	for _, def := range []string{"type string len 32 size 10 expire 10m store gpc0", "type ipv6 size 10 expire 10m store gpc0"} {
		other := clockTable(t, "tb", def, clock)
		ok, err = Teach(other, src)
		require.NoError(t, err)
		require.False(t, ok, def)
		require.Zero(t, other.Len(), def)
	}
	renamed := clockTable(t, "tc", "type ip size 10 expire 10m store gpc0", clock)
	ok, err = Teach(renamed, src)
	require.NoError(t, err)
	require.False(t, ok)
	require.Zero(t, renamed.Len())
}
