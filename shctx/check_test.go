package shctx

import (
	"fmt"
	"sync/atomic"
)

// check verifies every invariant of the region: each block is either in
// the available list or in exactly one row, the hot list is a proper
// doubly linked list of row heads, the index holds exactly those rows in
// the right buckets, and the counters agree. Tests call it after anything
// that could leave the structure damaged.
func (c *Cache) check() error {
	for i := range c.shards {
		s := &c.shards[i]
		c.lock(s)
		err := s.check()
		c.unlock(s)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
	return nil
}

func (s *shard) check() error {
	h := s.hdr
	if d := atomic.LoadUint32(&h.dirty); d != 0 {
		return fmt.Errorf("dirty flag left set")
	}
	seen := make([]bool, s.bps+1)
	mark := func(i uint32, what string) error {
		if !s.valid(i) {
			return fmt.Errorf("%s: block link %d out of range", what, i)
		}
		if seen[i] {
			return fmt.Errorf("%s: block %d reached twice", what, i)
		}
		seen[i] = true
		return nil
	}
	var free uint32
	for i := h.availHead; i != 0; i = s.blk(i).next {
		if err := mark(i, "available list"); err != nil {
			return err
		}
		free++
	}
	if free != h.nbav {
		return fmt.Errorf("available list has %d blocks, counter says %d", free, h.nbav)
	}
	rows := map[uint32]bool{}
	var prev uint32
	for r := h.lruHead; r != 0; r = s.blk(r).lnext {
		if err := mark(r, "hot list"); err != nil {
			return err
		}
		b := s.blk(r)
		if b.prev != prev {
			return fmt.Errorf("row %d: prev link %d, want %d", r, b.prev, prev)
		}
		prev = r
		rows[r] = true
		n, last := uint32(1), r
		for j := b.next; j != 0; j = s.blk(j).next {
			if err := mark(j, "row"); err != nil {
				return err
			}
			n++
			last = j
		}
		if n != b.count || last != b.last {
			return fmt.Errorf("row %d: %d blocks ending at %d, header says %d ending at %d", r, n, last, b.count, b.last)
		}
		size := uint32(b.keyLen) + b.valLen
		if need := max((size+s.bs-1)/s.bs, 1); need != b.count {
			return fmt.Errorf("row %d: %d bytes in %d blocks, want %d", r, size, b.count, need)
		}
	}
	if prev != h.lruTail {
		return fmt.Errorf("hot list ends at %d, tail says %d", prev, h.lruTail)
	}
	if uint32(len(rows)) != h.rows {
		return fmt.Errorf("hot list has %d rows, counter says %d", len(rows), h.rows)
	}
	for i := uint32(1); i <= s.bps; i++ {
		if !seen[i] {
			return fmt.Errorf("block %d is lost: neither available nor in a row", i)
		}
	}
	indexed := 0
	for bk, i := range s.buckets {
		for ; i != 0; i = s.blk(i).hnext {
			if !rows[i] {
				return fmt.Errorf("bucket %d: block %d is not a live row", bk, i)
			}
			if uint32(s.blk(i).hash)&s.mask != uint32(bk) {
				return fmt.Errorf("bucket %d: row %d belongs to another bucket", bk, i)
			}
			indexed++
			if indexed > len(rows) {
				return fmt.Errorf("index holds more entries than rows (a cycle?)")
			}
		}
	}
	if indexed != len(rows) {
		return fmt.Errorf("index holds %d rows, hot list %d", indexed, len(rows))
	}
	return nil
}
