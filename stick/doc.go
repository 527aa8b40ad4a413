// Package stick implements stick tables: HAProxy's in-memory, expiring,
// size-limited store of typed counters per key, the base of rate limiting,
// abuse tracking and session persistence.
//
// A Table maps keys of one type (IPv4, IPv6, integer, string or binary) to
// entries. Each entry stores the data types the table was configured with
// (conn_cur, conn_rate(10s), gpc0, gpc(3), http_req_rate(10s), ...), laid out in a
// small fixed area computed once per table; rates are freq.Ctr counters.
// An entry's header, data and key form one block inside a large slab the
// garbage collector does not scan (four counters and an IPv4 key fill one
// 64-byte cache line), and each shard finds its entries through an
// open-addressing index of slot numbers, so a lookup costs about two
// cache misses. Entries are handed out referenced: a referenced
// entry is never evicted or expired, and the holder gives it back with
// Release, usually after Touch, or with TouchRelease, which does both in
// one atomic step (the expiry and the reference count share a word):
//
//	e, err := t.GetOrCreate(addr[:])
//	if err != nil { ... }          // ErrTableFull when nothing can be evicted
//	e.Inc(stick.DataConnRate, 1)
//	if e.Get(stick.DataConnRate) > 100 { ... }
//	e.TouchRelease()               // or e.Touch(); e.Release()
//
// The arrays gpt(N), gpc(N) and gpc_rate(N,period) (HAProxy 2.5 and
// later; 1 to 100 elements) hold N tags, counters or rates side by side in
// the entry. GetElem, IncElem, SetElem and CtrElem reach one element, as
// allocation-free as the scalar accessors; Get, Inc and Set reach element
// 0, as the runtime socket's "data.gpc" does. A table cannot store an
// array with the scalars it overrides (gpt with gpt0, gpc with gpc0 or
// gpc1, gpc_rate with gpc0_rate or gpc1_rate), and Table.Resolve tells
// where HAProxy's fetches and actions for those scalars land instead:
//
//	e.IncElem(stick.DataGPC, 2, 1)        // sc-inc-gpc(2,0)
//	arr, i, ok := t.Resolve(stick.DataGPC0) // gpc's element 0 on such a table
//
// Entries expire when not touched for the table's expiry (a background
// expirer owned by the table runs until Close; Expire runs it by hand).
// When the table is full, creating an entry evicts the least recently
// touched entries nobody references, shard by shard as HAProxy 3.x does.
//
// Keys are spread over independently locked shards, so work on different
// keys rarely contends; data accessors are lock-free atomics. On ip and
// integer tables, finding an existing entry takes no lock at all: the
// index is read with atomic loads and the reference taken with a
// compare-and-swap that a removal cannot race past; only creation,
// removal and the rare lookup that meets a moving index take the shard
// lock.
//
// With Config.Sync the table also keeps HAProxy's update sequence, the
// order in which the peers protocol sends entries: a local touch gives an
// entry the next sequence number, a touch for an update learned from a
// peer gives it one in the opposite half of the wrapping sequence so it is
// not sent back. UpdatesAfter walks that order.
//
// Dump, ParseFilter, Clear and SetData implement the table side of the
// runtime commands "show table", "clear table" and "set table" with
// HAProxy 2.6's output format, and ParseConfig reads a "stick-table" line.
package stick
