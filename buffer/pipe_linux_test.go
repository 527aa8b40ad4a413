//go:build linux && !proxyblocks_nosplice

package buffer

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestPipeSizing(t *testing.T) {
	def, err := NewPipe(0)
	require.NoError(t, err)
	defer def.Close()

	const want = 256 << 10
	p, err := NewPipe(want)
	require.NoError(t, err)
	defer p.Close()
	got, err := p.Size()
	require.NoError(t, err)
	require.GreaterOrEqual(t, got, want)
	require.Equal(t, got, p.Cap())
	require.NotEqual(t, def.Cap(), p.Cap(), "F_SETPIPE_SZ took effect")

	// The ends are non-blocking and close-on-exec.
	for _, fd := range []int{p.ReadFD(), p.WriteFD()} {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		require.NoError(t, err)
		require.NotZero(t, fl&unix.O_NONBLOCK)
		fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		require.NoError(t, err)
		require.NotZero(t, fdfl&unix.FD_CLOEXEC)
	}
	_, err = p.Read(make([]byte, 1))
	require.ErrorIs(t, err, unix.EAGAIN, "reading an empty pipe does not block")
}

func TestPipePoolCapAndReuse(t *testing.T) {
	before := openFDs(t)
	pp, err := NewPipePool(PipePoolConfig{Size: 128 << 10, Max: 2})
	require.NoError(t, err)

	a, err := pp.Get()
	require.NoError(t, err)
	require.GreaterOrEqual(t, a.Cap(), 128<<10)
	b, err := pp.Get()
	require.NoError(t, err)
	_, err = pp.Get()
	require.ErrorIs(t, err, ErrPipeLimit)
	require.Equal(t, PipeStats{InUse: 2, Created: 2, Refused: 1}, pp.Stats())

	// An empty pipe is pooled and reused.
	a.Release()
	c, err := pp.Get()
	require.NoError(t, err)
	require.Same(t, a, c)

	// A pipe with bytes inside is closed, never reused.
	_, err = b.Write([]byte("leftover"))
	require.NoError(t, err)
	require.Equal(t, 8, b.Len())
	bfd := b.ReadFD()
	pp.Put(b)
	pp.Put(b)
	st := pp.Stats()
	require.Equal(t, uint64(1), st.Killed)
	require.Equal(t, 1, st.InUse)
	require.Zero(t, st.Idle)
	_, err = unix.FcntlInt(uintptr(bfd), unix.F_GETFD, 0)
	require.ErrorIs(t, err, unix.EBADF, "the non-empty pipe's fds are closed")

	d, err := pp.Get()
	require.NoError(t, err)
	require.NotSame(t, b, d)

	c.Release()
	require.NoError(t, pp.Close())
	d.Release() // returned after Close: closed, not pooled
	_, err = pp.Get()
	require.ErrorIs(t, err, ErrPoolClosed)
	require.Equal(t, before, openFDs(t), "no fd left after Close")
}

func TestPipeSplice(t *testing.T) {
	// splice needs one end to be a pipe; a second pipe stands in for a
	// socket here (the channel tests splice real sockets).
	src, err := NewPipe(0)
	require.NoError(t, err)
	defer src.Close()
	dst, err := NewPipe(0)
	require.NoError(t, err)
	defer dst.Close()
	p, err := NewPipe(0)
	require.NoError(t, err)
	defer p.Close()

	msg := bytes.Repeat([]byte("splice"), 100)
	_, err = src.Write(msg)
	require.NoError(t, err)
	n, err := p.SpliceFrom(src.ReadFD(), 1<<20)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)
	require.Equal(t, len(msg), p.Len())
	_, err = p.SpliceFrom(src.ReadFD(), 1<<20)
	require.ErrorIs(t, err, unix.EAGAIN)

	n, err = p.SpliceTo(dst.WriteFD(), 1<<20)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)
	require.Zero(t, p.Len())
	got := make([]byte, 2*len(msg))
	n, err = dst.Read(got)
	require.NoError(t, err)
	require.Equal(t, msg, got[:n])
}
