package tls

import (
	stdtls "crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordStore keeps the last wrapped session as its label.
type recordStore struct{ last *stdtls.SessionState }

func (r *recordStore) Wrap(_ stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error) {
	r.last = ss
	return []byte("label"), nil
}

func (r *recordStore) Unwrap([]byte, stdtls.ConnectionState) (*stdtls.SessionState, error) {
	return r.last, nil
}

func TestLifetime(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name    string
		age     time.Duration
		resumed bool
	}{
		{"fresh", 0, true},
		{"at the limit", 300 * time.Second, true},
		{"expired", 301 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &recordStore{}
			wrap, unwrap := withLifetime(rs, 300*time.Second, clock)
			issued := now
			_, err := wrap(stdtls.ConnectionState{}, &stdtls.SessionState{})
			require.NoError(t, err)
			now = issued.Add(tc.age)
			defer func() { now = issued }()
			ss, err := unwrap([]byte("label"), stdtls.ConnectionState{})
			require.NoError(t, err)
			require.Equal(t, tc.resumed, ss != nil)
		})
	}
	// A session without an issue time is not trusted once a lifetime is set.
	rs := &recordStore{last: &stdtls.SessionState{}}
	_, unwrap := withLifetime(rs, time.Minute, clock)
	ss, err := unwrap([]byte("label"), stdtls.ConnectionState{})
	require.NoError(t, err)
	require.Nil(t, ss)
}

func TestMemoryCacheEvictsOldest(t *testing.T) {
	m := NewMemoryCache(2)
	ids := [][32]byte{{1}, {2}, {3}}
	for i, id := range ids {
		m.Put(id, []byte{byte(i)})
	}
	require.Equal(t, 2, m.Len())
	_, ok := m.Get(ids[0])
	require.False(t, ok, "the oldest entry is evicted")
	v, ok := m.Get(ids[2])
	require.True(t, ok)
	require.Equal(t, []byte{2}, v)

	// A corrupt entry yields a full handshake, not an error.
	s := CacheStore(m)
	m.Put(ids[1], []byte("garbage"))
	ss, err := s.Unwrap(ids[1][:], stdtls.ConnectionState{})
	require.NoError(t, err)
	require.Nil(t, ss)
	ss, err = s.Unwrap([]byte("short"), stdtls.ConnectionState{})
	require.NoError(t, err)
	require.Nil(t, ss)
}
