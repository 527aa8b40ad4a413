package peers

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

// newTable makes a synced table from a stick-table line.
func newTable(t *testing.T, name, def string) *stick.Table {
	t.Helper()
	cfg, err := stick.ParseConfig(strings.Fields(def))
	require.NoError(t, err)
	cfg.Name, cfg.Sync = name, true
	tab, err := stick.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { tab.Close() })
	return tab
}

// member is one Section of a test, with its listener.
type member struct {
	name string
	ln   net.Listener
	sec  *Section
	tabs []*stick.Table
	logs chan string
}

// newMembers builds n sections that list each other, named a, b, c...,
// each sharing tables made from defs (name → stick-table words).
func newMembers(t *testing.T, n int, defs [][2]string) []*member {
	t.Helper()
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = &member{name: string(rune('a' + i)), ln: testnet.Listen(t), logs: make(chan string, 1000)}
		for _, d := range defs {
			ms[i].tabs = append(ms[i].tabs, newTable(t, d[0], d[1]))
		}
	}
	for i, m := range ms {
		var peers []Peer
		for j, o := range ms {
			if j != i {
				peers = append(peers, Peer{Name: o.name, Addr: o.ln.Addr().String()})
			}
		}
		logs := m.logs
		sec, err := New(Config{Name: "p", Local: m.name, Peers: peers, Tables: m.tabs, Logf: func(f string, a ...any) {
			select {
			case logs <- strings.TrimSpace(fmt.Sprintf(f, a...)):
			default:
			}
		}})
		require.NoError(t, err)
		m.sec = sec
		t.Cleanup(func() { sec.Close() })
	}
	return ms
}

// waitValue polls tab until key's dt reads want.
func waitValue(t *testing.T, tab *stick.Table, key []byte, dt stick.DataType, want int64) {
	t.Helper()
	var got int64
	for range 500 {
		if e, err := tab.Lookup(key); err == nil && e != nil {
			got = e.Get(dt)
			e.Release()
			if got == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("table %s key %x: %s is %d, want %d", tab.Name(), key, dt, got, want)
}

func set(t *testing.T, tab *stick.Table, key []byte, dt stick.DataType, v int64) {
	t.Helper()
	e, err := tab.GetOrCreate(key)
	require.NoError(t, err)
	require.NoError(t, e.Set(dt, v))
	e.TouchRelease()
}

func ip(s string) []byte {
	a := netip.MustParseAddr(s).As4()
	return a[:]
}

func TestTwoSectionsSyncBothWays(t *testing.T) {
	testnet.LeakCheck(t)
	ms := newMembers(t, 2, [][2]string{{"t1", "type ip size 1k expire 1m store gpc0,conn_cnt,http_req_rate(10s)"}})
	a, b := ms[0], ms[1]
	set(t, a.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 7)
	a.sec.Start(a.ln)
	b.sec.Start(b.ln)
	waitValue(t, b.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 7)
	set(t, b.tabs[0], ip("10.0.0.2"), stick.DataConnCnt, 3)
	waitValue(t, a.tabs[0], ip("10.0.0.2"), stick.DataConnCnt, 3)
	// A later change of the same key travels again.
	set(t, a.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 9)
	waitValue(t, b.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 9)
	require.NoError(t, a.sec.Close())
	require.NoError(t, b.sec.Close())
}
