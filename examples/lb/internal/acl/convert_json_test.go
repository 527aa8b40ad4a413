package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONPath(t *testing.T) {
	steps, err := parseJSONPath("$.a.b[2].c")
	require.NoError(t, err)
	require.Equal(t, []jsonStep{{key: "a", isKey: true}, {key: "b", isKey: true}, {index: 2}, {key: "c", isKey: true}}, steps)
	for _, bad := range []string{"a.b", "$..a", "$.a[1", "$x"} {
		_, err := parseJSONPath(bad)
		require.Error(t, err, bad)
	}
	doc := []byte(`{"a":{"b":[0,1,{"c":"\u00e9\u20ac\n"}]},"n":-3,"f":2.5,"s":"42x"}`)
	s, ok := jsonQuery(doc, steps, false)
	require.True(t, ok)
	require.Equal(t, "\xe9\u20ac\n", s.Str, "one byte below 0x100, UTF-8 above")
	for path, want := range map[string]Sample{"$.n": Int(-3), "$.f": Str("2.5")} {
		st, _ := parseJSONPath(path)
		got, ok := jsonQuery(doc, st, false)
		require.True(t, ok, path)
		require.Equal(t, want, got, path)
	}
	st, _ := parseJSONPath("$.s")
	got, ok := jsonQuery(doc, st, true)
	require.True(t, ok)
	require.Equal(t, Int(42), got)
	st, _ = parseJSONPath("$.a")
	_, ok = jsonQuery(doc, st, false)
	require.False(t, ok, "an object gives no sample")
	_, ok = jsonQuery([]byte(`{"a":`), st, false)
	require.False(t, ok)
	_, ok = jwtPart("a.b", 1)
	require.False(t, ok)
}
