package shctx

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// FuzzDamagedRegion writes fuzzer-chosen bytes at fuzzer-chosen offsets of
// a populated region (another process gone wrong, or a stray writer into
// the file), then runs every operation. None may panic or hang, and after
// damaged shards are rebuilt the structure must be whole.
func FuzzDamagedRegion(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x10, 0x01, 7, 0, 0, 0, 0x00, 0x05, 0xff, 0xff, 0, 0})
	f.Add([]byte{0x00, 0x90, 1, 2, 3, 4, 0x00, 0xa0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, patch []byte) {
		c, err := Open(Options{BlockSize: 32, Blocks: 32, Shards: 2, MaxKeyLen: 16, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 12 {
			k := fmt.Sprint("k", i)
			if err := c.Store([]byte(k), val(k, i*9), 0); err != nil {
				t.Fatal(err)
			}
		}
		region := c.mem[c.g.shardsOff:]
		// Each 6-byte record: a 16-bit offset and 4 bytes to write there.
		for ; len(patch) >= 6; patch = patch[6:] {
			off := int(binary.BigEndian.Uint16(patch)) % (len(region) - 4)
			if (off%128 < 8 || off%128 > 124) && uint64(off) < c.g.extraOff-c.g.shardsOff {
				continue // the lock and dirty words belong to the lock protocol
			}
			copy(region[off:off+4], patch[2:6])
		}
		buf := make([]byte, 64)
		for i := range 14 {
			k := []byte(fmt.Sprint("k", i))
			c.Get(k, buf)
			if i%4 == 0 {
				c.Delete(k)
			}
			_ = c.Store(k, val(string(k), i*5), 0)
		}
		_ = c.Iterate(func(_, _ []byte, _ time.Time) bool { return true })
		c.Stats()
		for i := range c.shards {
			if c.shards[i].check() != nil {
				c.rebuild(&c.shards[i])
			}
		}
		if err := c.check(); err != nil {
			t.Fatal(err)
		}
	})
}
