package main

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropDateConvertersMatchHAProxy: http_date, utime and ltime
// answer as in haproxy 2.6: units and offsets, glibc's strftime
// conversions and flags, dates past 9999 and the 55 bits haproxy keeps
// of a date (a negative one lands in a far year).
func TestInteropDateConvertersMatchHAProxy(t *testing.T) {
	var cases []convCase
	for _, c := range []string{"int(1700000000),http_date", "int(1700000000),http_date(3600)", "int(1700000000),http_date(-1)",
		"int(1700000000123),http_date(0,ms)", "int(1700000000123456),http_date(0,us)", "int(1700000000),http_date(5,s)",
		"int(1700000000123),http_date(5,ms)", "int(1700000000005),http_date(0,ms)", "int(1700000000000050),http_date(-10,us)",
		"int(-1),http_date", "int(-86400),http_date", "int(-1),http_date(0,ms)", "int(-1000),http_date(0,ms)", "int(0),http_date",
		"int(253402300800),http_date", "int(36028797018963967),http_date", "int(36028797018963968),http_date",
		"str(1700000000x),http_date", "str(),http_date", "int(1700000000),utime", "int(1700000000),utime()",
		"int(1700000000),utime(%Y,3600)", "int(1700000000),ltime(%s,10)", "int(-1),utime(%Y-%m-%d)", "int(0),utime(%n%t),hex"} {
		cases = append(cases, convCase{c, ""})
	}
	first := len(cases)
	formats := []string{"%a %A %b %B %h", "%c", "%C %d %D %e %F", "%g %G %V", "%H %I %j %k %l", "%m %M %p %P %r %R",
		"%s %S %t %T", "%u %U %w %W", "%x %X %y %Y %z %Z %%", "%q %E %Ey %Od %", "%-d %_d %5Y %^a %#b %#p %#Z %10A %-j %_H %03e %^B %#A %_5m %-5S %-10A %010a %_3j %-3e %^10p %5%"}
	for _, date := range []int64{1700000000, 0, 1234567890, 946684799, 1704067200, 1703980800, 1609459200, 1699920000, -1, 36028797018963967} {
		for _, f := range formats {
			for _, conv := range []string{"utime", "ltime"} {
				cases = append(cases, convCase{"int(" + strconv.FormatInt(date, 10) + ")," + conv + "(" + f + ")", ""})
			}
		}
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[Tue, 14 Nov 2023 22:13:20 GMT]", "[Tue, 14 Nov 2023 23:13:20 GMT]", "[Tue, 14 Nov 2023 22:13:19 GMT]",
		"[Tue, 14 Nov 2023 22:13:20.123 GMT]", "[Tue, 14 Nov 2023 22:13:20.123456 GMT]", "[Tue, 14 Nov 2023 22:13:25 GMT]",
		"[Tue, 14 Nov 2023 22:13:20.128 GMT]", "[Tue, 14 Nov 2023 22:13:20.5 GMT]", "[Tue, 14 Nov 2023 22:13:20.40 GMT]",
		"[Sun, 13 Jun 1141709097 06:26:07 GMT]", "[Sat, 12 Jun 1141709097 06:26:08 GMT]", "[Thu, 01 Jan 1970 00:00:00.-1 GMT]",
		"[Sun, 13 Jun 1141709097 06:26:07.0 GMT]", "[Thu, 01 Jan 1970 00:00:00 GMT]", "[Sat, 01 Jan 10000 00:00:00 GMT]",
		"[Sun, 13 Jun 1141709097 06:26:07 GMT]", "[Thu, 01 Jan 1970 00:00:00 GMT]", "[Tue, 14 Nov 2023 22:13:20 GMT]", "[]", "[]", "[]",
		"[2023]", "[1700000010]", "[1141709097-06-13]", "[0A09]"} {
		require.Equal(t, cases[i].expr+" => "+v, got[i])
	}
	require.Equal(t, "int(1700000000),utime(%c) => [Tue Nov 14 22:13:20 2023]", got[first+2])
	errs := convRefused(t, []string{"int(1),http_date(0,h)", "int(1),http_date(x)", "int(1),http_date(1,2,3)", "int(1),utime(%Y,x)"})
	require.Contains(t, errs[0], "converter 'http_date': expects 's', 'ms' or 'us', got 'h'")
	require.Contains(t, errs[1], "converter 'http_date': failed to parse 'x' as type 'integer'")
	require.Contains(t, errs[3], "converter 'utime': failed to parse 'x' as type 'integer'")
}
