package channel

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// proxy accepts clients and tunnels each to backend.
func proxy(t testing.TB, backend string, raw bool, cfg TunnelConfig) (net.Listener, <-chan Result) {
	t.Helper()
	ln := testnet.Listen(t)
	results := make(chan Result, 1024)
	t.Cleanup(testnet.Accept(ln, func(c net.Conn) {
		s, err := net.Dial("tcp", backend)
		if err != nil {
			c.Close()
			results <- Result{Err: err}
			return
		}
		r, _ := RunTunnel(context.Background(), wrap(c.(*net.TCPConn), raw), wrap(s.(*net.TCPConn), raw), cfg)
		results <- r
	}))
	return ln, results
}

// pushEcho sends size random bytes through the proxy and checks the echo
// comes back intact.
func pushEcho(addr string, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	want := sha256.Sum256(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if n != int64(size) || [32]byte(h.Sum(nil)) != want {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func runEndToEnd(t *testing.T, conns, size int, raw bool, cfg TunnelConfig) []Result {
	ln, results := proxy(t, testnet.Serve(t, testnet.Echo), raw, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pushEcho(ln.Addr().String(), size)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var rs []Result
	for i := 0; i < conns; i++ {
		r := <-results
		require.NoError(t, r.Err)
		require.Equal(t, "--", r.TermState())
		require.Equal(t, int64(size), r.Request.Out)
		require.Equal(t, int64(size), r.Response.Out)
		rs = append(rs, r)
	}
	return rs
}

func TestEndToEndBuffer300x1MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 600 MiB")
	}
	testnet.LeakCheck(t)
	pool, err := buffer.NewPool(buffer.PoolConfig{})
	require.NoError(t, err)
	rs := runEndToEnd(t, 300, 1<<20, false, TunnelConfig{Pool: pool})
	for _, r := range rs {
		require.Zero(t, r.Request.Spliced+r.Response.Spliced)
	}
	require.Zero(t, pool.Stats().InUse)
}

func TestEndToEndSplice50x8MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 800 MiB")
	}
	testnet.LeakCheck(t)
	pool, pipes := newPools(t, 0)
	rs := runEndToEnd(t, 50, 8<<20, true, TunnelConfig{
		Pool: pool, Pipes: pipes, SpliceRequest: SpliceAlways, SpliceResponse: SpliceAlways,
	})
	var spliced int64
	if !buffer.SpliceSupported {
		for _, r := range rs {
			require.Zero(t, r.Request.Spliced+r.Response.Spliced, "no pipes in this build")
		}
		require.Zero(t, pipes.Stats().Created)
		return
	}
	for _, r := range rs {
		require.Equal(t, r.Request.Out, r.Request.Spliced, "every request byte went through a pipe")
		require.Equal(t, r.Response.Out, r.Response.Spliced)
		spliced += r.Request.Spliced + r.Response.Spliced
	}
	require.Equal(t, int64(50*2*8<<20), spliced)
	require.Zero(t, pool.Stats().Allocated, "the splice path never borrowed a buffer")
	require.Zero(t, pipes.Stats().InUse)
}
