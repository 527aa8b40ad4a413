package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// XXH32 and xxh64 against the reference vectors of xxHash, short and
// long inputs, seeded and not.
func TestXXHash(t *testing.T) {
	for _, c := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0x02cc5d05},
		{"a", 0, 0x550d7456},
		{"abc", 0, 0x32d153ff},
		{"", 1, 0x0b2cb792},
		{"Nobody inspects the spammish repetition", 0, 0xe2293b2f},
	} {
		require.Equal(t, c.want, XXH32([]byte(c.in), c.seed), "%q seed %d", c.in, c.seed)
	}
	for in, want := range map[string]uint64{"": 0xef46db3751d8e999, "a": 0xd24ec4f1a98c6e5b, "abc": 0x44bc2cf5ad770999} {
		require.Equal(t, want, XXH64([]byte(in), 0), in)
	}
}

func TestHashConverters(t *testing.T) {
	for expr, want := range map[string]string{
		"str(hello),crc32": "907060870", "str(hello),crc32(1)": "3902247103", "str(hello),crc32c": "2591144780",
		"str(),djb2": "5381", "str(hello),wt6": "3538347703", "str(hello),xxh64": "2794345569481354659",
		"int(1),sha1,hex":            "CB473678976F425D6EC1339838F11011007AD27D",
		"str(hello),digest(md5),hex": "5D41402ABC4B2A76B9719D911017C592", "str(ff),hex2i": "255", "str(-ff),hex2i": "<none>",
		"int(-1),htonl,hex": "FFFFFFFF", "str(abcdefg),be2dec(:,2,1)": "24930:25444:25958", "str(abcdefg),be2hex(:,3)": "616263:646566:67",
	} {
		require.Equal(t, want, convOn(t, expr), expr)
	}
	for expr, msg := range map[string]string{
		"str(a),crc32(x)":           "failed to parse 'x' as type 'integer'",
		"str(a),sha2(100)":          "unsupported number of bits: '100'",
		"str(a),digest(nosuch)":     "algorithm 'nosuch' unknown or not supported",
		"str(a),hmac(sha1,notb64!)": "key 'notb64!' is not base64 encoded",
		"str(a),be2dec(:,9)":        "chunk_size out of [1..8] range (9)",
		"str(a),be2hex(:,0)":        "chunk_size needs to be positive (0)",
		"str(a),be2hex(:,1,2)":      "unsupported truncate value (2)",
	} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, msg, expr)
	}
}

// Converters run per request: the integer ones allocate nothing, the
// ones making a string only that string.
func TestConverterAllocations(t *testing.T) {
	in := "str(Abcdefghij:abcdefghij-abcdefghij;abcdefghij),"
	for conv, want := range map[string]float64{
		"crc32": 0, "crc32c(1)": 0, "djb2": 0, "sdbm": 0, "wt6": 0, "xxh32": 0, "xxh64": 0, "xxh3(3)": 0, "and(3)": 0,
		"neg": 0, "even": 0, "iif(a,b)": 0, "ltrim(A)": 0, "port_only": 0, "language(en)": 0, "hex2i": 0, "url_enc": 1,
		"host_only": 1, "sha1": 1, "be2dec(:,4)": 1, "be2hex(:,2)": 1, "ub64enc": 1, "http_date": 1, "utime(%F)": 1,
	} {
		_, fn, err := CompileFetch(in + conv)
		require.NoError(t, err)
		require.Equal(t, want, testing.AllocsPerRun(50, func() { fn(nil) }), conv)
	}
}
