// Package freq holds lock-free event-rate counters and sliding averages,
// the counters that stick tables, accept limits and statistics stand on.
// They follow HAProxy's freq_ctr and swrate.
//
// # Rate counters
//
// A counter keeps three numbers (12 bytes, see Ctr): the start date of the
// current period, the events counted since then, and the events counted in
// the whole previous period. Counting is one atomic add. When an event
// arrives after the current period has ended, the counter rotates: the
// current count becomes the previous one and the new event is the first
// of the next period. If two or more periods went by with no event, the
// previous count is zero and the new period starts at the event's date.
//
// Reading does not assume that events arrived at a steady pace within a
// period: it slides a window of one period back from now, counts all of
// the current period's events, and takes from the previous period the
// share of its events that falls inside the window, in proportion to the
// time left in the current period:
//
//	remain = start + period - now          time left in the current period
//	rate   = curr + prev * remain / period
//
// If the current period has ended without a rotation (no event since),
// its count plays the part of prev and the current count is 0; if more
// than one period has gone by, both are 0. Internally the counters keep
// the unrounded total = prev*remain + curr*period and divide last.
//
// Worked example, per-second counter: the previous second counted 600
// events; 300 ms into the current second, 200 events were counted. The
// time left is 700 ms, so
//
//	rate = 200 + 600 * 700 / 1000 = 620 events per second
//
// Under a limit of 1000 events per second, Remaining is 1000 - 620 = 380.
// Under a limit of 500, the total (620 000 event-ms) is 120 000 over the
// limit's 500 000, and NextEventDelay answers 120 000 / 500 = 240 ms,
// HAProxy's estimate of the time that many events take at the limit's
// pace.
//
// Two details keep readings stable. A rate below 2 with nothing counted
// yet in the current period reads as the previous count, so that a rate of
// one event per period does not flap between 0 and 1 (Rate only; Remaining
// and NextEventDelay do not round this way, so a limit of one event per
// period still works). A reader whose clock lags the writer that just
// rotated the counter sees the new period as just begun.
//
// # Concurrency
//
// Every method of Ctr, Counter, Period and SlidingAvg is safe for any
// number of goroutines, takes no lock and allocates nothing. Rotation is
// claimed by setting bit 0 of the period's start date with a
// compare-and-swap, so exactly one goroutine rotates a period and others
// keep adding; a goroutine that finds the period already moved past its
// own date just adds. Readers never write, and retry only while a rotation
// is in flight or the values moved between their two reads.
//
// # Clocks
//
// Dates are uint32 milliseconds from a Clock. SystemClock reads the
// monotonic clock on every call; CoarseClock caches the date in memory,
// refreshed by a goroutine, for the cheapest reads where a millisecond of
// staleness does not matter; CachedClock does the same only while it is
// read often, so an idle process has no goroutine ticking; FakeClock
// moves only when told to, for tests. Ctr takes
// the date as an argument, so code that already holds the current date
// (an event loop, a stick table processing a batch) reads its clock once.
//
// # Sliding averages
//
// SlidingAvg averages values (response times, queue lengths) over about
// the last n samples with an exponential decay, from one word of state;
// see its documentation for the formula.
package freq
