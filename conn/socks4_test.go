package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

func TestAppendSOCKS4Request(t *testing.T) {
	b, err := AppendSOCKS4Request(nil, netip.MustParseAddrPort("192.0.2.1:8080"), "HAProxy")
	require.NoError(t, err)
	require.Equal(t, []byte{4, 1, 0x1f, 0x90, 192, 0, 2, 1, 'H', 'A', 'P', 'r', 'o', 'x', 'y', 0}, b)
	b, err = AppendSOCKS4Request(nil, netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), "")
	require.NoError(t, err)
	require.Equal(t, []byte{4, 1, 0, 1, 10, 0, 0, 1, 0}, b)
	_, err = AppendSOCKS4Request(nil, netip.MustParseAddrPort("[2001:db8::1]:80"), "")
	require.ErrorContains(t, err, "IPv4 addresses only")
	_, err = AppendSOCKS4Request(nil, netip.MustParseAddrPort("192.0.2.1:80"), "a\x00b")
	require.ErrorContains(t, err, "NUL")
}

func TestParseSOCKS4Reply(t *testing.T) {
	require.NoError(t, ParseSOCKS4Reply([]byte{0, 90, 0, 0, 0, 0, 0, 0}))
	// Only the code counts, whatever the version byte says.
	require.NoError(t, ParseSOCKS4Reply([]byte{5, 90, 0, 0, 0, 0, 0, 0}))
	var se *SOCKS4Error
	require.ErrorAs(t, ParseSOCKS4Reply([]byte{0, 92, 0, 0, 0, 0, 0, 0}), &se)
	require.Equal(t, byte(92), se.Code)
	require.ErrorIs(t, ParseSOCKS4Reply([]byte{0, 90}), io.ErrUnexpectedEOF)
}

// The dialer goes through the proxy: the request names the server, and
// the PROXY header and the bytes after it reach the server through it.
func TestDialerSOCKS4(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{AcceptProxy: true})
	conns, stop := serve(t, l)
	defer stop()
	px := testnet.StartSOCKS4(t, testnet.SOCKS4Grant)
	d := Dialer{SOCKS4: px.Addr, SOCKS4UserID: "HAProxy", SendProxy: 1}
	ph := NewProxyHeader(netip.MustParseAddrPort("192.0.2.1:1111"), netip.MustParseAddrPort("192.0.2.2:80"))
	out, err := d.Dial(context.Background(), "tcp", l.Addr().String(), ph)
	require.NoError(t, err)
	defer out.Close()
	require.Equal(t, PhaseReady, out.Phase())
	require.Equal(t, px.Addr, out.SocketRemote().String(), "the socket is the proxy's")
	port := l.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	require.Equal(t, []string{fmt.Sprintf(`04 01 %d 127.0.0.1 "HAProxy"`, port)}, mapStrings(px.Requests(), testnet.SOCKS4Request))
	in := <-conns
	require.Equal(t, "192.0.2.1:1111", in.Src().String())
	_, err = out.Write([]byte("ping"))
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(out, got)
	require.NoError(t, err)
	require.Equal(t, "ping", string(got))
}

func TestDialerSOCKS4Failures(t *testing.T) {
	target := netip.MustParseAddrPort("127.0.0.1:9")
	for name, tc := range map[string]struct {
		mode  testnet.SOCKS4Mode
		check func(t *testing.T, err error)
	}{
		"rejected": {testnet.SOCKS4Reject, func(t *testing.T, err error) {
			var se *SOCKS4Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, byte(0x5b), se.Code)
		}},
		"closed": {testnet.SOCKS4Close, func(t *testing.T, err error) {
			require.True(t, errors.Is(err, io.EOF), "%v", err)
		}},
		"short then silent": {testnet.SOCKS4Short, func(t *testing.T, err error) {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		}},
		"silent": {testnet.SOCKS4Silent, func(t *testing.T, err error) {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			testnet.LeakCheck(t)
			px := testnet.StartSOCKS4(t, tc.mode)
			d := Dialer{SOCKS4: px.Addr, HandshakeTimeout: 50 * time.Millisecond}
			c, err := d.Dial(context.Background(), "tcp", target.String(), nil)
			require.Nil(t, c)
			require.ErrorIs(t, err, ErrDial)
			require.ErrorIs(t, err, ErrSOCKS4)
			tc.check(t, err)
			px.WaitRequests(t, 1)
		})
	}
	t.Run("not IPv4", func(t *testing.T) {
		testnet.LeakCheck(t)
		px := testnet.StartSOCKS4(t, testnet.SOCKS4Grant)
		_, err := (&Dialer{SOCKS4: px.Addr}).Dial(context.Background(), "tcp", "[::1]:80", nil)
		require.ErrorIs(t, err, ErrSOCKS4)
		require.ErrorIs(t, err, syscall.EINVAL)
		require.ErrorContains(t, err, "IPv4 addresses only")
		require.Empty(t, px.Requests(), "refused before any connect")
		_, err = (&Dialer{SOCKS4: px.Addr}).Dial(context.Background(), "unix", "/tmp/x", nil)
		require.ErrorContains(t, err, "needs a TCP network")
	})
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// A v1 header without a ProxyHeader tells the connection's own addresses
// under SelfHeader: the local socket's, and the server's even through a
// SOCKS4 proxy; a v2 one stays LOCAL.
func TestDialerSelfHeader(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{AcceptProxy: true})
	conns, stop := serve(t, l)
	defer stop()
	px := testnet.StartSOCKS4(t, testnet.SOCKS4Grant)
	for _, d := range []Dialer{{SendProxy: 1, SelfHeader: true}, {SendProxy: 1, SelfHeader: true, SOCKS4: px.Addr}} {
		out, err := d.Dial(context.Background(), "tcp", l.Addr().String(), nil)
		require.NoError(t, err)
		in := <-conns
		require.NotNil(t, in.ProxyHeader())
		require.Equal(t, CommandProxy, in.ProxyHeader().Command)
		require.Equal(t, out.SocketLocal().String(), in.Src().String())
		require.Equal(t, l.Addr().String(), in.Dst().String())
		out.Close()
	}
	out, err := (&Dialer{SendProxy: 2, SelfHeader: true}).Dial(context.Background(), "tcp", l.Addr().String(), nil)
	require.NoError(t, err)
	defer out.Close()
	in := <-conns
	require.Equal(t, CommandLocal, in.ProxyHeader().Command)
}
