package channel

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

const chunk = 64 << 10

// forwarder starts moving bytes from front to back and returns a stop
// function that waits for it to end.
type forwarder func(t testing.TB, f fixture) (stop func())

func tunnelForwarder(raw bool, mode SpliceMode) forwarder {
	return func(t testing.TB, f fixture) func() {
		pool, pipes := newPools(t, 0)
		_, done := startTunnel(t, f, raw, TunnelConfig{Pool: pool, Pipes: pipes, SpliceRequest: mode, SpliceResponse: mode})
		return func() {
			_ = f.client.CloseWrite()
			_ = f.server.CloseWrite()
			r := wait(t, done)
			require.NoError(t, r.err)
		}
	}
}

// ioCopyForwarder is what most Go proxies do: io.Copy per direction,
// which splices TCP to TCP on Linux, holding a pipe for the connection's
// life.
func ioCopyForwarder(t testing.TB, f fixture) func() {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(f.back, f.front)
		_ = f.back.CloseWrite()
		close(done)
	}()
	return func() {
		_ = f.client.CloseWrite()
		<-done
	}
}

// pump writes n chunks at the client while the server reads them.
func pump(t testing.TB, f fixture, n int, buf []byte) {
	got := make(chan error, 1)
	go func() {
		rb := make([]byte, chunk)
		var err error
		for i := 0; i < n && err == nil; i++ {
			_, err = io.ReadFull(f.server, rb)
		}
		got <- err
	}()
	for i := 0; i < n; i++ {
		if _, err := f.client.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkForward(b *testing.B) {
	cases := []struct {
		name string
		fw   forwarder
	}{
		{"splice", tunnelForwarder(true, SpliceAlways)},
		{"buffer-raw", tunnelForwarder(true, SpliceNever)},
		{"buffer-plain", tunnelForwarder(false, SpliceNever)},
		{"peer-io.Copy", ioCopyForwarder},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b)
			stop := tc.fw(b, f)
			buf := make([]byte, chunk)
			pump(b, f, 16, buf) // warm the pools
			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			pump(b, f, b.N, buf)
			b.StopTimer()
			stop()
		})
	}
}

// The forwarding path allocates nothing once the pools are warm.
func TestForwardingZeroAlloc(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			f := newFixture(t)
			stop := tunnelForwarder(p.raw, p.splice)(t, f)
			buf := make([]byte, chunk)
			rb := make([]byte, chunk)
			pump(t, f, 16, buf)
			allocs := testing.AllocsPerRun(200, func() {
				_, _ = f.client.Write(buf)
				_, _ = io.ReadFull(f.server, rb)
			})
			require.Zero(t, allocs)
			stop()
		})
	}
}
