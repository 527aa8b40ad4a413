// Package shctx is a block-based cache kept in one shared memory mapping,
// usable by many goroutines and by several processes at once.
//
// It follows the design of HAProxy's shctx, the store behind its shared TLS
// session cache: a fixed region cut into fixed-size blocks, objects stored
// in rows of blocks, and the least recently used rows reused when space runs
// out. Because the region holds only integers (block numbers, lengths,
// hashes) and raw bytes, never Go pointers, the garbage collector never scans
// it, however many entries it holds.
//
// # Opening
//
// [Open] maps an anonymous region (one process, Options.Path empty) or a
// named file that several processes open together, typically under
// /dev/shm. The first process to open a file initialises it while holding
// flock(2) on it; the others validate its header against their own
// [Options] and refuse a file of another layout with an error wrapping
// [ErrLayout] that names the field that differs. The file descriptor is
// closed as soon as the region is mapped, so an open [Cache] holds no fd.
//
// # Layout
//
// All offsets below are from the start of the region, and every link inside
// the region is a block number, never an address, so each process may map
// the region anywhere:
//
//	header    magic, version, geometry (block size, blocks, shards,
//	          buckets, max key length, extra size, total size), hash seed
//	shards    one 128-byte header per shard: lock word, dirty flag,
//	          available list, LRU list ends, counters
//	extra     Options.ExtraSize bytes for the user, see [Cache.Extra]
//	index     per shard, a power-of-two array of bucket heads
//	blocks    per shard, blocks of a 48-byte header and BlockSize bytes
//
// An entry is a row of blocks chained through their headers. Its first block
// carries the key's hash, the key and value lengths, the expiry, the row's
// length in blocks, and its links in the index chain and the LRU list. The
// key and then the value fill the row's blocks in order. Free blocks form the
// available list; rows of live entries form the hot list, ordered from the
// least to the most recently stored. Blocks are fixed size and rows need not
// be contiguous, so a freed block is reusable by any row: there is no
// fragmentation to compact.
//
// When a store needs more blocks than are available, rows are taken from
// the cold end of the hot list. A hit sets a reference bit on the row rather
// than moving it, and the evictor gives a referenced row a second chance
// (clears the bit, moves it to the hot end) before it evicts an
// unreferenced one. This is the CLOCK approximation of LRU: a lookup writes
// one byte instead of relinking a list, which keeps lookups free of any
// multi-word mutation and so free of any crash-consistency cost.
//
// The key's hash picks a shard, and each shard has its own lock, lists and
// index, so that goroutines and processes working on different keys do not
// contend on one cache line. With Options.Shards set to 1 there is a single
// lock and a single LRU order, as in HAProxy.
//
// # Locking across processes
//
// Each shard's lock is a 32-bit word in the region holding the owner's
// process id (0 when free), taken with a compare-and-swap. A waiter spins
// briefly, then yields, then sleeps with a growing back-off. Once it has
// waited Options.StealAfter for the same owner it checks whether that
// process still exists (kill(pid, 0), and /proc to tell a zombie from a live
// process); if it does not, the waiter swaps its own id in for the dead
// owner's. A process stopped with SIGSTOP while holding a lock is alive and
// is waited for. Owners are identified by process id, so processes sharing a
// cache must live in the same pid namespace.
//
// # Crash recovery
//
// A process killed while it holds a lock may have left the shard half
// modified. Rather than journal each mutation, every operation that relinks
// lists sets the shard's dirty flag after taking the lock and clears it
// before releasing the lock. A process that steals a lock and finds the flag
// set throws that shard's contents away and rebuilds it empty (all blocks
// available, index cleared), which [Stats] counts in Resets. The choice
// trades at most one shard of cached entries, rare by construction, for
// lookups and stores that cost two extra stores and no log; losing entries
// is always allowed for a cache (a TLS client whose session was lost simply
// does a full handshake). Lookups that hit change only single words (a
// counter, a reference bit), which are safe at any point, so they never set
// the flag. Links read from the region are bounds-checked before use, and a
// shard found inconsistent for any other reason (a foreign process writing
// into the file) is rebuilt the same way instead of panicking.
//
// # Differences from HAProxy's shctx
//
//   - HAProxy keeps cold rows inside its available list and destroys a row
//     only when its first block is reused. Here free blocks and live rows
//     are on separate lists, so a deleted or expired row's blocks are free
//     at once and Stats counts evictions exactly.
//   - HAProxy does not move an entry on a hit (its LRU order is storing
//     order); here a hit sets the reference bit that CLOCK honours.
//   - Rewriting a key with a value of the same number of blocks happens in
//     place. HAProxy's SSL cache reuses the old row too, but its failure
//     branch when the new value is longer leaves the lock held; here a
//     longer value simply gets a new row.
//   - Entries carry an expiry, checked on lookup and preferred for eviction;
//     HAProxy leaves session expiry to OpenSSL.
//   - The region is sharded (see above) and the index is a chained hash
//     table of block numbers, where HAProxy uses one lock and an ebtree whose
//     root sits in the extra area.
//   - An anonymous region is a private mapping, since a Go process never
//     forks; being private lets the kernel use transparent huge pages.
//
// # Performance notes
//
// A lookup touches the bucket head, the first block's header and key, and
// the value's bytes: on a cache larger than the CPU's caches, each is a
// memory access and, with 4 KiB pages, a TLB miss. Anonymous regions ask
// for huge pages with madvise. Files on tmpfs get them only when the file
// system allows it (mount option huge=within_size or huge=always), which
// is worth doing for caches of more than a few MiB. Get copies into the
// caller's buffer and does not allocate; Store does not allocate either.
package shctx
