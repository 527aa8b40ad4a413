package balancer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDynCookieValue checks the values haproxy 2.6.12 sent for key
// "mykey" (and "k2") with servers at 127.0.0.1:18411 and [::1]:18413.
func TestDynCookieValue(t *testing.T) {
	require.Equal(t, "cbf3e38e2f5da9ba", dynCookieValue("mykey", "127.0.0.1:18411"))
	require.Equal(t, "c461ba17483719e9", dynCookieValue("mykey", "[::1]:18413"))
	require.Equal(t, "93299d5aba6d4728", dynCookieValue("k2", "127.0.0.1:18411"))
	require.Equal(t, "c24a918fb3dd71a5", dynCookieValue("k2", "[::1]:18413"))
	require.Empty(t, dynCookieValue("k2", "unix@/tmp/x.sock"))
}
