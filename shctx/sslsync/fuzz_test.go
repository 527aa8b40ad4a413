package sslsync_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
)

// FuzzDecode feeds arbitrary packets to the decoder: it must never panic,
// must accept only packets whose re-encoding is byte for byte the same,
// and must never take a packet signed with another key for a genuine one.
func FuzzDecode(f *testing.F) {
	key := []byte("fuzzing-key-0123456789")
	f.Add(sslsync.Append(nil, key, sslsync.New, [32]byte{1}, []byte("session"), 1700000000))
	f.Add(sslsync.Append(nil, key, sslsync.Get, [32]byte{2}, nil, 1))
	f.Add(sslsync.Append(nil, key, sslsync.Delete, [32]byte{3}, nil, 0xffffffff))
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	f.Add(bytes.Repeat([]byte{0xff}, sslsync.MinLen))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		m, err := sslsync.Decode(pkt)
		ok := sslsync.Verify(pkt, key)
		if err != nil {
			if !errors.Is(err, sslsync.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again := sslsync.Append(nil, key, m.Type, m.ID, m.Session, m.Time)
		if len(again) != len(pkt) {
			t.Fatalf("re-encoded %d bytes from %d", len(again), len(pkt))
		}
		if !bytes.Equal(again[:len(again)-32], pkt[:len(pkt)-32]) {
			t.Fatalf("fields do not re-encode to the packet")
		}
		if ok != bytes.Equal(again, pkt) {
			t.Fatalf("Verify says %v but the signature under the key is %x, packet has %x", ok, again[len(again)-32:], m.MAC)
		}
	})
}
