package h2

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux"
)

// doneStream makes a front-side stream whose request came whole and
// whose response went out: the mux no longer knows it.
func doneStream(m *Mux, id uint32) *Stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.newStream(id)
	s.bodyless = true
	s.endRecvLocked()
	s.markSentLocked()
	return s
}

// A closed stream goes back to the pool only once the calls in progress
// on it ended, and only once.
func TestStreamReleasedAfterCalls(t *testing.T) {
	m := &Mux{side: mux.SideFront, cfg: Config{ReuseStreams: true}}
	m.cond.L = &m.mu
	s := doneStream(m, 1)
	s.enter() // a call in progress, say a Read on another goroutine
	require.NoError(t, s.Close())
	require.Same(t, m, s.m, "released while a call was in progress")
	s.leave()
	require.Nil(t, s.m, "not released once the last call left")
	require.Zero(t, s.calls.Load())

	s = doneStream(m, 3)
	require.NoError(t, s.Close())
	require.Nil(t, s.m, "not released by Close")
}

// A stream that is not fit to serve again is left to the collector: a
// request with a body, one with a deadline, a back-side stream, and any
// stream of a mux without Config.ReuseStreams, which a second Close
// leaves unharmed.
func TestStreamNotReleased(t *testing.T) {
	off := &Mux{side: mux.SideFront}
	off.cond.L = &off.mu
	s := doneStream(off, 1)
	require.NoError(t, s.Close())
	require.Same(t, off, s.m, "released without ReuseStreams")
	require.NoError(t, s.Close(), "a second Close")
	require.Same(t, off, s.m)

	m := &Mux{side: mux.SideFront, cfg: Config{ReuseStreams: true}}
	m.cond.L = &m.mu
	s = doneStream(m, 1)
	s.bodyless = false
	require.NoError(t, s.Close())
	require.Same(t, m, s.m)

	s = doneStream(m, 3)
	s.timed = true
	require.NoError(t, s.Close())
	require.Same(t, m, s.m)

	b := &Mux{side: mux.SideBack, cfg: Config{ReuseStreams: true}}
	b.cond.L = &b.mu
	s = doneStream(b, 1)
	require.NoError(t, s.Close())
	require.Same(t, b, s.m)
}
