// Package testnet holds the loopback plumbing the project's tests share:
// accept loops that stop cleanly, connected socket pairs, and a check that
// a test leaves no goroutine or file descriptor behind.
//
// It is internal: it exists so that every package's tests check leaks and
// serve connections the same way, not as an API for users.
package testnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Accept runs handle for every connection ln accepts, each in its own
// goroutine, until the returned stop function is called. stop closes ln
// and waits for the accept loop and every handler to return, so handlers
// must end once their connection is closed or their work is done.
func Accept(ln net.Listener, handle func(net.Conn)) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = ln.Close()
			wg.Wait()
		})
	}
}

// Echo writes back every byte c sends until c's read side ends, then
// shuts c's write side: a handler for Accept and Serve. The copy goes
// through plain interfaces so that Go does not splice it: the runtime's
// own pipe pool would keep pipes open after a test and hide a leak of the
// code under test.
func Echo(c net.Conn) {
	_, _ = io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 32<<10))
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// Discard reads and drops everything c sends until its read side ends,
// then closes c: a sink handler for Accept and Serve, which does not
// splice either (see Echo).
func Discard(c net.Conn) {
	_, _ = io.Copy(io.Discard, struct{ io.Reader }{c})
	_ = c.Close()
}

// Serve listens on a fresh port of 127.0.0.1 and runs handle for every
// connection, as Accept does; the connection is closed when handle
// returns. The listener closes and every handler is waited for when the
// test ends. It returns the address to dial.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln := Listen(t)
	stop := Accept(ln, func(c net.Conn) {
		defer c.Close()
		handle(c)
	})
	t.Cleanup(stop)
	return ln.Addr().String()
}

// Listen opens a TCP listener on a fresh port of 127.0.0.1, closed when
// the test ends; a failure to listen fails the test.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen on 127.0.0.1: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// Pair returns the two ends of a TCP connection on 127.0.0.1: the one
// that dialled and the one that was accepted. Both close when the test
// ends.
func Pair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen on 127.0.0.1: %v", err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("testnet: dial %s: %v", ln.Addr(), err)
	}
	r := <-ch
	if r.err != nil {
		_ = client.Close()
		t.Fatalf("testnet: accept on %s: %v", ln.Addr(), r.err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = r.c.Close() })
	return client, r.c
}

// CountFDs returns how many file descriptors the process has open, read
// from /proc/self/fd.
func CountFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("testnet: count open files: %w", err)
	}
	return len(ents), nil
}

// Snapshot records how many goroutines and file descriptors the process
// has now, and returns a function that waits up to two seconds for both
// to come back to those counts and fails the test if they do not, listing
// the open descriptors by kind and every goroutine's stack.
func Snapshot(t testing.TB) (check func()) {
	t.Helper()
	warmOnce.Do(warmPoller)
	g0 := runtime.NumGoroutine()
	f0, err := CountFDs()
	if err != nil {
		t.Skipf("cannot check for leaked descriptors: %v", err)
	}
	return func() {
		t.Helper()
		var g, f int
		for range 200 {
			g = runtime.NumGoroutine()
			f, _ = CountFDs()
			if g <= g0 && f <= f0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d (open: %s)\n%s", g0, g, f0, f, fdKinds(), buf)
	}
}

var warmOnce sync.Once

// warmPoller makes the runtime open its network poller (an epoll and an
// event descriptor kept for the life of the process), so that the first
// test to use the network is not blamed for them.
func warmPoller() {
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		_ = ln.Close()
	}
}

// LeakCheck fails the test if, once it and its other cleanups have run,
// goroutines or file descriptors opened during it are still there. Call
// it first in a test, so that its check runs after the other cleanups.
func LeakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(Snapshot(t))
}

// fdKinds summarises the open descriptors by what they point to
// ("socket", "pipe", "anon_inode", or a path).
func fdKinds() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	kinds := map[string]int{}
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if i := strings.IndexByte(l, ':'); i > 0 {
			l = l[:i]
		}
		kinds[l]++
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, kinds[k])
	}
	return b.String()
}

// Signalled waits up to 10 s for a value on ch and returns it; the test
// fails, naming what it waited for, if none comes.
func Signalled[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
	var zero T
	return zero
}

// Silent fails the test if a value comes on ch within d: nothing was to
// happen before what the message names.
func Silent[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("signalled before %s", what)
	case <-time.After(d):
	}
}

// MemAfterGC returns the live heap and the bytes of goroutine stacks in
// use after two full collections (the second frees what the first's
// finalizers let go), for benchmarks that report memory per connection.
func MemAfterGC() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// GoroutineID is the calling goroutine's number, from its stack header,
// for tests that check which goroutine ran something.
func GoroutineID() string {
	var b [64]byte
	s := strings.TrimPrefix(string(b[:runtime.Stack(b[:], false)]), "goroutine ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// HowEnded reads c to its end, 20 seconds at most, and tells how its
// stream ended: "eof" for an end of stream, "reset" for a reset
// (ECONNRESET), else the error's text.
func HowEnded(c net.Conn) string {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	switch {
	case err == nil:
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	default:
		return err.Error()
	}
}

// HAProxyBin is where Debian's haproxy package installs haproxy, the
// interop tests' peer.
const HAProxyBin = "/usr/sbin/haproxy"

// NeedHAProxy skips the test when haproxy is absent, unless CI=true,
// where interop coverage is required and its absence is a failure. It
// returns the binary's path.
func NeedHAProxy(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(HAProxyBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy interop test needs %s (CI=true): %v", HAProxyBin, err)
		}
		t.Skipf("SKIP haproxy interop: %s not found (%v)", HAProxyBin, err)
	}
	return HAProxyBin
}
