package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropXXH3ConverterMatchesHAProxy: xxh3 gives haproxy 2.6's
// values for every length class of XXH3 (empty, 1-3, 4-8, 9-16, 17-128,
// 129-240, then by stripes and blocks), seeded and not, and on integers
// and addresses.
func TestInteropXXH3ConverterMatchesHAProxy(t *testing.T) {
	var text strings.Builder
	for i := 0; text.Len() < 5000; i++ {
		text.WriteString(strconv.Itoa(i*7919) + "-abcXYZ~")
	}
	var cases []convCase
	for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 64, 65, 96, 97, 128, 129, 200, 240, 241, 300, 1024, 1025, 1088, 2100, 5000} {
		for _, seed := range []string{"", "(5)", "(-1)"} {
			cases = append(cases, convCase{"req.fhdr(x-in),xxh3" + seed, text.String()[:n]})
		}
	}
	cases = append(cases, convCase{"int(1),xxh3", ""}, convCase{"ipv4(1.2.3.4),xxh3(7)", ""}, convCase{"ipv6(2001:db8::1),xxh3", ""},
		convCase{"str(hello),xxh3", ""}, convCase{"str(hello),xxh3(5)", ""})
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),xxh3 => [3244421341483603138]", got[0])
	require.Equal(t, "str(hello),xxh3 => [-7685981735718036227]", got[len(got)-2])
	require.Equal(t, "str(hello),xxh3(5) => [-5040988036188159185]", got[len(got)-1])
	require.Contains(t, convRefused(t, []string{"str(a),xxh3(x)"})[0], "converter 'xxh3': failed to parse 'x' as type 'integer'")
}
