package shctx

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The test binary doubles as the other processes of these tests: with
// SHCTX_HELPER set, TestMain runs that helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SHCTX_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// procOpts is the geometry every process of these tests agrees on.
func procOpts(path string) Options {
	return Options{Path: path, BlockSize: 64, Blocks: 2048, Shards: 4, MaxKeyLen: 32,
		ExtraSize: 64, StealAfter: time.Millisecond, Logger: quiet}
}

func helper(mode string) int {
	c, err := Open(procOpts(os.Getenv("SHCTX_PATH")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, _ := strconv.Atoi(os.Getenv("SHCTX_N"))
	switch mode {
	case "hold":
		// Take shard 0's lock and die holding it. With SHCTX_DIRTY, first
		// wreck the shard's lists the way an interrupted store could.
		s := &c.shards[0]
		c.lock(s)
		if os.Getenv("SHCTX_DIRTY") != "" {
			atomic.StoreUint32(&s.hdr.dirty, 1)
			s.hdr.availHead = s.bps + 7
			s.hdr.lruHead = s.hdr.lruTail
			s.hdr.nbav = 3
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
	case "count":
		word := (*uint64)(unsafePointer(c.Extra()))
		startTogether(c, 4)
		for range n {
			c.lock(&c.shards[0])
			slowIncrement(word)
			c.unlock(&c.shards[0])
		}
	case "store":
		for i := range n {
			k := fmt.Sprintf("child%d", i)
			if err := c.Store([]byte(k), val(k, i), 0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
	case "verify":
		buf := make([]byte, 1024)
		for i := range n {
			k := fmt.Sprintf("parent%d", i)
			m, ok := c.Get([]byte(k), buf)
			if !ok || !bytes.Equal(buf[:m], val(k, i)) {
				fmt.Fprintf(os.Stderr, "%s: found %v, %d bytes\n", k, ok, m)
				return 4
			}
		}
	case "hammer":
		seed, _ := strconv.ParseUint(os.Getenv("SHCTX_SEED"), 10, 64)
		r := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 1024)
		for i := range n {
			if i == 200 {
				fmt.Println("running")
			}
			k := fmt.Sprintf("h%d", r.IntN(400))
			switch op := r.IntN(10); {
			case op < 4:
				if err := c.Store([]byte(k), val(k, r.IntN(300)), 0); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 2
				}
			case op < 9:
				m, ok := c.Get([]byte(k), buf)
				if ok && !bytes.Equal(buf[:m], val(k, m)) {
					fmt.Fprintf(os.Stderr, "torn value for %s\n", k)
					return 3
				}
			default:
				c.Delete([]byte(k))
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", mode)
		return 2
	}
	if err := c.Close(); err != nil {
		return 2
	}
	return 0
}

// startTogether holds each of n processes until all have arrived, so that
// their loops really overlap instead of running one after another.
func startTogether(c *Cache, n uint64) {
	ready := (*uint64)(unsafePointer(c.Extra()[8:]))
	atomic.AddUint64(ready, 1)
	for atomic.LoadUint64(ready) < n {
		runtime.Gosched() // a busy wait, so that all leave at once
	}
}

type child struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr lockedBuffer
}

// lockedBuffer collects a child's stderr, written by exec's copying
// goroutine while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// spawn starts the test binary as another process in helper mode.
func spawn(t *testing.T, mode, path string, env ...string) *child {
	t.Helper()
	ch := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	ch.cmd.Env = append(os.Environ(), append([]string{"SHCTX_HELPER=" + mode, "SHCTX_PATH=" + path}, env...)...)
	ch.cmd.Stderr = &ch.stderr
	out, err := ch.cmd.StdoutPipe()
	require.NoError(t, err)
	ch.out = bufio.NewReader(out)
	require.NoError(t, ch.cmd.Start())
	t.Cleanup(func() {
		if ch.cmd.ProcessState == nil {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
	})
	return ch
}

func (ch *child) expect(t *testing.T, line string) {
	t.Helper()
	got, err := ch.out.ReadString('\n')
	require.NoError(t, err, "child stderr: %s", ch.stderr.String())
	require.Equal(t, line+"\n", got)
}

func (ch *child) wait(t *testing.T) {
	t.Helper()
	require.NoError(t, ch.cmd.Wait(), "child stderr: %s", ch.stderr.String())
}

func TestProcessesShareEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	c := openT(t, procOpts(path))
	const n = 100
	for i := range n {
		k := fmt.Sprintf("parent%d", i)
		require.NoError(t, c.Store([]byte(k), val(k, i), 0))
	}
	spawn(t, "verify", path, "SHCTX_N=100").wait(t)
	spawn(t, "store", path, "SHCTX_N=100").wait(t)
	for i := range n {
		k := fmt.Sprintf("child%d", i)
		got, ok := get(c, k)
		require.True(t, ok, k)
		require.Equal(t, string(val(k, i)), got)
	}
	st := c.Stats()
	require.Equal(t, uint64(2*n), st.Stores, "counters are shared too")
	require.Equal(t, uint64(2*n), st.Hits)
	require.NoError(t, c.check())
}

// Three processes and this one increment a plain word under one shard's
// lock; a single lost increment means the lock failed to exclude.
func TestLockExcludesProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	c := openT(t, procOpts(path))
	const per = 5000
	kids := []*child{
		spawn(t, "count", path, "SHCTX_N=5000"),
		spawn(t, "count", path, "SHCTX_N=5000"),
		spawn(t, "count", path, "SHCTX_N=5000"),
	}
	word := (*uint64)(unsafePointer(c.Extra()))
	startTogether(c, 4)
	for range per {
		c.lock(&c.shards[0])
		slowIncrement(word)
		c.unlock(&c.shards[0])
	}
	for _, k := range kids {
		k.wait(t)
	}
	c.lock(&c.shards[0])
	got := *word
	c.unlock(&c.shards[0])
	require.Equal(t, uint64(4*per), got)
	require.Zero(t, c.Stats().LockSteals)
}

// A process killed with SIGKILL while holding a lock does not freeze the
// others. The test deliberately leaves the dead child unreaped while it
// goes on, so the lock is taken over from a zombie.
func TestKilledLockHolder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dirty     bool
		wantReset bool
	}{
		{"between operations", false, false},
		{"in the middle of a store", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache")
			c := openT(t, procOpts(path))
			var keys []string
			var in0 int
			for i := range 40 {
				k := fmt.Sprintf("k%d", i)
				keys = append(keys, k)
				require.NoError(t, c.Store([]byte(k), val(k, 50), 0))
				if c.shardOf(hashKey(c.seed, []byte(k))) == &c.shards[0] {
					in0++
				}
			}
			require.Greater(t, in0, 0)

			var env []string
			if tc.dirty {
				env = append(env, "SHCTX_DIRTY=1")
			}
			ch := spawn(t, "hold", path, env...)
			ch.expect(t, "locked")
			require.NoError(t, ch.cmd.Process.Signal(syscall.SIGKILL))

			// Every key, shard 0's included, must be usable again.
			for _, k := range keys {
				_, _ = get(c, k)
			}
			require.NoError(t, c.Store([]byte("after"), []byte("crash"), 0))
			got, ok := get(c, "after")
			require.True(t, ok)
			require.Equal(t, "crash", got)
			require.NoError(t, c.check())

			st := c.Stats()
			require.Equal(t, uint64(1), st.LockSteals)
			found := 0
			for _, k := range keys {
				if v, ok := get(c, k); ok {
					require.Equal(t, string(val(k, 50)), v)
					found++
				}
			}
			if tc.wantReset {
				require.Equal(t, uint64(1), st.Resets)
				require.Equal(t, len(keys)-in0, found, "only the damaged shard was emptied")
			} else {
				require.Zero(t, st.Resets)
				require.Equal(t, len(keys), found, "a clean shard keeps its entries")
			}
			err := ch.cmd.Wait()
			require.Error(t, err, "the child was killed")
		})
	}
}

// Processes hammer one cache while one of them is killed at an arbitrary
// point, perhaps inside a lock: the survivors finish, every value they
// read is intact, and the structure is whole.
func TestProcessKilledDuringWork(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	c := openT(t, procOpts(path))
	victim := spawn(t, "hammer", path, "SHCTX_N=100000000", "SHCTX_SEED=1")
	kids := []*child{
		spawn(t, "hammer", path, "SHCTX_N=20000", "SHCTX_SEED=2"),
		spawn(t, "hammer", path, "SHCTX_N=20000", "SHCTX_SEED=3"),
	}
	for _, k := range append(kids, victim) {
		k.expect(t, "running")
	}
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, victim.cmd.Wait())
	for _, k := range kids {
		k.wait(t)
	}
	require.NoError(t, c.Store([]byte("after"), []byte("v"), 0))
	_, ok := get(c, "after")
	require.True(t, ok)
	require.NoError(t, c.check())
	st := c.Stats()
	require.Greater(t, st.Stores, uint64(0))
	t.Logf("after the kill: %+v", st)
}
