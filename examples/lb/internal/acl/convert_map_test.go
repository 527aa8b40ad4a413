package acl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapConverters checks map and map_<match>_<out>: exact keys, the
// first matching line for prefixes, the longest network for addresses,
// the value read as a string, an integer or an address, the default,
// and the file's errors.
func TestMapConverters(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	hosts := write("hosts.map", "# host backend\nexample.com  be_web  \n\tapi.example.com be_api\nexample.com be_dup\n")
	paths := write("paths.map", "/api/v2 two\n/api one\n")
	nets := write("nets.map", "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n192.168.0.1 host\n")
	ints := write("ints.map", "a 1\nb 22\n")
	bad := write("bad.map", "a x\n")
	c := newCtx("10.1.2.3:1000")
	for expr, want := range map[string]string{
		"str(example.com),map(" + hosts + ")":         "be_web",
		"str(api.example.com),map_str(" + hosts + ")": "be_api",
		"str(none),map(" + hosts + ",be_default)":     "be_default",
		"str(/api/v2/x),map_beg(" + paths + ")":       "two",
		"str(/api/x),map_beg(" + paths + ")":          "one",
		"src,map_ip(" + nets + ")":                    "narrow",
		"str(10.9.9.9),map_ip(" + nets + ")":          "wide",
		"str(b),map_str_int(" + ints + "),add(1)":     "23",
		"str(z),map_str_int(" + ints + ",7)":          "7",
		"str(192.168.0.1),map_ip_str(" + nets + ")":   "host",
	} {
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		s, ok := fn(c)
		require.True(t, ok, expr)
		assert.Equal(t, want, s.String(), expr)
	}
	_, fn, err := CompileFetch("str(none),map(" + hosts + ")")
	require.NoError(t, err)
	_, ok := fn(c)
	assert.False(t, ok, "no match and no default: no sample")
	for expr, want := range map[string]string{
		"str(a),map(" + filepath.Join(dir, "none.map") + ")": "failed to open map file",
		"str(a),map_str_int(" + bad + ")":                    "line 1: 'x' is not an integer",
		"str(a),map_str_int(" + ints + ",y)":                 "default value: 'y' is not an integer",
		"str(a),map":                                         "",
	} {
		_, _, err := CompileFetch(expr)
		require.Error(t, err, expr)
		assert.Contains(t, err.Error(), want, expr)
	}
}
