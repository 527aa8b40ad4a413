package stick

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

// newTable builds a table on a fake clock with no background expirer and
// closes it at the end of the test.
func newTable(t testing.TB, cfg Config) (*Table, *freq.FakeClock) {
	t.Helper()
	clk := freq.NewFakeClock(1000)
	cfg.Clock = clk
	if cfg.ExpireInterval == 0 {
		cfg.ExpireInterval = -1
	}
	if cfg.Size == 0 {
		cfg.Size = 1000
	}
	tb, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tb.Close()) })
	return tb, clk
}

func ip4(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }

func TestLookupCreateRelease(t *testing.T) {
	tb, _ := newTable(t, Config{Name: "t", Type: KeyIPv4, Store: []DataSpec{{DataGPC0, 0, 0}}})
	k := []byte{10, 0, 0, 1}

	_, err := tb.Lookup(k)
	require.ErrorIs(t, err, ErrNotFound)

	e, err := tb.GetOrCreate(k)
	require.NoError(t, err)
	require.Equal(t, 1, e.Refs())
	require.Equal(t, 1, tb.Len())
	require.Equal(t, "10.0.0.1", e.Key())
	require.Equal(t, k, e.KeyBytes())

	e2, err := tb.GetOrCreate(k)
	require.NoError(t, err)
	require.Same(t, e, e2)
	e3, err := tb.Lookup(k)
	require.NoError(t, err)
	require.Same(t, e, e3)
	require.Equal(t, 3, e.Refs())
	require.Equal(t, 1, tb.Len())

	e.Release()
	e.Release()
	e.Release()
	e.Release() // one too many: ignored
	require.Equal(t, 0, e.Refs())

	_, err = tb.Lookup([]byte{1, 2, 3})
	require.ErrorIs(t, err, ErrBadKey)
	_, err = tb.GetOrCreate(nil)
	require.ErrorIs(t, err, ErrBadKey)
}

func TestKeyNormalisation(t *testing.T) {
	same := func(tb *Table, a, b []byte) {
		t.Helper()
		ea, err := tb.GetOrCreate(a)
		require.NoError(t, err)
		eb, err := tb.GetOrCreate(b)
		require.NoError(t, err)
		require.Same(t, ea, eb, "%q vs %q", a, b)
		ea.Release()
		eb.Release()
	}
	t.Run("string", func(t *testing.T) {
		tb, _ := newTable(t, Config{Type: KeyString, KeyLen: 8})
		same(tb, []byte("abcdefghijkl"), []byte("abcdefgh"))
		same(tb, []byte("ab\x00cd"), []byte("ab"))
		e, err := tb.Lookup([]byte("abcdefgh"))
		require.NoError(t, err)
		require.Equal(t, "abcdefgh", e.Key())
		e.Release()
		require.Equal(t, 2, tb.Len())
	})
	t.Run("binary", func(t *testing.T) {
		tb, _ := newTable(t, Config{Type: KeyBinary, KeyLen: 4})
		same(tb, []byte{1, 2}, []byte{1, 2, 0, 0})
		same(tb, []byte{1, 2, 3, 4, 5}, []byte{1, 2, 3, 4})
		e, err := tb.Lookup([]byte{1, 2})
		require.NoError(t, err)
		require.Equal(t, "01020000", e.Key())
		e.Release()
	})
	t.Run("ip", func(t *testing.T) {
		tb, _ := newTable(t, Config{Type: KeyIPv4})
		same(tb, []byte{1, 2, 3, 4}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4})
		_, err := tb.GetOrCreate(make([]byte, 16))
		require.ErrorIs(t, err, ErrBadKey)
	})
	t.Run("ipv6", func(t *testing.T) {
		tb, _ := newTable(t, Config{Type: KeyIPv6})
		same(tb, []byte{1, 2, 3, 4}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4})
		e, err := tb.Lookup([]byte{1, 2, 3, 4})
		require.NoError(t, err)
		require.Equal(t, "::ffff:1.2.3.4", e.Key())
		e.Release()
	})
	t.Run("integer", func(t *testing.T) {
		tb, _ := newTable(t, Config{Type: KeyInteger})
		same(tb, binary.BigEndian.AppendUint64(nil, 1<<32|42), []byte{0, 0, 0, 42})
		e, err := tb.Lookup([]byte{0, 0, 0, 42})
		require.NoError(t, err)
		require.Equal(t, "42", e.Key())
		require.Equal(t, []byte{0, 0, 0, 42}, e.KeyBytes())
		e.Release()
	})
}

func TestDataAccessors(t *testing.T) {
	tb, clk := newTable(t, Config{Type: KeyIPv4, Store: []DataSpec{
		{DataServerID, 0, 0}, {DataGPT0, 0, 0}, {DataGPC0, 0, 0}, {DataConnCur, 0, 0}, {DataConnCnt, 0, 0},
		{DataConnRate, 10 * time.Second, 0}, {DataBytesInCnt, 0, 0}, {DataBytesOutRate, time.Second, 0},
	}})
	clk.Set(0) // rate periods then start at 0, where the counters' zero value puts them
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	defer e.Release()

	require.EqualValues(t, 1, e.Inc(DataGPC0, 1))
	require.EqualValues(t, 3, e.Inc(DataGPC0, 2))
	require.EqualValues(t, 3, e.Get(DataGPC0))
	require.EqualValues(t, 2, e.Dec(DataGPC0, 1))
	require.EqualValues(t, 0, e.Dec(DataGPC0, 5), "counters stop at 0")

	require.NoError(t, e.Set(DataServerID, -3))
	require.EqualValues(t, -3, e.Get(DataServerID))
	require.NoError(t, e.Set(DataGPT0, -1))
	require.EqualValues(t, int64(4294967295), e.Get(DataGPT0), "32-bit like HAProxy's set table")

	require.EqualValues(t, int64(5_000_000_000), e.Inc(DataBytesInCnt, 5_000_000_000), "bytes counters are 64-bit")

	e.StartConn()
	e.StartConn()
	require.EqualValues(t, 2, e.Get(DataConnCur))
	require.EqualValues(t, 2, e.Get(DataConnCnt))
	require.EqualValues(t, 2, e.Get(DataConnRate))
	e.EndConn()
	require.EqualValues(t, 1, e.Get(DataConnCur))

	// Rates: 2 events in the previous 10 s period count for half of it
	// once half the current period has gone.
	clk.Advance(10_000)
	require.EqualValues(t, 2, e.Get(DataConnRate))
	clk.Advance(5_000)
	require.EqualValues(t, 1, e.Get(DataConnRate))
	clk.Advance(10_000)
	require.EqualValues(t, 0, e.Get(DataConnRate))

	require.EqualValues(t, 1000, e.Inc(DataBytesOutRate, 1000))
	require.NoError(t, e.Set(DataConnRate, 7))
	require.EqualValues(t, 7, e.Get(DataConnRate))
	require.NotNil(t, e.Ctr(DataConnRate))
	require.Nil(t, e.Ctr(DataGPC0))

	// Types not stored: reads are 0, writes are refused or ignored.
	require.EqualValues(t, 0, e.Inc(DataHTTPReqCnt, 1))
	require.EqualValues(t, 0, e.Get(DataHTTPReqCnt))
	require.EqualValues(t, 0, e.Get(DataType(200)))
	require.ErrorIs(t, e.Set(DataHTTPReqCnt, 1), ErrNotStored)
	require.Equal(t, 10*time.Second, tb.Period(DataConnRate))
}

func TestExpiryWithDrivenClock(t *testing.T) {
	tb, clk := newTable(t, Config{Type: KeyIPv4, Expire: 30 * time.Second})
	for i := range uint32(3) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		e.Touch()
		e.Release()
	}
	held, err := tb.Lookup(ip4(2))
	require.NoError(t, err)

	clk.Advance(20_000)
	touched, err := tb.Lookup(ip4(1))
	require.NoError(t, err)
	touched.Touch()
	touched.Release()
	require.EqualValues(t, 30_000, touched.ExpiresIn())

	clk.Advance(9_999)
	require.Equal(t, 0, tb.Expire(clk.NowMs()))
	require.Equal(t, 3, tb.Len())

	clk.Advance(1)
	require.Equal(t, 1, tb.Expire(clk.NowMs()), "only the untouched, unreferenced entry expires")
	_, err = tb.Lookup(ip4(0))
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, 2, tb.Len())
	require.EqualValues(t, 30_000, held.ExpiresIn(), "a referenced expired entry gets a new expiry")

	held.Release()
	clk.Advance(30_000)
	require.Equal(t, 2, tb.Expire(clk.NowMs()))
	require.Equal(t, 0, tb.Len())
}

func TestExpiryAcrossClockWrap(t *testing.T) {
	tb, clk := newTable(t, Config{Type: KeyIPv4, Expire: 10 * time.Second})
	clk.Set(^uint32(0) - 5_000)
	for i := range uint32(2) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		e.Release()
		clk.Advance(8_000) // the second entry expires after the wrap
	}
	clk.Set(4_999 - 5_000 + 10_000 - 1) // just before the first expiry... wrapped
	require.Equal(t, 1, tb.Expire(clk.NowMs()))
	_, err := tb.Lookup(ip4(0))
	require.ErrorIs(t, err, ErrNotFound)
	clk.Advance(8_000)
	require.Equal(t, 1, tb.Expire(clk.NowMs()))
}

func TestBackgroundExpirer(t *testing.T) {
	clk := freq.NewFakeClock(1000)
	tb, err := New(Config{Type: KeyIPv4, Size: 10, Expire: time.Second, Clock: clk, ExpireInterval: time.Millisecond})
	require.NoError(t, err)
	defer tb.Close()
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	e.Release()
	clk.Advance(1000)
	require.Eventually(t, func() bool { return tb.Len() == 0 }, 5*time.Second, time.Millisecond)
}

func TestEvictionUnderPressure(t *testing.T) {
	tb, clk := newTable(t, Config{Type: KeyIPv4, Size: 4})
	var ents []*Entry
	for i := range uint32(4) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		ents = append(ents, e)
		clk.Advance(1)
	}
	// 0 and 2 stay referenced; 1 and 3 are released, 3 touched last.
	ents[1].Release()
	ents[3].Touch()
	ents[3].Release()

	e, err := tb.GetOrCreate(ip4(10))
	require.NoError(t, err, "the oldest unreferenced entry makes room")
	e.Release()
	require.Equal(t, 4, tb.Len())
	_, err = tb.Lookup(ip4(1))
	require.ErrorIs(t, err, ErrNotFound, "entry 1 was the oldest unreferenced one")
	for _, k := range []uint32{0, 2, 3} {
		e, err := tb.Lookup(ip4(k))
		require.NoError(t, err, "entry %d must survive", k)
		e.Release()
	}

	// Reference everything: nothing can be evicted.
	for _, k := range []uint32{3, 10} {
		e, err := tb.Lookup(ip4(k))
		require.NoError(t, err)
		defer e.Release()
	}
	_, err = tb.GetOrCreate(ip4(20))
	require.ErrorIs(t, err, ErrTableFull)
	require.Equal(t, 4, tb.Len())
	ents[0].Release()
	e, err = tb.GetOrCreate(ip4(20))
	require.NoError(t, err)
	e.Release()
	_, err = tb.Lookup(ip4(0))
	require.ErrorIs(t, err, ErrNotFound)
	ents[2].Release()
}

func TestEvictionManyShards(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Size: 1000, Shards: 64})
	held := map[uint32]*Entry{}
	for i := range uint32(5000) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		if i%10 == 0 && len(held) < 500 {
			held[i] = e
			continue
		}
		e.Release()
	}
	require.LessOrEqual(t, tb.Len(), 1000)
	for k, e := range held {
		got, err := tb.Lookup(ip4(k))
		require.NoError(t, err, "referenced entry %d was evicted", k)
		require.Same(t, e, got)
		got.Release()
		e.Release()
	}
}

func TestNoPurge(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Size: 2, NoPurge: true})
	for i := range uint32(2) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		e.Release()
	}
	_, err := tb.GetOrCreate(ip4(9))
	require.ErrorIs(t, err, ErrTableFull)
	require.ErrorContains(t, err, "none of them evictable")
}

func TestSlotReuseClearsData(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyString, Size: 1, Store: []DataSpec{{DataGPC0, 0, 0}}})
	e, err := tb.GetOrCreate([]byte("a"))
	require.NoError(t, err)
	e.Inc(DataGPC0, 5)
	e.Release()
	e, err = tb.GetOrCreate([]byte("b"))
	require.NoError(t, err)
	defer e.Release()
	require.EqualValues(t, 0, e.Get(DataGPC0))
	require.Equal(t, "b", e.Key())
	_, err = tb.Lookup([]byte("a"))
	require.ErrorIs(t, err, ErrNotFound)
}

func TestUpdateSequence(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Sync: true})
	get := func(k uint32) *Entry {
		e, err := tb.GetOrCreate(ip4(k))
		require.NoError(t, err)
		return e
	}
	a, b, c := get(1), get(2), get(3)
	defer a.Release()
	defer b.Release()
	defer c.Release()

	_, ok := a.UpdateSeq()
	require.False(t, ok, "no sequence before the first touch")

	a.Touch()
	b.Touch()
	seq, ok := a.UpdateSeq()
	require.True(t, ok)
	require.EqualValues(t, 1, seq)
	seq, _ = b.UpdateSeq()
	require.EqualValues(t, 2, seq)

	a.Touch()
	seq, _ = a.UpdateSeq()
	require.EqualValues(t, 1, seq, "an unsent local update is not requeued")
	a.MarkSeen()
	a.Touch()
	seq, _ = a.UpdateSeq()
	require.EqualValues(t, 3, seq, "once sent, a local touch takes a new sequence")

	c.TouchRemote()
	seq, _ = c.UpdateSeq()
	require.EqualValues(t, uint32(4+remoteOffset), seq, "remote updates go to the opposite half")
	c.TouchRemote()
	seq2, _ := c.UpdateSeq()
	require.Equal(t, seq, seq2, "a queued entry is not requeued by a remote touch")
	c.Touch()
	seq, _ = c.UpdateSeq()
	require.EqualValues(t, 5, seq, "a local touch replaces a pending remote update")
	b.TouchRemote()
	seq, _ = b.UpdateSeq()
	require.EqualValues(t, 2, seq, "a remote touch leaves a queued local update alone")

	update, local := tb.LastUpdate()
	require.EqualValues(t, 5, update)
	require.EqualValues(t, 5, local)

	type upd struct {
		seq uint32
		key string
	}
	var got []upd
	for s, e := range tb.UpdatesAfter(0) {
		require.GreaterOrEqual(t, e.Refs(), 2, "yielded entries are referenced")
		got = append(got, upd{s, e.Key()})
	}
	require.Equal(t, []upd{{2, "0.0.0.2"}, {3, "0.0.0.1"}, {5, "0.0.0.3"}}, got)
	got = got[:0]
	for s, e := range tb.UpdatesAfter(2) {
		got = append(got, upd{s, e.Key()})
		break
	}
	require.Equal(t, []upd{{3, "0.0.0.1"}}, got)
	require.Equal(t, 1, a.Refs(), "iterator references are given back, even on break")

	d := get(4)
	d.TouchRemote()
	d.Release()
	n := 0
	for s := range tb.UpdatesAfter(5) {
		require.EqualValues(t, uint32(6+remoteOffset), s)
		n++
	}
	require.Equal(t, 1, n)
	ok, err := tb.Delete(ip4(4))
	require.NoError(t, err)
	require.True(t, ok)
	for range tb.UpdatesAfter(5) {
		t.Fatal("a removed entry leaves the update order")
	}
}

func TestUpdatesAfterManyBatches(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Sync: true, Size: 1000})
	for i := range uint32(300) {
		e, err := tb.GetOrCreate(ip4(i))
		require.NoError(t, err)
		e.Touch()
		e.Release()
	}
	var prev uint32
	n := 0
	for s, e := range tb.UpdatesAfter(0) {
		require.Greater(t, s, prev)
		require.Equal(t, ip4(s-1), e.KeyBytes())
		prev = s
		n++
	}
	require.Equal(t, 300, n)
}

func TestUnsyncedTableHasNoUpdates(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4})
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	e.Touch()
	e.Release()
	_, ok := e.UpdateSeq()
	require.False(t, ok)
	for range tb.UpdatesAfter(0) {
		t.Fatal("no updates without Sync")
	}
}

func TestConcurrentCreateTouchRelease(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(32))
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", synced), func(t *testing.T) {
			// A big table checks that no increment is lost; a small one
			// runs eviction and expiry under pressure at the same time.
			big, _ := newTable(t, Config{Type: KeyIPv4, Size: 1 << 12, Sync: synced, Expire: time.Hour,
				Store: []DataSpec{{DataConnCnt, 0, 0}, {DataConnCur, 0, 0}, {DataConnRate, time.Second, 0}}})
			small, clk := newTable(t, Config{Type: KeyString, Size: 64, Sync: synced, Expire: time.Second,
				Store: []DataSpec{{DataGPC0, 0, 0}}})
			const workers, ops = 32, 2000
			var wg sync.WaitGroup
			stop := churn(func() {
				clk.Advance(10)
				small.Expire(clk.NowMs())
				for range small.UpdatesAfter(0) {
				}
			})
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range ops {
						e, err := big.GetOrCreate(ip4(uint32(i % 256)))
						if err != nil {
							t.Error(err)
							return
						}
						e.StartConn()
						e.EndConn()
						e.Release()

						k := []byte(fmt.Sprintf("k%d", (w*ops+i)%200))
						e, err = small.GetOrCreate(k)
						if err == nil {
							e.Inc(DataGPC0, 1)
							if i%2 == 0 {
								e.Touch()
								e.Release()
							} else {
								e.TouchRelease()
							}
						}
					}
				}()
			}
			wg.Wait()
			stop()
			var total int64
			for i := range uint32(256) {
				e, err := big.Lookup(ip4(i))
				require.NoError(t, err)
				require.Equal(t, 1, e.Refs(), "every reference was given back")
				require.EqualValues(t, 0, e.Get(DataConnCur))
				total += e.Get(DataConnCnt)
				e.Release()
			}
			require.EqualValues(t, workers*ops, total)
			require.LessOrEqual(t, small.Len(), 64)
		})
	}
}

func TestCloseStopsEverything(t *testing.T) {
	fds := func() int {
		d, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(d)
	}
	settle := func(want func() bool) bool {
		for range 200 {
			if want() {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	// Goroutines of earlier tests' tables may still be ending: count
	// from a figure that has stopped moving.
	g0 := runtime.NumGoroutine()
	for same := 0; same < 3; {
		time.Sleep(10 * time.Millisecond)
		if g := runtime.NumGoroutine(); g == g0 {
			same++
		} else {
			g0, same = g, 0
		}
	}
	f0 := fds()
	tb, err := New(Config{Type: KeyIPv4, Size: 10, Expire: time.Second})
	require.NoError(t, err)
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	e.Release()
	require.Greater(t, runtime.NumGoroutine(), g0, "the expirer runs")
	require.NoError(t, tb.Close())
	require.NoError(t, tb.Close())
	require.True(t, settle(func() bool { return runtime.NumGoroutine() <= g0 }), "goroutines: %d > %d", runtime.NumGoroutine(), g0)
	require.True(t, settle(func() bool { return fds() <= f0 }))

	_, err = tb.GetOrCreate(ip4(1))
	require.ErrorIs(t, err, ErrClosed)
	_, err = tb.Lookup(ip4(1))
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, 0, tb.Len())
	require.Equal(t, 0, tb.Expire(0))
}

func TestAtVariantsUseTheGivenDate(t *testing.T) {
	tb, clk := newTable(t, Config{Type: KeyIPv4, Expire: 10 * time.Second, Store: []DataSpec{{DataConnRate, time.Second, 0}, {DataGPC0, 0, 0}}})
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	defer e.Release()
	now := tb.Now()
	require.Equal(t, clk.NowMs(), now)
	clk.Advance(5000)
	e.TouchAt(now)
	require.EqualValues(t, 5000, e.ExpiresIn(), "expiry counted from the given date")
	require.EqualValues(t, 2, e.IncAt(DataConnRate, 2, tb.Now()))
	require.EqualValues(t, 3, e.IncAt(DataGPC0, 3, 0), "non-rates ignore the date")
}

// TestLockFreeLookupUnderChurn drives the lock-free lookup of ip tables
// against eviction, expiry and slot reuse: every entry handed out must
// carry the key asked for, stay put while referenced, and every
// reference must be given back.
func TestLockFreeLookupUnderChurn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(32))
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", synced), func(t *testing.T) {
			tb, clk := newTable(t, Config{Type: KeyIPv4, Size: 64, Shards: 2, Sync: synced, Expire: time.Second,
				Store: []DataSpec{{DataGPC0, 0, 0}}})
			held, err := tb.GetOrCreate(ip4(1 << 20))
			require.NoError(t, err)
			const workers, ops = 16, 3000
			var wg sync.WaitGroup
			stop := churn(func() {
				clk.Advance(100)
				tb.Expire(clk.NowMs())
			})
			for w := range workers {
				wg.Go(func() {
					for i := range ops {
						k := ip4(uint32((w*ops + i) % 200))
						var e *Entry
						var err error
						if i%3 == 0 {
							if e, err = tb.Lookup(k); errors.Is(err, ErrNotFound) {
								continue
							}
						} else if e, err = tb.GetOrCreate(k); errors.Is(err, ErrTableFull) {
							// Creators may take the room another one made;
							// the table gives up after a bounded effort.
							continue
						}
						if err != nil {
							t.Error(err)
							return
						}
						if !bytes.Equal(e.KeyBytes(), k) || e.Refs() < 1 {
							t.Errorf("asked for %v, got %v with %d refs", k, e.KeyBytes(), e.Refs())
						}
						e.Inc(DataGPC0, 1)
						if i%2 == 0 {
							e.Touch()
							e.Release()
						} else {
							e.TouchRelease() // the same, as one compare-and-swap
						}
					}
				})
			}
			wg.Wait()
			stop()
			require.Equal(t, ip4(1<<20), held.KeyBytes(), "a referenced entry is never evicted")
			require.Equal(t, 1, held.Refs())
			held.Release()
			for i := range uint32(200) {
				if e, err := tb.Lookup(ip4(i)); err == nil {
					require.Equal(t, 1, e.Refs(), "every reference was given back")
					e.Release()
				}
			}
			require.LessOrEqual(t, tb.Len(), 64)
		})
	}
}

// churn runs step over and over on its own goroutine, yielding between
// rounds, until the returned function is called; that function waits for
// the goroutine to end.
func churn(step func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			step()
			runtime.Gosched()
		}
	}()
	return func() { close(quit); <-done }
}

// TestTouchRelease checks the combined call against Touch then Release:
// the expiry is refreshed, one reference is given back, an update is
// queued on a Sync table, and a call with no reference held changes
// nothing, not even the expiry.
func TestTouchRelease(t *testing.T) {
	for _, sync := range []bool{false, true} {
		tb, clk := newTable(t, Config{Type: KeyIPv4, Expire: 30 * time.Second, Sync: sync})
		e, err := tb.GetOrCreate(ip4(7))
		require.NoError(t, err)
		again, err := tb.Lookup(ip4(7))
		require.NoError(t, err)
		require.Same(t, e, again)
		require.Equal(t, 2, e.Refs())

		clk.Advance(10_000)
		e.TouchReleaseAt(tb.Now())
		require.Equal(t, 1, e.Refs())
		require.EqualValues(t, 30_000, e.ExpiresIn())
		seq, queued := e.UpdateSeq()
		require.Equal(t, sync, queued)

		clk.Advance(5_000)
		e.TouchRelease()
		require.Equal(t, 0, e.Refs())
		require.EqualValues(t, 30_000, e.ExpiresIn())
		seq2, _ := e.UpdateSeq()
		require.Equal(t, seq, seq2, "an unsent local update keeps its sequence")

		e.MarkSeen() // a local touch would now queue a new update
		clk.Advance(5_000)
		e.TouchRelease() // no reference held: ignored
		require.Equal(t, 0, e.Refs())
		require.EqualValues(t, 25_000, e.ExpiresIn())
		seq3, _ := e.UpdateSeq()
		require.Equal(t, seq, seq3, "no update queued without a reference")

		clk.Advance(25_000)
		require.Equal(t, 1, tb.Expire(clk.NowMs()), "released: the entry expires")
	}
}

// Without a Clock, a busy table reads its dates from a cache of its own,
// which tracks the system clock and stops with the table.
func TestDefaultClockCachesWhileBusy(t *testing.T) {
	tb, err := New(Config{Type: KeyIPv4, Size: 100, Expire: time.Minute, Store: []DataSpec{{DataConnRate, time.Second, 0}}})
	require.NoError(t, err)
	require.NotNil(t, tb.cached)
	for i := 0; i < 1_000_000 && !tb.cached.Cached(); i++ {
		e, err := tb.GetOrCreate(ip4(uint32(i % 50)))
		require.NoError(t, err)
		e.Inc(DataConnRate, 1)
		e.TouchRelease()
	}
	require.True(t, tb.cached.Cached(), "a million operations did not start the cache")
	before := freq.SystemClock.NowMs()
	deadline := time.Now().Add(10 * time.Second)
	for int32(tb.Now()-before) < 3 && time.Now().Before(deadline) {
		require.LessOrEqual(t, int32(tb.Now()-freq.SystemClock.NowMs()), int32(0), "ahead of the system clock")
	}
	require.GreaterOrEqual(t, int32(tb.Now()-before), int32(3), "the table's date did not move")

	require.NoError(t, tb.Close())
	require.False(t, tb.cached.Cached(), "Close left the cache running")
	now := freq.SystemClock.NowMs()
	require.GreaterOrEqual(t, int32(tb.Now()-now), int32(0), "a closed table reads the system clock")
}

func TestNotifyUpdatesAndAccessors(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyString, KeyLen: 12, Sync: true, Size: 10, Expire: 90 * time.Second,
		Store: []DataSpec{{Type: DataHTTPReqRate, Period: 10 * time.Second}, {Type: DataGPC0}}})
	require.Equal(t, 12, tb.KeyLen())
	require.Equal(t, 90*time.Second, tb.ExpireAfter())
	require.Equal(t, []DataType{DataGPC0, DataHTTPReqRate}, tb.StoredTypes(), "HAProxy's order, whatever the order of Store")

	c1, c2 := make(chan struct{}, 1), make(chan struct{}, 1)
	stop1 := tb.NotifyUpdates(c1)
	stop2 := tb.NotifyUpdates(c2)
	e, err := tb.GetOrCreate([]byte("k"))
	require.NoError(t, err)
	e.Touch()
	e.MarkSeen()
	e.Touch() // a second update while the first signal is pending: coalesced
	e.Release()
	require.Len(t, c1, 1)
	require.Len(t, c2, 1)
	<-c1
	<-c2
	stop1()
	stop1() // idempotent
	e, err = tb.GetOrCreate([]byte("k2"))
	require.NoError(t, err)
	e.TouchRelease()
	require.Len(t, c1, 0, "stopped watchers hear nothing")
	require.Len(t, c2, 1)
	stop2()

	plain, _ := newTable(t, Config{Type: KeyIPv4, Size: 10})
	c3 := make(chan struct{}, 1)
	stop3 := plain.NotifyUpdates(c3)
	e, err = plain.GetOrCreate(ip4(1))
	require.NoError(t, err)
	e.TouchRelease()
	require.Len(t, c3, 0, "a table without Sync queues no update")
	stop3()
}

func TestAppendKey(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyInteger, Size: 10})
	e, err := tb.GetOrCreate([]byte{0, 0, 1, 2})
	require.NoError(t, err)
	defer e.Release()
	buf := make([]byte, 2, 16)
	out := e.AppendKey(buf)
	require.Equal(t, []byte{0, 0, 0, 0, 1, 2}, out, "appended after what b holds, big-endian")
	require.Equal(t, &buf[:cap(buf)][0], &out[0], "no new array while b has room")
	require.Zero(t, testing.AllocsPerRun(100, func() { out = e.AppendKey(buf[:0]) }))
	require.Equal(t, e.KeyBytes(), out)
}
