//go:build !linux

package shctx

import "runtime"

// osYield lets other goroutines run; without sched_yield at hand, the
// runtime's own yield is the nearest.
func osYield() { runtime.Gosched() }

// adviseHugePages does nothing: transparent huge pages are a Linux advice.
func adviseHugePages([]byte) {}
