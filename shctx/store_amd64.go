package shctx

// storeOrdered stores v at p so that other CPUs see it after every load
// and store before it and before every store after it: release ordering
// for unlocking, store-store ordering for the dirty flag, which must be
// seen set before any change it covers. On amd64 (TSO) a plain MOV has that
// ordering; being in assembly keeps the compiler from moving other memory
// accesses across it. sync/atomic only offers sequentially
// consistent stores, an XCHG here, which also waits for every pending
// store to reach the cache: after a value was copied into blocks not yet
// in cache, that wait was a quarter of a store's time.
//
//go:noescape
func storeOrdered(p *uint32, v uint32)
