//go:build !amd64

package shctx

import "sync/atomic"

// storeOrdered stores v at p, seen by other CPUs after every access before
// it and before every store after it. Without an assembly version for this
// architecture it is a sequentially consistent store, stronger than needed.
func storeOrdered(p *uint32, v uint32) { atomic.StoreUint32(p, v) }
