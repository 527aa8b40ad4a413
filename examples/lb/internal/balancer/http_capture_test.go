package balancer

import (
	"net/netip"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/stretchr/testify/require"
)

// sampleInt casts as HAProxy does when set-timeout's expression gives
// no integer: a string's sign and leading digits, nothing without one.
func TestSampleInt(t *testing.T) {
	for _, c := range []struct {
		s    acl.Sample
		want int64
		ok   bool
	}{
		{acl.Int(150), 150, true},
		{acl.Bool(true), 1, true},
		{acl.Str("150"), 150, true},
		{acl.Str("150ms"), 150, true},
		{acl.Str("-5"), -5, true},
		{acl.Str("+7x"), 7, true},
		{acl.Str("abc"), 0, false},
		{acl.Str(""), 0, false},
		{acl.Str("-"), 0, false},
		{acl.Str("99999999999999999999"), 1<<63 - 1, true},
		{acl.IP(netip.MustParseAddr("0.0.1.2")), 258, true},
		{acl.IP(netip.MustParseAddr("::1")), 0, false},
	} {
		n, ok := sampleInt(c.s)
		require.Equal(t, c.ok, ok, c.s)
		require.Equal(t, c.want, n, c.s)
	}
}

// appendCapture encodes as HAProxy's logs do and tells an empty value
// from an absent one.
func TestAppendCapture(t *testing.T) {
	require.Equal(t, "a#09b#7B#7C#7D#22#23#C3#A9~", string(appendCapture(nil, "a\tb{|}\"#\xc3\xa9~")))
	require.NotNil(t, appendCapture(nil, ""))
	require.Equal(t, "xy", string(appendCapture([]byte("x"), []byte("y"))))
}
