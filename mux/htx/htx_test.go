package htx

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldsHelpers(t *testing.T) {
	var m Message
	m.SetRequest("POST", "http", "h", "/a?x=1&y=&z&x=2")
	m.Add("Accept", "a")
	m.Add("X-Multi", "1")
	m.Add("x-multi", "2")
	m.Add("Connection", "close, X-Private")
	m.Add("Content-Length", "3")

	tests := []struct {
		name  string
		param string
		want  string
		ok    bool
	}{
		{"first of repeated", "x", "1", true},
		{"empty value", "y", "", true},
		{"no equals", "z", "", true},
		{"absent", "w", "", false},
		{"case-sensitive", "X", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := m.QueryParam(tc.param)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, string(v))
		})
	}

	require.Equal(t, 2, m.Count("X-MULTI"))
	require.True(t, m.HasToken("connection", "CLOSE"))
	require.False(t, m.HasToken("connection", "keep-alive"))
	require.True(t, m.IsHopByHop(3), "Connection is hop-by-hop")
	require.True(t, m.IsHopByHop(4), "Content-Length is rebuilt from flags")
	require.False(t, m.IsHopByHop(0))

	m.Set("x-multi", "3")
	require.Equal(t, 1, m.Count("x-multi"))
	n, v := m.Field(1)
	require.Equal(t, "X-Multi", string(n), "Set keeps the first field's place and case")
	require.Equal(t, "3", string(v))

	require.Equal(t, 1, m.Del("ACCEPT"))
	_, ok := m.Get("accept")
	require.False(t, ok)

	m.SetPath("/b")
	require.Equal(t, "/b?x=1&y=&z&x=2", string(m.Path()))
	require.Equal(t, "/b", string(m.PathOnly()))
	m.SetURI("/c")
	require.Nil(t, m.Query())
	m.SetPath("/d")
	require.Equal(t, "/d", string(m.Path()))

	var c Message
	c.CopyFrom(&m)
	m.Reset()
	require.Equal(t, "/d", string(c.Path()))
	require.Equal(t, 3, c.NumFields())
	require.True(t, c.IsRequest())
	require.True(t, c.MethodIs("POST"))
}

func TestResetKeepsStorageAndAllocatesNothing(t *testing.T) {
	var m Message
	fill := func() {
		m.Reset()
		m.SetRequest("GET", "https", "example.com", "/index.html?q=1")
		for i := 0; i < 10; i++ {
			m.Add("X-Header-Name", "some value of moderate length")
		}
		m.Set("X-Header-Name", "one")
		m.SetPath("/other")
		m.AddTrailer("Grpc-Status", "0")
		_, _ = m.Get("x-header-name")
		_, _ = m.QueryParam("q")
	}
	fill()
	require.Zero(t, testing.AllocsPerRun(100, fill))
}

func TestSetFieldValueAndMethod(t *testing.T) {
	var m Message
	m.SetRequest("GET", "", "", "/a")
	m.Add("X-A", "1")
	m.Add("X-B", "2")
	m.SetFieldValue(1, []byte("two"))
	name, value := m.Field(1)
	if string(name) != "X-B" || string(value) != "two" {
		t.Fatalf("field 1 = %s: %s", name, value)
	}
	m.DelField(0)
	if m.NumFields() != 1 {
		t.Fatalf("%d fields after DelField", m.NumFields())
	}
	if name, _ := m.Field(0); string(name) != "X-B" {
		t.Fatalf("field 0 = %s after DelField(0)", name)
	}
	m.SetMethod([]byte("HEAD"))
	if string(m.Method()) != "HEAD" || m.Flags&FlagHead == 0 {
		t.Fatalf("method %s, flags %x", m.Method(), m.Flags)
	}
	m.SetMethod([]byte("POST"))
	if m.Flags&FlagHead != 0 {
		t.Fatal("HEAD flag kept after POST")
	}
}
