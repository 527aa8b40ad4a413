package freq_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

// TestSlidingAvgMatchesFormula replays random samples through SlidingAvg
// and through the formulas written out plainly.
func TestSlidingAvgMatchesFormula(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []uint32{1, 2, 7, 16, 512} {
		a := freq.NewSlidingAvg(n)
		require.Equal(t, n, a.Window())
		require.Zero(t, a.Avg(), "no sample yet")
		var sum uint64
		var seen uint32
		for i := range 5000 {
			v := uint64(rng.IntN(100000))
			s := uint32(1)
			if i%5 == 0 {
				s = uint32(rng.IntN(int(2 * n)))
			}
			fill := min(s, n-seen)
			sum += v * uint64(fill)
			seen += fill
			rest := min(s-fill, n)
			if rest > 0 {
				sum = sum + v*uint64(rest) - (sum*uint64(rest)+uint64(n)-1)/uint64(n)
			}
			var got uint64
			if s == 1 {
				got = a.Add(v)
			} else {
				got = a.AddScaled(v, s)
			}
			require.Equal(t, sum, got, "n %d sample %d", n, i)
			if seen > 0 {
				require.Equal(t, (sum+uint64(seen)-1)/uint64(seen), a.Avg(), "n %d sample %d", n, i)
			}
		}
	}
}

func TestSlidingAvgDecay(t *testing.T) {
	a := freq.NewSlidingAvg(8)
	for range 8 {
		a.Add(1000)
	}
	require.Equal(t, uint64(1000), a.Avg())
	require.Equal(t, uint64(8000), a.Sum())
	a.Add(0) // one of eight samples' worth replaced
	require.Equal(t, uint64(7000), a.Sum())
	require.Equal(t, uint64(875), a.Avg())
	// A batch as large as the window replaces it all.
	a.AddScaled(10, 8)
	require.Equal(t, uint64(10), a.Avg())
	a.Reset()
	require.Zero(t, a.Avg())
	require.Zero(t, a.Sum())

	var z freq.SlidingAvg // zero value: window of one, the last sample
	z.Add(5)
	z.Add(9)
	require.Equal(t, uint64(9), z.Avg())
	require.Equal(t, uint32(1), z.Window())
	require.Equal(t, uint32(1), freq.NewSlidingAvg(0).Window())
}
