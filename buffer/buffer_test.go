package buffer

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// fill builds a buffer of size with head at head and the given data.
func fill(t *testing.T, size, head int, data string) *Buffer {
	t.Helper()
	b := New(size)
	b.head = head
	n, err := b.Write([]byte(data))
	require.NoError(t, err)
	require.Equal(t, len(data), n)
	return b
}

func joined(a, b []byte) string { return string(a) + string(b) }

func TestBufferViews(t *testing.T) {
	tests := []struct {
		name           string
		size, head     int
		data           string
		d1, d2, f1, f2 int
	}{
		{"empty", 8, 0, "", 0, 0, 8, 0},
		{"contiguous", 8, 2, "abc", 3, 0, 3, 2},
		{"to the end", 8, 5, "abc", 3, 0, 5, 0},
		{"wrapped", 8, 6, "abcde", 2, 3, 3, 0},
		{"full wrapped", 8, 6, "abcdefgh", 2, 6, 0, 0},
		{"full aligned", 8, 0, "abcdefgh", 8, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := fill(t, tc.size, tc.head, tc.data)
			d1, d2 := b.Data()
			f1, f2 := b.Free()
			require.Equal(t, tc.data, joined(d1, d2))
			require.Equal(t, []int{tc.d1, tc.d2, tc.f1, tc.f2}, []int{len(d1), len(d2), len(f1), len(f2)})
			require.Equal(t, tc.size-len(tc.data), b.Room())
			require.Equal(t, len(tc.data) == tc.size, b.IsFull())
		})
	}
}

func TestBufferWrapAroundFillAndDrain(t *testing.T) {
	b := New(8)
	_, err := b.Write([]byte("012345"))
	require.NoError(t, err)
	require.NoError(t, b.Del(4))
	require.Equal(t, 4, b.Head())

	// Fill the free space through the views, as a read(2) would.
	f1, f2 := b.Free()
	require.Len(t, f1, 2) // area[6:8]
	require.Len(t, f2, 4) // area[0:4]
	copy(f1, "ab")
	copy(f2, "cd")
	require.NoError(t, b.Add(4))
	d1, d2 := b.Data()
	require.Equal(t, "45abcd", joined(d1, d2))
	require.NotEmpty(t, d2, "data must wrap")

	out := make([]byte, 3)
	n, err := b.Read(out)
	require.NoError(t, err)
	require.Equal(t, "45a", string(out[:n]))
	require.Equal(t, 3, b.Len())

	require.Error(t, b.Add(6))
	require.ErrorIs(t, b.Del(4), ErrRange)

	require.NoError(t, b.Del(3))
	require.Zero(t, b.Head(), "an emptied buffer realigns")
	_, err = b.Read(out)
	require.ErrorIs(t, err, io.EOF)
}

func TestBufferWriteTruncates(t *testing.T) {
	b := fill(t, 4, 3, "ab")
	n, err := b.Write([]byte("cdef"))
	require.ErrorIs(t, err, ErrFull)
	require.Equal(t, 2, n)
	d1, d2 := b.Data()
	require.Equal(t, "abcd", joined(d1, d2))
}

func TestBufferPeek(t *testing.T) {
	b := fill(t, 8, 6, "abcdef")
	p := make([]byte, 3)
	for off, want := range []string{"abc", "bcd", "cde", "def", "ef", "f", ""} {
		n := b.Peek(off, p)
		require.Equal(t, want, string(p[:n]), "offset %d", off)
	}
	require.Equal(t, 6, b.Len(), "peek consumes nothing")
}

func TestBufferRealign(t *testing.T) {
	b := fill(t, 8, 5, "abcdef")
	b.Realign()
	require.Zero(t, b.Head())
	d1, d2 := b.Data()
	require.Equal(t, "abcdef", string(d1))
	require.Empty(t, d2)
}

func TestBufferReplace(t *testing.T) {
	tests := []struct {
		name      string
		head      int
		data      string
		off, n    int
		with      string
		want      string
		wantError error
	}{
		{"grow in place", 0, "GET / HTTP", 4, 1, "/index", "GET /index HTTP", nil},
		{"shrink", 0, "aaXXXXbb", 2, 4, "-", "aa-bb", nil},
		{"grow across the wrap", 12, "abcdefgh", 2, 2, "CDCDCD", "abCDCDCDefgh", nil},
		{"insert at end", 14, "abcd", 4, 0, "XYZ", "abcdXYZ", nil},
		{"no room", 0, "0123456789abcd", 0, 1, "wxyz", "", ErrNoRoom},
		{"out of range", 0, "abc", 2, 5, "x", "", ErrRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := fill(t, 16, tc.head, tc.data)
			err := b.Replace(tc.off, tc.n, []byte(tc.with))
			if tc.wantError != nil {
				require.ErrorIs(t, err, tc.wantError)
				d1, d2 := b.Data()
				require.Equal(t, tc.data, joined(d1, d2), "a failed rewrite changes nothing")
				return
			}
			require.NoError(t, err)
			d1, d2 := b.Data()
			require.Equal(t, tc.want, joined(d1, d2))
		})
	}
}

func TestBufferReserve(t *testing.T) {
	b := New(1000)
	require.Equal(t, 500, b.Reserve(), "default reserve is clamped to half the size")
	require.Equal(t, 0, b.SetReserve(-3))
	require.Equal(t, 100, b.SetReserve(100))

	tests := []struct{ transit, limit int }{
		{0, 900},    // nothing leaves: the reserve is kept free
		{40, 940},   // data in transit may eat into the reserve
		{100, 1000}, // enough in transit: the whole buffer
		{5000, 1000},
		{-1, 1000}, // overflowed transit counts as infinite
	}
	for _, tc := range tests {
		require.Equal(t, tc.limit, b.RecvLimit(tc.transit), "transit %d", tc.transit)
	}
	_, _ = b.Write(make([]byte, 900))
	require.True(t, b.IsRewritable())
	_, _ = b.Write(make([]byte, 1))
	require.False(t, b.IsRewritable())
}

func TestPoolReuseAndBounds(t *testing.T) {
	p, err := NewPool(PoolConfig{Size: 64, Max: 2, MaxIdle: 1})
	require.NoError(t, err)
	require.Equal(t, 64, p.BufSize())

	a, err := p.Get()
	require.NoError(t, err)
	b, err := p.Get()
	require.NoError(t, err)
	_, err = p.Get()
	require.ErrorIs(t, err, ErrPoolExhausted)
	require.Equal(t, PoolStats{InUse: 2, Allocated: 2}, p.Stats())

	_, _ = a.Write([]byte("dirty"))
	a.Release()
	a.Release() // a second return is ignored
	require.Equal(t, PoolStats{InUse: 1, Idle: 1, Allocated: 2}, p.Stats())

	c, err := p.Get()
	require.NoError(t, err)
	require.Same(t, a, c, "a returned buffer is reused")
	require.True(t, c.IsEmpty(), "a reused buffer comes back empty")

	c.Release()
	b.Release() // beyond MaxIdle: dropped
	require.Equal(t, PoolStats{InUse: 0, Idle: 1, Allocated: 2}, p.Stats())

	other := New(64)
	p.Put(other) // not from this pool
	p.Put(nil)
	require.Equal(t, 1, p.Stats().Idle)

	_, err = NewPool(PoolConfig{Size: -1})
	require.Error(t, err)
}

func TestPoolGetWait(t *testing.T) {
	p, err := NewPool(PoolConfig{Size: 16, Max: 1})
	require.NoError(t, err)
	a, err := p.Get()
	require.NoError(t, err)

	got := make(chan *Buffer)
	go func() {
		b, err := p.GetWait(context.Background())
		if err != nil {
			got <- nil
			return
		}
		got <- b
	}()
	for p.Stats().Waiting == 0 {
		runtime.Gosched()
	}
	a.Release()
	b := <-got
	require.Same(t, a, b, "the returned buffer goes straight to the waiter")
	require.Equal(t, 1, p.Stats().InUse)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.GetWait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, p.Stats().Waiting)
}

func TestPoolWarmZeroAlloc(t *testing.T) {
	p, err := NewPool(PoolConfig{})
	require.NoError(t, err)
	b, _ := p.Get()
	b.Release()
	allocs := testing.AllocsPerRun(1000, func() {
		b, _ := p.Get()
		_, _ = b.Write([]byte("x"))
		b.Release()
	})
	require.Zero(t, allocs)
}

// Trim drops the idle buffers beyond what it is told to keep; the kept
// ones are reused, the dropped ones are not, and buffers in use are not
// touched.
func TestPoolTrim(t *testing.T) {
	p, err := NewPool(PoolConfig{Size: 1024})
	require.NoError(t, err)
	var bs []*Buffer
	for range 10 {
		b, err := p.Get()
		require.NoError(t, err)
		bs = append(bs, b)
	}
	for _, b := range bs[:8] {
		p.Put(b)
	}
	require.Equal(t, 8, p.Stats().Idle)
	require.Equal(t, 5, p.Trim(3))
	require.Equal(t, 3, p.Stats().Idle)
	require.Equal(t, 2, p.Stats().InUse, "buffers in use stay out")
	require.Zero(t, p.Trim(5), "nothing beyond what is kept")
	for range 3 {
		_, err := p.Get()
		require.NoError(t, err)
	}
	require.Equal(t, uint64(10), p.Stats().Allocated, "the kept buffers are reused")
	_, err = p.Get()
	require.NoError(t, err)
	require.Equal(t, uint64(11), p.Stats().Allocated, "the dropped ones are gone")
	p.Put(bs[8])
	require.Equal(t, 1, p.Trim(-1), "a negative keep keeps none")
	require.Zero(t, p.Stats().Idle)
}
