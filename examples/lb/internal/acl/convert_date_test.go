package acl

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDateConverters(t *testing.T) {
	for expr, want := range map[string]string{
		"int(1700000000),http_date":             "Tue, 14 Nov 2023 22:13:20 GMT",
		"int(1700000000005),http_date(0,ms)":    "Tue, 14 Nov 2023 22:13:20.5 GMT",
		"int(-1),http_date":                     "Sun, 13 Jun 1141709097 06:26:07 GMT",
		"int(1700000000),utime(%F %T %Z %z %j)": "2023-11-14 22:13:20 GMT +0000 318",
		"int(1700000000),utime(%q %5Y %-d %^a)": "%q 02023 14 TUE",
		"int(1700000000),utime(%Y,-86400)":      "2023",
	} {
		require.Equal(t, want, convOn(t, expr), expr)
	}
	_, _, err := CompileFetch("ipv6(::1),utime(%Y)")
	require.ErrorContains(t, err, "converter 'utime' cannot be applied")
	_, _, err = CompileFetch("int(1),http_date(0,h)")
	require.ErrorContains(t, err, "expects 's', 'ms' or 'us', got 'h'")
}

// strftime's ISO weeks and week numbers at a year's edges.
func TestStrftimeWeeks(t *testing.T) {
	for unix, want := range map[int64]string{
		1609459200: "2020 53 00 00 5", // Friday 1 January 2021
		1704067200: "2024 01 00 01 1", // Monday 1 January 2024
		1703980800: "2023 52 53 52 7", // Sunday 31 December 2023
	} {
		require.Equal(t, want, string(strftime(nil, "%G %V %U %W %u", time.Unix(unix, 0).UTC(), true, time.UTC)), unix)
	}
}

// In a zone other than UTC, as haproxy 2.6 answered with
// TZ=America/New_York: ltime's offset and name, utime's GMT, and %s
// reading utime's broken-down time as a local one, as mktime does.
func TestStrftimeZones(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	const f = "%F %T %z %Z %s"
	require.Equal(t, "2023-11-14 17:13:20 -0500 EST 1700000000", string(strftime(nil, f, time.Unix(1700000000, 0).In(est), false, est)))
	require.Equal(t, "2023-11-14 22:13:20 +0000 GMT 1700018000", string(strftime(nil, f, time.Unix(1700000000, 0).UTC(), true, est)))
}
