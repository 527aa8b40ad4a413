package freq_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

// model is a straightforward, single-threaded statement of the counter's
// semantics on non-wrapping 64-bit dates, written independently of the
// lock-free code: the period starting at start holds curr, the one before
// held prev.
type model struct {
	period      int64
	start       int64
	curr, prev  uint64
	initialised bool
}

func (m *model) update(now int64, inc uint64) uint64 {
	switch {
	case !m.initialised:
		// A zero Ctr starts its first period at date 0, which the test
		// maps to base; the first event is far past it.
		m.initialised = true
		m.start, m.curr, m.prev = now&^1, inc, 0
	case now < m.start-max(m.period, freq.LateWindow):
		// So far back that it reads as a date after the wrap.
		m.prev, m.curr = 0, inc
		m.start = now &^ 1
	case now < m.start+m.period:
		m.curr += inc // within the period, or a lagging clock
	case now < m.start+2*m.period:
		m.prev, m.curr = m.curr, inc
		m.start = (m.start + m.period) &^ 1
	default:
		m.prev, m.curr = 0, inc
		m.start = now &^ 1
	}
	return m.curr
}

// view returns the time left in the current period and the counts that
// the sliding period ending at now sees.
func (m *model) view(now int64) (remain int64, curr, prev uint64) {
	elapsed := now - m.start
	switch {
	case elapsed < 0:
		return m.period, m.curr, m.prev
	case elapsed <= m.period:
		return m.period - elapsed, m.curr, m.prev
	case elapsed <= 2*m.period:
		return 2*m.period - elapsed, 0, m.curr
	}
	return 0, 0, 0
}

func (m *model) total(now int64, pend uint64) uint64 {
	remain, curr, prev := m.view(now)
	return prev*uint64(remain) + (curr+pend)*uint64(m.period)
}

func (m *model) rate(now int64) uint64 {
	_, curr, prev := m.view(now)
	if curr == 0 && prev <= 1 {
		return prev
	}
	return m.total(now, 0) / uint64(m.period)
}

func (m *model) remaining(now int64, limit, pend uint64) uint64 {
	avg := m.total(now, pend) / uint64(m.period)
	if avg >= limit {
		return 0
	}
	return limit - avg
}

func (m *model) nextEventDelay(now int64, limit, pend uint64) uint64 {
	t, lim := m.total(now, pend), limit*uint64(m.period)
	if t < lim {
		return 0
	}
	return max((t-lim)/max(limit, 1), 1)
}

// TestCtrMatchesModel drives a Ctr and the model with thousands of random
// event sequences (random periods, even and odd, idle gaps of every size,
// clocks around the 2^32 wrap, readers and writers lagging by a few
// milliseconds) and requires identical answers at every step.
func TestCtrMatchesModel(t *testing.T) {
	const sequences, steps = 2000, 200
	rng := rand.New(rand.NewPCG(1, 2))
	for seq := range sequences {
		period := uint32(2 + rng.IntN(3000))
		if seq%4 == 0 {
			period = 1000
		}
		// base maps model date 0 to a Ctr date; half the sequences
		// cross the wrap.
		base := rng.Uint32()
		if seq%2 == 0 {
			base = math.MaxUint32 - uint32(rng.IntN(20000))
		}
		base &^= 1
		var c freq.Ctr
		c.Set(base, 0, 0)
		m := &model{period: int64(period), initialised: true}
		now := int64(0)
		for step := range steps {
			switch r := rng.IntN(100); {
			case r < 60:
				now += int64(rng.IntN(int(period)/8 + 1))
			case r < 85:
				now += int64(rng.IntN(int(period) + 1))
			case r < 95:
				now += int64(period) + int64(rng.IntN(int(period)+1))
			default:
				now += int64(rng.IntN(10 * int(period)))
			}
			// A lagging clock: a few ms behind the latest date, but never
			// before the counter's period start by a period or more.
			at := now
			switch rng.IntN(100) {
			case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9:
				at -= int64(rng.IntN(4))
			case 10:
				at -= int64(rng.IntN(2 * freq.LateWindow))
			}
			date := base + uint32(at)
			inc := uint64(rng.IntN(50))
			if rng.IntN(5) == 0 {
				inc = 0
			}
			limit := uint64(rng.IntN(200))
			pend := uint64(rng.IntN(3))

			before := *m
			want, got := m.update(at, inc), uint64(c.Update(date, period, uint32(inc)))
			tick, curr, prev := c.Snapshot()
			wantState := [3]uint64{uint64(base + uint32(m.start)), m.curr, m.prev}
			gotState := [3]uint64{uint64(tick), uint64(curr), uint64(prev)}
			if want != got || wantState != gotState {
				require.Failf(t, "model mismatch", "seq %d step %d: update(%d, %d) period %d from %+v: returned %d, state %v; model %d, %v",
					seq, step, at, inc, period, before, got, gotState, want, wantState)
			}

			read := base + uint32(now+int64(rng.IntN(3*int(period))))
			readAt := int64(read - base)
			if rng.IntN(10) == 0 {
				readAt, read = at-1, date-1 // a reader behind the writer
			}
			wantReads := [4]uint64{m.rate(readAt), m.total(readAt, pend), m.remaining(readAt, limit, pend), m.nextEventDelay(readAt, limit, pend)}
			gotReads := [4]uint64{
				uint64(c.Rate(read, period)),
				c.Total(read, period, uint32(pend)),
				uint64(c.Remaining(read, period, uint32(limit), uint32(pend))),
				uint64(c.NextEventDelay(read, period, uint32(limit), uint32(pend))),
			}
			if wantReads != gotReads {
				require.Failf(t, "model mismatch", "seq %d step %d: reads (rate, total, remaining, delay) at %d limit %d pend %d of %+v: got %v, model %v",
					seq, step, readAt, limit, pend, *m, gotReads, wantReads)
			}
		}
	}
}
