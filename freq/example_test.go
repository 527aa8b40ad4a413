package freq_test

import (
	"fmt"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
)

// The worked example of the package documentation: 600 events in the
// previous second, 200 so far in the current one, 300 ms into it.
func Example() {
	clock := freq.NewFakeClock(0)
	c := freq.NewCounter(clock)

	c.Add(600) // the previous second, [0, 1000)
	clock.Set(1000)
	c.Add(200) // the current second, [1000, 2000)
	clock.Set(1300)

	fmt.Println("rate:", c.Rate())
	fmt.Println("remaining under 1000/s:", c.Remaining(1000))
	fmt.Println("wait under 500/s:", c.NextEventDelay(500))
	// Output:
	// rate: 620
	// remaining under 1000/s: 380
	// wait under 500/s: 240ms
}

// A rate limiter over a ten-second period: at most 3 requests per 10 s.
// The three requests of the first period weigh fully on the sliding window
// until that period is over; a fourth fits as soon as the window starts to
// slide past them.
func ExamplePeriod_Allow() {
	clock := freq.NewFakeClock(0)
	p := freq.NewPeriod(clock, 10_000)
	for i := range 5 {
		fmt.Println("request", i, "allowed:", p.Allow(3))
	}
	clock.Advance(5_000)
	fmt.Println("5 s later allowed:", p.Allow(3))
	clock.Advance(5_001)
	fmt.Println("10.001 s later allowed:", p.Allow(3))
	// Output:
	// request 0 allowed: true
	// request 1 allowed: true
	// request 2 allowed: true
	// request 3 allowed: false
	// request 4 allowed: false
	// 5 s later allowed: false
	// 10.001 s later allowed: true
}

// A Ctr embedded in a larger structure gets the date and period from its
// caller, which reads its clock once for several counters.
func ExampleCtr() {
	type entry struct {
		conns freq.Ctr // connections per second
		bytes freq.Ctr // bytes per second
	}
	var e entry
	now := uint32(5000)
	e.conns.Update(now, 1000, 1)
	e.bytes.Update(now, 1000, 1500)
	now += 250
	e.conns.Update(now, 1000, 1)
	e.bytes.Update(now, 1000, 500)
	fmt.Println(e.conns.Rate(now, 1000), "conn/s,", e.bytes.Rate(now, 1000), "B/s")
	tick, curr, prev := e.bytes.Snapshot()
	fmt.Println("snapshot:", tick, curr, prev)
	// Output:
	// 2 conn/s, 2000 B/s
	// snapshot: 5000 2000 0
}

// An average response time over about the last 512 requests.
func ExampleSlidingAvg() {
	avg := freq.NewSlidingAvg(512)
	for _, ms := range []uint64{100, 120, 80} {
		avg.Add(ms)
	}
	fmt.Println("average of the first samples:", avg.Avg())
	for range 2048 {
		avg.Add(40)
	}
	fmt.Println("after many faster ones:", avg.Avg())
	// Output:
	// average of the first samples: 100
	// after many faster ones: 40
}

// A CoarseClock makes counting as cheap as one atomic add, at the price of
// dates up to one refresh late and a goroutine to stop with Close.
func ExampleCoarseClock() {
	clock := freq.NewCoarseClock(time.Millisecond)
	defer clock.Close()

	requests := freq.NewCounter(clock)
	for range 3 {
		requests.Add(1)
	}
	fmt.Println("under 100/s:", requests.Remaining(100) > 0)
	// Output:
	// under 100/s: true
}

// A CachedClock serves dates from memory while it is read often, and
// reads the system clock when seldom read, with nothing ticking then.
func ExampleCachedClock() {
	clock := freq.NewCachedClock()
	defer clock.Close()

	requests := freq.NewCounter(clock)
	for range 1000 { // a busy spell: the clock starts caching
		requests.Add(1)
	}
	fmt.Println("counted:", requests.Rate())
	// Output:
	// counted: 1000
}
