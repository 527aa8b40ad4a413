package stick

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStoreArrays(t *testing.T) {
	specs, err := ParseStore("gpt(2),gpc_rate(3,10s),gpc(100),conn_cur")
	require.NoError(t, err)
	require.Equal(t, []DataSpec{
		{Type: DataGPT, Count: 2},
		{Type: DataGPCRate, Period: 10 * time.Second, Count: 3},
		{Type: DataGPC, Count: 100},
		{Type: DataConnCur},
	}, specs)
	require.Equal(t, []string{"gpt(2)", "gpc_rate(3,10000)", "gpc(100)", "conn_cur"},
		[]string{specs[0].String(), specs[1].String(), specs[2].String(), specs[3].String()})
	require.True(t, DataGPCRate.IsArray() && DataGPCRate.IsRate())
	require.False(t, DataGPC0.IsArray())

	// The messages are HAProxy's, as its configuration check words them.
	for in, msg := range map[string]string{
		"gpc":               "missing argument to store option 'gpc'",
		"gpc_rate(2)":       "missing argument to store option 'gpc_rate'",
		"gpc(0)":            "array size is out of allowed range (1-100) for store option 'gpc'",
		"gpc(101)":          "array size is out of allowed range (1-100) for store option 'gpc'",
		"gpc()":             "array size is out of allowed range (1-100) for store option 'gpc'",
		"gpt(a)":            "array size is out of allowed range (1-100) for store option 'gpt'",
		"gpc_rate(0,10s)":   "array size is out of allowed range (1-100) for store option 'gpc_rate'",
		"gpc(2,10s)":        "unexpected argument to store option 'gpc'",
		"gpc_rate(2,abc)":   "error when processing store option 'gpc_rate'",
		"gpc_rate(2,10s,3)": "error when processing store option 'gpc_rate'",
		"gpc_rate(2,0)":     "period must be positive",
		"gpc(2":             "missing closing parenthesis after store option 'gpc'",
		"gpc_rate(2,1s":     "missing closing parenthesis after store option 'gpc_rate'",
		"gpc(2)x":           "unexpected text after ')'",
	} {
		_, err := ParseStore(in)
		require.ErrorContains(t, err, msg, in)
	}

	for words, msg := range map[string]string{
		"gpt(3),gpt0":                  "simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted as 'gpt' overrides 'gpt0'",
		"gpc0,gpc(2)":                  "simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'",
		"gpc(2),gpc1":                  "simultaneous usage of 'gpc' and 'gpc[0/1]'",
		"gpc_rate(2,1s),gpc0_rate(1s)": "simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate' in a same table is not permitted as 'gpc_rate' overrides 'gpc[0/1]_rate'",
		"gpc_rate(2,1s),gpc1_rate(1s)": "simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate'",
	} {
		_, err := ParseConfig([]string{"type", "ip", "size", "10", "store", words})
		require.ErrorIs(t, err, ErrBadConfig, words)
		require.ErrorContains(t, err, msg, words)
	}
	// Arrays sit beside the scalars of the other family.
	_, err = ParseConfig([]string{"type", "ip", "size", "10", "store", "gpc(2),gpt0,gpc0_rate(1s)"})
	require.NoError(t, err)
}

func TestArrayElements(t *testing.T) {
	tb, clk := newTable(t, Config{Name: "a", Type: KeyIPv4, Store: []DataSpec{
		{Type: DataGPC, Count: 3}, {Type: DataHTTPReqCnt}, {Type: DataGPCRate, Period: 10 * time.Second, Count: 2},
		{Type: DataGPT, Count: 2}, {Type: DataConnRate, Period: time.Second},
	}})
	require.Equal(t, []int{3, 2, 2, 1, 0}, []int{tb.Elems(DataGPC), tb.Elems(DataGPCRate), tb.Elems(DataGPT), tb.Elems(DataConnRate), tb.Elems(DataGPC0)})
	e, err := tb.GetOrCreate(ip4(1))
	require.NoError(t, err)
	defer e.Release()

	require.Equal(t, int64(1), e.IncElem(DataGPC, 2, 1))
	require.Equal(t, int64(2), e.IncElem(DataGPC, 2, 1))
	require.Equal(t, int64(5), e.IncElem(DataGPC, 0, 5))
	require.Equal(t, int64(0), e.IncElem(DataGPC, 3, 1), "out of range")
	require.Equal(t, int64(0), e.IncElem(DataGPC, -1, 1), "negative")
	require.Equal(t, []int64{5, 0, 2, 0}, []int64{e.GetElem(DataGPC, 0), e.GetElem(DataGPC, 1), e.GetElem(DataGPC, 2), e.GetElem(DataGPC, 3)})
	require.Equal(t, int64(5), e.Get(DataGPC), "Get reads element 0")

	// Neighbours are left alone: each element has its own place.
	e.Inc(DataHTTPReqCnt, 7)
	require.NoError(t, e.SetElem(DataGPT, 1, 42))
	require.NoError(t, e.SetElem(DataGPT, 0, -1))
	require.ErrorIs(t, e.SetElem(DataGPT, 2, 1), ErrNotStored)
	require.ErrorIs(t, e.SetElem(DataGPC0, 0, 1), ErrNotStored)
	require.Equal(t, []int64{4294967295, 42, 7}, []int64{e.GetElem(DataGPT, 0), e.GetElem(DataGPT, 1), e.Get(DataHTTPReqCnt)})

	e.IncElem(DataGPCRate, 1, 3)
	e.IncElem(DataGPCRate, 0, 1)
	require.Equal(t, []int64{1, 3}, []int64{e.GetElem(DataGPCRate, 0), e.GetElem(DataGPCRate, 1)})
	require.NotNil(t, e.CtrElem(DataGPCRate, 1))
	require.Nil(t, e.CtrElem(DataGPCRate, 2))
	require.Nil(t, e.CtrElem(DataGPC, 0), "not a rate")
	require.NoError(t, e.SetElem(DataGPCRate, 1, 9))
	require.Equal(t, int64(9), e.GetElem(DataGPCRate, 1))
	// A whole period later the rate of the previous period fades.
	clk.Advance(20000)
	require.Equal(t, int64(0), e.GetElem(DataGPCRate, 1))
	require.Equal(t, int64(4), e.IncElemAt(DataGPCRate, 1, 4, tb.Now()))
	require.Equal(t, []int64{5, 0, 2}, []int64{e.GetElem(DataGPC, 0), e.GetElem(DataGPC, 1), e.GetElem(DataGPC, 2)})
	require.Equal(t, int64(0), e.GetElem(DataConnRate, 0))
	e.IncElem(DataConnRate, 0, 2)
	require.Equal(t, int64(2), e.Get(DataConnRate), "element 0 of a scalar is its value")
}

func TestResolveScalarOnArray(t *testing.T) {
	arr, _ := newTable(t, Config{Type: KeyIPv4, Store: []DataSpec{
		{Type: DataGPC, Count: 2}, {Type: DataGPCRate, Period: time.Second, Count: 1}, {Type: DataGPT, Count: 1},
	}})
	type res struct {
		dt  DataType
		idx int
		ok  bool
	}
	get := func(tb *Table, dt DataType) res {
		d, i, ok := tb.Resolve(dt)
		return res{d, i, ok}
	}
	require.Equal(t, res{DataGPC, 0, true}, get(arr, DataGPC0))
	require.Equal(t, res{DataGPC, 1, true}, get(arr, DataGPC1))
	require.Equal(t, res{DataGPCRate, 0, true}, get(arr, DataGPC0Rate))
	require.Equal(t, res{DataGPCRate, 1, false}, get(arr, DataGPC1Rate), "gpc_rate(1) has no element 1")
	require.Equal(t, res{DataGPT, 0, true}, get(arr, DataGPT0))
	require.Equal(t, res{DataConnCur, 0, false}, get(arr, DataConnCur))

	scalar, _ := newTable(t, Config{Type: KeyIPv4, Store: []DataSpec{{Type: DataGPC0}}})
	require.Equal(t, res{DataGPC0, 0, true}, get(scalar, DataGPC0))
	require.Equal(t, res{DataGPC, 1, false}, get(scalar, DataGPC1))
}

func TestArrayDumpAndSet(t *testing.T) {
	tb, _ := newTable(t, Config{Name: "a", Type: KeyIPv4, Store: []DataSpec{
		{Type: DataGPC, Count: 2}, {Type: DataGPCRate, Period: 10 * time.Second, Count: 2}, {Type: DataGPT, Count: 1},
	}})
	k, _ := tb.ParseKey("1.2.3.4")
	vals, err := tb.ParseSetData([]string{"data.gpc", "3", "data.gpc_rate", "2", "data.gpt", "9"})
	require.NoError(t, err)
	require.NoError(t, tb.SetData(k, vals))
	e, err := tb.Lookup(k)
	require.NoError(t, err)
	e.IncElem(DataGPC, 1, 5)
	e.IncElem(DataGPCRate, 1, 1)
	e.Release()
	line := "0xP: key=1.2.3.4 use=0 exp=0 gpt0=9 gpc0=3 gpc1=5 gpc0_rate(10000)=2 gpc1_rate(10000)=1\n"
	head := "# table: a, type: ip, size:1000, used:1\n"
	require.Equal(t, head, dump(t, tb, "data.gpc", "gt", "3"), "a filter on the array reads element 0")
	require.Equal(t, head+line, dump(t, tb))
	require.Equal(t, head+line, dump(t, tb, "data.gpc", "eq", "3"))
	for _, args := range [][]string{{"data.gpc(1)", "eq", "5"}, {"data.gpc1", "eq", "5"}} {
		_, err := tb.ParseFilter(args)
		require.Error(t, err, "%v", args)
	}
}

// TestArrayOpsAllocateNothing: counting on an array element costs no
// allocation, as counting on a scalar does not.
func TestArrayOpsAllocateNothing(t *testing.T) {
	tb, _ := newTable(t, Config{Type: KeyIPv4, Store: []DataSpec{
		{Type: DataGPC, Count: 10}, {Type: DataGPCRate, Period: 10 * time.Second, Count: 10}, {Type: DataGPT, Count: 10},
	}})
	k := ip4(7)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		e, err := tb.GetOrCreate(k)
		if err != nil {
			panic(err)
		}
		now := tb.Now()
		e.IncElemAt(DataGPC, 9, 1, now)
		e.IncElemAt(DataGPCRate, 9, 1, now)
		_ = e.SetElem(DataGPT, 3, 1)
		_ = e.GetElem(DataGPCRate, 9)
		e.TouchReleaseAt(now)
	}))
}

// BenchmarkArrayElementUpdate is the work of sc-inc-gpc(3,0) plus a read
// of sc_gpc_rate(3,0) on a tracked entry.
func BenchmarkArrayElementUpdate(b *testing.B) {
	tb, err := New(Config{Type: KeyIPv4, Size: 1024, Expire: 30 * time.Second, Store: []DataSpec{
		{Type: DataGPC, Count: 8}, {Type: DataGPCRate, Period: 10 * time.Second, Count: 8},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	keys := benchKeys(1024)
	for _, k := range keys {
		e, err := tb.GetOrCreate(k[:])
		if err != nil {
			b.Fatal(err)
		}
		e.Release()
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e, err := tb.GetOrCreate(keys[i&1023][:])
			if err != nil {
				panic(err)
			}
			now := tb.Now()
			e.IncElemAt(DataGPC, 3, 1, now)
			e.IncElemAt(DataGPCRate, 3, 1, now)
			_ = e.GetElem(DataGPCRate, 3)
			e.TouchReleaseAt(now)
			i++
		}
	})
}
