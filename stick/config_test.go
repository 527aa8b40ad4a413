package stick

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		words    []string
		kt       KeyType
		n, used  int
		errMatch string
	}{
		{[]string{"ip"}, KeyIPv4, 4, 1, ""},
		{[]string{"ipv4", "size"}, KeyIPv4, 4, 1, ""},
		{[]string{"ipv6"}, KeyIPv6, 16, 1, ""},
		{[]string{"integer"}, KeyInteger, 4, 1, ""},
		{[]string{"string"}, KeyString, 31, 1, ""},
		{[]string{"string", "len", "32"}, KeyString, 32, 3, ""},
		{[]string{"binary"}, KeyBinary, 32, 1, ""},
		{[]string{"binary", "len", "8", "size"}, KeyBinary, 8, 3, ""},
		{[]string{"string", "len"}, 0, 0, 0, "missing length"},
		{[]string{"string", "len", "0"}, 0, 0, 0, "must be an integer"},
		{[]string{"string", "len", "x"}, 0, 0, 0, "must be an integer"},
		{[]string{"float"}, 0, 0, 0, `unknown key type "float"`},
		{nil, 0, 0, 0, "missing key type"},
	}
	for _, tc := range tests {
		kt, n, used, err := ParseKeyType(tc.words...)
		if tc.errMatch != "" {
			require.ErrorIs(t, err, ErrBadConfig, "%v", tc.words)
			require.ErrorContains(t, err, tc.errMatch)
			continue
		}
		require.NoError(t, err, "%v", tc.words)
		require.Equal(t, []any{tc.kt, tc.n, tc.used}, []any{kt, n, used}, "%v", tc.words)
	}
}

func TestParseStore(t *testing.T) {
	specs, err := ParseStore("conn_cur,conn_rate(10s),gpc0,http_req_rate(1m),bytes_in_cnt,gpc1_rate(500)")
	require.NoError(t, err)
	require.Equal(t, []DataSpec{
		{DataConnCur, 0, 0},
		{DataConnRate, 10 * time.Second, 0},
		{DataGPC0, 0, 0},
		{DataHTTPReqRate, time.Minute, 0},
		{DataBytesInCnt, 0, 0},
		{DataGPC1Rate, 500 * time.Millisecond, 0},
	}, specs)
	require.Equal(t, "conn_rate(10000)", specs[1].String())

	bad := []struct{ in, msg string }{
		{"", "empty"},
		{"conn_rate", "needs a period"},
		{"gpc0(10s)", "takes no argument"},
		{"conn_rate(10s", "missing closing parenthesis after store option 'conn_rate'"},
		{"conn_rate(10x)", "unknown unit"},
		{"conn_rate(0)", "must be positive"},
		{"conn_rate(-1s)", "invalid time"},
		{"conn_rate(100d)", "larger than"},
		{"foo", "unknown data type"},
		{"gpc0,,gpc1", "unknown data type"},
	}
	for _, tc := range bad {
		_, err := ParseStore(tc.in)
		require.ErrorContains(t, err, tc.msg, tc.in)
	}
	_, err = ParseStore("nope")
	require.ErrorIs(t, err, ErrUnknownDataType)
}

func TestParseSizeAndTime(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "100": 100, "1k": 1024, "1m": 1 << 20, "1g": 1 << 30} {
		got, err := ParseSize(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1", "k", "1x", "1.5m", "2g"} {
		_, err := ParseSize(in)
		require.ErrorIs(t, err, ErrBadConfig, in)
	}
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "100": 100 * time.Millisecond, "5000us": 5 * time.Millisecond, "2h": 2 * time.Hour, "1d": 24 * time.Hour} {
		got, err := ParseTime(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]string{"type", "ip", "size", "1m", "expire", "30s", "store", "conn_cur,conn_rate(10s)", "store", "gpc0"})
	require.NoError(t, err)
	require.Equal(t, Config{
		Type: KeyIPv4, KeyLen: 4, Size: 1 << 20, Expire: 30 * time.Second,
		Store: []DataSpec{{DataConnCur, 0, 0}, {DataConnRate, 10 * time.Second, 0}, {DataGPC0, 0, 0}},
	}, cfg)

	cfg, err = ParseConfig([]string{"type", "string", "len", "8", "size", "10", "nopurge", "peers", "mypeers"})
	require.NoError(t, err)
	require.Equal(t, Config{Type: KeyString, KeyLen: 8, Size: 10, NoPurge: true, Peers: "mypeers", Sync: true}, cfg)

	bad := []struct {
		words []string
		msg   string
	}{
		{[]string{"size", "10"}, "needs 'type'"},
		{[]string{"type", "ip"}, "needs 'size'"},
		{[]string{"type", "ip", "size"}, `missing value after "size"`},
		{[]string{"type", "ip", "size", "10", "expire", "1x"}, "expire"},
		{[]string{"type", "ip", "size", "10", "store", "gpc0,gpc0"}, "stored twice"},
		{[]string{"type", "ip", "size", "10", "write-to", "x"}, `unsupported stick-table argument "write-to"`},
	}
	for _, tc := range bad {
		_, err := ParseConfig(tc.words)
		require.ErrorIs(t, err, ErrBadConfig, "%v", tc.words)
		require.ErrorContains(t, err, tc.msg)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Type: KeyIPv4},
		{Type: KeyIPv4, Size: 1, Shards: 3},
		{Type: KeyIPv4, Size: 1, Expire: -1},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataConnRate, 0, 0}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPC0, time.Second, 0}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataType(19), 0, 0}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPC, 0, 0}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPC, 0, 101}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPC0, 0, 2}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPCRate, 0, 2}}},
		{Type: KeyIPv4, Size: 1, Store: []DataSpec{{DataGPT, 0, 2}, {DataGPT0, 0, 0}}},
		{Type: KeyType(9), Size: 1},
	} {
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrBadConfig, "%+v", cfg)
	}
}
