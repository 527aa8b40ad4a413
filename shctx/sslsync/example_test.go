package sslsync_test

import (
	"fmt"
	"time"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
)

// Two hosts, here two addresses of the loopback network, each with its
// own cache: a session stored on one is announced to the other.
func Example() {
	key := []byte("a key shared by the whole fleet")
	a, _ := sslcache.New("", 1000, 0)
	defer a.Close()
	b, _ := sslcache.New("", 1000, 0)
	defer b.Close()

	// B listens; here it has nobody to tell, so its peer is a placeholder.
	syncB, err := sslsync.Start(b, sslsync.Config{Bind: "127.0.0.3:0", Peers: []string{"127.0.0.2:9"}, Key: key})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer syncB.Close()

	// A's configuration line, as the balancer would read it.
	cfgA, err := sslsync.ParseArgs([]string{"ssl-session-sync", "bind", "127.0.0.2:0",
		"peer", syncB.LocalAddr().String(), "key-file", "/etc/proxyblocks/sync.key"})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfgA.Key = key // given directly, the key file is not read
	syncA, err := sslsync.Start(a, cfgA)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer syncA.Close()

	// A serialized crypto/tls session (SessionState.Bytes) made now.
	session := make([]byte, 64)
	session[1], session[2] = 0x04, 1 // TLS 1.3, server side
	created := uint64(time.Now().Unix())
	for i := range 8 {
		session[5+i] = byte(created >> (56 - 8*i))
	}
	a.Put([32]byte{42}, session)

	for syncB.Stats().Imported == 0 {
		time.Sleep(time.Millisecond)
	}
	got, ok := b.Get([32]byte{42})
	fmt.Println(ok, len(got), syncB.Stats().Accepted)
	// Output: true 64 1
}
