package h2

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2/hpack"
)

// The encoder's blocks decode, with x/net's decoder, to the fields it
// was given, across table turnover, collisions, entries too large for
// the table, and size changes the peer asks for.
func TestHPACKEncoderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{":status", "content-type", "content-length", "date", "server", "x-server", "set-cookie", "cache-control", "age", "x-custom-header-with-a-long-name", ":method", ":path", ":scheme", ":authority", "accept-encoding"}
	values := []string{"200", "404", "text/plain", "GET", "/", "http", "https", "gzip, deflate", "", "s1", "max-age=60"}
	value := func() string {
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprint(rng.IntN(100000))
		case 1:
			return strings.Repeat("v", rng.IntN(300))
		case 2:
			if rng.IntN(20) == 0 {
				return strings.Repeat("big", 1500) // over the whole table
			}
		}
		return values[rng.IntN(len(values))]
	}
	for _, limits := range [][]uint32{{4096}, {4096, 256, 0, 100}, {65536}} {
		e := newHPACKEncoder(initialHeaderTable, initialHeaderTable)
		d := hpack.NewDecoder(4096, nil)
		for round := 0; round < 3000; round++ {
			if round%500 == 499 {
				l := limits[rng.IntN(len(limits))]
				e.setLimit(l)
				d.SetAllowedMaxDynamicTableSize(l)
			}
			var want []hpack.HeaderField
			var block []byte
			for i := 0; i < 1+rng.IntN(12); i++ {
				f := hpack.HeaderField{Name: names[rng.IntN(len(names))], Value: value()}
				want = append(want, f)
				block = e.field(block, []byte(f.Name), []byte(f.Value))
			}
			got, err := d.DecodeFull(block)
			require.NoError(t, err, "round %d", round)
			require.Equal(t, want, got, "round %d", round)
		}
		require.LessOrEqual(t, e.size, e.maxSize)
	}
}

// Fields sent again are one byte each, and cost no allocation.
func TestHPACKEncoderRepeats(t *testing.T) {
	e := newHPACKEncoder(initialHeaderTable, initialHeaderTable)
	fields := [][2][]byte{
		{[]byte(":status"), []byte("200")},
		{[]byte("content-type"), []byte("text/plain")},
		{[]byte("x-server"), []byte("s1")},
		{[]byte("date"), []byte("Sun, 06 Dec 2026 15:44:43 GMT")},
	}
	var block []byte
	encode := func() {
		block = block[:0]
		for _, f := range fields {
			block = e.field(block, f[0], f[1])
		}
	}
	encode()
	encode()
	require.Len(t, block, len(fields))
	require.Zero(t, testing.AllocsPerRun(100, encode))
}

// A remade encoder (after an idle park) empties the peer's table, then
// sets the size the peer allows, up to the initial size.
func TestHPACKEncoderRemade(t *testing.T) {
	for _, tc := range []struct{ allowed, want uint32 }{{256, 256}, {65536, 4096}, {0, 0}} {
		m := &Mux{peerTable: tc.allowed}
		m.encodeString(":status", "200")
		want := []uint32{0, tc.want}
		if tc.want == 0 {
			want = []uint32{0}
		}
		require.Equal(t, want, tableSizeUpdates(m.hblock))
	}
}

// FuzzHPACKEncoder: whatever fields come, with whatever table sizes the
// peer allows on the way, x/net's decoder reads back exactly the fields
// the encoder was given.
func FuzzHPACKEncoder(f *testing.F) {
	f.Add([]byte("\x00content-type\x00text/plain\x01\x10\x00x-a\x00b"))
	f.Add([]byte("\x00:status\x00200\x00:status\x00200\x02\x00\x00x\x00y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newHPACKEncoder(initialHeaderTable, initialHeaderTable)
		d := hpack.NewDecoder(initialHeaderTable, nil)
		var want []hpack.HeaderField
		var block []byte
		flush := func() {
			if len(want) == 0 {
				return
			}
			got, err := d.DecodeFull(block)
			if err != nil {
				t.Fatalf("decode: %v (fields %q)", err, want)
			}
			if len(got) != len(want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			for i := range got {
				if got[i].Name != want[i].Name || got[i].Value != want[i].Value {
					t.Fatalf("field %d: got %q, want %q", i, got[i], want[i])
				}
			}
			want, block = want[:0], block[:0]
		}
		parts := strings.Split(string(data), "\x00")
		for i := 0; i < len(parts); i++ {
			p := parts[i]
			switch {
			case p == "\x01" && i+1 < len(parts):
				// A new limit from the peer, between blocks.
				flush()
				l := uint32(0)
				for _, c := range []byte(parts[i+1]) {
					l = l*256 + uint32(c)
				}
				l %= 70000
				e.setLimit(l)
				d.SetAllowedMaxDynamicTableSize(l)
				i++
			case p == "\x02":
				flush()
			case i+1 < len(parts):
				// A field: names are lower case on the wire.
				name := strings.ToLower(p)
				if name == "" {
					name = "x"
				}
				want = append(want, hpack.HeaderField{Name: name, Value: parts[i+1]})
				block = e.field(block, []byte(name), []byte(parts[i+1]))
				i++
			}
		}
		flush()
	})
}
