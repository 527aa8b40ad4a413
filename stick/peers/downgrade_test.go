package peers

import (
	"bufio"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

// TestTeachV20Peer checks that a peer whose hello says 2.0 is taught with
// plain updates: protocol 2.0 has no timed ones.
func TestTeachV20Peer(t *testing.T) {
	testnet.LeakCheck(t)
	rs := syncedRawSection(t, oneTable, func(rs *rawSection) {
		set(t, rs.tabs[0], ip("10.0.0.1"), stick.DataGPC0, 1)
	})
	p := dialRaw(t, rs.addr)
	p.send([]byte("HAProxyS 2.0\ns\nraw 1 1\n"))
	require.Equal(t, "200", p.line())
	p.send([]byte{classControl, ctrlResyncRequest})
	seen := p.untilMsg(classControl, ctrlResyncFinished)
	updates := 0
	for _, m := range seen {
		if isUpdate(m) {
			updates++
			require.Contains(t, []byte{msgUpdate, msgIncUpdate}, m.typ, "a timed update sent to a 2.0 peer: %v", m)
		}
	}
	require.NotZero(t, updates)
}

// TestDowngradeAfter502 checks that a Section refused with 502 says 2.0
// in its next hello, as HAProxy does.
func TestDowngradeAfter502(t *testing.T) {
	testnet.LeakCheck(t)
	setTimings(t, time.Second, 200*time.Millisecond, time.Hour)
	ln := testnet.Listen(t)
	hellos := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			l, _ := br.ReadString('\n')
			hellos <- l
			br.ReadString('\n')
			br.ReadString('\n')
			if i == 0 {
				c.Write([]byte("502\n"))
			} else {
				c.Write([]byte("200\n"))
			}
			c.SetReadDeadline(time.Now().Add(patience))
			if i == 1 {
				// Keep the session until the Section closes it.
				buf := make([]byte, 64)
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
			}
			c.Close()
		}
	}()
	tab := newTable(t, "t1", oneTable[0][1])
	sec, err := New(Config{Name: "p", Local: "s", Peers: []Peer{{Name: "raw", Addr: ln.Addr().String()}}, Tables: []*stick.Table{tab}})
	require.NoError(t, err)
	sec.Start(nil)
	require.Equal(t, "HAProxyS 2.1\n", testnet.Signalled(t, hellos, "the first hello"))
	require.Equal(t, "HAProxyS 2.0\n", testnet.Signalled(t, hellos, "the hello after 502"))
	eventually(t, func() bool { return sec.Status()[0].Connected }, "no session after the 2.0 hello")
	require.NoError(t, sec.Close())
	ln.Close()
	<-done
}
