package shctx_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/shctx"
)

// A cache private to one process: store a value, read it back into a
// buffer the caller owns, delete it.
func Example() {
	c, err := shctx.Open(shctx.Options{Blocks: 1000})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	key := []byte("session-id")
	if err := c.Store(key, []byte("session state"), 5*time.Minute); err != nil {
		panic(err)
	}
	buf := make([]byte, 64)
	n, ok := c.Get(key, buf)
	fmt.Println(ok, string(buf[:n]))

	c.Delete(key)
	_, ok = c.Get(key, buf)
	fmt.Println(ok)
	// Output:
	// true session state
	// false
}

// Two opens of one file stand for two processes sharing a cache: what one
// stores, the other reads. (The package's tests run the same with real
// child processes, including one killed while it holds a lock.)
func Example_twoProcesses() {
	dir, err := os.MkdirTemp("", "shctx-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	opts := shctx.Options{Path: filepath.Join(dir, "cache"), Blocks: 1000}

	worker1, err := shctx.Open(opts) // creates and initialises the file
	if err != nil {
		panic(err)
	}
	defer worker1.Close()
	worker2, err := shctx.Open(opts) // validates and maps the same file
	if err != nil {
		panic(err)
	}
	defer worker2.Close()

	_ = worker1.Store([]byte("k"), []byte("stored by worker 1"), 0)
	buf := make([]byte, 64)
	n, ok := worker2.Get([]byte("k"), buf)
	fmt.Println(ok, string(buf[:n]))
	fmt.Println(worker2.Stats().Stores, "store seen by both")

	// A process with another layout is refused, and told why.
	opts.BlockSize = 512
	_, err = shctx.Open(opts)
	fmt.Println(errors.Is(err, shctx.ErrLayout), strings.Contains(err.Error(), "block size 256 in the file, 512 requested"))
	// Output:
	// true stored by worker 1
	// 1 store seen by both
	// true true
}

// A full cache reuses the least recently used rows; Stats counts them.
func ExampleCache_Stats() {
	c, err := shctx.Open(shctx.Options{BlockSize: 64, Blocks: 4, Shards: 1})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for i := range 6 {
		_ = c.Store([]byte(fmt.Sprint("key", i)), make([]byte, 50), 0)
	}
	st := c.Stats()
	fmt.Println(st.Entries, st.Evictions, st.BlocksFree)
	_, ok := c.Get([]byte("key0"), nil)
	fmt.Println("oldest kept:", ok)
	// Output:
	// 4 2 0
	// oldest kept: false
}

// A value longer than the buffer: Get reports the full length so the
// caller can grow the buffer and ask again.
func ExampleCache_Get() {
	c, err := shctx.Open(shctx.Options{Blocks: 100})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Store([]byte("k"), []byte("a longer value"), 0)

	buf := make([]byte, 4)
	n, _ := c.Get([]byte("k"), buf)
	if n > len(buf) {
		buf = make([]byte, n)
		n, _ = c.Get([]byte("k"), buf)
	}
	fmt.Println(string(buf[:n]))
	// Output: a longer value
}
